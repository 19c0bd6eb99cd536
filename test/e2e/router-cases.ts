/**
 * The router test set every router architecture runs, as a container
 * (amd64) or as a VM on a real ARM kernel (arm64, armv7): login, direct
 * paths, subnet router, serving as an exit node, using another node as exit
 * node without losing the control server, site to site both ways without
 * SNAT, MagicDNS, `tailscale status`, policy routing, restart without a new
 * login, stop within 10 s of SIGTERM.
 *
 * A test file calls `routerLab()` inside its describe(), registers
 * `routerCases()`, any cases of its own, and `lifecycleCases()` last (those
 * restart and stop the router).
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { NET, RouterLab, ipv4, status, waitRunning, type LabOptions, type Node, type TsStatus } from "./lab.js";
import { waitFor } from "../support/netns.js";
import { HEALTHCHECK_COMMAND } from "../../src/routeros/plan.js";

export interface RouterCtx {
  L: RouterLab;
  /** Architecture label for messages. */
  arch: string;
  routerIp: string;
  laptopIp: string;
  sitebIp: string;
  routerSt?: TsStatus;
  laptopSt?: TsStatus;
  /** Throws the setup error (with the lab's logs) if setup failed. */
  ready(): void;
  /** A failure message ending with every lab program's last lines (the VM's console for a VM). */
  fail(what: string, detail?: string): string;
}

export const log = (s: string) => process.stderr.write(`# ${s}\n`);

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Sets up the lab (router, laptop, site B), starts the nodes and approves their routes; registers before/after hooks. */
export function routerLab(opts: Omit<LabOptions, "log" | "withSiteB"> & { arch?: string; loginTimeoutMs?: number }): RouterCtx {
  const L = new RouterLab({ ...opts, log, withSiteB: true });
  let setupError: unknown;
  const ctx: RouterCtx = {
    L,
    arch: opts.arch ?? opts.routerArch,
    routerIp: "",
    laptopIp: "",
    sitebIp: "",
    ready: () => {
      if (setupError) assert.fail(ctx.fail(`lab setup failed: ${(setupError as Error).message}`));
    },
    fail: (what, detail = "") => `${what}${detail ? `\n${detail.trim()}` : ""}\n${L.logs()}`,
  };
  const login = opts.loginTimeoutMs ?? 90_000;

  before(async () => {
    try {
      const t0 = Date.now();
      await L.setup();
      L.router.start();
      L.laptop.start();
      L.siteb!.start();
      ctx.routerSt = await waitRunning(L.router, login);
      ctx.laptopSt = await waitRunning(L.laptop, 90_000);
      const sitebSt = await waitRunning(L.siteb!, 90_000);
      ctx.routerIp = ipv4(ctx.routerSt);
      ctx.laptopIp = ipv4(ctx.laptopSt);
      ctx.sitebIp = ipv4(sitebSt);
      log(`${ctx.arch}: router ${ctx.routerIp}, laptop ${ctx.laptopIp}, siteb ${ctx.sitebIp} (${Date.now() - t0} ms from setup)`);
      // Both sites announce their LAN and an exit node; approve them as an admin would.
      for (const [name, lan] of [
        ["router", NET.lanNet],
        ["siteb", NET.lanbNet],
      ] as const) {
        const node = await waitFor(`headscale never saw ${name}'s advertised routes`, 60_000, async () => {
          const n = await L.hs.node(name);
          return n && n.availableRoutes.includes(lan) && n.availableRoutes.includes("0.0.0.0/0") ? n : undefined;
        });
        await L.hs.approveRoutes(node.id, [lan, "0.0.0.0/0", "::/0"]);
      }
      const sees = (who: Node, peerIp: string, route: string) =>
        waitFor(`${who.id} never received the approved routes of ${peerIp}`, 90_000, async () => {
          const s = await status(who);
          const peer = Object.values(s.Peer ?? {}).find((p) => p.TailscaleIPs?.includes(peerIp));
          return peer?.PrimaryRoutes?.includes(route) && peer.ExitNodeOption ? true : undefined;
        }, 1000);
      await sees(L.laptop, ctx.routerIp, NET.lanNet);
      await sees(L.router, ctx.sitebIp, NET.lanbNet);
      await sees(L.siteb!, ctx.routerIp, NET.lanNet);
    } catch (e) {
      setupError = e;
    }
  });

  after(async () => {
    await L.cleanup();
  });
  return ctx;
}

/** Fetches a lab service with busybox wget inside a node. */
const wget = (n: Node, host: string) => n.exec(["wget", "-q", "-T", "5", "-O", "-", `http://${host}:${NET.port}/`], 20_000);

/** Fetches a lab service from a plain namespace (a LAN host), with node's fetch. */
async function fetchFrom(ctx: RouterCtx, role: string, host: string): Promise<{ ok: boolean; body: string }> {
  const js = `fetch("http://${host}:${NET.port}/",{signal:AbortSignal.timeout(5000)}).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(String(e));process.exit(1)})`;
  const r = await ctx.L.lab.tryExec(role, [process.execPath, "-e", js], 15_000);
  return { ok: r.code === 0, body: r.code === 0 ? r.stdout : r.stdout + r.stderr };
}

async function eventually<T>(what: string, timeoutMs: number, f: () => Promise<{ ok: boolean; value: T; detail: string }>): Promise<{ ok: boolean; value?: T; detail: string }> {
  let detail = "";
  const v = await waitFor(what, timeoutMs, async () => {
    const r = await f();
    detail = r.detail;
    return r.ok ? r.value : undefined;
  }, 1000).catch(() => undefined);
  return { ok: v !== undefined, value: v, detail };
}

/** `tailscale ping` from `from` to `ip` until a direct path answers; returns the last line. */
async function assertDirect(ctx: RouterCtx, from: Node, ip: string, name: string): Promise<void> {
  const r = await eventually("direct", 60_000, async () => {
    const p = await from.exec(["tailscale", "ping", "-c", "10", "--timeout", "3s", ip], 60_000);
    const last = p.stdout.trim().split("\n").pop() ?? "";
    return { ok: p.code === 0 && /^pong from .* via \d+\.\d+\.\d+\.\d+:\d+ in /.test(last), value: last, detail: p.stdout + p.stderr };
  });
  assert.ok(r.ok, ctx.fail(`${from.id} has no direct path to ${name} (${ip}): relayed or none`, r.detail));
  log(`${ctx.arch}: ${from.id} -> ${name}: ${r.value}`);
}

/** The cases every router architecture runs while the router is up. */
export function routerCases(ctx: RouterCtx): void {
  const { L } = ctx;

  test("the router logs in with its pre-auth key; headscale lists it with its address", async () => {
    ctx.ready();
    const node = await L.hs.node("router");
    assert.ok(node?.ipAddresses.includes(ctx.routerIp), ctx.fail(`headscale does not list the router with ${ctx.routerIp}`, JSON.stringify(node)));
    assert.match(L.router.output(), /running: tailscale up/, ctx.fail("the entrypoint did not log in with the auth key"));
  });

  test("tailscaled uses policy routing: its rules and table 52 exist", async () => {
    ctx.ready();
    const rules = await L.router.exec(["ip", "rule", "show"]);
    assert.equal(rules.code, 0, ctx.fail("ip rule failed in the router", rules.stderr));
    assert.match(rules.stdout, /lookup 52/, ctx.fail("no 'lookup 52' rule: tailscaled runs without policy routing", rules.stdout));
    assert.doesNotMatch(L.router.allOutput(), /running without policy routing/, ctx.fail("tailscaled says it runs without policy routing"));
    const t52 = await L.router.exec(["ip", "route", "show", "table", "52"]);
    assert.match(t52.stdout, /100\.64\.0\.0\/10 dev tailscale0|dev tailscale0/, ctx.fail("table 52 routes nothing into tailscale0", t52.stdout + t52.stderr));
  });

  test("the laptop pings the router over a direct path, not a relay", async () => {
    ctx.ready();
    const r = await eventually("ping", 60_000, async () => {
      const p = await L.laptop.exec(["ping", "-c", "1", "-W", "2", ctx.routerIp], 10_000);
      return { ok: p.code === 0, value: true, detail: p.stdout + p.stderr };
    });
    assert.ok(r.ok, ctx.fail(`the laptop could not ping the router at ${ctx.routerIp} over the tailnet`, r.detail));
    await assertDirect(ctx, L.laptop, ctx.routerIp, "router");
    await assertDirect(ctx, L.router, ctx.laptopIp, "laptop");
  });

  test("subnet router: the laptop reaches the LAN service behind the router", async () => {
    ctx.ready();
    const r = await eventually("lan", 60_000, async () => {
      const w = await wget(L.laptop, NET.lanHost);
      return { ok: w.code === 0, value: w.stdout.trim(), detail: w.stdout + w.stderr };
    });
    assert.ok(r.ok, ctx.fail(`the laptop could not fetch http://${NET.lanHost}:${NET.port}/ through the router's subnet route ${NET.lanNet}`, r.detail));
    assert.equal(r.value, `lan-service saw ${ctx.laptopIp}`, ctx.fail("the LAN service did not see the laptop's tailnet address"));
  });

  test("exit node: the laptop, using the router as exit node, reaches the 'internet' beyond it", async () => {
    ctx.ready();
    const before = await wget(L.laptop, NET.inetHost);
    assert.notEqual(before.code, 0, ctx.fail(`without an exit node the laptop must not reach ${NET.inetHost}: the lab leaks`, before.stdout));
    const set = await L.laptop.exec(["tailscale", "set", `--exit-node=${ctx.routerIp}`]);
    assert.equal(set.code, 0, ctx.fail("tailscale set --exit-node failed on the laptop", set.stderr + set.stdout));
    try {
      const r = await eventually("inet", 60_000, async () => {
        const w = await wget(L.laptop, NET.inetHost);
        return { ok: w.code === 0, value: w.stdout.trim(), detail: w.stdout + w.stderr };
      });
      assert.ok(r.ok, ctx.fail(`the laptop could not fetch http://${NET.inetHost}:${NET.port}/ through the exit node ${ctx.routerIp}`, r.detail));
      assert.equal(r.value, `internet-service saw ${ctx.laptopIp}`, ctx.fail("the internet service did not see the laptop's tailnet address"));
    } finally {
      await L.laptop.exec(["tailscale", "set", "--exit-node="]);
    }
  });

  test("site to site: each LAN reaches the other through the routers, and sees the other's real address (no SNAT)", async () => {
    ctx.ready();
    await assertDirect(ctx, L.router, ctx.sitebIp, "siteb");
    const ab = await eventually("a->b", 60_000, async () => {
      const r = await fetchFrom(ctx, "lan", NET.lanbHost);
      return { ok: r.ok, value: r.body.trim(), detail: r.body };
    });
    assert.ok(ab.ok, ctx.fail(`${NET.lanHost} (behind the router) could not fetch http://${NET.lanbHost}:${NET.port}/ (behind siteb)`, ab.detail));
    assert.equal(ab.value, `lanb-service saw ${NET.lanHost}`, ctx.fail("site B's service did not see site A's host address: SNAT or a wrong path"));
    const ba = await eventually("b->a", 60_000, async () => {
      const r = await fetchFrom(ctx, "lanb", NET.lanHost);
      return { ok: r.ok, value: r.body.trim(), detail: r.body };
    });
    assert.ok(ba.ok, ctx.fail(`${NET.lanbHost} (behind siteb) could not fetch http://${NET.lanHost}:${NET.port}/ (behind the router)`, ba.detail));
    assert.equal(ba.value, `lan-service saw ${NET.lanbHost}`, ctx.fail("site A's service did not see site B's host address: SNAT or a wrong path"));
  });

  test("the router uses siteb as its exit node and keeps its control connection", async () => {
    ctx.ready();
    const before = await wget(L.router, NET.farHost);
    assert.notEqual(before.code, 0, ctx.fail(`without an exit node the router must not reach ${NET.farHost}: the lab leaks`, before.stdout));
    // A node cannot offer and use an exit node at once: stop offering first.
    const set = await L.router.exec(["tailscale", "set", "--advertise-exit-node=false", `--exit-node=${ctx.sitebIp}`]);
    assert.equal(set.code, 0, ctx.fail("tailscale set --exit-node failed on the router", set.stderr + set.stdout));
    try {
      const r = await eventually("far", 60_000, async () => {
        const w = await wget(L.router, NET.farHost);
        return { ok: w.code === 0, value: w.stdout.trim(), detail: w.stdout + w.stderr };
      });
      assert.ok(r.ok, ctx.fail(`the router could not fetch http://${NET.farHost}:${NET.port}/ through siteb as exit node`, r.detail));
      assert.equal(r.value, `far-service saw ${ctx.routerIp}`, ctx.fail("the service beyond siteb did not see the router's tailnet address"));
      // The control server is reached through the router's default route,
      // which the exit node now replaces for everything but tailscaled's own
      // (marked) packets. A change made at the control server must still
      // reach the router: rename the laptop there and wait for the new name.
      const laptop = await L.hs.node("laptop");
      assert.ok(laptop, ctx.fail("headscale has no laptop"));
      await L.hs.rename(laptop.id, "laptop-renamed");
      try {
        const seen = await eventually("rename", 60_000, async () => {
          const s = await status(L.router);
          const p = Object.values(s.Peer ?? {}).find((x) => x.TailscaleIPs?.includes(ctx.laptopIp));
          return { ok: !!p?.DNSName.startsWith("laptop-renamed."), value: true, detail: JSON.stringify(p) };
        });
        assert.ok(seen.ok, ctx.fail("with an exit node in use the router no longer hears from the control server (a rename there never arrived)", seen.detail));
      } finally {
        await L.hs.rename(laptop.id, "laptop");
      }
      await assertDirect(ctx, L.router, ctx.laptopIp, "laptop (exit node in use)");
      const st = await status(L.router);
      assert.equal(st.BackendState, "Running", ctx.fail(`the router is ${st.BackendState} with an exit node in use`));
    } finally {
      await L.router.exec(["tailscale", "set", "--exit-node=", "--advertise-exit-node=true"]);
    }
  });

  test("MagicDNS: nslookup of the laptop's name at 100.100.100.100 inside the router", async () => {
    ctx.ready();
    const name = `laptop.${L.hs.baseDomain}`;
    const r = await eventually("dns", 60_000, async () => {
      const d = await L.router.exec(["nslookup", name, "100.100.100.100"], 15_000);
      return { ok: d.code === 0 && d.stdout.includes(ctx.laptopIp), value: true, detail: d.stdout + d.stderr };
    });
    assert.ok(r.ok, ctx.fail(`nslookup ${name} 100.100.100.100 in the router did not answer ${ctx.laptopIp}`, r.detail));
  });

  test("`tailscale status` works inside the router", async () => {
    ctx.ready();
    const r = await L.router.exec(["tailscale", "status"]);
    assert.equal(r.code, 0, ctx.fail("tailscale status failed in the router", r.stderr + r.stdout));
    assert.match(r.stdout, new RegExp(`${esc(ctx.laptopIp)}\\s+laptop`), ctx.fail("tailscale status does not list the laptop", r.stdout));
    assert.match(r.stdout, new RegExp(`${esc(ctx.routerIp)}\\s+router`), ctx.fail("tailscale status does not list the router itself", r.stdout));
  });
}

/** Restart without a new login, then stop within 10 s of SIGTERM; register these last. */
export function lifecycleCases(ctx: RouterCtx, opts: { bootTimeoutMs?: number } = {}): void {
  const { L } = ctx;
  test("restarting the router keeps its node key and tailnet address, without a new login", async () => {
    ctx.ready();
    const before = await status(L.router);
    const nodesBefore = await L.hs.nodes();
    const t0 = Date.now();
    const stopped = await L.router.stop(15_000);
    assert.ok(!stopped.timedOut, ctx.fail("the router did not stop for the restart"));
    const t1 = Date.now();
    L.router.start();
    const after = await waitRunning(L.router, opts.bootTimeoutMs ?? 90_000).catch((e: Error) => assert.fail(ctx.fail(`the router did not come back after a restart: ${e.message}`)));
    log(`${ctx.arch}: restart: stopped in ${t1 - t0} ms, Running again ${Date.now() - t1} ms after the start`);
    // The node is Running from its saved state at once; the entrypoint's
    // helper decides about the login a moment later.
    await waitFor("the entrypoint never decided about the login after the restart", 60_000, async () =>
      /already logged in|running: tailscale up/.test(L.router.output()) ? true : undefined,
    ).catch((e: Error) => assert.fail(ctx.fail(e.message)));
    assert.equal(after.Self!.PublicKey, before.Self!.PublicKey, ctx.fail("the node key changed across the restart"));
    assert.deepEqual(after.Self!.TailscaleIPs, before.Self!.TailscaleIPs, ctx.fail("the tailnet addresses changed across the restart"));
    const out = L.router.output();
    assert.match(out, /already logged in \(state \w+\) and TS_AUTH_ONCE is set/, ctx.fail("the entrypoint did not skip the login on restart"));
    assert.doesNotMatch(out, /running: tailscale up/, ctx.fail("tailscale up ran again after the restart"));
    const nodesAfter = await L.hs.nodes();
    assert.deepEqual(
      nodesAfter.map((n) => [n.id, n.nodeKey]).sort(),
      nodesBefore.map((n) => [n.id, n.nodeKey]).sort(),
      ctx.fail("headscale's node list changed: the router registered again"),
    );
    const tPing = Date.now();
    const ok = await waitFor("ping after restart", Number(process.env.MT_RESTART_PING_MS ?? 60_000), async () => ((await L.laptop.exec(["ping", "-c", "1", "-W", "2", ctx.routerIp], 10_000)).code === 0 ? true : undefined)).catch(() => false);
    log(`${ctx.arch}: ping after restart: ${ok ? "answered" : "no answer"} after ${Date.now() - tPing} ms`);
    if (!ok) {
      const st = await L.laptop.exec(["tailscale", "status"], 10_000);
      const tp = await L.laptop.exec(["tailscale", "ping", "-c", "3", "--timeout", "3s", ctx.routerIp], 20_000);
      const disco = L.laptop.allOutput().split("\n").filter((l) => /disco|endpoint|peer/i.test(l) && !/derp\.(Send|Recv)/.test(l)).slice(-40).join("\n");
      assert.fail(ctx.fail(`after the restart the laptop cannot ping the router at ${ctx.routerIp}`, `laptop's tailscale status:\n${st.stdout}${st.stderr}\ntailscale ping:\n${tp.stdout}${tp.stderr}\nlaptop's disco and endpoint lines:\n${disco}`));
    }
  });

  healthCases(ctx, opts);

  test("the router stops within 10 s of SIGTERM, with exit code 0", async () => {
    ctx.ready();
    assert.ok(L.router.running, ctx.fail("the router is not running"));
    const r = await L.router.stop(10_000);
    log(`${ctx.arch}: router stopped ${r.ms} ms after SIGTERM with exit ${r.code}`);
    assert.ok(!r.timedOut, ctx.fail(`the router was still running ${r.ms} ms after SIGTERM`));
    assert.equal(r.code, 0, ctx.fail(`tailscaled ended with ${r.code} on SIGTERM, expected a clean 0`));
  });
}

/**
 * RouterOS's health check, imitated: the image's healthcheck-cmd every
 * `interval`, "unhealthy" after `retries` failures in a row, "healthy" after
 * a pass (RouterOS defaults are 30 s x 3; the lab checks every 5 s).
 */
export const LAB_HEALTH = { intervalMs: 5_000, retries: 3 } as const;

/**
 * The checker's grace period for cases that follow a restart of the router
 * (the image's default is 90 s from PID 1's start): short, so a case does
 * not wait out the default; what the grace itself does is tested in
 * test/integration/healthcheck.test.ts.
 */
export const LAB_GRACE = ["-g", "20"];

interface Verdict {
  ms: number;
  line: string;
  history: string;
}

export async function healthVerdict(ctx: RouterCtx, want: "healthy" | "unhealthy", withinMs: number, args: string[] = []): Promise<Verdict> {
  const t0 = Date.now();
  const history: string[] = [];
  let fails = 0;
  while (Date.now() - t0 < withinMs) {
    const t = Date.now();
    const r = await ctx.L.router.exec([...HEALTHCHECK_COMMAND.split(" "), ...args], 20_000);
    const line = (r.stdout + r.stderr).trim();
    history.push(`${((t - t0) / 1000).toFixed(1)}s exit ${r.code}: ${line}`);
    if (r.code === 0) fails = 0;
    else fails++;
    // Healthy here means Running: a pass that says "starting: ..." (the grace period) is not what a case waits for.
    if ((want === "healthy" && r.code === 0 && line === "Running") || (want === "unhealthy" && fails >= LAB_HEALTH.retries)) {
      return { ms: Date.now() - t0, line, history: history.join("\n") };
    }
    await new Promise((res) => setTimeout(res, Math.max(0, LAB_HEALTH.intervalMs - (Date.now() - t))));
  }
  assert.fail(ctx.fail(`the health check did not turn ${want} within ${withinMs} ms`, history.join("\n")));
}

/** The health check (healthcheck/healthcheck.c) against a real node: Running, hung, control unreachable from the start, logged out; and back. */
export function healthCases(ctx: RouterCtx, opts: { bootTimeoutMs?: number } = {}): void {
  const { L } = ctx;
  const { intervalMs, retries } = LAB_HEALTH;
  const within = intervalMs * retries;

  test("health check: healthy and 'Running' while Running; unhealthy within interval x retries of a SIGSTOP of tailscaled; healthy after SIGCONT", async () => {
    ctx.ready();
    const ok = await healthVerdict(ctx, "healthy", 60_000);
    assert.equal(ok.line, "Running", ctx.fail("a Running node's check must say Running", ok.history));
    await L.router.signal("STOP");
    let hung: Verdict;
    try {
      // Each failing run waits out the checker's own 5 s timeout.
      hung = await healthVerdict(ctx, "unhealthy", within + intervalMs);
    } finally {
      await L.router.signal("CONT");
    }
    log(`${ctx.arch}: health: unhealthy ${hung.ms} ms after SIGSTOP: ${hung.line}`);
    assert.equal(hung.line, "tailscaled not answering (no reply within 5s)", ctx.fail("a hung tailscaled must be named", hung.history));
    assert.ok(hung.ms <= within + intervalMs, ctx.fail(`unhealthy only after ${hung.ms} ms`, hung.history));
    const back = await healthVerdict(ctx, "healthy", 60_000);
    assert.equal(back.line, "Running", ctx.fail("healthy again after SIGCONT", back.history));
  });

  test("health check: a router that cannot reach the control server from its start is unhealthy (Starting/NoState) within grace + interval x retries; healthy once it can", async () => {
    ctx.ready();
    const stopped = await L.router.stop(15_000);
    assert.ok(!stopped.timedOut, ctx.fail("the router did not stop"));
    // headscale (and its DERP) answers the router no more: its replies to the router's address are prohibited.
    const rule = ["from", NET.control, "to", NET.routerWan, "prohibit"];
    await L.lab.exec("core", ["ip", "rule", "add", ...rule]);
    let blocked = true;
    const unblock = async () => {
      if (blocked) await L.lab.exec("core", ["ip", "rule", "del", ...rule]);
      blocked = false;
    };
    try {
      const t0 = Date.now();
      L.router.start();
      // PID 1's age counts from the container's start (the VM's boot).
      const bad = await healthVerdict(ctx, "unhealthy", (opts.bootTimeoutMs ?? 90_000) + 20_000 + within + intervalMs, LAB_GRACE);
      log(`${ctx.arch}: health: unhealthy ${Date.now() - t0} ms after a start without the control server: ${bad.line}`);
      assert.match(bad.line, /^(Starting|NoState): /, ctx.fail("the reason must be that the node never reached the control server", bad.history));
      const st = await status(L.router);
      assert.notEqual(st.BackendState, "Running", ctx.fail("the node is Running although the control server is unreachable"));
      await unblock();
      const t1 = Date.now();
      const ok = await healthVerdict(ctx, "healthy", 180_000, LAB_GRACE);
      log(`${ctx.arch}: health: healthy ${Date.now() - t1} ms after the control server became reachable`);
      assert.equal(ok.line, "Running", ctx.fail("healthy again once the control server answers", ok.history));
      // The entrypoint's helper decides about the login once tailscaled left NoState; let it finish before the next case.
      await waitFor("the entrypoint never decided about the login after the control server answered", 120_000, async () =>
        /already logged in|running: tailscale up|skipping setup/.test(L.router.output()) ? true : undefined,
      ).catch((e: Error) => assert.fail(ctx.fail(e.message)));
      assert.match(L.router.output(), /already logged in \(state \w+\)/, ctx.fail("after the control server came back the entrypoint did not keep the saved login"));
    } finally {
      await unblock();
    }
  });

  test("health check: after `tailscale logout` unhealthy with 'NeedsLogin: not logged in' within interval x retries; healthy after a new login", async () => {
    ctx.ready();
    const out = await L.router.exec(["tailscale", "logout"], 60_000);
    assert.equal(out.code, 0, ctx.fail("tailscale logout failed", out.stdout + out.stderr));
    const t0 = Date.now();
    const bad = await healthVerdict(ctx, "unhealthy", within + intervalMs, LAB_GRACE);
    log(`${ctx.arch}: health: unhealthy ${Date.now() - t0} ms after logout: ${bad.line}`);
    assert.equal(bad.line, "NeedsLogin: not logged in", ctx.fail("a logged-out node must say so", bad.history));
    await loginAgain(ctx);
  });
}

/** Logs the router in again with a new single-use key and the entrypoint's own flags (a user would restart it with a new TS_AUTHKEY); waits until its check says Running. */
export async function loginAgain(ctx: RouterCtx): Promise<void> {
  const { L } = ctx;
  const key = await L.hs.preAuthKey(L.userId);
  const up = await L.router.exec(
    ["tailscale", "up", "--reset", "--timeout=120s", "--netfilter-mode=off", "--accept-dns=true", "--accept-routes=true", "--advertise-exit-node=true", `--advertise-routes=${NET.lanNet}`, "--hostname=router", `--login-server=${L.hs.url}`, `--auth-key=${key}`],
    150_000,
  );
  assert.equal(up.code, 0, ctx.fail("logging in again failed", up.stdout + up.stderr));
  const ok = await healthVerdict(ctx, "healthy", 60_000, LAB_GRACE);
  assert.equal(ok.line, "Running", ctx.fail("healthy again after the new login", ok.history));
  ctx.routerIp = ipv4(await status(L.router));
}
