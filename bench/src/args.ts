/** The benchmark's command line. */
import { parseArgs } from "node:util";
import { DEFAULT_VARIANTS, VARIANTS, type Variant } from "./results.js";

export const STEPS = ["flash", "memory", "throughput", "cap", "build", "vm-memory", "vm-cpu", "fleet"] as const;
export type Step = (typeof STEPS)[number];

export interface BenchOptions {
  steps: Step[];
  /** Throughput: iperf3 runs per variant. */
  runs: number;
  /** Throughput: seconds per iperf3 run. */
  seconds: number;
  /** Memory: seconds idle after joining before the first reading. */
  idleSeconds: number;
  /** Memory: seconds of traffic before the second reading. */
  trafficSeconds: number;
  /** Builds to compare (flash, memory, throughput). */
  variants: Variant[];
  /** iperf3 -b of the router-rate readings, Mbit/s. */
  rateMbit: number;
  /** Throughput runs per variant at the router rate. */
  rateRuns: number;
  /** cgroup memory caps for the cap step, MiB. */
  capsMiB: number[];
  /** The entrypoint settings each cap runs with: auto, off, auto:N (N MiB headroom). */
  capModes: string[];
  /** fleet: simulated routers `fleet status` reads. */
  fleetRouters: number;
  /** fleet: runs of `fleet status`. */
  fleetRuns: number;
  /** Architectures for the flash and build steps (empty: all four). */
  arches: string[];
  /** Work folder for builds, snapshots and labs (git-ignored). */
  workDir: string;
  /** Where results.json and REPORT.md go. */
  reportDir: string;
  /** Only write REPORT.md again from results.json: no measuring. */
  renderOnly: boolean;
  /** A git ref whose small build runs beside ours as the `baseline` variant (another Tailscale version, say). */
  baseline?: string;
  help: boolean;
}

export const USAGE = `usage: npm run bench [-- options]

Measures flash, memory (idle, after a router's rate, after full speed),
throughput, memory under cgroup caps and build time of the small and fast
profiles beside a stock build and the reference recipe of the same
Tailscale, and writes
bench/results.json (raw figures, merged with earlier runs) and bench/REPORT.md.

  --only LIST        steps to run, comma-separated: ${STEPS.join(",")} (default: all)
  --runs N           throughput: iperf3 runs per variant (default 5)
  --seconds N        throughput: seconds per run (default 10)
  --idle N           memory: seconds idle after joining (default 30)
  --traffic N        memory and cap: seconds of traffic before a reading (default 30)
  --variants LIST    builds to compare: ${VARIANTS.join(",")}
                     (default ${DEFAULT_VARIANTS.join(",")}; small is always measured)
  --rate N           router rate for iperf3 -b, Mbit/s (default 100)
  --rate-runs N      throughput: runs per variant at the router rate (default 3)
  --caps LIST        cap: cgroup memory caps in MiB (default 96,64), profile small
  --cap-modes LIST   cap: the entrypoint's setting for each cap: auto, off,
                     auto:N (TS_GOMEMLIMIT_HEADROOM=N) (default auto,off)
  --arch LIST        flash and build: these architectures only (default: all four)
                     (vm-memory: tailscaled's memory inside the arm64 and armv7
                     router VMs of test/support/vm.ts, small profile;
                     vm-cpu: in the same VMs, the CPU and memory of one health
                     check, old and new, and of one \`tailscale status\`, and
                     tailscaled's CPU per GB at --rate, for small, fast and
                     the reference recipe)
  --fleet-routers N  fleet: simulated routers that \`routeros fleet status\` reads at
                     once (default 100; no root needed)
  --fleet-runs N     fleet: runs of it (default 3)
  --work DIR         work folder (default bench/out)
  --report-dir DIR   where results.json and REPORT.md go (default bench)
  --baseline REF     also build profile small from this git ref (a commit, tag or
                     branch) and measure it beside ours as the variant
                     'baseline', in flash, memory, throughput, cap and vm-memory:
                     one run comparing two Tailscale versions, say
  --render-only      write REPORT.md again from results.json, measuring nothing
  -h, --help         this text

Needs root (network namespaces, runc) and the build tools (npm run images
installs them). Takes about 40 minutes on 2 cores when nothing is cached, about 15 when
the fast and stock builds are.`;

export class BenchUsageError extends Error {}

export function parseVariants(v: string | undefined): Variant[] {
  if (v === undefined || v.trim() === "") return [...DEFAULT_VARIANTS];
  const want = new Set<Variant>(["small"]);
  for (const x of v.split(",").map((y) => y.trim()).filter(Boolean)) {
    if (!(VARIANTS as readonly string[]).includes(x)) throw new BenchUsageError(`unknown variant '${x}' (expected: ${VARIANTS.join(", ")})`);
    want.add(x as Variant);
  }
  return VARIANTS.filter((x) => want.has(x));
}

export function parseCapModes(v: string | undefined): string[] {
  if (v === undefined || v.trim() === "") return ["auto", "off"];
  return v.split(",").map((x) => {
    const t = x.trim();
    if (!/^(auto|off|auto:\d{1,4})$/.test(t)) throw new BenchUsageError(`--cap-modes: '${t}' is not auto, off or auto:N`);
    return t;
  });
}

export function parseCaps(v: string | undefined): number[] {
  if (v === undefined || v.trim() === "") return [96, 64];
  return v.split(",").map((x) => {
    const t = x.trim();
    if (!/^\d+$/.test(t) || Number(t) < 16 || Number(t) > 4096) throw new BenchUsageError(`--caps: '${t}' is not a cap in MiB from 16 to 4096`);
    return Number(t);
  });
}

function positiveInt(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new BenchUsageError(`--${name} must be a whole number from 1 to ${max}, not '${v}'`);
  return Number(v);
}

export function parseSteps(v: string | undefined): Step[] {
  if (v === undefined || v.trim() === "" || v.trim() === "all") return [...STEPS];
  const want = new Set<Step>();
  for (const s of v.split(",").map((x) => x.trim()).filter(Boolean)) {
    if (!(STEPS as readonly string[]).includes(s)) throw new BenchUsageError(`unknown step '${s}' (expected: ${STEPS.join(", ")})`);
    want.add(s as Step);
  }
  if (want.size === 0) throw new BenchUsageError("--only names no step");
  return STEPS.filter((s) => want.has(s));
}

export function parseBenchArgs(argv: string[], defaults: { workDir: string; reportDir: string }): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        only: { type: "string" },
        runs: { type: "string" },
        seconds: { type: "string" },
        idle: { type: "string" },
        traffic: { type: "string" },
        variants: { type: "string" },
        rate: { type: "string" },
        "rate-runs": { type: "string" },
        caps: { type: "string" },
        "cap-modes": { type: "string" },
        "fleet-routers": { type: "string" },
        "fleet-runs": { type: "string" },
        arch: { type: "string" },
        work: { type: "string" },
        "report-dir": { type: "string" },
        "render-only": { type: "boolean" },
        baseline: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.baseline !== undefined && !/^[\w][\w./~^@{}-]*$/.test(v.baseline)) throw new BenchUsageError(`--baseline: '${v.baseline}' is not a git ref`);
  const variants = parseVariants(v.variants);
  if (v.variants?.split(",").some((x) => x.trim() === "baseline") && v.baseline === undefined) throw new BenchUsageError("variant 'baseline' needs --baseline REF");
  if (v.baseline !== undefined && !variants.includes("baseline")) variants.push("baseline");
  return {
    steps: parseSteps(v.only),
    runs: positiveInt("runs", v.runs, 5, 50),
    seconds: positiveInt("seconds", v.seconds, 10, 300),
    idleSeconds: positiveInt("idle", v.idle, 30, 600),
    trafficSeconds: positiveInt("traffic", v.traffic, 30, 600),
    variants,
    rateMbit: positiveInt("rate", v.rate, 100, 100_000),
    rateRuns: positiveInt("rate-runs", v["rate-runs"], 3, 50),
    capsMiB: parseCaps(v.caps),
    capModes: parseCapModes(v["cap-modes"]),
    fleetRouters: positiveInt("fleet-routers", v["fleet-routers"], 100, 1000),
    fleetRuns: positiveInt("fleet-runs", v["fleet-runs"], 3, 20),
    arches: (v.arch ?? "").split(",").map((x) => x.trim()).filter(Boolean),
    workDir: v.work ?? defaults.workDir,
    reportDir: v["report-dir"] ?? defaults.reportDir,
    renderOnly: v["render-only"] ?? false,
    ...(v.baseline !== undefined ? { baseline: v.baseline } : {}),
    help: v.help ?? false,
  };
}
