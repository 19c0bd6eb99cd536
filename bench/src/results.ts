/**
 * The shape of bench/results.json. Each step writes its own section with
 * the facts of the run that produced it (date, commit, machine, versions),
 * so a partial re-run (--only) replaces just its sections and the report
 * can say which figures come from which run.
 */
import type { VmMemoryRow } from "./vm-memory.js";
import type { IperfRun } from "./iperf.js";
import type { MemorySample } from "./procmem.js";
import type { StepTime } from "./progress-log.js";
import type { Summary } from "./stats.js";

export const VARIANTS = ["small", "fast", "stock"] as const;
export type Variant = (typeof VARIANTS)[number];

export interface MachineInfo {
  hostname: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
}

export interface Versions {
  tailscale: string;
  imageVersion: string;
  go: string;
  node: string;
  busybox: string;
  upx: string;
  iperf3: string;
  headscale: string;
  runc: string;
}

export interface RunMeta {
  /** ISO 8601, when the step finished. */
  date: string;
  /** The project commit the images were built from. */
  commit: string;
  machine: MachineInfo;
  versions: Versions;
}

export interface FlashRow {
  variant: Variant;
  arch: string;
  /** Bytes of the Tailscale binaries (tailscale.combined, or tailscaled + tailscale for stock). */
  tailscale: number;
  /** Each Tailscale file and its bytes. */
  tailscaleFiles: Record<string, number>;
  busybox: number;
  caBundle: number;
  other: number;
  /** Bytes of regular files in the extracted root filesystem. */
  total: number;
  /** Bytes of the docker-archive .tar a router would be given (not for stock, which we do not package). */
  imageTar?: number;
}

export interface FlashSection {
  meta: RunMeta;
  rows: FlashRow[];
  /** How the stock rows were made and what they count. */
  stockNote: string;
}

export interface NodeMemory {
  node: "a" | "b";
  role: "receiver" | "sender";
  /** Seconds between joining and the idle reading. */
  idleAfterSeconds: number;
  idle: MemorySample;
  /** Idle, a few seconds after the kernel was asked to reclaim what it can from the container (see cgroup.ts). */
  afterReclaim?: MemorySample;
  afterTraffic?: MemorySample;
  idleSamples: MemorySample[];
  afterReclaimSamples?: MemorySample[];
  afterTrafficSamples?: MemorySample[];
}

export interface MemorySection {
  meta: RunMeta;
  idleSeconds: number;
  trafficSeconds: number;
  /** Seconds between the reclaim and the reading after it. */
  reclaimSettleSeconds: number;
  variants: Partial<Record<Variant, { nodes: NodeMemory[]; trafficMbps?: number }>>;
}

export interface ThroughputSection {
  meta: RunMeta;
  runs: number;
  seconds: number;
  variants: Partial<Record<Variant, { runs: IperfRun[]; mbps: Summary; path: string; cpuSecondsPerGB?: Summary }>>;
  /** The machine's 1-minute load average before each run, in running order: others' work shows here. */
  loadBefore?: number[];
}

export interface BuildTiming {
  what: string;
  seconds: number;
  byArch: Record<string, number>;
  steps: StepTime[];
}

export interface DigestComparison {
  file: string;
  a: string;
  b: string;
  same: boolean;
}

export interface BuildSection {
  meta: RunMeta;
  arches: string[];
  cold: BuildTiming;
  warm: BuildTiming;
  /** Bytes the cold build left in its fresh caches: proof it started from nothing. */
  coldCacheBytes?: { goBuild: number; steps: number };
  /** The independent build (default caches) the cold one is compared with. */
  reference?: BuildTiming;
  reproducibility: {
    sourceDateEpoch: number;
    between: string;
    identical: boolean;
    files: DigestComparison[];
  };
}

export interface VmMemorySection {
  meta: RunMeta;
  rows: VmMemoryRow[];
}

export interface Results {
  schema: 1;
  vmMemory?: VmMemorySection;
  flash?: FlashSection;
  memory?: MemorySection;
  throughput?: ThroughputSection;
  build?: BuildSection;
}

export function emptyResults(): Results {
  return { schema: 1 };
}

/** Sections in `fresh` replace those in `old`; the rest of `old` stays. */
export function mergeResults(old: Results | undefined, fresh: Partial<Results>): Results {
  const out: Results = { ...(old?.schema === 1 ? old : emptyResults()) };
  for (const k of ["flash", "memory", "throughput", "build", "vmMemory"] as const) {
    if (fresh[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = fresh[k];
  }
  return out;
}
