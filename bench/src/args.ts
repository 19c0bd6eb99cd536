/** The benchmark's command line. */
import { parseArgs } from "node:util";

export const STEPS = ["flash", "memory", "throughput", "build", "vm-memory"] as const;
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
  /** Architectures for the flash and build steps (empty: all four). */
  arches: string[];
  /** Work folder for builds, snapshots and labs (git-ignored). */
  workDir: string;
  /** Where results.json and REPORT.md go. */
  reportDir: string;
  /** Only write REPORT.md again from results.json: no measuring. */
  renderOnly: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench [-- options]

Measures flash, memory, throughput and build time of the small and fast
profiles beside a stock build of the same Tailscale, and writes
bench/results.json (raw figures, merged with earlier runs) and bench/REPORT.md.

  --only LIST        steps to run, comma-separated: ${STEPS.join(",")} (default: all)
  --runs N           throughput: iperf3 runs per variant (default 5)
  --seconds N        throughput: seconds per run (default 10)
  --idle N           memory: seconds idle after joining (default 30)
  --traffic N        memory: seconds of traffic before the second reading (default 30)
  --arch LIST        flash and build: these architectures only (default: all four)
                     (vm-memory: tailscaled's memory inside the arm64 and armv7
                     router VMs of test/support/vm.ts, small profile)
  --work DIR         work folder (default bench/out)
  --report-dir DIR   where results.json and REPORT.md go (default bench)
  --render-only      write REPORT.md again from results.json, measuring nothing
  -h, --help         this text

Needs root (network namespaces, runc) and the build tools (npm run images
installs them). Takes about 40 minutes on 2 cores when nothing is cached, about 15 when
the fast and stock builds are.`;

export class BenchUsageError extends Error {}

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
        arch: { type: "string" },
        work: { type: "string" },
        "report-dir": { type: "string" },
        "render-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const v = parsed.values;
  return {
    steps: parseSteps(v.only),
    runs: positiveInt("runs", v.runs, 5, 50),
    seconds: positiveInt("seconds", v.seconds, 10, 300),
    idleSeconds: positiveInt("idle", v.idle, 30, 600),
    trafficSeconds: positiveInt("traffic", v.traffic, 30, 600),
    arches: (v.arch ?? "").split(",").map((x) => x.trim()).filter(Boolean),
    workDir: v.work ?? defaults.workDir,
    reportDir: v["report-dir"] ?? defaults.reportDir,
    renderOnly: v["render-only"] ?? false,
    help: v.help ?? false,
  };
}
