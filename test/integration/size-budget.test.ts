/**
 * The image may not grow past its flash budget (config/size-budget.json):
 * every architecture of the build the suite made, measured again from its
 * root filesystem rather than taken from the build's own report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allArchitectures } from "../../src/arch.js";
import { measureRootfs } from "../../src/build/sizes.js";
import { projectRoot } from "../../src/paths.js";
import { builtArch } from "../support/dist.js";

type Budget = Record<string, Record<string, number>>;
const BUDGET_FILE = join(projectRoot, "config", "size-budget.json");
const budget = JSON.parse(readFileSync(BUDGET_FILE, "utf8")) as Budget;

test("the budget file names every architecture for each profile it lists", () => {
  const profiles = Object.keys(budget).filter((k) => !k.startsWith("$"));
  assert.ok(profiles.includes("small"), "the default profile has a budget");
  for (const p of profiles) {
    assert.deepEqual(Object.keys(budget[p]!).sort(), allArchitectures().map((a) => a.name).sort(), `profile ${p}`);
    for (const [arch, n] of Object.entries(budget[p]!)) assert.ok(Number.isInteger(n) && n > 0, `${p}/${arch}: ${n}`);
  }
});

for (const arch of allArchitectures()) {
  test(`${arch.name}: the root filesystem fits its flash budget`, async () => {
    const { rootfs, record } = builtArch(arch.name);
    const limit = budget[record.profile]?.[arch.name];
    assert.ok(limit, `${BUDGET_FILE} has no budget for ${record.profile}/${arch.name}`);
    const sizes = await measureRootfs(rootfs);
    assert.equal(sizes.total, record.sizes.total, "the build record's size matches the tree on disk");
    assert.ok(
      sizes.total <= limit,
      `${arch.name} (${record.profile}) is ${sizes.total} B, over its budget of ${limit} B by ${sizes.total - limit} B ` +
        `(tailscale ${sizes.tailscale}, busybox ${sizes.busybox}, CA ${sizes.caBundle}, other ${sizes.other}); ` +
        `shrink it or raise the budget in config/size-budget.json with the reason`,
    );
  });
}
