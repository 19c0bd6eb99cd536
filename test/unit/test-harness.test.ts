/**
 * The test harness itself can fail: a missing golden file fails its test (and
 * is not written), and the runner scripts/test.sh uses counts skipped tests
 * and suites and fails under CI=true when any did not run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { notRunIn } from "../support/run-tests.js";

const RUNNER = join(projectRoot, "test", "support", "run-tests.ts");

/** The environment for a nested test run: without NODE_TEST_CONTEXT, which would send its report to this runner. */
function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function nodeTest(file: string, env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", file], { cwd: projectRoot, env, encoding: "utf8" });
}

for (const [suite, removed] of [
  ["update-script.test.ts", "update-script/install-7.20-x86.rsc"],
  ["routeros-rsc.test.ts", "routeros/7.22.rsc"],
] as const) {
  test(`${suite}: a missing golden file fails and is not written`, (t) => {
    const root = mkdtempSync(join(tmpdir(), "mt-golden-"));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    cpSync(join(projectRoot, "test", "golden"), root, { recursive: true });
    const env = childEnv({ MT_GOLDEN_ROOT: root, UPDATE_GOLDEN: "" });
    const ok = nodeTest(join(projectRoot, "test", "unit", suite), env);
    assert.equal(ok.status, 0, `the copy passes as the original does:\n${ok.stdout}${ok.stderr}`);
    rmSync(join(root, removed));
    const r = nodeTest(join(projectRoot, "test", "unit", suite), env);
    assert.notEqual(r.status, 0, `deleting ${removed} must fail the suite:\n${r.stdout}`);
    assert.match(r.stdout, /is missing: write it with UPDATE_GOLDEN=1/);
    assert.equal(existsSync(join(root, removed)), false, "the golden was written without UPDATE_GOLDEN=1");
  });
}

test("a skipped suite is counted (node 20's own summary says skipped 0)", () => {
  const tap = [
    "TAP version 13",
    "# Subtest: suite",
    "ok 1 - suite # SKIP no dist",
    "    ok 1 - inner # SKIP meh",
    "ok 2 - plain",
    "not ok 3 - later # TODO",
    "# skipped 0",
  ].join("\n");
  assert.deepEqual(notRunIn(tap), [
    { kind: "skip", name: "suite", reason: "no dist" },
    { kind: "skip", name: "inner", reason: "meh" },
    { kind: "todo", name: "later", reason: "" },
  ]);
});

test("the runner prints the skip count and fails under CI=true when a suite was skipped", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-runner-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const skipping = join(dir, "skipping.test.mjs");
  writeFileSync(skipping, `import { describe, test } from "node:test";\ndescribe("needs dist", { skip: "not built" }, () => { test("a", () => {}); });\ntest("runs", () => {});\n`);
  const clean = join(dir, "clean.test.mjs");
  writeFileSync(clean, `import { test } from "node:test";\ntest("runs", () => {});\n`);
  const run = (file: string, ci: string) =>
    spawnSync(process.execPath, ["--import", "tsx", RUNNER, file], { cwd: projectRoot, env: childEnv({ CI: ci }), encoding: "utf8" });

  const ci = run(skipping, "true");
  assert.equal(ci.status, 1, ci.stdout + ci.stderr);
  assert.match(ci.stdout, /not run: skipped 1, todo 0/);
  assert.match(ci.stdout, /skip needs dist: not built/);
  assert.match(ci.stderr, /CI is set and 1 test\(s\) or suite\(s\) did not run/);

  const local = run(skipping, "");
  assert.equal(local.status, 0, "outside CI a skip is reported, not fatal");
  assert.match(local.stdout, /not run: skipped 1, todo 0/);

  const fine = run(clean, "true");
  assert.equal(fine.status, 0, fine.stdout + fine.stderr);
  assert.match(fine.stdout, /not run: skipped 0, todo 0/);
});
