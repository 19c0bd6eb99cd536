import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { projectRoot } from "../../src/paths.js";
import { HEALTHCHECK_COMMAND } from "../../src/routeros/plan.js";
import { fakeLocalApi, type LocalApiAnswer } from "../support/fake-localapi.js";

/*
 * The health check RouterOS 7.23+ runs in the container (healthcheck-cmd),
 * from the real amd64 root filesystem the build wrote, against a real
 * tailscaled (no control server here: the node stays logged out; the
 * end-to-end tests cover Running, logout and an unreachable control server).
 * tailscaled runs as PID 1 of its own PID namespace, as in a container: the
 * checker's grace period counts from PID 1's start. `-b` (the backend state
 * alone, what the entrypoint polls at start) is asked the same way, and
 * against a fake LocalAPI for the states a lone tailscaled cannot reach.
 */

interface Check {
  code: number | null;
  /** stdout and stderr together. */
  out: string;
  stdout: string;
  stderr: string;
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
    return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout, stderr: r.stderr };
  };
  try {
    let c: Check = { code: null, out: "", stdout: "", stderr: "" };
    for (let i = 0; i < 80 && !/NeedsLogin/.test(c.out); i++) {
      await new Promise((r) => setTimeout(r, 250));
      c = check();
    }
    assert.equal(c.code, 0, `within the grace period a node that is not Running yet counts as starting: ${c.out}`);
    assert.equal(c.out, "starting: NeedsLogin: not logged in\n");

    c = check("-b");
    assert.deepEqual([c.code, c.stdout, c.stderr], [0, "NeedsLogin\n", ""], "-b: the bare state, no grace period, exit 0 for any state");

    c = check("-g", "0");
    assert.equal(c.code, 1, `after it, a logged-out node is unhealthy: ${c.out}`);
    assert.equal(c.out, "NeedsLogin: not logged in\n", "one line with the state and the reason (RouterOS shows it in healthcheck-status)");

    process.kill(pid, "SIGSTOP");
    const b = check("-b", "-t", "1");
    const t0 = Date.now();
    c = check("-g", "0");
    const waited = Date.now() - t0;
    process.kill(pid, "SIGCONT");
    assert.equal(c.code, 1);
    assert.equal(c.out, "tailscaled not answering (no reply within 5s)\n");
    assert.deepEqual([b.code, b.stdout, b.stderr], [1, "", "tailscaled not answering (no reply within 1s)\n"], "-b: nothing on stdout, the reason on stderr");
    assert.ok(waited >= 4_500 && waited < 10_000, `gives up after its own 5 s, inside RouterOS's default 10 s timeout (took ${waited} ms)`);
    c = check("-g", "0");
    assert.equal(c.out, "NeedsLogin: not logged in\n", "answers again once tailscaled runs again");

    process.kill(pid, "SIGKILL");
    await new Promise((r) => daemon.once("close", r));
    // Its namespace is gone with it: ask from the chroot, where /proc/1 is the host's (long started).
    const r = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" ")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "tailscaled not answering (Connection refused)\n", "a socket file left behind, nobody listening");
    const rb = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" "), "-b"], { encoding: "utf8", timeout: 20_000 });
    assert.deepEqual([rb.status, rb.stdout, rb.stderr], [1, "", "tailscaled not answering (Connection refused)\n"]);
    rmSync(join(root, "var/run/tailscale/tailscaled.sock"), { force: true });
    const gone = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" ")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(gone.status, 1);
    assert.equal(gone.stdout, "tailscaled not running (no socket /var/run/tailscale/tailscaled.sock)\n");
    const goneB = spawnSync("ip", ["netns", "exec", ns, "chroot", root, ...HEALTHCHECK_COMMAND.split(" "), "-b"], { encoding: "utf8", timeout: 20_000 });
    assert.deepEqual([goneB.status, goneB.stdout], [1, ""]);

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

test("healthcheck -b against a fake LocalAPI: prints the state tailscaled reports, exit 0; no state or no answer: nothing on stdout, exit 1", { timeout: 60_000 }, async () => {
  const binary = join(projectRoot, "dist", "rootfs", "amd64", "usr", "local", "bin", "healthcheck");
  assert.ok(existsSync(binary), "dist/rootfs/amd64 has no healthcheck: run `npm run images` first (scripts/test.sh does)");
  const dir = mkdtempSync(join(tmpdir(), "mt-health-b-"));
  let answer: LocalApiAnswer = {};
  const api = await fakeLocalApi(join(dir, "api.sock"), () => answer);
  // Asynchronous: the fake answers from this process.
  const run = (...args: string[]) =>
    new Promise<Check>((resolve) => {
      execFile(binary, args, { encoding: "utf8", timeout: 20_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, out: `${stdout}${stderr}`, stdout, stderr });
      });
    });
  try {
    for (const state of ["NeedsLogin", "Running", "Starting", "NoState", "NeedsMachineAuth", "Stopped"]) {
      answer = { state, health: ["not connected to home DERP region 1"] };
      const c = await run("-b", "-s", api.path);
      assert.deepEqual([c.code, c.stdout, c.stderr], [0, `${state}\n`, ""], state);
    }
    // The same answers without -b: the fake is shaped as the checker expects.
    answer = { state: "Running" };
    assert.deepEqual(await run("-s", api.path, "-g", "0"), { code: 0, out: "Running\n", stdout: "Running\n", stderr: "" });
    answer = { state: "Starting", health: ["not connected to home DERP region 1"] };
    assert.equal((await run("-s", api.path, "-g", "0")).out, "Starting: not connected to home DERP region 1\n");
    // $TS_SOCKET is the default with -b too; -b may come last.
    const viaEnv = await new Promise<string>((resolve) => execFile(binary, ["-b"], { encoding: "utf8", env: { TS_SOCKET: api.path } }, (_e, stdout) => resolve(stdout)));
    assert.equal(viaEnv, "Starting\n");
    assert.equal((await run("-s", api.path, "-b")).stdout, "Starting\n");

    answer = { raw: JSON.stringify({ Version: "fake" }) };
    let c = await run("-b", "-s", api.path);
    assert.deepEqual([c.code, c.stdout, c.stderr], [1, "", "tailscaled answered without a backend state\n"]);
    answer = { status: 403, raw: "denied\n" };
    c = await run("-b", "-s", api.path);
    assert.equal(c.code, 1);
    assert.equal(c.stdout, "");
    assert.match(c.stderr, /^tailscaled LocalAPI refused the status request: 403/);

    c = await run("-b", "-s", join(dir, "nothing.sock"));
    assert.deepEqual([c.code, c.stdout], [1, ""], "no socket: nothing on stdout");
    assert.match(c.stderr, /^tailscaled not running \(no socket /);
    c = await run("-b", "-t", "soon");
    assert.equal(c.code, 2, "a bad argument: usage, exit 2");
    assert.equal(c.stdout, "", "with -b stdout carries the state or nothing");
    assert.match(c.stderr, /^usage: healthcheck \[-b\]/);
    assert.ok(api.requests.every((q) => q === "GET /localapi/v0/status?peers=false"), api.requests.join(", "));
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
