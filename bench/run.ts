/**
 * `npm run bench`: flash, memory, throughput and build time of the small and
 * fast profiles beside a stock build of the same Tailscale, in one run on
 * this machine. Writes bench/results.json (merged with the sections an
 * earlier run left) and bench/REPORT.md. See `npm run bench -- --help`.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { architecture, parseArchList, type Architecture } from "../src/arch.js";
import { dockerArchivesFor } from "../src/image/index.js";
import { loadGoModPins } from "../src/pins.js";
import { ensureHeadscale } from "../test/support/headscale.js";
import { runCmd } from "../test/support/netns.js";
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from "./src/args.js";
import { buildStock, busyboxSourcesDir, compareOutputs, fileSize, runCliBuild, type CliBuild, type StockBuild } from "./src/builds.js";
import { ourFlashRow, RECIPE_NOTE, recipeFlashRow, STOCK_NOTE, stockFlashRow } from "./src/flash.js";
import { buildInlineExperiment, buildReference, INLINE_EXPERIMENTS, type RecipeBuild } from "./src/recipes.js";
import { readRecord } from "../src/build/index.js";
import { runMeta } from "./src/machine.js";
import { renderReport } from "./src/report.js";
import { mergeResults, type BaselineInfo, type FlashRow, type Results, type Variant } from "./src/results.js";
import type { VariantSource } from "./src/nodes.js";
import { runCaps, runRuntime } from "./src/runtime.js";
import { snapshotHead, type Snapshot } from "./src/snapshot.js";
import { measureVmMemory, type VmMemoryRow } from "./src/vm-memory.js";
import { measureContainerCalls, measureVmCpu, type VmCpuRow, type VmCpuVariant } from "./src/vm-cpu.js";
import { measureFleetStatus } from "./src/fleet.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const t0 = Date.now();

function log(s: string): void {
  const sec = Math.round((Date.now() - t0) / 1000);
  const stamp = `${String(Math.floor(sec / 60)).padStart(2, "0")}:${String(sec % 60).padStart(2, "0")}`;
  process.stderr.write(`[bench ${stamp}] ${s}\n`);
}

async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  const s = Date.now();
  log(`==> ${label}`);
  const r = await work();
  log(`    done: ${label} (${((Date.now() - s) / 1000).toFixed(0)} s)`);
  return r;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function loadResults(path: string): Promise<Results | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as Results;
  } catch {
    log(`warning: ${path} is not valid JSON; starting a new one`);
    return undefined;
  }
}

/** Builds every run needs, made once per run from the snapshot with the machine's usual caches. */
class Artifacts {
  private builds = new Map<string, Promise<CliBuild>>();
  private stock = new Map<string, Promise<StockBuild>>();
  private recipes = new Map<string, Promise<RecipeBuild>>();

  constructor(
    private readonly snap: Snapshot,
    private readonly work: string,
    private readonly arches: Architecture[],
    private readonly base?: Snapshot,
  ) {}

  /** A build by the CLI of a snapshot (its code, its pins), made once per run under `name`. */
  private cliBuild(name: string, snap: Snapshot, profile: "small" | "fast", label: string): Promise<CliBuild> {
    let p = this.builds.get(name);
    if (!p) {
      p = step(`${label}, ${this.arches.map((a) => a.name).join(", ")} (usual caches)`, () =>
        runCliBuild({
          what: name,
          srcDir: snap.dir,
          outDir: join(this.work, "builds", name),
          profile,
          arches: this.arches,
          env: { SOURCE_DATE_EPOCH: String(snap.commitTime) },
          log,
        }),
      );
      this.builds.set(name, p);
    }
    return p;
  }

  /** Profile small built from the baseline snapshot. */
  baseline(): Promise<CliBuild> {
    if (!this.base) throw new Error("no --baseline given");
    return this.cliBuild("baseline", this.base, "small", `baseline build (${this.base.commit.slice(0, 12)})`);
  }

  ours(profile: "small" | "fast"): Promise<CliBuild> {
    return this.cliBuild(profile, this.snap, profile, `${profile} build`);
  }

  /** The docker-archive a build of `snap` wrote for `arch` (however that snapshot's code names it). */
  private static tarIn(b: CliBuild, snap: Snapshot, arch: string): string {
    const found = dockerArchivesFor(readdirSync(b.outDir), arch);
    if (found.length !== 1) throw new Error(`${b.outDir} (${snap.commit.slice(0, 12)}) holds ${found.length} docker-archives for ${arch}, expected one`);
    return join(b.outDir, found[0]!);
  }

  async baselineTar(arch: string): Promise<string> {
    const b = await this.baseline();
    return Artifacts.tarIn(b, this.base!, arch);
  }

  stockBuild(arch: Architecture): Promise<StockBuild> {
    let p = this.stock.get(arch.name);
    if (!p) {
      p = step(`stock build, ${arch.name}`, async () => {
        const b = await buildStock(this.snap.dir, arch, join(this.work, "stock", arch.name), log);
        log(b.cached ? `  stock ${arch.name}: unchanged inputs, kept from an earlier run` : `  stock ${arch.name}: built in ${b.seconds.toFixed(0)} s`);
        return b;
      });
      this.stock.set(arch.name, p);
    }
    return p;
  }

  /** The reference recipe or an inlining experiment for one architecture. */
  recipe(variant: Variant, arch: Architecture): Promise<RecipeBuild> {
    const k = `${variant}/${arch.name}`;
    let p = this.recipes.get(k);
    if (!p) {
      p = step(`${variant} build, ${arch.name}`, async () => {
        const dir = join(this.work, "recipes", variant.replace(/[^a-z0-9-]/g, "_"), arch.name);
        const b =
          variant === "reference"
            ? await buildReference(this.snap.dir, arch, dir, loadGoModPins().tailscaleVersion, log)
            : await buildInlineExperiment(variant, this.snap.dir, arch, dir, await readRecord((await this.ours("small")).outDir, arch.name), log);
        if (b.cached) log(`  ${variant} ${arch.name}: unchanged inputs, kept from an earlier run`);
        return b;
      });
      this.recipes.set(k, p);
    }
    return p;
  }

  async tar(profile: "small" | "fast", arch: string): Promise<string> {
    return Artifacts.tarIn(await this.ours(profile), this.snap, arch);
  }
}

async function flashStep(art: Artifacts, arches: Architecture[], variants: Variant[]): Promise<FlashRow[]> {
  const small = await art.ours("small");
  const fast = await art.ours("fast");
  const rows: FlashRow[] = [];
  for (const a of arches) {
    const s = await ourFlashRow("small", small.outDir, a.name);
    const f = await ourFlashRow("fast", fast.outDir, a.name);
    const st = await art.stockBuild(a);
    rows.push(s, f, stockFlashRow(a.name, { tailscaled: await fileSize(st.files.tailscaled), tailscale: await fileSize(st.files.tailscale) }, f));
    if (variants.includes("baseline")) rows.push(await ourFlashRow("baseline", (await art.baseline()).outDir, a.name));
    // The recipes need full builds of their own: the reference for amd64 (the
    // nodes) and arm64 (the target), the inlining experiments for amd64 only.
    for (const v of variants.filter((x) => (x === "reference" && RECIPE_ARCHES.includes(a.name)) || (INLINE_EXPERIMENTS[x] && a.name === "amd64"))) {
      rows.push(recipeFlashRow(v, a.name, await fileSize((await art.recipe(v, a)).binary), s));
    }
  }
  return rows;
}

const RECIPE_ARCHES: string[] = ["amd64", "arm64"];

/** What the nodes of one variant run (amd64). */
async function variantSource(art: Artifacts, v: Variant): Promise<VariantSource> {
  const amd64 = architecture("amd64");
  if (v === "small" || v === "fast") return { variant: v, tar: await art.tar(v, "amd64") };
  if (v === "stock") return { variant: v, tar: await art.tar("fast", "amd64"), stock: (await art.stockBuild(amd64)).files };
  if (v === "baseline") return { variant: v, tar: await art.baselineTar("amd64") };
  return { variant: v, tar: await art.tar("small", "amd64"), combined: (await art.recipe(v, amd64)).binary };
}

async function buildStep(opts: BenchOptions, snap: Snapshot, art: Artifacts, arches: Architecture[]): Promise<NonNullable<Results["build"]>> {
  const tmp = await mkdtemp(join(opts.workDir, "cold-caches-"));
  try {
    const env: Record<string, string> = {
      MIKROTIK_TAILSCALE_CACHE: join(tmp, "mikrotik-tailscale"),
      GOCACHE: join(tmp, "go-build"),
      SOURCE_DATE_EPOCH: String(snap.commitTime),
    };
    const sources = await busyboxSourcesDir(join(tmp, "sources"));
    if (sources) env.MIKROTIK_TAILSCALE_SOURCES = sources;
    else log("  the busybox tarball is not in the usual cache: the cold build downloads it (counted in its time)");
    const cold = await step("cold build (fresh step cache and Go build cache)", () =>
      runCliBuild({ what: "cold", srcDir: snap.dir, outDir: join(opts.workDir, "builds", "cold"), profile: "small", arches, env, log }),
    );
    const du = async (d: string) => Number((await runCmd("du", ["-sb", d], { timeoutMs: 120_000 })).stdout.split(/\s/)[0] ?? 0);
    const coldCacheBytes = { goBuild: await du(env.GOCACHE!), steps: await du(env.MIKROTIK_TAILSCALE_CACHE!) };
    log(`  cold build: ${cold.timing.seconds.toFixed(0)} s; it filled ${(coldCacheBytes.goBuild / 1e6).toFixed(0)} MB of Go build cache`);
    const warm = await step("warm build (same caches again)", () =>
      runCliBuild({ what: "warm", srcDir: snap.dir, outDir: join(opts.workDir, "builds", "warm"), profile: "small", arches, env, log }),
    );
    log(`  warm build: ${warm.timing.seconds.toFixed(1)} s`);
    const independent = await art.ours("small");
    const files = await step("reproducibility: compare the cold build with the independent one", () => compareOutputs(cold.outDir, independent.outDir));
    const warmSame = await compareOutputs(cold.outDir, warm.outDir);
    const identical = files.every((f) => f.same) && warmSame.every((f) => f.same);
    log(`  reproducible: ${identical ? "yes, identical digests" : "NO: " + files.filter((f) => !f.same).map((f) => f.file).join(", ")}`);
    return {
      meta: await runMeta(snap.commit),
      arches: arches.map((a) => a.name),
      cold: { ...cold.timing, what: "cold (empty caches)" },
      warm: { ...warm.timing, what: "warm (caches of the cold build)" },
      reference: { ...independent.timing, what: "independent build (the machine's usual caches)" },
      coldCacheBytes,
      reproducibility: {
        sourceDateEpoch: snap.commitTime,
        between:
          "the cold build (fresh caches) against an independent build of the same commit with the machine's usual caches " +
          "(and the warm rebuild against the cold one)",
        identical,
        files,
      },
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(argv, { workDir: join(benchDir, "out"), reportDir: benchDir });
  } catch (e) {
    if (e instanceof BenchUsageError) {
      process.stderr.write(`bench: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  opts.workDir = resolve(opts.workDir);
  opts.reportDir = resolve(opts.reportDir);
  if (opts.renderOnly) {
    const results = await loadResults(join(opts.reportDir, "results.json"));
    if (!results) {
      process.stderr.write(`bench: no results in ${join(opts.reportDir, "results.json")} to render\n`);
      return 1;
    }
    await writeAtomic(join(opts.reportDir, "REPORT.md"), renderReport(results));
    log(`wrote ${join(opts.reportDir, "REPORT.md")} from results.json`);
    return 0;
  }
  const runtime = opts.steps.includes("memory") || opts.steps.includes("throughput");
  const needsRoot = runtime || opts.steps.includes("cap");
  if (needsRoot && process.getuid?.() !== 0) {
    process.stderr.write("bench: memory and throughput need root (network namespaces, runc); run as root or pick --only flash,build\n");
    return 1;
  }
  if (needsRoot) {
    const missing: string[] = [];
    for (const tool of ["iperf3", "runc", "ip", "ss", "dd", "sync"]) {
      if ((await runCmd("sh", ["-c", `command -v ${tool}`], { timeoutMs: 5_000 })).code !== 0) missing.push(tool);
    }
    if (missing.length) {
      process.stderr.write(`bench: missing ${missing.join(", ")} (Debian: apt-get install iperf3 runc iproute2 coreutils; scripts/bootstrap.sh installs them)\n`);
      return 1;
    }
  }
  await mkdir(opts.workDir, { recursive: true });
  await mkdir(opts.reportDir, { recursive: true });
  const resultsPath = join(opts.reportDir, "results.json");
  const reportPath = join(opts.reportDir, "REPORT.md");
  let results = await loadResults(resultsPath);
  const save = async (fresh: Partial<Results>) => {
    results = mergeResults(results, fresh);
    await writeAtomic(resultsPath, JSON.stringify(results, null, 2) + "\n");
    await writeAtomic(reportPath, renderReport(results));
    log(`wrote ${resultsPath} and ${reportPath}`);
  };

  log(`steps: ${opts.steps.join(", ")}; work folder ${opts.workDir}`);
  const snap = await step("snapshot of the committed HEAD", () => snapshotHead(join(opts.workDir, "src")));
  log(`  commit ${snap.commit.slice(0, 12)}, SOURCE_DATE_EPOCH ${snap.commitTime}`);
  let base: Snapshot | undefined;
  let baseInfo: BaselineInfo | undefined;
  if (opts.baseline !== undefined) {
    const ref = opts.baseline;
    base = await step(`snapshot of the baseline ${ref}`, () => snapshotHead(join(opts.workDir, "baseline-src"), ref));
    const pins = loadGoModPins(join(base.dir, "go"));
    baseInfo = { ref, commit: base.commit, tailscale: pins.tailscaleVersion, go: `go${pins.toolchainVersion}` };
    log(`  baseline ${ref}: commit ${base.commit.slice(0, 12)}, Tailscale ${baseInfo.tailscale}, ${baseInfo.go}`);
  }
  const meta = () => runMeta(snap.commit, baseInfo);
  let all: Architecture[];
  try {
    all = parseArchList(opts.arches.join(","));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  // One build per profile serves every step: the architectures flash and build
  // look at, plus amd64 for the nodes of memory and throughput.
  const artArches = opts.steps.includes("flash") || opts.steps.includes("build") ? [...all] : [];
  if (needsRoot && !artArches.some((a) => a.name === "amd64")) artArches.unshift(architecture("amd64"));
  const art = new Artifacts(snap, opts.workDir, parseArchList(artArches.map((a) => a.name).join(",")), base);

  if (runtime) {
    const sources: VariantSource[] = [];
    for (const v of opts.variants) sources.push(await variantSource(art, v));
    const headscaleBin = await step("headscale (pinned; built once into the cache)", () => ensureHeadscale(log));
    const label = [opts.steps.includes("memory") && "memory", opts.steps.includes("throughput") && "throughput"].filter(Boolean).join(" and ");
    const r = await step(label, () =>
      runRuntime({
        sources,
        headscaleBin,
        memory: opts.steps.includes("memory"),
        throughput: opts.steps.includes("throughput"),
        idleSeconds: opts.idleSeconds,
        trafficSeconds: opts.trafficSeconds,
        runs: opts.runs,
        seconds: opts.seconds,
        routerRateMbit: opts.rateMbit,
        routerRateRuns: opts.rateRuns,
        log,
      }),
    );
    const m = await meta();
    await save({
      ...(r.memory ? { memory: { meta: m, ...r.memory } } : {}),
      ...(r.throughput ? { throughput: { meta: m, ...r.throughput } } : {}),
    });
  }

  if (opts.steps.includes("cap")) {
    const capped: VariantSource[] = [await variantSource(art, "small")];
    if (opts.variants.includes("baseline")) capped.push(await variantSource(art, "baseline"));
    const headscaleBin = await ensureHeadscale(log);
    const runs = capped.flatMap((source) => opts.capsMiB.flatMap((capMiB) => opts.capModes.map((gomemlimit) => ({ source, capMiB, gomemlimit }))));
    const c = await step(`memory under caps of ${opts.capsMiB.join(", ")} MiB`, () => runCaps({ runs, headscaleBin, trafficSeconds: opts.trafficSeconds, log }));
    await save({ cap: { meta: await meta(), ...c } });
  }

  // Flash last: its builds for the other architectures are the slowest part and no runtime figure needs them.
  if (opts.steps.includes("flash")) {
    const rows = await step("flash", () => flashStep(art, all, opts.variants));
    await save({ flash: { meta: await meta(), rows, stockNote: STOCK_NOTE, recipeNote: RECIPE_NOTE } });
  }

  if (opts.steps.includes("vm-memory")) {
    if (process.getuid?.() !== 0) {
      process.stderr.write("bench: vm-memory needs root (network namespaces, taps, runc)\n");
      return 1;
    }
    const headscaleBin = await ensureHeadscale(log);
    const vmArt = new Artifacts(snap, opts.workDir, parseArchList("amd64,arm64,armv7"), base);
    const rows: VmMemoryRow[] = [];
    // The baseline's router has a baseline peer too: each pair runs one version.
    for (const variant of opts.variants.includes("baseline") ? (["small", "baseline"] as const) : (["small"] as const)) {
      const tarOf = (arch: string) => (variant === "baseline" ? vmArt.baselineTar(arch) : vmArt.tar("small", arch));
      const laptopTar = await tarOf("amd64");
      for (const arch of ["arm64", "armv7"] as const) {
        const routerTar = await tarOf(arch);
        const row = await step(`memory in the ${arch} router VM (${variant})`, () => measureVmMemory({ arch, routerTar, laptopTar, headscaleBin, idleSeconds: opts.idleSeconds, trafficMB: 16, log }));
        rows.push({ ...row, variant });
      }
    }
    await save({ vmMemory: { meta: await meta(), rows } });
  }

  if (opts.steps.includes("vm-cpu")) {
    if (process.getuid?.() !== 0) {
      process.stderr.write("bench: vm-cpu needs root (network namespaces, taps, runc)\n");
      return 1;
    }
    const headscaleBin = await ensureHeadscale(log);
    const vmArt = new Artifacts(snap, opts.workDir, parseArchList("amd64,arm64,armv7"), base);
    const laptopTar = await vmArt.tar("small", "amd64");
    const rows: VmCpuRow[] = [];
    rows.push(await step("health check and CLI calls, amd64 (native container)", () => measureContainerCalls({ tar: laptopTar, headscaleBin, repeats: 5, log })));
    for (const arch of ["arm64", "armv7"] as const) {
      for (const variant of ["small", "fast", "reference"] as const satisfies readonly VmCpuVariant[]) {
        // The reference recipe's binary in place of ours, in the small image (as in the runtime steps).
        const routerTar = await vmArt.tar(variant === "fast" ? "fast" : "small", arch);
        const replace: Record<string, string> = variant === "reference" ? { "usr/local/bin/tailscale.combined": (await vmArt.recipe("reference", architecture(arch))).binary } : {};
        const row = await step(`CPU in the ${arch} router VM (${variant})`, () =>
          measureVmCpu({ arch, variant, routerTar, replace, laptopTar, headscaleBin, repeats: 5, transferMB: 32, transfers: 3, rateMbit: opts.rateMbit, log }),
        );
        rows.push(row);
        await save({ vmCpu: { meta: await meta(), rows } });
      }
    }
  }

  if (opts.steps.includes("fleet")) {
    // The tool from the snapshot (the commit measured), the routers simulated in this process.
    const f = await step(`fleet status over ${opts.fleetRouters} simulated routers`, () => measureFleetStatus({ cliDir: snap.dir, routers: opts.fleetRouters, runs: opts.fleetRuns, concurrency: 16, log }));
    await save({ fleet: { meta: await meta(), ...f } });
  }

  if (opts.steps.includes("build")) {
    const b = await step("build", () => buildStep(opts, snap, art, all));
    if (baseInfo) b.meta.baseline = baseInfo;
    await save({ build: b });
  }

  log(`finished in ${((Date.now() - t0) / 60000).toFixed(1)} minutes`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
