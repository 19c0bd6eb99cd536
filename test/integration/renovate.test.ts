/**
 * renovate.json checked by Renovate's own validator (`renovate-config-validator
 * --strict`: errors and pending migrations fail). Renovate is large and not a
 * dependency of this project: the test installs one pinned version, the last
 * major that runs on Node 20, into the user cache on first use (~1 minute,
 * then reused) with the machine's own npm configuration.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheRoot, projectRoot } from "../../src/paths.js";

/** Renovate 39 is the last major whose engines allow Node 20 (40+ need Node 22). */
const RENOVATE_VERSION = "39.264.1";

function validatorPath(): string {
  const dir = join(cacheRoot(), "tools", `renovate-${RENOVATE_VERSION}`);
  const bin = join(dir, "node_modules", ".bin", "renovate-config-validator");
  const pkg = join(dir, "node_modules", "renovate", "package.json");
  if (existsSync(bin) && existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).version === RENOVATE_VERSION) return bin;
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const r = spawnSync(
    "npm",
    ["install", "--prefix", tmp, "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional", "--no-package-lock", `renovate@${RENOVATE_VERSION}`],
    { encoding: "utf8", timeout: 300_000 },
  );
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    assert.fail(`npm install renovate@${RENOVATE_VERSION} failed (${r.error?.message ?? r.status}):\n${r.stderr.slice(-2000)}`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return bin;
}

function validate(cwd: string): { code: number | null; out: string } {
  const env = { ...process.env, RENOVATE_CONFIG_FILE: undefined, LOG_LEVEL: "info" } as NodeJS.ProcessEnv;
  delete env.RENOVATE_CONFIG_FILE;
  const r = spawnSync(validatorPath(), ["--strict"], { cwd, env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test("renovate.json passes Renovate's validator in strict mode", { timeout: 420_000 }, () => {
  const r = validate(projectRoot);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Validating renovate\.json/);
  assert.match(r.out, /Config validated successfully/);
});

test("the validator does catch a broken renovate.json (so the check above means something)", { timeout: 420_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "mt-renovate-"));
  try {
    cpSync(join(projectRoot, "renovate.json"), join(dir, "renovate.json"));
    const cfg = JSON.parse(readFileSync(join(dir, "renovate.json"), "utf8"));
    cfg.packageRules[0].allowedVersion = cfg.packageRules[0].allowedVersions;
    delete cfg.packageRules[0].allowedVersions;
    writeFileSync(join(dir, "renovate.json"), JSON.stringify(cfg, null, 2));
    const r = validate(dir);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /Invalid configuration option: packageRules\[0\]\.allowedVersion/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
