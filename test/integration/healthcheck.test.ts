import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { projectRoot } from "../../src/paths.js";
import { HEALTHCHECK_COMMAND } from "../../src/routeros/plan.js";

/*
 * The health check RouterOS 7.22+ runs in the container (healthcheck-cmd),
 * against the real amd64 root filesystem the build wrote: it must pass while
 * tailscaled answers, even for a node that is merely logged out (so nothing
 * restarts it in a loop), and fail once tailscaled is gone.
 */

function healthcheck(root: string, ns: string): number | null {
  return spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" ")], { encoding: "utf8", timeout: 20_000 }).status;
}

test("healthcheck-cmd passes while tailscaled answers (logged out included) and fails when it is gone", { timeout: 120_000 }, async () => {
  const rootfs = join(projectRoot, "dist", "rootfs", "amd64");
  assert.ok(existsSync(join(rootfs, "usr", "local", "bin", "tailscale.combined")), "dist/rootfs/amd64 is missing: run `npm run images` first (scripts/test.sh does)");
  const dir = mkdtempSync(join(tmpdir(), "mt-health-"));
  const root = join(dir, "root");
  const ns = `mthc${randomBytes(3).toString("hex")}`;
  cpSync(rootfs, root, { recursive: true, verbatimSymlinks: true });
  for (const d of ["dev", "proc", "var/run/tailscale", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  assert.equal(spawnSync("ip", ["netns", "add", ns]).status, 0);
  // ip netns exec and chroot both exec: the child's pid is tailscaled's.
  const daemon = spawn("ip", ["netns", "exec", ns, "chroot", root, "/usr/local/bin/tailscaled", "--tun=userspace-networking", "--state=mem:"], { stdio: "ignore" });
  try {
    let rc: number | null = 1;
    for (let i = 0; i < 60 && rc !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      rc = healthcheck(root, ns);
    }
    assert.equal(rc, 0, `${HEALTHCHECK_COMMAND} passes while tailscaled answers on its socket (the node is logged out)`);
    daemon.kill("SIGKILL");
    await new Promise((r) => daemon.once("close", r));
    assert.notEqual(healthcheck(root, ns), 0, "and fails once tailscaled is gone");
  } finally {
    daemon.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
