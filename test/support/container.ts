/**
 * Runs our image the way RouterOS does, without a container engine: the root
 * file system is unpacked from the docker-archive file `build` wrote, and
 * runc starts the image's own entrypoint in a network namespace of a Lab.
 * Foreign architectures run under qemu-user through binfmt_misc.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DIST } from "./dist.js";
import { dockerArchivesFor } from "../../src/image/index.js";
import { mustRun, runCmd, type CmdResult, type Lab, type LabProcess } from "./netns.js";

export interface UnpackedImage {
  /** The image file it came from. */
  file: string;
  rootfs: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  architecture: string;
}

/** The docker-archive `build` wrote for an architecture; a clear error when there is none. */
export function imageFile(arch: string): string {
  const found = existsSync(DIST) ? dockerArchivesFor(readdirSync(DIST), arch) : [];
  if (found.length === 0) {
    throw new Error(`no image file ${join(DIST, `mikrotik-tailscale-<version>-${arch}.tar`)}: run 'node bin/mikrotik-tailscale.js build --arch ${arch}' first (scripts/test.sh does)`);
  }
  if (found.length > 1) throw new Error(`more than one ${arch} image in ${DIST}: ${found.join(", ")}`);
  return join(DIST, found[0]!);
}

/** Unpacks a docker-archive (manifest.json, config, layer tars) into `dest`/rootfs. */
export async function unpackImage(file: string, dest: string): Promise<UnpackedImage> {
  const manifest = JSON.parse(await mustRun("tar", ["-xOf", file, "manifest.json"])) as Array<{ Config: string; Layers: string[] }>;
  if (manifest.length !== 1) throw new Error(`${file}: expected one image in manifest.json, found ${manifest.length}`);
  const m = manifest[0]!;
  const config = JSON.parse(await mustRun("tar", ["-xOf", file, m.Config])) as {
    architecture: string;
    config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null };
  };
  const rootfs = join(dest, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  for (const layer of m.Layers) {
    // Layers are plain tars inside the archive; stream each into place.
    await mustRun("bash", ["-o", "pipefail", "-c", 'tar -xOf "$1" "$2" | tar -x --numeric-owner -p -C "$3"', "unpack", file, layer, rootfs], {
      timeoutMs: 120_000,
    });
  }
  return {
    file,
    rootfs,
    entrypoint: config.config?.Entrypoint ?? [],
    cmd: config.config?.Cmd ?? [],
    env: config.config?.Env ?? [],
    architecture: config.architecture,
  };
}

export interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface ContainerOptions {
  id: string;
  image: UnpackedImage;
  /** Lab namespace role whose network the container shares (like a RouterOS veth). */
  role: string;
  hostname: string;
  /** TS_* and other variables, added to the image's own Env. */
  env: Record<string, string>;
  /** Host directory bind-mounted at /var/lib/tailscale (persistent state). */
  stateDir: string;
  /** Mount the state directory read-only (to see the entrypoint fall back to in-memory state). */
  stateReadOnly?: boolean;
  extraMounts?: Mount[];
  /** Capabilities to leave out of the usual set (which includes NET_ADMIN, NET_RAW and MKNOD). */
  dropCaps?: string[];
  /**
   * A memory cap for the container's cgroup (as RouterOS's memory-max), with
   * the cgroup file system mounted read-only at /sys/fs/cgroup so the
   * entrypoint can read it. No swap on top, as on a router.
   */
  memoryLimitBytes?: number;
}

// What a container engine gives by default, plus what tailscaled needs.
const CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_NET_ADMIN",
];

export class Container {
  readonly id: string;
  private readonly bundle: string;
  private readonly runcRoot: string;
  private proc?: LabProcess;
  /** Output of every run of this container, oldest first. */
  private readonly logs: string[] = [];

  constructor(
    private readonly lab: Lab,
    private readonly opts: ContainerOptions,
  ) {
    this.id = `${lab.prefix}-${opts.id}`;
    this.bundle = join(lab.dir, "bundles", opts.id);
    this.runcRoot = join(lab.dir, "runc");
    mkdirSync(this.bundle, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
    lab.onCleanup(() => this.destroySync());
    writeFileSync(join(this.bundle, "config.json"), JSON.stringify(this.spec(), null, 2));
  }

  private spec(): unknown {
    const o = this.opts;
    const caps = CAPS.filter((c) => !(o.dropCaps ?? []).includes(c));
    const env = [...o.image.env, ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`)];
    return {
      ociVersion: "1.0.2",
      process: {
        terminal: false,
        user: { uid: 0, gid: 0 },
        args: [...o.image.entrypoint, ...o.image.cmd],
        env,
        cwd: "/",
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        rlimits: [{ type: "RLIMIT_NOFILE", hard: 4096, soft: 4096 }],
        noNewPrivileges: false,
      },
      // Read-only root: only the state directory, the socket directory
      // (tmpfs) and /dev may be written. A write anywhere else fails loudly.
      root: { path: o.image.rootfs, readonly: true },
      hostname: o.hostname,
      mounts: [
        { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
        { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
        { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
        { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
        { destination: "/var/lib/tailscale", type: "bind", source: o.stateDir, options: ["rbind", o.stateReadOnly ? "ro" : "rw"] },
        { destination: "/var/run/tailscale", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", "size=1024k"] },
        ...(o.memoryLimitBytes ? [{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] }] : []),
        ...(o.extraMounts ?? []),
      ],
      linux: {
        namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network", path: `/var/run/netns/${this.lab.ns(o.role)}` }],
        resources: {
          devices: [
            { allow: false, access: "rwm" },
            { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
          ],
          ...(o.memoryLimitBytes ? { memory: { limit: o.memoryLimitBytes, swap: o.memoryLimitBytes } } : {}),
        },
        // /proc/sys stays writable: the entrypoint turns on forwarding in the
        // container's own network namespace, as on RouterOS.
        maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
        readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"],
      },
    };
  }

  /** Starts the container (its entrypoint as PID 1) in the background. */
  start(): void {
    if (this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null) throw new Error(`${this.id} is already running`);
    this.destroySync();
    this.proc = this.lab.spawn(this.id, null, ["runc", "--root", this.runcRoot, "run", "--bundle", this.bundle, this.id]);
    this.logs.push("");
    const idx = this.logs.length - 1;
    const proc = this.proc;
    const copy = () => (this.logs[idx] = proc.output());
    proc.child.stdout!.on("data", copy);
    proc.child.stderr!.on("data", copy);
    void proc.exited.then(copy);
  }

  get running(): boolean {
    return !!this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** This run's output. */
  output(): string {
    return this.proc?.output() ?? "";
  }

  /** Output of every run so far. */
  allOutput(): string {
    return this.logs.join("\n--- restart ---\n");
  }

  /** Exit code of the current run once it ended. */
  get exited(): Promise<number | string> {
    if (!this.proc) throw new Error(`${this.id} was never started`);
    return this.proc.exited;
  }

  /** Runs a command inside the running container. */
  exec(argv: string[], timeoutMs = 30_000): Promise<CmdResult> {
    return runCmd("runc", ["--root", this.runcRoot, "exec", this.id, ...argv], { timeoutMs });
  }

  /** A signal to the container's PID 1 from the host (inside, PID 1 ignores SIGSTOP). */
  async signal(sig: "STOP" | "CONT"): Promise<void> {
    const r = await runCmd("runc", ["--root", this.runcRoot, "kill", this.id, sig], { timeoutMs: 5_000 });
    if (r.code !== 0) throw new Error(`runc kill ${this.id} ${sig}: ${r.stderr.trim()}`);
  }

  /**
   * Sends SIGTERM as RouterOS does on stop and waits up to `graceMs` for the
   * container to end. Returns its exit code and how long it took; on a
   * timeout it kills the container and reports `timedOut`.
   */
  async stop(graceMs = 10_000): Promise<{ code: number | string; ms: number; timedOut: boolean }> {
    if (!this.proc) throw new Error(`${this.id} was never started`);
    const t0 = Date.now();
    await runCmd("runc", ["--root", this.runcRoot, "kill", this.id, "TERM"], { timeoutMs: 5_000 });
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs));
    const res = await Promise.race([this.proc.exited, timeout]);
    const ms = Date.now() - t0;
    if (res === "timeout") {
      this.destroySync();
      return { code: await this.proc.exited, ms, timedOut: true };
    }
    this.destroySync();
    return { code: res, ms, timedOut: false };
  }

  /** Kills and deletes the container if runc still knows it. */
  destroySync(): void {
    if (!existsSync(join(this.runcRoot, this.id))) return;
    spawnSync("runc", ["--root", this.runcRoot, "kill", this.id, "KILL"], { timeout: 5_000 });
    spawnSync("runc", ["--root", this.runcRoot, "delete", "--force", this.id], { timeout: 10_000 });
  }
}
