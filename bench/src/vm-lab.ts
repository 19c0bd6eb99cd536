/**
 * The lab the router-VM benchmarks share: headscale on a core namespace, the
 * router as an ARM VM (test/support/vm.ts) on a WAN link, an amd64 laptop
 * container as its peer on a LAN of its own; both logged in before `work`
 * runs, the lab torn down after it, whatever happens.
 */
import { join } from "node:path";
import { Container, unpackImage } from "../../test/support/container.js";
import { Headscale } from "../../test/support/headscale.js";
import { Lab, waitFor } from "../../test/support/netns.js";
import { prepareVmImage, RouterVm, type VmArch } from "../../test/support/vm.js";

export interface VmLabOptions {
  /** Names the lab's namespaces and links apart from another lab's. */
  prefix: string;
  /** The first two octets of the lab's addresses (10.214: core 10.214.1.1, router .1.2, laptop 10.214.2.2). */
  net: string;
  arch: VmArch;
  routerTar: string;
  /** Files swapped into the router's image (the reference recipe's binary). */
  replace?: Record<string, string>;
  laptopTar: string;
  headscaleBin: string;
  /** How long the VM router may take to log in (emulated CPUs are slow). */
  loginTimeoutMs: number;
  /** The router in messages: "arm64", "arm64 (fast)". */
  label: string;
  log: (s: string) => void;
}

export interface VmLab {
  lab: Lab;
  vm: RouterVm;
  laptop: Container;
  /** The router's tailnet address. */
  routerIp: string;
  /** Serves `script` (node -e) from the laptop's namespace; resolves to the laptop's tailnet address. */
  serveFromLaptop(script: string): Promise<string>;
  /** Stops the router and the laptop (the lab itself goes after `work`). */
  stop(): Promise<void>;
}

export async function withVmLab<T>(o: VmLabOptions, work: (l: VmLab) => Promise<T>): Promise<T> {
  const lab = new Lab(o.prefix);
  try {
    await lab.addNamespace("core", { forwarding: true });
    await lab.addNamespace("router");
    await lab.addNamespace("laptop");
    const wan = await lab.link("r", `core=${o.net}.1.1/24`, "router=");
    await lab.link("l", `core=${o.net}.2.1/24`, `laptop=${o.net}.2.2/24`);
    await lab.exec("laptop", ["ip", "route", "add", "default", "via", `${o.net}.2.1`]);
    const hs = new Headscale(lab, o.headscaleBin, { role: "core", ip: `${o.net}.1.1` });
    await hs.start();
    const user = await hs.createUser("bench");
    const [rk, lk] = [await hs.preAuthKey(user), await hs.preAuthKey(user)];
    const vm = new RouterVm(lab, {
      id: "router",
      image: await prepareVmImage(o.arch, lab.dir, o.log, o.routerTar, o.replace ?? {}),
      role: "router",
      hostname: "router",
      stateDir: join(lab.dir, "state-router"),
      env: { TS_AUTHKEY: rk, TS_LOGIN_SERVER: hs.url, TS_HOSTNAME: "router" },
      nics: [{ name: "wan", veth: wan.ifB, addresses: [`${o.net}.1.2/24`] }],
      routes: [["default", "via", `${o.net}.1.1`]],
    });
    const laptop = new Container(lab, {
      id: "laptop",
      image: await unpackImage(o.laptopTar, join(lab.dir, "laptop-image")),
      role: "laptop",
      hostname: "laptop",
      stateDir: join(lab.dir, "state-laptop"),
      env: { TS_AUTHKEY: lk, TS_LOGIN_SERVER: hs.url, TS_HOSTNAME: "laptop" },
    });
    vm.start();
    laptop.start();
    const routerIp = await waitFor(`the ${o.label} VM router never logged in`, o.loginTimeoutMs, async () => {
      const r = await vm.exec(["tailscale", "ip", "-4"], 60_000);
      return r.code === 0 && /^100\./.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
    }, 2000);
    o.log(`${o.label}: VM router at ${routerIp}`);
    return await work({
      lab,
      vm,
      laptop,
      routerIp,
      async serveFromLaptop(script) {
        lab.spawn("bulk", "laptop", [process.execPath, "-e", script]);
        return waitFor("the laptop never logged in", 120_000, async () => {
          const r = await laptop.exec(["tailscale", "ip", "-4"]);
          return r.code === 0 && /^100\./.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
        }, 1000);
      },
      async stop() {
        await vm.stop(10_000);
        await laptop.stop(10_000);
      },
    });
  } finally {
    await lab.cleanup();
  }
}
