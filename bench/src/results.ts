/**
 * The shape of bench/results.json. Each step writes its own section with
 * the facts of the run that produced it (date, commit, machine, versions),
 * so a partial re-run (--only) replaces just its sections and the report
 * can say which figures come from which run.
 */
import type { VmMemoryRow } from "./vm-memory.js";
import type { VmCpuRow } from "./vm-cpu.js";
import type { FleetSectionData } from "./fleet.js";
import type { IperfRun } from "./iperf.js";
import type { MemorySample } from "./procmem.js";
import type { StepTime } from "./progress-log.js";
import type { Summary } from "./stats.js";

/**
 * What the benchmark compares: our two profiles, upstream's stock build, the
 * reference image's recipe at our Tailscale version, and `small` with
 * inlining also restored in more packages (experiments for its -gcflags);
 * `baseline` is profile small built from another commit (--baseline REF).
 */
export const VARIANTS = ["small", "fast", "stock", "reference", "small+runtime", "small+net", "baseline"] as const;
export type Variant = (typeof VARIANTS)[number];
/** Run unless --variants says otherwise. */
export const DEFAULT_VARIANTS: readonly Variant[] = ["small", "fast", "stock", "reference"];

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

/** Where the `baseline` variant came from. */
export interface BaselineInfo {
  ref: string;
  commit: string;
  tailscale: string;
  go: string;
}

export interface RunMeta {
  /** ISO 8601, when the step finished. */
  date: string;
  /** The project commit the images were built from. */
  commit: string;
  /** The baseline variant's source, when the run had one. */
  baseline?: BaselineInfo;
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
  /** How the reference and experiment rows were made. */
  recipeNote?: string;
}

export interface NodeMemory {
  node: "a" | "b";
  role: "receiver" | "sender";
  /** Seconds between joining and the idle reading. */
  idleAfterSeconds: number;
  idle: MemorySample;
  /** Idle, a few seconds after the kernel was asked to reclaim what it can from the container (see cgroup.ts). */
  afterReclaim?: MemorySample;
  /** After trafficSeconds at the router rate (iperf3 -b). */
  afterRouterRate?: MemorySample;
  /** After trafficSeconds unthrottled (after the router-rate phase). */
  afterTraffic?: MemorySample;
  idleSamples: MemorySample[];
  afterRouterRateSamples?: MemorySample[];
  afterReclaimSamples?: MemorySample[];
  afterTrafficSamples?: MemorySample[];
}

export interface MemorySection {
  meta: RunMeta;
  idleSeconds: number;
  trafficSeconds: number;
  /** Seconds between the reclaim and the reading after it. */
  reclaimSettleSeconds: number;
  /** The capped rate of the router-rate phase, Mbit/s. */
  routerRateMbit?: number;
  variants: Partial<Record<Variant, { nodes: NodeMemory[]; trafficMbps?: number; routerRateMbps?: number }>>;
}

export interface ThroughputSection {
  meta: RunMeta;
  runs: number;
  seconds: number;
  variants: Partial<Record<Variant, { runs: IperfRun[]; mbps: Summary; path: string; cpuSecondsPerGB?: Summary }>>;
  /** The machine's 1-minute load average before each run, in running order: others' work shows here. */
  loadBefore?: number[];
  /** The same, with iperf3 capped at a router's rate (-b). */
  routerRate?: {
    mbit: number;
    runs: number;
    variants: Partial<Record<Variant, { runs: IperfRun[]; mbps: Summary; cpuSecondsPerGB?: Summary }>>;
  };
}

/** One node pair run under a cgroup memory cap with unthrottled traffic. */
export interface CapRun {
  variant: Variant;
  capMiB: number;
  /** The entrypoint's TS_GOMEMLIMIT: auto (GOMEMLIMIT from the cap), auto:N (with TS_GOMEMLIMIT_HEADROOM=N MiB) or off. */
  gomemlimit: string;
  /** What the entrypoint logged for GOMEMLIMIT (node a). */
  logged?: string;
  /** Both tailscaled processes still ran when the traffic ended. */
  survived: boolean;
  /** Nodes whose container ended (OOM kill) during the traffic. */
  killed: ("a" | "b")[];
  /** OOM kills the cgroups counted. */
  oomKills: number;
  /** Peak of each node's memory cgroup (everything it charged: heap, code, page cache, socket buffers), KiB. */
  peakKiB: { a?: number; b?: number };
  /** Each tailscaled's own peak RSS (VmHWM), KiB, last reading before the end. */
  hwmKiB: { a?: number; b?: number };
  trafficMbps?: number;
  error?: string;
}

export interface CapSection {
  meta: RunMeta;
  trafficSeconds: number;
  runs: CapRun[];
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

export interface VmCpuSection {
  meta: RunMeta;
  rows: VmCpuRow[];
}
export type FleetSection = FleetSectionData & { meta: RunMeta };

export interface Results {
  schema: 1;
  fleet?: FleetSection;
  vmMemory?: VmMemorySection;
  vmCpu?: VmCpuSection;
  flash?: FlashSection;
  memory?: MemorySection;
  throughput?: ThroughputSection;
  cap?: CapSection;
  build?: BuildSection;
}

export function emptyResults(): Results {
  return { schema: 1 };
}

/** Sections in `fresh` replace those in `old`; the rest of `old` stays. */
export function mergeResults(old: Results | undefined, fresh: Partial<Results>): Results {
  const out: Results = { ...(old?.schema === 1 ? old : emptyResults()) };
  for (const k of ["flash", "memory", "throughput", "cap", "build", "vmMemory", "vmCpu", "fleet"] as const) {
    if (fresh[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = fresh[k];
  }
  return out;
}
