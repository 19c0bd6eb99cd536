/**
 * End to end, amd64: our image as a subnet router and exit node against a
 * real control server (headscale, pinned in config/pins.json), with a second
 * container of our image as the laptop. See test/e2e/lab.ts for the network.
 * Needs root; takes about a minute once headscale is in the cache.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { NET, RouterLab, changes, ipv4, snapshot, status, waitRunning, type TsStatus } from "./lab.js";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { StopWaiting, waitFor } from "../support/netns.js";

const log = (s: string) => process.stderr.write(`# ${s}\n`);

describe("router image end to end (amd64, headscale)", { timeout: 15 * 60_000 }, () => {
  const L = new RouterLab({ routerArch: "amd64", log, withDesk: true });
  let routerSt: TsStatus;
  let laptopSt: TsStatus;
  let routerIp = "";
  let laptopIp = "";
  let setupError: unknown;

  // Failure messages end with the last lines of every program in the lab.
  const fail = (what: string, detail = "") => `${what}${detail ? `\n${detail.trim()}` : ""}\n${L.logs()}`;

  /** Fetches a lab service from inside the laptop container (busybox wget). */
  const fetchFromLaptop = (host: string) => L.laptop.exec(["wget", "-q", "-T", "5", "-O", "-", `http://${host}:${NET.port}/`], 20_000);

  before(async () => {
    try {
      await L.setup();
      L.router.start();
      L.laptop.start();
      routerSt = await waitRunning(L.router, 90_000);
      laptopSt = await waitRunning(L.laptop, 90_000);
      routerIp = ipv4(routerSt);
      laptopIp = ipv4(laptopSt);
      log(`router ${routerIp}, laptop ${laptopIp}`);

      // The router announces its LAN and the exit node; approve them as an
      // admin would.
      const node = await waitFor("headscale never saw the router's advertised routes", 60_000, async () => {
        const n = await L.hs.node("router");
        return n && n.availableRoutes.includes(NET.lanNet) && n.availableRoutes.includes("0.0.0.0/0") ? n : undefined;
      });
      await L.hs.approveRoutes(node.id, [NET.lanNet, "0.0.0.0/0", "::/0"]);
      await waitFor("the laptop never received the router's approved routes", 60_000, async () => {
        const s = await status(L.laptop);
        const peer = Object.values(s.Peer ?? {}).find((p) => p.TailscaleIPs?.includes(routerIp));
        return peer?.PrimaryRoutes?.includes(NET.lanNet) && peer.ExitNodeOption ? true : undefined;
      });
    } catch (e) {
      setupError = e;
    }
  });

  after(async () => {
    await L.cleanup();
  });

  const ready = () => {
    if (setupError) assert.fail(fail(`lab setup failed: ${(setupError as Error).message}`));
  };

  test("1. the laptop pings the router's tailnet address", async () => {
    ready();
    let last = "";
    const ok = await waitFor("ping", 30_000, async () => {
      const r = await L.laptop.exec(["ping", "-c", "1", "-W", "2", routerIp], 10_000);
      last = r.stdout + r.stderr;
      return r.code === 0 ? true : undefined;
    }).catch(() => false);
    assert.ok(ok, fail(`the laptop could not ping the router at ${routerIp} over the tailnet`, last));
  });

  test("2. the laptop reaches the LAN service through the subnet route", async () => {
    ready();
    const route = await L.laptop.exec(["ip", "route", "get", NET.lanHost]);
    assert.match(route.stdout, /dev tailscale0/, fail(`the laptop does not route ${NET.lanHost} into tailscale0`, route.stdout + route.stderr));
    let last = "";
    const body = await waitFor("lan", 30_000, async () => {
      const r = await fetchFromLaptop(NET.lanHost);
      last = r.stdout + r.stderr;
      return r.code === 0 ? r.stdout : undefined;
    }).catch(() => undefined);
    assert.ok(body, fail(`the laptop could not fetch http://${NET.lanHost}:${NET.port}/ through the router's subnet route ${NET.lanNet}`, last));
    assert.equal(body!.trim(), `lan-service saw ${laptopIp}`, fail("the LAN service did not see the laptop's tailnet address"));
  });

  test("3. the laptop, using the router as exit node, reaches a service on the 'internet'", async () => {
    ready();
    const before = await fetchFromLaptop(NET.inetHost);
    assert.notEqual(before.code, 0, fail(`without an exit node the laptop must not reach ${NET.inetHost}: the lab leaks`, before.stdout));
    const set = await L.laptop.exec(["tailscale", "set", `--exit-node=${routerIp}`]);
    assert.equal(set.code, 0, fail("tailscale set --exit-node failed on the laptop", set.stderr + set.stdout));
    try {
      let last = "";
      const body = await waitFor("inet", 30_000, async () => {
        const r = await fetchFromLaptop(NET.inetHost);
        last = r.stdout + r.stderr;
        return r.code === 0 ? r.stdout : undefined;
      }).catch(() => undefined);
      assert.ok(body, fail(`the laptop could not fetch http://${NET.inetHost}:${NET.port}/ through the exit node ${routerIp}`, last));
      assert.equal(body!.trim(), `internet-service saw ${laptopIp}`, fail("the internet service did not see the laptop's tailnet address"));
    } finally {
      await L.laptop.exec(["tailscale", "set", "--exit-node="]);
    }
  });

  test("4. MagicDNS: nslookup of the laptop's name at 100.100.100.100 inside the router", async () => {
    ready();
    const name = `laptop.${L.hs.baseDomain}`;
    let last = "";
    const ok = await waitFor("dns", 30_000, async () => {
      const r = await L.router.exec(["nslookup", name, "100.100.100.100"], 15_000);
      last = r.stdout + r.stderr;
      return r.code === 0 && r.stdout.includes(laptopIp) ? true : undefined;
    }).catch(() => false);
    assert.ok(ok, fail(`nslookup ${name} 100.100.100.100 in the router did not answer ${laptopIp}`, last));
  });

  test("5. `tailscale status` works inside the container", async () => {
    ready();
    const r = await L.router.exec(["tailscale", "status"]);
    assert.equal(r.code, 0, fail("tailscale status failed in the router", r.stderr + r.stdout));
    assert.match(r.stdout, new RegExp(`${laptopIp.replace(/\./g, "\\.")}\\s+laptop`), fail("tailscale status does not list the laptop", r.stdout));
    assert.match(r.stdout, new RegExp(`${routerIp.replace(/\./g, "\\.")}\\s+router`), fail("tailscale status does not list the router itself", r.stdout));
  });

  test("tailscaled is PID 1; the entrypoint made /dev/net/tun, turned on forwarding and routed the tailnet ranges into tailscale0", async () => {
    ready();
    const comm = await L.router.exec(["cat", "/proc/1/comm"]);
    assert.equal(comm.stdout.trim(), "tailscaled", fail("PID 1 of the container is not tailscaled", comm.stdout));
    assert.match(L.router.allOutput(), /entrypoint: creating \/dev\/net\/tun/, fail("the entrypoint did not report creating /dev/net/tun (the lab gives none)"));
    const fwd = await L.lab.exec("router", ["sysctl", "-n", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]);
    assert.deepEqual(fwd.trim().split(/\s+/), ["1", "1"], fail("IPv4/IPv6 forwarding is not on in the router's namespace", fwd));
    const v4 = await L.lab.exec("router", ["ip", "route", "show", "100.64.0.0/10"]);
    assert.match(v4, /dev tailscale0/, fail("100.64.0.0/10 is not routed via tailscale0", v4));
    const v6 = await L.lab.exec("router", ["ip", "-6", "route", "show", "fd7a:115c:a1e0::/48"]);
    assert.match(v6, /dev tailscale0/, fail("fd7a:115c:a1e0::/48 is not routed via tailscale0", v6));
  });

  test("tailscaled runs with netfilter off (RouterOS has no nf_tables)", async () => {
    ready();
    const r = await L.router.exec(["tailscale", "debug", "prefs"]);
    assert.equal(r.code, 0, fail("tailscale debug prefs failed", r.stderr));
    const prefs = JSON.parse(r.stdout) as { NetfilterMode?: number };
    assert.equal(prefs.NetfilterMode, 0, fail(`NetfilterMode is ${prefs.NetfilterMode}, expected 0 (off)`, r.stdout));
    const rules = await L.lab.tryExec("router", ["iptables-save"]);
    assert.doesNotMatch(rules.stdout, /ts-/, fail("tailscale chains exist in the router's namespace", rules.stdout));
  });

  test("the auth key is in no log, no command line and not in tailscaled's environment; no verbose lines by default", async () => {
    ready();
    for (const [who, c, key] of [
      ["router", L.router, L.routerKey],
      ["laptop", L.laptop, L.laptopKey],
    ] as const) {
      assert.ok(!c.allOutput().includes(key), fail(`the ${who}'s auth key appears in its log`));
      const env = await c.exec(["cat", "/proc/1/environ"]);
      assert.equal(env.code, 0, env.stderr);
      assert.ok(!env.stdout.includes(key) && !env.stdout.includes("TS_AUTHKEY="), fail(`the ${who}'s tailscaled environment holds the auth key`));
      const cmd = await c.exec(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
      assert.ok(!cmd.stdout.includes(key), fail(`a command line in the ${who} holds the auth key`, cmd.stdout));
      assert.doesNotMatch(c.allOutput(), /\[v[12]\] /, fail(`verbose [v1]/[v2] lines reached the ${who}'s log without TS_LOG_VERBOSITY`));
    }
  });

  test("nothing is written outside the state directory, except resolv.conf for MagicDNS", async () => {
    ready();
    const etc = changes(L.etcBefore, snapshot(L.routerEtc));
    log(`router /etc changes: ${etc.join(" ") || "none"}`);
    const state = [...snapshot(join(L.lab.dir, "state-router")).keys()].sort();
    log(`router state directory: ${state.join(" ")}`);
    assert.deepEqual(
      etc.filter((c) => !/^[+~](resolv\.conf|resolv\.pre-tailscale-backup\.conf)$/.test(c)),
      [],
      fail("the router changed files in /etc other than resolv.conf and its backup"),
    );
    assert.ok(state.includes("tailscaled.state"), fail("no tailscaled.state in the state directory"));
    // The rest of the root file system is read-only in this lab: a write
    // there fails, and tailscaled or the entrypoint would say so.
    assert.doesNotMatch(L.router.allOutput(), /read-only file system/i, fail("something tried to write to the read-only root file system"));
    assert.doesNotMatch(L.laptop.allOutput(), /read-only file system/i, fail("something in the laptop tried to write to the read-only root file system"));
  });

  test("without login settings, `tailscale up` typed in the container shell logs in", async () => {
    ready();
    const desk = L.deskContainer();
    desk.start();
    await waitFor("the desk's entrypoint never reported the node as not logged in", 60_000, async () => {
      if (!desk.running) throw new StopWaiting(`desk ended: ${desk.output().slice(-2000)}`);
      return /not logged in: run 'tailscale up'/.test(desk.output()) ? true : undefined;
    }).catch((e: Error) => assert.fail(fail(e.message)));
    assert.doesNotMatch(desk.output(), /running: tailscale up/, fail("the entrypoint ran tailscale up without any login setting"));
    const up = await desk.exec(["tailscale", "up", "--netfilter-mode=off", `--login-server=${L.hs.url}`, `--auth-key=${L.deskKey}`], 60_000);
    assert.equal(up.code, 0, fail("tailscale up typed in the desk's shell failed", up.stderr + up.stdout));
    const st = await waitRunning(desk, 60_000).catch((e: Error) => assert.fail(fail(e.message)));
    const ok = await waitFor("ping", 30_000, async () => ((await desk.exec(["ping", "-c", "1", "-W", "2", routerIp], 10_000)).code === 0 ? true : undefined)).catch(() => false);
    assert.ok(ok, fail(`the desk (${ipv4(st)}) cannot ping the router after its manual login`));
    await desk.stop();
  });

  test("the real image stops with a clear message on a bad TS_ROUTES or a missing TUN; read-only state runs in memory; TS_LOG_VERBOSITY=1 shows [v1] lines", async () => {
    ready();
    const badRoutes = L.deskContainer("badroutes", { env: { TS_ROUTES: "192.168.88.1/24", TS_AUTHKEY: L.deskKey } });
    badRoutes.start();
    const code1 = await Promise.race([badRoutes.exited, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
    assert.equal(code1, 2, fail(`a container with TS_ROUTES=192.168.88.1/24 ended with ${code1}, expected exit 2`, badRoutes.output()));
    assert.match(badRoutes.output(), /entrypoint: error: TS_ROUTES: '192\.168\.88\.1\/24' is not a valid IPv4 prefix/, fail("no clear message for a bad TS_ROUTES", badRoutes.output()));
    assert.doesNotMatch(badRoutes.output(), /tailscaled|starting/, fail("something started despite the bad setting", badRoutes.output()));
    assert.ok(!badRoutes.output().includes(L.deskKey), fail("the key was printed"));

    const noTun = L.deskContainer("notun", { dropCaps: ["CAP_MKNOD"] });
    noTun.start();
    const code2 = await Promise.race([noTun.exited, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
    assert.equal(code2, 1, fail(`a container that cannot create /dev/net/tun ended with ${code2}, expected exit 1`, noTun.output()));
    assert.match(noTun.output(), /entrypoint: error: \/dev\/net\/tun is missing and cannot be created/, fail("no clear message for a missing TUN device", noTun.output()));

    // A state file from an earlier run on storage that became read-only.
    mkdirSync(join(L.lab.dir, "state-rostate"), { recursive: true });
    writeFileSync(join(L.lab.dir, "state-rostate", "tailscaled.state"), "{}");
    const roState = L.deskContainer("rostate", { stateReadOnly: true, env: { TS_LOG_VERBOSITY: "1" } });
    roState.start();
    await waitFor("a container with read-only state did not come up with in-memory state", 60_000, async () => {
      if (!roState.running) throw new StopWaiting(`it ended: ${roState.output().slice(-2000)}`);
      return /not logged in: run 'tailscale up'/.test(roState.output()) ? true : undefined;
    }).catch((e: Error) => assert.fail(fail(e.message, roState.output())));
    assert.match(roState.output(), /warning: state directory \/var\/lib\/tailscale is not writable: running with in-memory state/, fail("no warning about the read-only state directory", roState.output()));
    assert.match(roState.output(), /starting tailscaled \(state: memory/, fail("tailscaled did not get in-memory state", roState.output()));
    await waitFor("no [v1] line", 20_000, async () => (/\[v1\] /.test(roState.output()) ? true : undefined)).catch(() =>
      assert.fail(fail("TS_LOG_VERBOSITY=1 did not let [v1] lines through", roState.output())),
    );
    const stop = await roState.stop();
    assert.equal(stop.code, 0, fail(`the in-memory container ended with ${stop.code}`));
  });

  test("6. restarting the router keeps its node key and tailnet address, without a new login", async () => {
    ready();
    const before = await status(L.router);
    const nodesBefore = await L.hs.nodes();
    const stopped = await L.router.stop(15_000);
    assert.ok(!stopped.timedOut, fail("the router did not stop for the restart"));
    L.router.start();
    const after = await waitRunning(L.router, 90_000).catch((e: Error) => assert.fail(fail(`the router did not come back after a restart: ${e.message}`)));
    // The node is Running from its saved state at once; the entrypoint's
    // helper decides about the login a moment later.
    await waitFor("the entrypoint never decided about the login after the restart", 60_000, async () =>
      /already logged in|running: tailscale up/.test(L.router.output()) ? true : undefined,
    ).catch((e: Error) => assert.fail(fail(e.message)));
    assert.equal(after.Self!.PublicKey, before.Self!.PublicKey, fail("the node key changed across the restart"));
    assert.deepEqual(after.Self!.TailscaleIPs, before.Self!.TailscaleIPs, fail("the tailnet addresses changed across the restart"));
    const out = L.router.output();
    assert.match(out, /already logged in \(state \w+\) and TS_AUTH_ONCE is set/, fail("the entrypoint did not skip the login on restart"));
    assert.doesNotMatch(out, /running: tailscale up/, fail("tailscale up ran again after the restart"));
    const nodesAfter = await L.hs.nodes();
    assert.deepEqual(
      nodesAfter.map((n) => [n.id, n.nodeKey]).sort(),
      nodesBefore.map((n) => [n.id, n.nodeKey]).sort(),
      fail("headscale's node list changed: the router registered again"),
    );
    const ok = await waitFor("ping after restart", 30_000, async () => ((await L.laptop.exec(["ping", "-c", "1", "-W", "2", routerIp], 10_000)).code === 0 ? true : undefined)).catch(() => false);
    assert.ok(ok, fail(`after the restart the laptop cannot ping the router at ${routerIp}`));
  });

  test("7. the container stops within 10 s of SIGTERM", async () => {
    ready();
    assert.ok(L.router.running, fail("the router is not running"));
    const r = await L.router.stop(10_000);
    log(`router stopped in ${r.ms} ms with exit ${r.code}`);
    assert.ok(!r.timedOut, fail(`the router was still running ${r.ms} ms after SIGTERM`));
    assert.equal(r.code, 0, fail(`tailscaled ended with ${r.code} on SIGTERM, expected a clean 0`));
  });
});
