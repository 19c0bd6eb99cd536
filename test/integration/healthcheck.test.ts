import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { projectRoot } from "../../src/paths.js";
import { HEALTHCHECK_COMMAND } from "../../src/routeros/plan.js";

/*
 * The health check RouterOS 7.23+ runs in the container (healthcheck-cmd),
 * from the real amd64 root filesystem the build wrote, against a real
 * tailscaled (no control server here: the node stays logged out; the
 * end-to-end tests cover Running, logout and an unreachable control server).
 * tailscaled runs as PID 1 of its own PID namespace, as in a container: the
 * checker's grace period counts from PID 1's start.
 */

interface Check {
  code: number | null;
  out: string;
}

function daemonPid(d: ChildProcess): number {
  // unshare --fork: tailscaled is unshare's child (PID 1 inside).
  for (let i = 0; i < 50; i++) {
    const r = spawnSync("pgrep", ["-P", String(d.pid)], { encoding: "utf8" });
    const pid = Number(r.stdout.trim().split("\n")[0]);
    if (pid) return pid;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error("tailscaled did not start");
}

test("healthcheck-cmd: a logged-out node is unhealthy with the reason, a young one is 'starting', a hung or gone tailscaled is unhealthy", { timeout: 180_000 }, async () => {
  const rootfs = join(projectRoot, "dist", "rootfs", "amd64");
  assert.ok(existsSync(join(rootfs, "usr", "local", "bin", "healthcheck")), "dist/rootfs/amd64 has no healthcheck: run `npm run images` first (scripts/test.sh does)");
  const dir = mkdtempSync(join(tmpdir(), "mt-health-"));
  const root = join(dir, "root");
  const ns = `mthc${randomBytes(3).toString("hex")}`;
  cpSync(rootfs, root, { recursive: true, verbatimSymlinks: true });
  for (const d of ["dev", "proc", "var/run/tailscale", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  assert.equal(spawnSync("ip", ["netns", "add", ns]).status, 0);
  const daemon = spawn(
    "ip",
    ["netns", "exec", ns, "unshare", "--pid", "--fork", `--mount-proc=${join(root, "proc")}`, "chroot", root, "/usr/local/bin/tailscaled", "--tun=userspace-networking", "--state=mem:"],
    { stdio: "ignore" },
  );
  const pid = daemonPid(daemon);
  // In tailscaled's PID and mount namespaces and root: /proc/1 is tailscaled.
  const check = (...args: string[]): Check => {
    const r = spawnSync("ip", ["netns", "exec", ns, "nsenter", "-t", String(pid), "-p", "-m", "-r", ...HEALTHCHECK_COMMAND.split(" "), ...args], { encoding: "utf8", timeout: 20_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  try {
    let c: Check = { code: null, out: "" };
    for (let i = 0; i < 80 && !/NeedsLogin/.test(c.out); i++) {
      await new Promise((r) => setTimeout(r, 250));
      c = check();
    }
    assert.equal(c.code, 0, `within the grace period a node that is not Running yet counts as starting: ${c.out}`);
    assert.equal(c.out, "starting: NeedsLogin: not logged in\n");

    c = check("-g", "0");
    assert.equal(c.code, 1, `after it, a logged-out node is unhealthy: ${c.out}`);
    assert.equal(c.out, "NeedsLogin: not logged in\n", "one line with the state and the reason (RouterOS shows it in healthcheck-status)");

    process.kill(pid, "SIGSTOP");
    const t0 = Date.now();
    c = check("-g", "0");
    const waited = Date.now() - t0;
    process.kill(pid, "SIGCONT");
    assert.equal(c.code, 1);
    assert.equal(c.out, "tailscaled not answering (no reply within 5s)\n");
    assert.ok(waited >= 4_500 && waited < 10_000, `gives up after its own 5 s, inside RouterOS's default 10 s timeout (took ${waited} ms)`);
    c = check("-g", "0");
    assert.equal(c.out, "NeedsLogin: not logged in\n", "answers again once tailscaled runs again");

    process.kill(pid, "SIGKILL");
    await new Promise((r) => daemon.once("close", r));
    // Its namespace is gone with it: ask from the chroot, where /proc/1 is the host's (long started).
    const r = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" ")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "tailscaled not answering (Connection refused)\n", "a socket file left behind, nobody listening");
    rmSync(join(root, "var/run/tailscale/tailscaled.sock"), { force: true });
    const gone = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" ")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(gone.status, 1);
    assert.equal(gone.stdout, "tailscaled not running (no socket /var/run/tailscale/tailscaled.sock)\n");

    const bad = spawnSync("chroot", [root, ...HEALTHCHECK_COMMAND.split(" "), "-t", "soon"], { encoding: "utf8" });
    assert.equal(bad.status, 2, "a bad argument: usage, exit 2");
    assert.match(bad.stdout, /^usage: healthcheck/);
  } finally {
    daemon.kill("SIGKILL");
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    spawnSync("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
