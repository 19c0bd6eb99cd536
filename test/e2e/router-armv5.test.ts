/**
 * End to end, ARMv5: the armv5 image as the router in a runc container, run
 * under qemu-user (binfmt_misc) with QEMU_CPU=arm926, an ARMv5TE CPU: an
 * instruction newer than ARMv5 would stop it. It logs in to headscale,
 * answers the laptop's (amd64) ping, reaches the LAN behind it and stops
 * cleanly. Routing is not tested here: qemu-user cannot list policy-routing
 * rules, and Debian has no ARMv5 kernel for a machine qemu-system emulates
 * well; routing is proven on real kernels by the arm64 and armv7 VM tests.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { NET, RouterLab, ipv4, status, waitRunning } from "./lab.js";
import { waitFor } from "../support/netns.js";

const log = (s: string) => process.stderr.write(`# ${s}\n`);

describe("router image end to end (armv5 under qemu-user -cpu arm926, headscale)", { timeout: 15 * 60_000 }, () => {
  const L = new RouterLab({ routerArch: "armv5", routerEnv: { QEMU_CPU: "arm926" }, log });
  let routerIp = "";
  let setupError: unknown;
  const fail = (what: string, detail = "") => `${what}${detail ? `\n${detail.trim()}` : ""}\n${L.logs()}`;

  before(async () => {
    try {
      await L.setup();
      const arch = L.images.get("armv5")!.architecture;
      if (arch !== "arm") throw new Error(`the armv5 image file says its architecture is ${arch}`);
      L.router.start();
      L.laptop.start();
      await waitRunning(L.laptop, 90_000);
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

  test("the armv5 router logs in with its pre-auth key", async () => {
    ready();
    const st = await waitRunning(L.router, 300_000).catch((e: Error) => assert.fail(fail(`the armv5 router did not log in: ${e.message}`)));
    routerIp = ipv4(st);
    log(`armv5 router ${routerIp}`);
    const node = await L.hs.node("router");
    assert.ok(node?.ipAddresses.includes(routerIp), fail(`headscale does not list the router with ${routerIp}`, JSON.stringify(node)));
    const uname = await L.router.exec(["uname", "-m"], 60_000);
    assert.equal(uname.stdout.trim(), "armv5tel", fail("the router container is not running on an ARMv5TE CPU (QEMU_CPU=arm926)", uname.stdout));
  });

  test("the laptop pings the armv5 router's tailnet address", async () => {
    ready();
    assert.ok(routerIp, fail("the router never logged in"));
    await waitFor("the laptop does not see the router yet", 120_000, async () => {
      const s = await status(L.laptop);
      return Object.values(s.Peer ?? {}).some((p) => p.TailscaleIPs?.includes(routerIp)) ? true : undefined;
    }).catch((e: Error) => assert.fail(fail(e.message)));
    let last = "";
    const ok = await waitFor("ping", 120_000, async () => {
      const r = await L.laptop.exec(["ping", "-c", "1", "-W", "3", routerIp], 15_000);
      last = r.stdout + r.stderr;
      return r.code === 0 ? true : undefined;
    }, 2000).catch(() => false);
    assert.ok(ok, fail(`the laptop could not ping the armv5 router at ${routerIp}`, last));
  });

  test("the laptop reaches the LAN behind the armv5 router", async () => {
    ready();
    assert.ok(routerIp, fail("the router never logged in"));
    const node = await waitFor("headscale never saw the armv5 router's routes", 120_000, async () => {
      const n = await L.hs.node("router");
      return n?.availableRoutes.includes(NET.lanNet) ? n : undefined;
    }).catch((e: Error) => assert.fail(fail(e.message)));
    await L.hs.approveRoutes(node.id, [NET.lanNet]);
    let last = "";
    const body = await waitFor("lan", 120_000, async () => {
      const r = await L.laptop.exec(["wget", "-q", "-T", "5", "-O", "-", `http://${NET.lanHost}:${NET.port}/`], 20_000);
      last = r.stdout + r.stderr;
      return r.code === 0 ? r.stdout : undefined;
    }, 2000).catch(() => undefined);
    assert.ok(body, fail(`the laptop could not reach http://${NET.lanHost}:${NET.port}/ behind the armv5 router`, last));
  });

  test("the armv5 container stops within 10 s of SIGTERM", async () => {
    ready();
    const r = await L.router.stop(10_000);
    log(`armv5 router stopped in ${r.ms} ms with exit ${r.code}`);
    assert.ok(!r.timedOut, fail(`the armv5 router was still running ${r.ms} ms after SIGTERM`));
    assert.equal(r.code, 0, fail(`tailscaled ended with ${r.code} on SIGTERM`));
  });
});
