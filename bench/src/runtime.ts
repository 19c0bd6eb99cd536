/**
 * Memory and throughput, measured on one set of labs: a NodePair per build
 * (small, fast, stock), all up at once so the throughput runs can take turns
 * and drift on a shared machine spreads over every build alike.
 */
import { loadavg } from "node:os";
import { cpuSecondsPerGB, mbps } from "./iperf.js";
import { medianSample, type MemorySample } from "./procmem.js";
import type { MemorySection, NodeMemory, ThroughputSection, Variant } from "./results.js";
import { rotation, summarize } from "./stats.js";
import { NodePair, type VariantSource } from "./nodes.js";
import type { IperfRun } from "./iperf.js";

export interface RuntimeOptions {
  sources: VariantSource[];
  headscaleBin: string;
  memory: boolean;
  throughput: boolean;
  idleSeconds: number;
  trafficSeconds: number;
  runs: number;
  seconds: number;
  log: (s: string) => void;
}

export interface RuntimeResult {
  memory?: Omit<MemorySection, "meta">;
  throughput?: Omit<ThroughputSection, "meta">;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const IDLE_SAMPLES = 5;
const AFTER_SAMPLES = 3;
const RECLAIM_SETTLE_SECONDS = 5;

interface IdleReadings {
  idleAt: number;
  idle: { a: MemorySample[]; b: MemorySample[] };
  reclaimed: { a: MemorySample[]; b: MemorySample[] };
}

export async function runRuntime(o: RuntimeOptions): Promise<RuntimeResult> {
  const pairs: NodePair[] = [];
  const idle = new Map<Variant, Promise<IdleReadings>>();
  try {
    for (const src of o.sources) {
      const pair = new NodePair(src, o.headscaleBin, o.log);
      pairs.push(pair);
      o.log(`starting two ${src.variant} nodes and a headscale`);
      try {
        await pair.start();
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${pair.logs()}`);
      }
      if (o.memory) {
        // The idle reading is taken exactly idleSeconds after joining, while
        // the next pair starts (that uses CPU, not this process's memory).
        const p = sleep(pair.joinedAt + o.idleSeconds * 1000 - Date.now()).then(async (): Promise<IdleReadings> => {
          const idleAt = Date.now();
          const idleR = await pair.sampleMemory(IDLE_SAMPLES);
          await pair.reclaim();
          await sleep(RECLAIM_SETTLE_SECONDS * 1000);
          const reclaimed = await pair.sampleMemory(AFTER_SAMPLES);
          o.log(`${src.variant}: idle readings done`);
          return { idleAt, idle: idleR, reclaimed };
        });
        p.catch(() => {}); // awaited below; keep an early failure from being unhandled
        idle.set(src.variant, p);
      }
    }

    const result: RuntimeResult = {};
    if (o.memory) {
      const variants: MemorySection["variants"] = {};
      for (const pair of pairs) {
        const v = pair.src.variant;
        const r = await idle.get(v)!;
        o.log(`${v}: ${o.trafficSeconds} s of traffic, then the second reading`);
        const traffic = await pair.iperf(o.trafficSeconds);
        const after = await pair.sampleMemory(AFTER_SAMPLES);
        const nodes: NodeMemory[] = (["a", "b"] as const).map((node) => ({
          node,
          role: node === "a" ? "receiver" : "sender",
          idleAfterSeconds: Math.round((r.idleAt - pair.joinedAt) / 100) / 10,
          idle: medianSample(r.idle[node]),
          afterReclaim: medianSample(r.reclaimed[node]),
          afterTraffic: medianSample(after[node]),
          idleSamples: r.idle[node],
          afterReclaimSamples: r.reclaimed[node],
          afterTrafficSamples: after[node],
        }));
        variants[v] = { nodes, trafficMbps: Math.round(mbps(traffic.receivedBps) * 10) / 10 };
        const a = nodes[0]!;
        const m = (k: number | undefined) => `${((k ?? NaN) / 1024).toFixed(1)} MiB`;
        o.log(`${v}: node a RSS idle ${m(a.idle.rssKiB)} (anonymous ${m(a.idle.rssAnonKiB)}), after reclaim ${m(a.afterReclaim?.rssKiB)}, after traffic ${m(a.afterTraffic?.rssKiB)}`);
      }
      result.memory = { idleSeconds: o.idleSeconds, trafficSeconds: o.trafficSeconds, reclaimSettleSeconds: RECLAIM_SETTLE_SECONDS, variants };
    } else if (o.throughput) {
      for (const pair of pairs) await pair.iperf(3); // warm-up: first packets, path, buffers
    }

    if (o.throughput) {
      const runs = new Map<Variant, IperfRun[]>(pairs.map((p) => [p.src.variant, []]));
      const loadBefore: number[] = [];
      for (let round = 0; round < o.runs; round++) {
        for (const pair of rotation(pairs, round)) {
          loadBefore.push(Math.round(loadavg()[0]! * 100) / 100);
          const r = await pair.iperf(o.seconds);
          runs.get(pair.src.variant)!.push(r);
          const c = cpuSecondsPerGB(r);
          o.log(`throughput round ${round + 1}/${o.runs}, ${pair.src.variant}: ${mbps(r.receivedBps).toFixed(0)} Mbit/s${c === undefined ? "" : `, tailscaled ${c.toFixed(2)} CPU s/GB`}`);
        }
      }
      const variants: ThroughputSection["variants"] = {};
      for (const pair of pairs) {
        const rs = runs.get(pair.src.variant)!;
        const cpu = rs.map(cpuSecondsPerGB).filter((x): x is number => x !== undefined);
        variants[pair.src.variant] = {
          runs: rs,
          mbps: summarize(rs.map((r) => mbps(r.receivedBps))),
          path: pair.path,
          ...(cpu.length ? { cpuSecondsPerGB: summarize(cpu) } : {}),
        };
      }
      result.throughput = { runs: o.runs, seconds: o.seconds, variants, loadBefore };
    }
    return result;
  } finally {
    for (const p of pairs) await p.stop();
  }
}
