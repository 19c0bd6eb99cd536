/**
 * Two nodes of one build on a tailnet of their own, for the memory and
 * throughput benchmarks. Built on the end-to-end harness (test/support):
 *
 *     node a 10.214.1.2 ── core 10.214.1.1 (headscale :8080, forwards) ── 10.214.2.2 node b
 *
 * Each node is our image's root filesystem run by runc from its own
 * entrypoint (as on RouterOS), with kernel TUN, in its own network
 * namespace; addresses exist only inside the namespaces this lab creates.
 * The stock variant is the same root filesystem with upstream's tailscaled
 * and tailscale put where our combined binary's two names were, so the same
 * entrypoint starts it.
 */
import { chmod, copyFile, readdir, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Container, unpackImage, type UnpackedImage } from "../../test/support/container.js";
import { Headscale } from "../../test/support/headscale.js";
import { Lab, mustRun, StopWaiting, waitFor } from "../../test/support/netns.js";
import { IperfError, parseIperf3Json, type IperfRun } from "./iperf.js";
import { memoryCgroupDir, reclaimProcessCgroup } from "./cgroup.js";
import { readCpuSeconds, readMemory, type MemorySample } from "./procmem.js";
import type { Variant } from "./results.js";

export const PLAN = {
  control: "10.214.1.1",
  aAddr: "10.214.1.2",
  bGateway: "10.214.2.1",
  bAddr: "10.214.2.2",
  iperfPort: 5201,
};

export interface VariantSource {
  variant: Variant;
  /** The docker-archive .tar of our build (amd64). */
  tar: string;
  /** For stock: upstream's binaries to put in place of ours. */
  stock?: { tailscaled: string; tailscale: string };
  /** For the recipes the bench builds itself: a combined binary to put in place of ours. */
  combined?: string;
  /** More environment for both containers (e.g. TS_GOMEMLIMIT=off). */
  env?: Record<string, string>;
  /** A cgroup memory cap for each of the two containers. */
  memoryLimitBytes?: number;
  /** A label for logs and host names when one variant runs in several setups. */
  label?: string;
}

/** Replaces the combined binary and its two names with upstream's separate binaries. */
export async function swapInStock(rootfs: string, bins: { tailscaled: string; tailscale: string }): Promise<void> {
  const dir = join(rootfs, "usr", "local", "bin");
  for (const n of ["tailscale", "tailscaled", "tailscale.combined"]) await rm(join(dir, n), { force: true });
  for (const n of ["tailscaled", "tailscale"] as const) {
    await copyFile(bins[n], join(dir, n));
    await chmod(join(dir, n), 0o755);
  }
}

/**
 * Unpacks a node's own copy of the image (no page of a binary is shared
 * with the other node), then writes its binaries to disk and drops them from
 * the page cache, as on a router long after the image was extracted: the
 * pages tailscaled then reads are its own (and charged to its container's
 * memory cgroup, so a reclaim there can take them back).
 */
export async function nodeImage(src: VariantSource, dest: string): Promise<UnpackedImage> {
  const img = await unpackImage(src.tar, dest);
  if (src.stock) await swapInStock(img.rootfs, src.stock);
  if (src.combined) {
    const dst = join(img.rootfs, "usr", "local", "bin", "tailscale.combined");
    await rm(dst, { force: true });
    await copyFile(src.combined, dst);
    await chmod(dst, 0o755);
  }
  const bin = join(img.rootfs, "usr", "local", "bin");
  const files = [...(await readdir(bin, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => join(bin, d.name)), join(img.rootfs, "bin", "busybox")];
  await mustRun("sync", files);
  for (const f of files) await mustRun("dd", [`if=${f}`, "iflag=nocache", "count=0", "status=none"]);
  return img;
}

/** The one process called tailscaled among `pids`; an error if there is none or more than one. */
export function findTailscaled(pids: readonly number[], comm: (pid: number) => string | undefined): number {
  const found = pids.filter((p) => comm(p)?.trim() === "tailscaled");
  if (found.length !== 1) throw new Error(`expected one tailscaled process, found ${found.length} among ${pids.length} processes`);
  return found[0]!;
}

/** A node's host name: a DNS label made of the build's name and the node's letter. */
export function nodeHostname(variant: string, node: "a" | "b"): string {
  return `${variant}-${node}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+/, "").slice(0, 63);
}

/** "via 10.214.1.2:41641" from `tailscale ping` output, or "DERP(...)"; undefined when there was no pong. */
export function parsePingPath(text: string): string | undefined {
  const lines = text.split("\n").filter((l) => l.startsWith("pong from"));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const m = /\svia\s+(\S+)/.exec(last);
  return m ? m[1] : undefined;
}

/** True for a direct path (an IP:port), false for a DERP relay. */
export function isDirectPath(path: string | undefined): boolean {
  return !!path && /^\[?[0-9a-f.:]+\]?:\d+$/i.test(path);
}

interface TsStatus {
  BackendState?: string;
  Self?: { TailscaleIPs?: string[] };
  Peer?: Record<string, { TailscaleIPs?: string[]; Online?: boolean }>;
}

async function tsStatus(c: Container): Promise<TsStatus> {
  const r = await c.exec(["tailscale", "status", "--json"], 20_000);
  if (!r.stdout.trim().startsWith("{")) throw new Error(`tailscale status failed: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout) as TsStatus;
}

const v4 = (ips: string[] | undefined) => ips?.find((a) => a.includes("."));

export class NodePair {
  readonly lab = new Lab("mtb");
  hs!: Headscale;
  a!: Container;
  b!: Container;
  ipA = "";
  ipB = "";
  /** When both nodes were up and b reached a over a direct path (ms since epoch). */
  joinedAt = 0;
  path = "";
  private iperfServerStarted = false;

  constructor(
    readonly src: VariantSource,
    private readonly headscaleBin: string,
    private readonly log: (s: string) => void,
  ) {}

  /** Builds the network, starts headscale and both nodes, and waits until b reaches a directly. */
  async start(): Promise<void> {
    const { lab } = this;
    const v = this.src.label ?? this.src.variant;
    const imgA = await nodeImage(this.src, join(lab.dir, "image-a"));
    const imgB = await nodeImage(this.src, join(lab.dir, "image-b"));
    await lab.addNamespace("core", { forwarding: true });
    await lab.addNamespace("a");
    await lab.addNamespace("b");
    await lab.link("a", `core=${PLAN.control}/24`, `a=${PLAN.aAddr}/24`);
    await lab.link("b", `core=${PLAN.bGateway}/24`, `b=${PLAN.bAddr}/24`);
    await lab.exec("a", ["ip", "route", "add", "default", "via", PLAN.control]);
    await lab.exec("b", ["ip", "route", "add", "default", "via", PLAN.bGateway]);

    this.hs = new Headscale(lab, this.headscaleBin, { role: "core", ip: PLAN.control });
    await this.hs.start();
    const user = await this.hs.createUser("bench");
    const mk = async (node: "a" | "b", image: UnpackedImage) =>
      new Container(lab, {
        id: node,
        image,
        role: node,
        hostname: nodeHostname(v, node),
        stateDir: join(lab.dir, `state-${node}`),
        env: { ...this.src.env, TS_AUTHKEY: await this.hs.preAuthKey(user), TS_LOGIN_SERVER: this.hs.url, TS_HOSTNAME: nodeHostname(v, node) },
        ...(this.src.memoryLimitBytes ? { memoryLimitBytes: this.src.memoryLimitBytes } : {}),
      });
    this.a = await mk("a", imgA);
    this.b = await mk("b", imgB);
    this.a.start();
    this.b.start();
    const up = (c: Container) =>
      waitFor(`${v}: ${c.id} did not log in`, 120_000, async () => {
        if (!c.running) throw new StopWaiting(`container ended: ${c.output().slice(-2000)}`);
        if (/tailscale up failed/.test(c.output())) throw new StopWaiting("the entrypoint's tailscale up failed (see the node's log below)");
        const s = await tsStatus(c);
        return s.BackendState === "Running" ? v4(s.Self?.TailscaleIPs) : undefined;
      }, 1000);
    this.ipA = await up(this.a);
    this.ipB = await up(this.b);
    await waitFor(`${v}: node b never saw node a online`, 60_000, async () => {
      const s = await tsStatus(this.b);
      return Object.values(s.Peer ?? {}).some((p) => p.Online && p.TailscaleIPs?.includes(this.ipA)) ? true : undefined;
    }, 1000);
    // A direct path, not a relay: the throughput must be WireGuard over the veths.
    const ping = await this.b.exec(["tailscale", "ping", "--until-direct", "-c", "30", "--timeout", "3s", this.ipA], 120_000);
    const path = parsePingPath(ping.stdout);
    if (!isDirectPath(path)) throw new Error(`${v}: no direct path from b to a: ${(ping.stdout + ping.stderr).trim().split("\n").slice(-5).join(" / ")}`);
    this.path = `direct ${path}`;
    this.joinedAt = Date.now();
    this.log(`${v}: a ${this.ipA}, b ${this.ipB}, ${this.path}`);
  }

  /** Host PID of a node's tailscaled (PID 1 of its container). */
  async tailscaledPid(node: "a" | "b"): Promise<number> {
    const out = await mustRun("ip", ["netns", "pids", this.lab.ns(node)]);
    const pids = out.split(/\s+/).filter(Boolean).map(Number);
    return findTailscaled(pids, (p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, "utf8");
      } catch {
        return undefined;
      }
    });
  }

  /** `count` readings of both nodes' tailscaled, `intervalMs` apart (a and b read together each time). */
  async sampleMemory(count: number, intervalMs = 1000): Promise<{ a: MemorySample[]; b: MemorySample[] }> {
    const pids = { a: await this.tailscaledPid("a"), b: await this.tailscaledPid("b") };
    const out = { a: [] as MemorySample[], b: [] as MemorySample[] };
    for (let i = 0; i < count; i++) {
      if (i) await new Promise((r) => setTimeout(r, intervalMs));
      out.a.push(await readMemory(pids.a));
      out.b.push(await readMemory(pids.b));
    }
    return out;
  }

  /** Host folders of both containers' memory cgroups (while they run). */
  async memoryCgroups(): Promise<{ a: { dir: string; v2: boolean }; b: { dir: string; v2: boolean } }> {
    const one = async (node: "a" | "b") => {
      const pid = await this.tailscaledPid(node);
      const cg = memoryCgroupDir(readFileSync(`/proc/${pid}/cgroup`, "utf8"));
      if (!cg) throw new Error(`${node}: tailscaled (pid ${pid}) is in no memory cgroup of its own`);
      return cg;
    };
    return { a: await one("a"), b: await one("b") };
  }

  /** Whether each node's container still runs. */
  running(): { a: boolean; b: boolean } {
    return { a: this.a.running, b: this.b.running };
  }

  /** Has the kernel reclaim what it can from both containers (see cgroup.ts). */
  async reclaim(): Promise<void> {
    for (const node of ["a", "b"] as const) await reclaimProcessCgroup(await this.tailscaledPid(node));
  }

  private async ensureIperfServer(): Promise<void> {
    if (this.iperfServerStarted) return;
    this.lab.spawn("iperf3-server", "a", ["iperf3", "-s", "-B", this.ipA, "-p", String(PLAN.iperfPort)]);
    this.iperfServerStarted = true;
    await waitFor(`${this.src.variant}: iperf3 server did not listen`, 15_000, async () => {
      const r = await this.lab.tryExec("a", ["ss", "-Hltn", `sport = :${PLAN.iperfPort}`], 5_000);
      return r.code === 0 && r.stdout.trim() ? true : undefined;
    }, 300);
  }

  /** One iperf3 TCP run from b to a's tailnet address (capped at `mbit` Mbit/s if given); throws when it did not go through the tailnet. */
  async iperf(seconds: number, omit = 1, mbit?: number): Promise<IperfRun> {
    await this.ensureIperfServer();
    const argv = ["iperf3", "-c", this.ipA, "-B", this.ipB, "-p", String(PLAN.iperfPort), "-t", String(seconds), "-O", String(omit), "-J", ...(mbit ? ["-b", `${mbit}M`] : [])];
    const pids = [await this.tailscaledPid("a"), await this.tailscaledPid("b")];
    const cpu = async () => (await Promise.all(pids.map((p) => readCpuSeconds(p)))).reduce((x, y) => x + y, 0);
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cpu0 = await cpu();
      const r = await this.lab.tryExec("b", argv, (seconds + omit + 30) * 1000);
      const cpuUsed = (await cpu()) - cpu0;
      try {
        const run = parseIperf3Json(r.stdout || r.stderr);
        // The omitted first second is in the CPU time but not in the bytes: scale to the measured part.
        run.tailscaledCpuSeconds = Math.round(cpuUsed * (run.seconds / (run.seconds + omit)) * 100) / 100;
        if (run.localHost !== this.ipB || run.remoteHost !== this.ipA) {
          throw new Error(`iperf3 connected ${run.localHost} -> ${run.remoteHost}, expected ${this.ipB} -> ${this.ipA}`);
        }
        return run;
      } catch (e) {
        lastErr = e;
        // "the server is busy" right after a previous run: try again shortly.
        if (!(e instanceof IperfError)) throw e;
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  logs(): string {
    const tail = (s: string) => s.split("\n").slice(-40).join("\n");
    return [`--- a ---\n${tail(this.a?.allOutput() ?? "")}`, `--- b ---\n${tail(this.b?.allOutput() ?? "")}`, `--- headscale ---\n${tail(this.hs?.output() ?? "")}`].join("\n");
  }

  async stop(): Promise<void> {
    await this.lab.cleanup();
  }
}
