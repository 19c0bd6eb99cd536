/**
 * End to end, armv7: the armv7 image as the router in a VM on Debian's real ARM
 * kernel (qemu-system-arm -M virt -cpu cortex-a7, 128 MB; test/support/vm.ts), with the
 * laptop and site B as amd64 containers. Runs the full router test set of
 * test/e2e/router-cases.ts: on a real kernel tailscaled has policy routing,
 * so the router can use an exit node itself. One VM for the whole file.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { lifecycleCases, routerCases, routerLab } from "./router-cases.js";

describe("router image end to end (armv7 VM on a real kernel, headscale)", { timeout: 20 * 60_000 }, () => {
  const ctx = routerLab({ routerArch: "armv7", routerVm: true, loginTimeoutMs: 180_000 });
  const { L } = ctx;

  test("the router runs armv7 code on the pinned Debian kernel, inside the VM", async () => {
    ctx.ready();
    const u = await L.router.exec(["uname", "-m", "-r"]);
    assert.equal(u.code, 0, ctx.fail("uname failed in the VM", u.stderr));
    assert.match(u.stdout.trim(), /^6\.1\.0-\d+-armmp armv7l$/, ctx.fail("the VM is not the pinned armv7 kernel", u.stdout));
    assert.match(L.router.output(), /vm-init: started \/usr\/local\/bin\/entrypoint/, ctx.fail("the VM did not start the image's entrypoint"));
  });

  routerCases(ctx);
  lifecycleCases(ctx, { bootTimeoutMs: 180_000 });
});
