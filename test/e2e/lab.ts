/**
 * The end-to-end lab shared by the e2e tests: a control server (headscale),
 * our image as a "router" with a LAN and an "internet" behind it, and our
 * image again as a "laptop" elsewhere. Everything lives in network
 * namespaces this lab creates, with addresses 10.213.0.0/16 inside them, and
 * for the "internet" 203.0.113.0/24 (TEST-NET-3, RFC 5737: documentation
 * only, never routed anywhere). The namespaces have no link to the host's
 * own network, so no packet of the lab can leave them.
 *
 *        laptop (10.213.2.2) ──┐
 *                              core: headscale at 10.213.0.1:8080 (its loopback,
 *        router (10.213.1.2) ──┤     one hop from every node); forwards between
 *           │                  │     the nodes' WAN links only
 *           ├── lan 10.213.5.2        HTTP service :8080 (subnet route 10.213.5.0/24)
 *           └── isp 10.213.8.2 ── inet 203.0.113.10   HTTP service :8080 (exit node only)
 *        siteb (10.213.4.2) ───┘ our amd64 image: another site's subnet router and an exit node
 *           ├── lanb 10.213.6.2       HTTP service :8080 (subnet route 10.213.6.0/24)
 *           └── ispb 10.213.9.2 ── far 198.51.100.10  HTTP service :8080 (only through siteb as exit node)
 *
 * The router is either our image in a runc container sharing the "router"
 * namespace, or (ARM) a VM of test/support/vm.ts whose three NICs are
 * bridged to the same three links: the guest then is the router.
 * The control server is not on the router's own link on purpose: a router
 * that uses an exit node must keep reaching it through its default route
 * (tailscaled's policy routing does that; without it the router cuts itself
 * off).
 *
 * The laptop has no route to the LAN or to "inet": only the tailnet gets it
 * there. Both services answer with the address they saw, so a test can tell
 * the packet came through Tailscale. "inet" has a non-private address one
 * hop away from the router on purpose: an exit node hands out neither the
 * networks its own interfaces are on nor any RFC 1918 range (those need a
 * subnet route), only what lies beyond.
 * The LAN's default route and the return route for 100.64.0.0/10 point at
 * the router, as RouterOS does with `/ip/route add dst-address=100.64.0.0/10
 * gateway=<container>` (tailscaled runs with netfilter off: no SNAT).
 *
 * The router container's root file system is read-only except its state
 * directory, /var/run/tailscale (tmpfs), /dev, and /etc: a writable copy with
 * a resolv.conf, as RouterOS provides, which TS_ACCEPT_DNS=true lets
 * tailscaled take over for MagicDNS. The laptop's /etc stays read-only.
 */
import { join } from "node:path";
import { Container, imageFile, unpackImage, type ContainerOptions, type UnpackedImage } from "../support/container.js";
import { ensureHeadscale, Headscale } from "../support/headscale.js";
import { Lab, mustRun, StopWaiting, waitFor, type CmdResult } from "../support/netns.js";
import { prepareVmImage, RouterVm, VM_ARCH, type VmArch } from "../support/vm.js";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";

export const NET = {
  control: "10.213.0.1",
  routerGateway: "10.213.1.1",
  routerWan: "10.213.1.2",
  laptopWan: "10.213.2.2",
  lanNet: "10.213.5.0/24",
  lanHost: "10.213.5.2",
  inetNet: "203.0.113.0/24",
  inetHost: "203.0.113.10",
  sitebWan: "10.213.4.2",
  lanbNet: "10.213.6.0/24",
  lanbHost: "10.213.6.2",
  farNet: "198.51.100.0/24",
  farHost: "198.51.100.10",
  port: 8080,
};

/** What a test needs of a router or laptop: a runc Container or a RouterVm. */
export interface Node {
  readonly id: string;
  start(): void;
  stop(graceMs?: number): Promise<{ code: number | string; ms: number; timedOut: boolean }>;
  readonly running: boolean;
  readonly exited: Promise<number | string>;
  exec(argv: string[], timeoutMs?: number): Promise<CmdResult>;
  /** Sends tailscaled (the container's main process) a signal from outside, as the host could. */
  signal(sig: "STOP" | "CONT"): Promise<void>;
  output(): string;
  allOutput(): string;
}

export interface TsStatus {
  BackendState: string;
  Self?: { PublicKey: string; TailscaleIPs?: string[]; HostName: string; DNSName: string };
  Peer?: Record<string, { HostName: string; DNSName: string; TailscaleIPs?: string[]; PrimaryRoutes?: string[]; ExitNodeOption?: boolean; Online?: boolean; CurAddr?: string; Relay?: string }>;
}

export async function status(c: Node, timeoutMs = 30_000): Promise<TsStatus> {
  const r = await c.exec(["tailscale", "status", "--json"], timeoutMs);
  if (r.code !== 0 && !r.stdout.trim().startsWith("{")) throw new Error(`tailscale status failed in ${c.id}: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout) as TsStatus;
}

/** Waits until the node is logged in and has its tailnet address; returns its status. */
export async function waitRunning(c: Node, timeoutMs: number): Promise<TsStatus> {
  return waitFor(`${c.id} did not reach BackendState Running`, timeoutMs, async () => {
    if (!c.running) throw new StopWaiting(`container ended: ${c.output().slice(-3000)}`);
    const s = await status(c);
    return s.BackendState === "Running" && s.Self?.TailscaleIPs?.length ? s : undefined;
  }, 1000);
}

export const ipv4 = (s: TsStatus): string => {
  const ip = s.Self?.TailscaleIPs?.find((a) => a.includes("."));
  if (!ip) throw new Error("node has no IPv4 tailnet address");
  return ip;
};

/** Every regular file under `dir` with its sha256 (relative path -> hash). */
export function snapshot(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) snapshot(p, base, out);
    else if (st?.isFile()) out.set(p.slice(base.length + 1), createHash("sha256").update(readFileSync(p)).digest("hex"));
  }
  return out;
}

/** What changed between two snapshots: added, removed and modified paths, sorted. */
export function changes(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of b) if (!a.has(k)) out.push(`+${k}`);
  else if (a.get(k) !== v) out.push(`~${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`);
  return out.sort();
}

/** A tiny HTTP service inside a namespace that answers `<name> saw <client address>`. */
function service(lab: Lab, role: string, name: string, host: string): void {
  const js = `require("http").createServer((q,s)=>s.end(${JSON.stringify(name)}+" saw "+q.socket.remoteAddress+"\\n")).listen(${NET.port},${JSON.stringify(host)})`;
  lab.spawn(`${name}`, role, [process.execPath, "-e", js]);
}

export interface LabOptions {
  /** Architecture of the router's image (the laptop is always amd64). */
  routerArch: string;
  /** Run the router as a VM on a real kernel (arm64, armv7) instead of a container. */
  routerVm?: boolean;
  /** Also create "siteb": another site's subnet router and an exit node (amd64 container). */
  withSiteB?: boolean;
  log: (s: string) => void;
  /** Extra environment for the router. */
  routerEnv?: Record<string, string>;
  /** Also create "desk": our image with no login settings, for a login typed in its shell. */
  withDesk?: boolean;
}

/**
 * Every lab node talks to headscale's embedded DERP server over plain HTTP
 * (the lab has no TLS): a relay that works, as every real tailnet has one.
 * Without one, on Tailscale 1.104, the laptop never reached the router again
 * after the router restarted (tried for 5 minutes; 1.102 did at once): its
 * magicsock kept the old disco key although the control server sent the new
 * one, and 1.104 re-learns a restarted peer through the relay (TSMP).
 */
export const LAB_DERP_ENV: Record<string, string> = { TS_DEBUG_USE_DERP_HTTP: "1" };

export class RouterLab {
  readonly lab = new Lab("mte");
  hs!: Headscale;
  router!: Node;
  laptop!: Container;
  siteb?: Container;
  sitebKey = "";
  desk?: Container;
  deskKey = "";
  routerKey = "";
  laptopKey = "";
  /** headscale's user of every lab node (for more keys). */
  userId = 0;
  images = new Map<string, UnpackedImage>();
  routerEtc = "";
  etcBefore = new Map<string, string>();

  constructor(private readonly opts: LabOptions) {}

  private async image(arch: string): Promise<UnpackedImage> {
    let img = this.images.get(arch);
    if (!img) {
      const file = imageFile(arch);
      img = await unpackImage(file, join(this.lab.dir, `image-${arch}`));
      this.opts.log(`${arch}: unpacked ${file} (${img.architecture}), entrypoint ${JSON.stringify(img.entrypoint)}`);
      this.images.set(arch, img);
    }
    return img;
  }

  /** Builds the network, starts headscale and the two services; containers are created but not started. */
  async setup(): Promise<void> {
    if (process.getuid?.() !== 0) throw new Error("the end-to-end tests need root (network namespaces, runc)");
    const { lab, opts } = this;
    const bin = await ensureHeadscale(opts.log);
    // A VM boots its own initramfs; the unpacked image is still used for /etc.
    const routerImage = await this.image(opts.routerVm ? "amd64" : opts.routerArch);
    const laptopImage = await this.image("amd64");

    await lab.addNamespace("core", { forwarding: true });
    await lab.addNamespace("isp", { forwarding: true });
    for (const r of ["router", "laptop", "lan", "inet"]) await lab.addNamespace(r);
    await lab.exec("core", ["ip", "addr", "add", `${NET.control}/32`, "dev", "lo"]);
    if (opts.withDesk) {
      await lab.addNamespace("desk");
      await lab.link("d", "core=10.213.3.1/24", "desk=10.213.3.2/24");
      await lab.exec("desk", ["ip", "route", "add", "default", "via", "10.213.3.1"]);
    }
    // In a VM the router's addresses are the guest's: the namespace only
    // bridges the links to the VM's taps.
    const inVm = !!opts.routerVm;
    const ra = (a: string) => (inVm ? "" : a);
    const wan = await lab.link("r", `core=${NET.routerGateway}/24`, `router=${ra(`${NET.routerWan}/24`)}`);
    await lab.link("l", "core=10.213.2.1/24", `laptop=${NET.laptopWan}/24`);
    const lan = await lab.link("n", `router=${ra("10.213.5.1/24")}`, `lan=${NET.lanHost}/24`);
    const isp = await lab.link("i", `router=${ra("10.213.8.1/24")}`, "isp=10.213.8.2/24");
    await lab.link("w", "isp=203.0.113.1/24", `inet=${NET.inetHost}/24`);
    const routerRoutes = [
      ["default", "via", NET.routerGateway],
      [NET.inetNet, "via", "10.213.8.2"],
    ];
    if (!inVm) for (const r of routerRoutes) await lab.exec("router", ["ip", "route", "add", ...r]);
    await lab.exec("laptop", ["ip", "route", "add", "default", "via", "10.213.2.1"]);
    await lab.exec("lan", ["ip", "route", "add", "default", "via", "10.213.5.1"]);
    await lab.exec("isp", ["ip", "route", "add", "100.64.0.0/10", "via", "10.213.8.1"]);
    await lab.exec("inet", ["ip", "route", "add", "default", "via", "203.0.113.1"]);
    service(lab, "lan", "lan-service", NET.lanHost);
    service(lab, "inet", "internet-service", NET.inetHost);
    if (opts.withSiteB) {
      await lab.addNamespace("siteb");
      await lab.addNamespace("ispb", { forwarding: true });
      for (const r of ["lanb", "far"]) await lab.addNamespace(r);
      await lab.link("s", "core=10.213.4.1/24", `siteb=${NET.sitebWan}/24`);
      await lab.link("m", "siteb=10.213.6.1/24", `lanb=${NET.lanbHost}/24`);
      await lab.link("j", "siteb=10.213.9.1/24", "ispb=10.213.9.2/24");
      await lab.link("f", "ispb=198.51.100.1/24", `far=${NET.farHost}/24`);
      await lab.exec("siteb", ["ip", "route", "add", "default", "via", "10.213.4.1"]);
      await lab.exec("siteb", ["ip", "route", "add", NET.farNet, "via", "10.213.9.2"]);
      await lab.exec("lanb", ["ip", "route", "add", "default", "via", "10.213.6.1"]);
      await lab.exec("ispb", ["ip", "route", "add", "100.64.0.0/10", "via", "10.213.9.1"]);
      await lab.exec("far", ["ip", "route", "add", "default", "via", "198.51.100.1"]);
      service(lab, "lanb", "lanb-service", NET.lanbHost);
      service(lab, "far", "far-service", NET.farHost);
    }

    this.hs = new Headscale(lab, bin, { role: "core", ip: NET.control });
    await this.hs.start();
    const user = await this.hs.createUser("lab");
    this.userId = user;
    // Single-use keys: a second login with the router's key would fail, so a
    // router that comes back after a restart did not log in again.
    this.routerKey = await this.hs.preAuthKey(user);
    this.laptopKey = await this.hs.preAuthKey(user);
    if (opts.withDesk) this.deskKey = await this.hs.preAuthKey(user);
    if (opts.withSiteB) this.sitebKey = await this.hs.preAuthKey(user);
    const secrets = join(lab.dir, "laptop-authkey");
    writeFileSync(secrets, `${this.laptopKey}\n`, { mode: 0o600 });

    // The router's writable /etc (see the top of this file).
    this.routerEtc = join(lab.dir, "router-etc");
    await mustRun("cp", ["-a", join(routerImage.rootfs, "etc"), this.routerEtc]);
    writeFileSync(join(this.routerEtc, "resolv.conf"), `nameserver ${NET.control}\n`);
    this.etcBefore = snapshot(this.routerEtc);

    const routerEnv = {
      ...LAB_DERP_ENV,
      TS_AUTHKEY: this.routerKey,
      TS_LOGIN_SERVER: this.hs.url,
      TS_ROUTES: NET.lanNet,
      TS_ADVERTISE_EXIT_NODE: "true",
      TS_ACCEPT_ROUTES: "true",
      TS_HOSTNAME: "router",
      TS_AUTH_ONCE: "true",
      TS_ACCEPT_DNS: "true",
      ...opts.routerEnv,
    };
    if (inVm) {
      if (!(opts.routerArch in VM_ARCH)) throw new Error(`no router VM for ${opts.routerArch}`);
      const image = await prepareVmImage(opts.routerArch as VmArch, lab.dir, opts.log);
      this.router = new RouterVm(lab, {
        id: "router",
        image,
        role: "router",
        hostname: "router",
        stateDir: join(lab.dir, "state-router"),
        env: routerEnv,
        nics: [
          { name: "wan", veth: wan.ifB, addresses: [`${NET.routerWan}/24`] },
          { name: "lan", veth: lan.ifA, addresses: ["10.213.5.1/24"] },
          { name: "isp", veth: isp.ifA, addresses: ["10.213.8.1/24"] },
        ],
        routes: routerRoutes,
        files: { "/etc/resolv.conf": `nameserver ${NET.control}\n` },
      });
    } else {
      this.router = new Container(lab, {
        id: "router",
        image: routerImage,
        role: "router",
        hostname: "router",
        stateDir: join(lab.dir, "state-router"),
        env: routerEnv,
        extraMounts: [{ destination: "/etc", type: "bind", source: this.routerEtc, options: ["rbind", "rw"] }],
      });
    }
    if (opts.withSiteB) {
      this.siteb = new Container(lab, {
        id: "siteb",
        image: laptopImage,
        role: "siteb",
        hostname: "siteb",
        stateDir: join(lab.dir, "state-siteb"),
        env: {
          ...LAB_DERP_ENV,
          TS_AUTHKEY: this.sitebKey,
          TS_LOGIN_SERVER: this.hs.url,
          TS_ROUTES: NET.lanbNet,
          TS_ADVERTISE_EXIT_NODE: "true",
          TS_ACCEPT_ROUTES: "true",
          TS_HOSTNAME: "siteb",
        },
      });
    }
    this.laptop = new Container(lab, {
      id: "laptop",
      image: laptopImage,
      role: "laptop",
      hostname: "laptop",
      stateDir: join(lab.dir, "state-laptop"),
      env: {
        ...LAB_DERP_ENV,
        TS_AUTHKEY: "file:/run/secrets/authkey",
        TS_LOGIN_SERVER: this.hs.url,
        TS_HOSTNAME: "laptop",
        TS_ACCEPT_ROUTES: "true",
      },
      extraMounts: [{ destination: "/run/secrets/authkey", type: "bind", source: secrets, options: ["bind", "ro"] }],
    });
  }

  /** A container of the amd64 image in the "desk" namespace; by default with no login settings. */
  deskContainer(id = "desk", extra: Partial<ContainerOptions> = {}): Container {
    if (!this.opts.withDesk) throw new Error("the lab was made without a desk");
    const c = new Container(this.lab, {
      id,
      image: this.images.get("amd64")!,
      role: "desk",
      hostname: id,
      stateDir: join(this.lab.dir, `state-${id}`),
      env: { ...LAB_DERP_ENV },
      ...extra,
    });
    if (id === "desk") this.desk = c;
    return c;
  }

  /** Everything the lab's programs printed, for a failure message. */
  logs(): string {
    const tail = (s: string) => s.split("\n").slice(-60).join("\n");
    return [
      `--- router${this.opts.routerVm ? ` (VM console)` : ""} ---\n${tail(this.router?.allOutput() ?? "")}`,
      `--- laptop ---\n${tail(this.laptop?.allOutput() ?? "")}`,
      ...(this.siteb ? [`--- siteb ---\n${tail(this.siteb.allOutput())}`] : []),
      ...(this.desk ? [`--- desk ---\n${tail(this.desk.allOutput())}`] : []),
      `--- headscale ---\n${tail(this.hs?.output() ?? "")}`,
    ].join("\n");
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
  }
}
