/**
 * Router VMs: our ARM images on real ARM kernels under qemu-system, for the
 * end-to-end tests and the bench. Under qemu-user tailscaled cannot use
 * policy routing (netlink cannot list rules there), and the memory one reads
 * is qemu's; in these VMs both are the router's.
 *
 *   arm64: qemu-system-aarch64 -M virt -cpu cortex-a53, 256 MB (RB5009-class)
 *   armv7: qemu-system-arm     -M virt -cpu cortex-a7,  128 MB (hAP ac²-class)
 *
 * The kernel is Debian's, pinned in config/pins.json (package, version,
 * sha256), fetched with `apt-get download` from whatever mirror apt is
 * configured with, verified and cached. The initramfs is the image's own root
 * filesystem (unpacked from the docker-archive in dist/) plus the kernel
 * modules the VM needs (with their dependencies) and vminit (tools/vminit,
 * not part of any image) as PID 1, which starts the image's entrypoint the way
 * RouterOS does: the image's Env plus the container's, a persistent state
 * volume (a 9p share of a host directory, so it survives a VM restart),
 * tmpfs on /var/run/tailscale and /tmp. Network: one virtio NIC per tap
 * device, each tap bridged to a veth of a Lab namespace. Console: the VM's
 * serial port is the node's output. A virtio serial port carries `exec` and
 * `stop` (SIGTERM to the container, as RouterOS sends, then power off).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { cacheRoot, projectRoot } from "../../src/paths.js";
import { loadPins } from "../../src/pins.js";
import { imageFile, unpackImage } from "./container.js";
import { cpio, S_IFCHR, S_IFDIR, S_IFREG, treeEntries, type CpioEntry } from "./cpio.js";
import { mustRun, runCmd, type CmdResult, type Lab, type LabProcess } from "./netns.js";

export type VmArch = "arm64" | "armv7";

interface ArchSpec {
  qemu: string;
  machine: string;
  cpu: string;
  memMb: number;
  goarch: string;
  goarm?: string;
  console: string;
}

export const VM_ARCH: Record<VmArch, ArchSpec> = {
  arm64: { qemu: "qemu-system-aarch64", machine: "virt", cpu: "cortex-a53", memMb: 256, goarch: "arm64", console: "ttyAMA0" },
  // highmem=off: the armmp kernel is not LPAE; keep every device below 4 GiB.
  armv7: { qemu: "qemu-system-arm", machine: "virt,highmem=off", cpu: "cortex-a7", memMb: 128, goarch: "arm", goarm: "7", console: "ttyAMA0" },
};

/** What the VM needs from the kernel beyond what is built in; dependencies come from modules.dep. */
const MODULES = ["virtio_mmio", "virtio_rng", "virtio_console", "virtio_net", "tun", "9pnet_virtio", "9p"];

const log0 = (_: string) => {};

function sha256(b: Buffer | string): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Writes `data` to `path` through a temporary name, so a cache entry is whole or absent. */
function writeAtomic(path: string, data: Buffer | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface VmKernel {
  /** The kernel image to boot. */
  vmlinuz: string;
  /** `uname -r` of that kernel. */
  release: string;
  /** Host paths of the modules to load, dependencies first. */
  modules: string[];
}

/** Every module file under `dir` by module name (dashes as underscores). */
function moduleFiles(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) moduleFiles(p, base, out);
    else if (/\.ko$/.test(e.name)) out.set(e.name.replace(/\.ko$/, "").replace(/-/g, "_"), p.slice(base.length + 1));
  }
  return out;
}

/** A module's `depends=` from its .modinfo section (the deb ships no modules.dep: depmod makes it on install). */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf("\0depends=");
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  return ko
    .subarray(at + 9, end)
    .toString("utf8")
    .split(",")
    .filter(Boolean)
    .map((d) => d.replace(/-/g, "_"));
}

/** `wanted` and everything they depend on, as paths relative to `modulesDir`, dependencies first. */
function resolveModules(modulesDir: string, wanted: readonly string[]): string[] {
  const norm = (s: string) => s.replace(/-/g, "_");
  const files = moduleFiles(modulesDir);
  const builtin = new Set(
    readFileSync(join(modulesDir, "modules.builtin"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((p) => norm(p.split("/").pop()!.replace(/\.ko$/, ""))),
  );
  const order: string[] = [];
  const visit = (name: string, from: string) => {
    const path = files.get(name);
    if (!path) {
      if (builtin.has(name)) return;
      throw new Error(`kernel module ${name} (${from}) is neither a module file in ${modulesDir} nor built in`);
    }
    if (order.includes(path)) return;
    for (const d of moduleDepends(readFileSync(join(modulesDir, path)))) visit(d, `needed by ${name}`);
    order.push(path);
  };
  for (const w of wanted) visit(norm(w), "wanted");
  return order;
}

/**
 * The pinned Debian kernel for `arch`: downloaded with apt once, checked
 * against the pin's sha256, and the kernel image plus the modules the VM
 * loads extracted into the cache.
 */
export async function ensureVmKernel(arch: VmArch, log: (s: string) => void = log0): Promise<VmKernel> {
  const pins = loadPins().vmKernels;
  if (!pins) throw new Error("config/pins.json has no vmKernels: the router VMs need a pinned Debian kernel per ARM architecture");
  const pin = pins[arch];
  const dir = join(cacheRoot(), "vm-kernels", `${pin.package}_${pin.version}_${pin.debArch}-${pin.sha256.slice(0, 12)}`);
  const done = join(dir, "kernel.json");
  if (!existsSync(done)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const spec = `${pin.package}:${pin.debArch}=${pin.version}`;
      log(`${arch}: apt-get download ${spec} (once; cached)`);
      const r = await runCmd("apt-get", ["download", spec], { cwd: tmp, timeoutMs: 10 * 60_000 });
      const debs = readdirSync(tmp).filter((f) => f.endsWith(".deb"));
      if (r.code !== 0 || debs.length !== 1) {
        throw new Error(
          `apt-get download ${spec} failed (${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ")}); ` +
            `the architecture ${pin.debArch} must be enabled (scripts/setup-host.sh) and the mirror must still carry version ${pin.version}: update vmKernels.${arch} in config/pins.json`,
        );
      }
      const deb = join(tmp, debs[0]!);
      const got = sha256(readFileSync(deb));
      if (got !== pin.sha256) throw new Error(`${debs[0]} has sha256 ${got}, but config/pins.json pins vmKernels.${arch}.sha256 ${pin.sha256}`);
      const x = join(tmp, "x");
      mkdirSync(x);
      const tarFrom = (patterns: string[]) =>
        mustRun("bash", ["-o", "pipefail", "-c", 'd="$1"; x="$2"; shift 2; dpkg-deb --fsys-tarfile "$d" | tar -x -C "$x" --wildcards "$@"', "x", deb, x, ...patterns], {
          timeoutMs: 10 * 60_000,
        });
      await tarFrom(["./boot/vmlinuz-*", "./lib/modules"]);
      const release = readdirSync(join(x, "lib", "modules"))[0]!;
      const modulesDir = join(x, "lib", "modules", release);
      const mods = resolveModules(modulesDir, MODULES);
      renameSync(join(x, "boot", `vmlinuz-${release}`), join(tmp, "vmlinuz"));
      // Keep only the modules the VM loads.
      for (const m of mods) {
        mkdirSync(join(tmp, "lib", "modules", release, m, ".."), { recursive: true });
        renameSync(join(modulesDir, m), join(tmp, "lib", "modules", release, m));
      }
      rmSync(x, { recursive: true, force: true });
      rmSync(deb);
      writeFileSync(join(tmp, "kernel.json"), JSON.stringify({ release, modules: mods.map((m) => join("lib", "modules", release, m)) }, null, 2));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, ".."), { recursive: true });
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const k = JSON.parse(readFileSync(done, "utf8")) as { release: string; modules: string[] };
  return { vmlinuz: join(dir, "vmlinuz"), release: k.release, modules: k.modules.map((m) => join(dir, m)) };
}

const VMINIT_DIR = join(projectRoot, "tools", "vminit");

/** tools/vminit cross-built for the VM's architecture (cached by source and Go version). */
export async function ensureVmInit(arch: VmArch, log: (s: string) => void = log0): Promise<string> {
  const spec = VM_ARCH[arch];
  const src = Buffer.concat([readFileSync(join(VMINIT_DIR, "main.go")), readFileSync(join(VMINIT_DIR, "go.mod"))]);
  const goVersion = (await mustRun("go", ["env", "GOVERSION"])).trim();
  const key = sha256(`${sha256(src)} ${goVersion} ${spec.goarch} ${spec.goarm ?? ""}`).slice(0, 16);
  const out = join(cacheRoot(), "vminit", `${arch}-${key}`);
  if (!existsSync(out)) {
    log(`${arch}: building vminit`);
    mkdirSync(join(out, ".."), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    const r = await runCmd("go", ["build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", tmp, "."], {
      cwd: VMINIT_DIR,
      timeoutMs: 10 * 60_000,
      env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOOS: "linux", GOARCH: spec.goarch, ...(spec.goarm ? { GOARM: spec.goarm } : {}) },
    });
    if (r.code !== 0) throw new Error(`building tools/vminit for ${arch} failed: ${(r.stderr || r.stdout).trim()}`);
    renameSync(tmp, out);
  }
  return out;
}

export interface VmImage {
  arch: VmArch;
  kernel: VmKernel;
  /** The cached base initramfs: the image's root filesystem, modules and vminit. */
  initrd: string;
  /** The image's entrypoint + cmd and Env, from its config. */
  argv: string[];
  env: string[];
  /** Guest paths of the modules, in load order. */
  modules: string[];
}

/**
 * Kernel, vminit and the base initramfs for an image file (default: the one
 * `build` wrote to dist/ for `arch`), cached by the file's hash, the kernel
 * pin and vminit.
 */
export async function prepareVmImage(
  arch: VmArch,
  workDir: string,
  log: (s: string) => void = log0,
  file = imageFile(arch),
  /** Files of the image replaced by host files (image path without a leading slash -> host path): the bench's recipe binaries. */
  replace: Record<string, string> = {},
): Promise<VmImage> {
  const kernel = await ensureVmKernel(arch, log);
  const init = await ensureVmInit(arch, log);
  const unpacked = await unpackImage(file, join(workDir, `vm-image-${arch}`));
  if (unpacked.architecture !== (arch === "arm64" ? "arm64" : "arm")) throw new Error(`${file} says its architecture is ${unpacked.architecture}`);
  const guestModules = kernel.modules.map((m) => `/lib/modules/${kernel.release}/${m.split(`/lib/modules/${kernel.release}/`)[1]}`);
  const key = sha256(
    [sha256(readFileSync(file)), kernel.vmlinuz, ...kernel.modules, sha256(readFileSync(init)), ...Object.entries(replace).sort().map(([k, v]) => `${k}=${sha256(readFileSync(v))}`)].join("\n"),
  ).slice(0, 16);
  const initrd = join(cacheRoot(), "vm-initrd", `${arch}-${key}.cpio`);
  if (!existsSync(initrd)) {
    log(`${arch}: writing the initramfs from ${file}`);
    const entries: CpioEntry[] = treeEntries(unpacked.rootfs);
    for (const [name, host] of Object.entries(replace)) {
      const e = entries.find((x) => x.name === name);
      if (!e || !e.data) throw new Error(`${file} has no regular file ${name} to replace`);
      e.data = readFileSync(host);
    }
    const have = new Set(entries.map((e) => e.name));
    const dir = (name: string) => {
      if (!have.has(name)) entries.push({ name, mode: S_IFDIR | 0o755 }), have.add(name);
    };
    for (const d of ["dev", "proc", "sys", "tmp", "vm", "var", "var/run", "var/run/tailscale", "var/lib", "var/lib/tailscale", "lib", "lib/modules"]) dir(d);
    // The kernel opens /dev/console for PID 1 before anything mounts /dev.
    entries.push({ name: "dev/console", mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 });
    entries.push({ name: "vm/init", mode: S_IFREG | 0o755, data: readFileSync(init) });
    for (const [host, guest] of kernel.modules.map((m, i) => [m, guestModules[i]!] as const)) {
      const parts = guest.slice(1).split("/");
      for (let i = 2; i < parts.length; i++) dir(parts.slice(0, i).join("/"));
      entries.push({ name: guest.slice(1), mode: S_IFREG | 0o644, data: readFileSync(host) });
    }
    mkdirSync(join(initrd, ".."), { recursive: true });
    writeAtomic(initrd, cpio(entries));
  }
  rmSync(join(workDir, `vm-image-${arch}`), { recursive: true, force: true });
  return { arch, kernel, initrd, argv: [...unpacked.entrypoint, ...unpacked.cmd], env: unpacked.env, modules: guestModules };
}

export interface VmNic {
  /** Name of the interface inside the guest (it is renamed to this). */
  name: string;
  /** Host side: a veth of the Lab namespace `role` that the VM's tap is bridged with. */
  veth: string;
  /** Addresses inside the guest, "a.b.c.d/len". */
  addresses: string[];
}

export interface VmOptions {
  id: string;
  image: VmImage;
  /** Lab namespace that holds the taps (and runs qemu). */
  role: string;
  hostname: string;
  /** Container environment, added to the image's Env. */
  env: Record<string, string>;
  /** Host directory shared as the persistent /var/lib/tailscale. */
  stateDir: string;
  nics: VmNic[];
  /** Guest routes, as arguments of `ip route add`. */
  routes?: string[][];
  /** Files written in the guest before the container starts (path -> content), e.g. /etc/resolv.conf. */
  files?: Record<string, string>;
  memMb?: number;
  smp?: number;
}

interface Reply {
  id: number;
  op: string;
  code: number;
  stdout?: string;
  stderr?: string;
  ms?: number;
  error?: string;
}

/** One router VM. Same surface as test/support/container.ts's Container, so tests take either. */
export class RouterVm {
  readonly id: string;
  private proc?: LabProcess;
  private sock?: Socket;
  private readonly logs: string[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private ready?: Promise<void>;
  private containerCode?: number;
  private readonly taps: string[] = [];
  private attached?: Promise<void>;
  private readonly dir: string;

  constructor(
    private readonly lab: Lab,
    private readonly opts: VmOptions,
  ) {
    this.id = `${lab.prefix}-${opts.id}`;
    this.dir = join(lab.dir, "vms", opts.id);
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
  }

  /** Bridges each NIC's veth with a new tap in the VM's namespace (once). */
  private attach(): Promise<void> {
    this.attached ??= (async () => {
      for (const [i, nic] of this.opts.nics.entries()) {
        const tap = `${this.lab.prefix}${this.opts.id.slice(0, 2)}t${i}`;
        const br = `${this.lab.prefix}${this.opts.id.slice(0, 2)}b${i}`;
        if (tap.length > 15) throw new Error(`tap name ${tap} is too long`);
        for (const cmd of [
          ["ip", "tuntap", "add", "dev", tap, "mode", "tap"],
          ["ip", "link", "add", br, "type", "bridge"],
          ["ip", "link", "set", nic.veth, "master", br],
          ["ip", "link", "set", tap, "master", br],
          ["ip", "link", "set", tap, "up"],
          ["ip", "link", "set", br, "up"],
        ]) await this.lab.exec(this.opts.role, cmd);
        this.taps.push(tap);
      }
    })();
    return this.attached;
  }

  private mac(i: number): string {
    const h = sha256(`${this.id}/${i}`);
    return `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
  }

  private config(): unknown {
    const o = this.opts;
    const network = ["ip link set lo up"];
    for (const [i, nic] of o.nics.entries()) {
      const mac = this.mac(i);
      network.push(`i=$(grep -l '^${mac}$' /sys/class/net/*/address | cut -d/ -f5) && [ -n "$i" ] && ip link set dev "$i" name ${nic.name}`);
      for (const a of nic.addresses) network.push(`ip addr add ${a} dev ${nic.name}`);
      network.push(`ip link set ${nic.name} up`);
    }
    for (const r of o.routes ?? []) network.push(`ip route add ${r.join(" ")}`);
    return {
      hostname: o.hostname,
      argv: o.image.argv,
      env: [...o.image.env, ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`)],
      modules: o.image.modules,
      network,
      files: o.files ?? {},
      stateTag: "state",
      stateDir: "/var/lib/tailscale",
    };
  }

  /** Boots the VM; the container starts as soon as the guest is up. */
  start(): void {
    if (this.running) throw new Error(`${this.id} is already running`);
    const o = this.opts;
    const spec = VM_ARCH[o.image.arch];
    const initrd = join(this.dir, "initrd.cpio");
    const mine = cpio([
      { name: "vm", mode: S_IFDIR | 0o755 },
      { name: "vm/config.json", mode: S_IFREG | 0o644, data: Buffer.from(JSON.stringify(this.config())) },
    ]);
    writeFileSync(initrd, Buffer.concat([readFileSync(o.image.initrd), mine]));
    const ctl = join(this.dir, "ctl.sock");
    rmSync(ctl, { force: true });
    this.containerCode = undefined;
    this.proc = undefined;
    this.logs.push("");
    const idx = this.logs.length - 1;
    const args = [
      spec.qemu,
      ...["-M", spec.machine, "-cpu", spec.cpu, "-m", String(o.memMb ?? spec.memMb), "-smp", String(o.smp ?? 2)],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"],
      ...["-kernel", o.image.kernel.vmlinuz, "-initrd", initrd, "-append", `console=${spec.console} panic=-1 rdinit=/vm/init loglevel=4`],
      ...["-device", "virtio-rng-device"],
      ...["-device", "virtio-serial-device", "-chardev", `socket,id=ctl,path=${ctl},server=on,wait=off`, "-device", "virtserialport,chardev=ctl,name=mt.ctl"],
      ...["-fsdev", `local,id=state,path=${o.stateDir},security_model=passthrough`, "-device", "virtio-9p-device,fsdev=state,mount_tag=state"],
    ];
    // The taps exist before qemu opens them: start() stays synchronous
    // like Container.start(), qemu is launched once attach() is done.
    const launch = (async () => {
      await this.attach();
      for (const [i] of o.nics.entries()) {
        args.push("-netdev", `tap,id=n${i},ifname=${this.taps[i]},script=no,downscript=no`, "-device", `virtio-net-device,netdev=n${i},mac=${this.mac(i)}`);
      }
      const proc = this.lab.spawn(this.id, o.role, args);
      this.proc = proc;
      const copy = () => (this.logs[idx] = proc.output());
      proc.child.stdout!.on("data", copy);
      proc.child.stderr!.on("data", copy);
      void proc.exited.then(copy);
      await this.connect(ctl, proc);
    })();
    this.ready = launch;
    this.pendingStart = launch;
    launch.catch(() => {});
  }

  private pendingStart?: Promise<void>;

  private async connect(path: string, proc: LabProcess): Promise<void> {
    const end = Date.now() + 20_000;
    while (!existsSync(path)) {
      if (proc.child.exitCode !== null) throw new Error(`qemu ended before opening its control socket: ${proc.output().slice(-2000)}`);
      if (Date.now() > end) throw new Error("qemu did not create its control socket");
      await new Promise((r) => setTimeout(r, 50));
    }
    const sock = connect(path);
    this.sock = sock;
    let buf = "";
    let readyResolve!: () => void;
    const readyP = new Promise<void>((r) => (readyResolve = r));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let r: Reply;
        try {
          r = JSON.parse(line) as Reply;
        } catch {
          continue;
        }
        if (r.op === "ready") readyResolve();
        else if (r.op === "exited") this.containerCode = r.code;
        else if (r.op === "stopped") this.containerCode = r.code;
        const w = this.waiting.get(r.id);
        if (w && r.id) {
          this.waiting.delete(r.id);
          w(r);
        }
      }
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      for (const [id, w] of this.waiting) w({ id, op: "closed", code: 255, error: "the VM's control channel closed" });
      this.waiting.clear();
    });
    // Boot under emulation: the guest says "ready" once the container started.
    const boot = new Promise<void>((_, rej) => setTimeout(() => rej(new Error(`the VM did not come up within 120 s:\n${proc.output().slice(-3000)}`)), 120_000).unref());
    const died = proc.exited.then((c) => {
      throw new Error(`the VM ended (${c}) before the container started:\n${proc.output().slice(-3000)}`);
    });
    await Promise.race([readyP, boot, died]);
  }

  private request(q: Record<string, unknown>, timeoutMs: number): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ id, op: "timeout", code: 124, error: `no answer from the VM within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.sock!.write(`${JSON.stringify({ ...q, id })}\n`);
    });
  }

  get running(): boolean {
    if (this.pendingStart && !this.proc) return true;
    return !!this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** This boot's console. */
  output(): string {
    return this.proc?.output() ?? "";
  }

  /** Console of every boot so far. */
  allOutput(): string {
    return this.logs.join("\n--- restart ---\n");
  }

  /** The container's exit code once the VM ended (qemu's own status if the guest never said). */
  get exited(): Promise<number | string> {
    if (!this.pendingStart) throw new Error(`${this.id} was never started`);
    return this.pendingStart.then(
      () => this.proc!.exited.then((q) => this.containerCode ?? `qemu ${q}`),
      () => (this.proc ? this.proc.exited.then((q) => this.containerCode ?? `qemu ${q}`) : "never started"),
    );
  }

  /** Runs a command in the guest, with the container's environment (like /container/shell). */
  async exec(argv: string[], timeoutMs = 30_000): Promise<CmdResult> {
    try {
      await this.ready;
    } catch (e) {
      return { code: 255, signal: null, stdout: "", stderr: (e as Error).message };
    }
    if (!this.running || !this.sock || this.sock.destroyed) return { code: 255, signal: null, stdout: "", stderr: "the VM is not running" };
    const r = await this.request({ op: "exec", argv, timeoutMs }, timeoutMs + 5_000);
    return { code: r.code, signal: null, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ?? "") };
  }

  /** A signal to tailscaled from the guest's own PID namespace (above the container's). */
  async signal(sig: "STOP" | "CONT"): Promise<void> {
    const r = await this.exec(["sh", "-c", `p=$(pidof tailscaled) && kill -${sig} $p`]);
    if (r.code !== 0) throw new Error(`kill -${sig} tailscaled in ${this.id}: ${r.stdout}${r.stderr}`);
  }

  /**
   * SIGTERM to the container, as RouterOS sends on stop; waits up to
   * `graceMs` for it to end (the guest measures), then for the VM to power off.
   */
  async stop(graceMs = 10_000): Promise<{ code: number | string; ms: number; timedOut: boolean }> {
    if (!this.pendingStart) throw new Error(`${this.id} was never started`);
    const t0 = Date.now();
    await this.ready?.catch(() => {});
    if (!this.proc || !this.running) return { code: await this.exited, ms: 0, timedOut: false };
    const r = await this.request({ op: "stop" }, graceMs);
    const ms = r.op === "stopped" ? r.ms ?? Date.now() - t0 : Date.now() - t0;
    const off = await Promise.race([this.proc.exited, new Promise((res) => setTimeout(() => res("timeout"), 15_000))]);
    if (off === "timeout" || r.op !== "stopped") this.kill();
    await this.proc.exited;
    this.sock?.destroy();
    return { code: r.op === "stopped" ? r.code : await this.exited, ms, timedOut: r.op !== "stopped" };
  }

  /** Ends qemu at once. */
  kill(): void {
    const pid = this.proc?.child.pid;
    if (pid && this.running) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
}

/** Reads /proc/<pid>/status fields (kB) of the process named `comm` in the guest. */
export async function guestProcStatus(vm: RouterVm, comm: string): Promise<Record<string, number>> {
  const r = await vm.exec(["sh", "-c", `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = ${comm} ] && cat $p/status && exit 0; done; exit 1`]);
  if (r.code !== 0) throw new Error(`no ${comm} process in the VM: ${r.stderr}`);
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
