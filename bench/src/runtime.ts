/**
 * Memory and throughput, measured on one set of labs: a NodePair per build
 * (small, fast, stock), all up at once so the throughput runs can take turns
 * and drift on a shared machine spreads over every build alike.
 */
import { loadavg } from "node:os";
import { cpuSecondsPerGB, mbps } from "./iperf.js";
import { medianSample, readMemory, type MemorySample } from "./procmem.js";
import { readCgroupMemory } from "./cgroup.js";
import type { CapRun, CapSection, MemorySection, NodeMemory, ThroughputSection, Variant } from "./results.js";
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
  /** iperf3 -b for the router-rate readings, Mbit/s. */
  routerRateMbit: number;
  /** Throughput runs per variant at the router rate. */
  routerRateRuns: number;
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
        o.log(`${v}: ${o.trafficSeconds} s at ${o.routerRateMbit} Mbit/s (a router's rate), then a reading`);
        const slow = await pair.iperf(o.trafficSeconds, 1, o.routerRateMbit);
        const afterSlow = await pair.sampleMemory(AFTER_SAMPLES);
        o.log(`${v}: ${o.trafficSeconds} s of unthrottled traffic, then the last reading`);
        const traffic = await pair.iperf(o.trafficSeconds);
        const after = await pair.sampleMemory(AFTER_SAMPLES);
        const nodes: NodeMemory[] = (["a", "b"] as const).map((node) => ({
          node,
          role: node === "a" ? "receiver" : "sender",
          idleAfterSeconds: Math.round((r.idleAt - pair.joinedAt) / 100) / 10,
          idle: medianSample(r.idle[node]),
          afterReclaim: medianSample(r.reclaimed[node]),
          afterRouterRate: medianSample(afterSlow[node]),
          afterTraffic: medianSample(after[node]),
          idleSamples: r.idle[node],
          afterRouterRateSamples: afterSlow[node],
          afterReclaimSamples: r.reclaimed[node],
          afterTrafficSamples: after[node],
        }));
        variants[v] = { nodes, trafficMbps: Math.round(mbps(traffic.receivedBps) * 10) / 10, routerRateMbps: Math.round(mbps(slow.receivedBps) * 10) / 10 };
        const a = nodes[0]!;
        const m = (k: number | undefined) => `${((k ?? NaN) / 1024).toFixed(1)} MiB`;
        o.log(`${v}: node a RSS idle ${m(a.idle.rssKiB)} (anonymous ${m(a.idle.rssAnonKiB)}), after reclaim ${m(a.afterReclaim?.rssKiB)}, after ${o.routerRateMbit} Mbit/s ${m(a.afterRouterRate?.rssKiB)}, after full speed ${m(a.afterTraffic?.rssKiB)}`);
      }
      result.memory = { idleSeconds: o.idleSeconds, trafficSeconds: o.trafficSeconds, reclaimSettleSeconds: RECLAIM_SETTLE_SECONDS, routerRateMbit: o.routerRateMbit, variants };
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
      const slow = new Map<Variant, IperfRun[]>(pairs.map((p) => [p.src.variant, []]));
      for (let round = 0; round < o.routerRateRuns; round++) {
        for (const pair of rotation(pairs, round)) {
          loadBefore.push(Math.round(loadavg()[0]! * 100) / 100);
          const r = await pair.iperf(o.seconds, 1, o.routerRateMbit);
          slow.get(pair.src.variant)!.push(r);
          const c = cpuSecondsPerGB(r);
          o.log(`router rate round ${round + 1}/${o.routerRateRuns}, ${pair.src.variant}: ${mbps(r.receivedBps).toFixed(0)} Mbit/s${c === undefined ? "" : `, tailscaled ${c.toFixed(2)} CPU s/GB`}`);
        }
      }
      const slowVariants: NonNullable<ThroughputSection["routerRate"]>["variants"] = {};
      for (const pair of pairs) {
        const rs = slow.get(pair.src.variant)!;
        if (!rs.length) continue;
        const cpu = rs.map(cpuSecondsPerGB).filter((x): x is number => x !== undefined);
        slowVariants[pair.src.variant] = { runs: rs, mbps: summarize(rs.map((r) => mbps(r.receivedBps))), ...(cpu.length ? { cpuSecondsPerGB: summarize(cpu) } : {}) };
      }
      result.throughput = {
        runs: o.runs,
        seconds: o.seconds,
        variants,
        loadBefore,
        ...(o.routerRateRuns ? { routerRate: { mbit: o.routerRateMbit, runs: o.routerRateRuns, variants: slowVariants } } : {}),
      };
    }
    return result;
  } finally {
    for (const p of pairs) await p.stop();
  }
}

/** The entrypoint's environment for a cap mode: auto, off, or auto:N (N MiB of headroom). */
export function capModeEnv(mode: string): Record<string, string> {
  const m = /^auto:(\d+)$/.exec(mode);
  if (m) return { TS_GOMEMLIMIT: "auto", TS_GOMEMLIMIT_HEADROOM: m[1]! };
  if (mode === "auto" || mode === "off") return { TS_GOMEMLIMIT: mode };
  throw new Error(`unknown cap mode '${mode}' (auto, off or auto:N)`);
}

export interface CapOptions {
  /** One run per entry: a build, a cap and the entrypoint's TS_GOMEMLIMIT. */
  runs: { source: VariantSource; capMiB: number; gomemlimit: string }[];
  headscaleBin: string;
  trafficSeconds: number;
  log: (s: string) => void;
}

/**
 * Each run: two nodes whose containers have a cgroup memory cap (both), then
 * unthrottled traffic for trafficSeconds while the cgroups' peak and OOM
 * counters are read every half second. A node whose container ended was
 * killed: it had nothing else to end it.
 */
export async function runCaps(o: CapOptions): Promise<Omit<CapSection, "meta">> {
  const runs: CapRun[] = [];
  for (const c of o.runs) {
    const label = `${c.source.variant}-${c.capMiB}m-${c.gomemlimit.replace(":", "-")}`;
    const pair = new NodePair(
      { ...c.source, label, memoryLimitBytes: c.capMiB * 1024 * 1024, env: { ...c.source.env, ...capModeEnv(c.gomemlimit) } },
      o.headscaleBin,
      o.log,
    );
    const run: CapRun = { variant: c.source.variant, capMiB: c.capMiB, gomemlimit: c.gomemlimit, survived: false, killed: [], oomKills: 0, peakKiB: {}, hwmKiB: {} };
    try {
      o.log(`cap ${c.capMiB} MiB, TS_GOMEMLIMIT=${c.gomemlimit}: starting two ${c.source.variant} nodes`);
      await pair.start();
      run.logged = /entrypoint: memory: (GOMEMLIMIT[^\n]*)/.exec(pair.a.output())?.[1]?.trim();
      const cgs = await pair.memoryCgroups();
      const pids = { a: await pair.tailscaledPid("a"), b: await pair.tailscaledPid("b") };
      const last = { a: { peakBytes: 0, oomKills: 0 }, b: { peakBytes: 0, oomKills: 0 } };
      let polling = true;
      const poll = (async () => {
        while (polling) {
          for (const n of ["a", "b"] as const) {
            const m = await readCgroupMemory(cgs[n]);
            if (m.peakBytes !== undefined) last[n].peakBytes = Math.max(last[n].peakBytes, m.peakBytes);
            if (m.oomKills !== undefined) last[n].oomKills = Math.max(last[n].oomKills, m.oomKills);
            try {
              const hwm = (await readMemory(pids[n])).hwmKiB;
              if (hwm !== undefined) run.hwmKiB[n] = Math.max(run.hwmKiB[n] ?? 0, hwm);
            } catch {
              // the process is gone
            }
          }
          await sleep(500);
        }
      })();
      try {
        const r = await pair.iperf(o.trafficSeconds);
        run.trafficMbps = Math.round(mbps(r.receivedBps) * 10) / 10;
      } catch (e) {
        run.error = `iperf3: ${(e as Error).message.split("\n")[0]}`;
      }
      await sleep(1500);
      polling = false;
      await poll;
      const alive = pair.running();
      run.killed = (["a", "b"] as const).filter((n) => !alive[n]);
      run.oomKills = last.a.oomKills + last.b.oomKills;
      run.peakKiB = { a: Math.round(last.a.peakBytes / 1024), b: Math.round(last.b.peakBytes / 1024) };
      run.survived = run.killed.length === 0 && run.oomKills === 0 && run.error === undefined;
      const m = (k: number | undefined) => `${((k ?? NaN) / 1024).toFixed(1)} MiB`;
      o.log(`cap ${c.capMiB} MiB, TS_GOMEMLIMIT=${c.gomemlimit}: ${run.survived ? "survived" : `KILLED (${run.killed.join(", ") || "oom counter"})`}; peak a ${m(run.peakKiB.a)}, b ${m(run.peakKiB.b)}; ${run.trafficMbps ?? "–"} Mbit/s`);
    } catch (e) {
      run.error = (e as Error).message.split("\n")[0];
      o.log(`cap ${c.capMiB} MiB, TS_GOMEMLIMIT=${c.gomemlimit}: failed: ${run.error}`);
    } finally {
      await pair.stop();
    }
    runs.push(run);
  }
  return { trafficSeconds: o.trafficSeconds, runs };
}
