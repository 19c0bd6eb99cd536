import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { SCHEMA_DIR, knownNightlies, knownReleases, loadTree, treeNode } from "../../src/routeros/schema/tree.js";

/*
 * data/routeros-schema/ is RouterOS's own data, copied by
 * scripts/refresh-routeros-schema.ts: every release 7.16-7.24 maps to a tree
 * that holds the container menus, and refreshing from the shared reference
 * folder (when this checkout has it beside it, as CI does) changes nothing.
 */

test("every release from 7.16 to 7.24 has a tree with the container menus", () => {
  const releases = knownReleases();
  for (const minor of [16, 17, 18, 19, 20, 21, 22, 23, 24]) assert.ok(releases.includes(`7.${minor}`), `7.${minor}`);
  for (const v of ["7.21.1", "7.21.2", "7.23.2"]) assert.ok(releases.includes(v), v);
  for (const v of [...releases, ...knownNightlies()]) {
    const t = loadTree(v);
    for (const c of ["container/add", "container/envs/add", "container/mounts/add", "container/config/set", "interface/veth/add", "ip/route/add", "ip/dns/static/add"]) {
      assert.equal(treeNode(t, c)?._type, "cmd", `${v}: ${c}`);
    }
  }
  const files = readdirSync(join(SCHEMA_DIR, "trees"));
  const index = JSON.parse(readFileSync(join(SCHEMA_DIR, "index.json"), "utf8")) as { stable: Record<string, string>; nightly: Record<string, string> };
  const used = new Set([...Object.values(index.stable), ...Object.values(index.nightly)]);
  assert.deepEqual([...used].sort(), files.sort(), "every tree file is used and every used one exists");
});

const shared = join(projectRoot, "..", "shared", "routeros-schema");

test("refreshing from the shared reference trees reproduces data/routeros-schema exactly", () => {
  // The shared folder sits beside the checkout in the workspace and in CI; a copy elsewhere checks the script on the data itself.
  const source = existsSync(shared) ? shared : undefined;
  const out = mkdtempSync(join(tmpdir(), "mt-schema-"));
  try {
    if (!source) {
      const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/refresh-routeros-schema.ts", join(out, "none"), join(out, "x")], { cwd: projectRoot, encoding: "utf8" });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /cannot read .*none/);
      return;
    }
    const target = join(out, "schema");
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/refresh-routeros-schema.ts", source, target], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const list = (d: string): string[] => readdirSync(d, { recursive: true }).map(String).sort();
    assert.deepEqual(list(target), list(SCHEMA_DIR));
    for (const f of list(SCHEMA_DIR)) {
      const p = join(SCHEMA_DIR, f);
      if (f.endsWith(".json") || f.endsWith(".md")) assert.equal(readFileSync(join(target, f), "utf8"), readFileSync(p, "utf8"), f);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
