/** The benchmark's report (bench/src/report.ts) and results merging: how figures are judged and shown, not what they are. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateTargets, lowerOrHigher, mib, renderReport, size } from "../../bench/src/report.js";
import { mergeResults, type FlashRow, type NodeMemory, type Results, type RunMeta } from "../../bench/src/results.js";
import { summarize } from "../../bench/src/stats.js";

const meta: RunMeta = {
  date: "2026-01-02T03:04:05.000Z",
  commit: "0123456789abcdef0123456789abcdef01234567",
  machine: { hostname: "box", cpu: "Test CPU", cores: 2, memoryGiB: 24, kernel: "6.1.0", os: "Debian GNU/Linux 12 (12.11)" },
  versions: { tailscale: "v1.2.3", imageVersion: "v1.2.3-mt.1", go: "go1.26.0", node: "v20.0.0", busybox: "1.37.0", upx: "upx 4.2.2", iperf3: "iperf 3.12", headscale: "v0.29.3", runc: "runc version 1.1.5" },
};

const row = (variant: FlashRow["variant"], arch: string, total: number): FlashRow => ({
  variant,
  arch,
  tailscale: total - 400_000,
  tailscaleFiles: { "tailscale.combined": total - 400_000 },
  busybox: 220_000,
  caBundle: 170_000,
  other: 10_000,
  total,
});

const node = (n: "a" | "b", rss: number, anon: number): NodeMemory => ({
  node: n,
  role: n === "a" ? "receiver" : "sender",
  idleAfterSeconds: 30,
  idle: { rssKiB: rss, pssKiB: rss, rssAnonKiB: anon },
  afterReclaim: { rssKiB: anon + 1000, pssKiB: anon + 1000 },
  afterTraffic: { rssKiB: rss * 2, pssKiB: rss * 2 },
  idleSamples: [],
});

function sample(o: { arm64: number; ref64?: number; smallRss: number; refRss?: number; slowRss?: number; cap64?: boolean; small: number[]; stock: number[] }): Results {
  const run = (mbit: number) => ({ receivedBps: mbit * 1e6, sentBps: mbit * 1e6, retransmits: 2, seconds: 10, localHost: "100.64.0.2", remoteHost: "100.64.0.1" });
  const withSlow = (n: NodeMemory): NodeMemory => (o.slowRss === undefined ? n : { ...n, afterRouterRate: { rssKiB: o.slowRss, pssKiB: o.slowRss } });
  return {
    schema: 1,
    flash: {
      meta,
      stockNote: "stock note",
      recipeNote: "recipe note",
      rows: [row("small", "arm64", o.arm64), row("fast", "arm64", o.arm64 * 4), row("stock", "arm64", o.arm64 * 9), ...(o.ref64 ? [row("reference", "arm64", o.ref64)] : [])],
    },
    memory: {
      meta,
      idleSeconds: 30,
      trafficSeconds: 30,
      reclaimSettleSeconds: 5,
      routerRateMbit: 100,
      variants: {
        small: { nodes: [withSlow(node("a", o.smallRss, o.smallRss)), withSlow(node("b", o.smallRss, o.smallRss))] },
        fast: { nodes: [node("a", 18_000, 8000), node("b", 18_000, 8000)] },
        ...(o.refRss ? { reference: { nodes: [node("a", o.refRss, o.refRss), node("b", o.refRss, o.refRss)] } } : {}),
      },
    },
    throughput: {
      meta,
      runs: o.small.length,
      seconds: 10,
      variants: {
        small: { runs: o.small.map(run), mbps: summarize(o.small), path: "direct 10.0.0.1:41641" },
        stock: { runs: o.stock.map(run), mbps: summarize(o.stock), path: "direct 10.0.0.1:41641" },
      },
    },
    ...(o.cap64 === undefined
      ? {}
      : {
          cap: {
            meta,
            trafficSeconds: 30,
            runs: [
              { variant: "small", capMiB: 64, gomemlimit: "auto", logged: "GOMEMLIMIT=40MiB (container limit 64 MiB)", survived: o.cap64, killed: o.cap64 ? [] : ["a"], oomKills: o.cap64 ? 0 : 1, peakKiB: { a: 60_000, b: 50_000 }, hwmKiB: { a: 50_000, b: 40_000 }, trafficMbps: 900 },
              { variant: "small", capMiB: 64, gomemlimit: "off", survived: false, killed: ["a"], oomKills: 1, peakKiB: { a: 65_536, b: 50_000 }, hwmKiB: {} },
            ],
          },
        }),
  };
}

test("targets: met, not met and not measured, at the boundaries", () => {
  const met = evaluateTargets(sample({ arm64: 3_900_000, ref64: 3_900_001, smallRss: 20_000, refRss: 20_000, slowRss: 40 * 1024, cap64: true, small: [95, 95, 95], stock: [100, 100, 100] }));
  assert.deepEqual(met.map((t) => t.status), ["met", "met", "met", "met", "met", "met", "not measured", "not measured", "not measured", "not measured"]);
  const missed = evaluateTargets(sample({ arm64: 3_900_001, ref64: 3_900_001, smallRss: 20_001, refRss: 20_000, slowRss: 40 * 1024 + 1, cap64: false, small: [94, 94, 99], stock: [100, 100, 100] }));
  assert.deepEqual(missed.map((t) => t.status), ["not met", "not met", "not met", "not met", "not met", "not met", "not measured", "not measured", "not measured", "not measured"]);
  assert.match(missed[0]!.measured, /3\.90 MB \(3,900,001 B = 3\.72 MiB\)/);
  assert.match(missed[1]!.measured, /small 3,900,001 B vs reference 3,900,001 B/);
  assert.match(missed[2]!.measured, /^94\.0% \(small 94 vs stock 100 Mbit\/s\)$/);
  assert.match(missed[3]!.measured, /receiver 40\.0 MiB, sender 40\.0 MiB/);
  assert.match(missed[4]!.measured, /^killed; peak 58\.6 MiB \/ 48\.8 MiB/);
  assert.match(missed[5]!.measured, /small 19\.5 MiB vs reference 19\.5 MiB/);
  assert.deepEqual(evaluateTargets({ schema: 1 }).map((t) => t.status), Array(10).fill("not measured"));
  const noRef = evaluateTargets(sample({ arm64: 1, smallRss: 1, small: [1], stock: [1] }));
  assert.deepEqual(noRef.map((t) => t.status), ["met", "not measured", "met", "not measured", "not measured", "not measured", "not measured", "not measured", "not measured", "not measured"]);
  // Issue 19's health check targets: 1/20 of the old check's CPU, 1 MiB of peak RSS, on every architecture measured.
  const call = (cpu: number, rss: number, cgroup = true) => ({ ...(cgroup ? { cgroupCpuMs: cpu } : {}), cpuMs: cpu, maxRssKiB: rss, wallMs: 1, exit: 0, line: "Running" });
  const vmRow = (arch: "amd64" | "arm64", newCpu: number, newRss: number) => ({
    arch,
    variant: "small" as const,
    guestMemMb: 256,
    machine: "m",
    kernel: "k",
    repeats: 5,
    calls: { oldCheck: call(1000, 20_000, arch !== "amd64"), newCheck: call(newCpu, newRss, arch !== "amd64"), status: call(900, 20_000, arch !== "amd64") },
  });
  const hc = (newCpu: number, newRss: number) => evaluateTargets({ schema: 1, vmCpu: { meta, rows: [vmRow("amd64", 10, 500), vmRow("arm64", newCpu, newRss)] } }).slice(6, 8);
  assert.deepEqual(hc(50, 1024).map((t) => t.status), ["met", "met"], "exactly 1/20 and exactly 1 MiB meet them");
  assert.deepEqual(hc(50.1, 1025).map((t) => t.status), ["not met", "not met"]);
  assert.match(hc(50, 1024)[0]!.measured, /^amd64 10\.0 ms vs 1,000 ms; arm64 50\.0 ms vs 1,000 ms$/);
  assert.match(hc(50, 1024)[1]!.measured, /arm64 1024 KiB \(old 19\.5 MiB\)/);
  const hair = evaluateTargets(sample({ arm64: 1, smallRss: 1, small: [1565.9], stock: [1648.413] }))[2]!;
  assert.equal(hair.status, "not met");
  assert.match(hair.measured, /^94\.9% /, "a ratio just under the target is not rounded up to it");
});

test("report: every section, machine and versions, and a pointer for what was not measured", () => {
  const md = renderReport(sample({ arm64: 4_139_950, ref64: 4_200_000, smallRss: 24_000, refRss: 22_000, slowRss: 30_000, cap64: true, small: [1100, 1200, 1000], stock: [1600, 1500, 1700] }));
  assert.match(md, /^# Benchmarks\n/);
  assert.match(md, /\| machine \| Test CPU, 2 cores, 24 GiB RAM \(host name box\) \|/);
  assert.match(md, /v1\.2\.3-mt\.1 \(Tailscale v1\.2\.3\), commit 0123456789ab/);
  assert.match(md, /\| arm64 \| small \| .* \| \*\*3\.95 MiB\*\* \| 4,139,950 \| 1\.00× \|/);
  assert.match(md, /\| arm64 \| reference image \| ~3\.47 MB \|/);
  assert.match(md, /\| arm64 \| reference \| .* \| 4,200,000 \| 1\.01× \|/);
  assert.match(md, /Recipes: recipe note/);
  assert.match(md, /\| \*\*RSS after 30 s at 100 Mbit\/s\*\*, node a \(receiver\) \| 29\.3 MiB \| – \| – \|/);
  assert.match(md, /## Memory under a cgroup cap/);
  assert.match(md, /\| 64 MiB \| auto \| `40MiB` \| survived \| 58\.6 MiB \| 48\.8 MiB \|/);
  assert.match(md, /\| 64 MiB \| off \| not set \| \*\*killed\*\* \(receiver\) \| 64\.0 MiB \|/);
  assert.match(md, /\| small \| \*\*1100\*\* \| 1000 \| 1200 \| 18\.2% \| 1100, 1200, 1000 \| 2 \| 68\.7% \|/);
  assert.match(md, /## Build time and reproducibility\n\n_Not measured yet: `npm run bench -- --only build`\._/);
  assert.match(md, /npm run bench -- --only flash,memory/);
  assert.doesNotMatch(md, /undefined|NaN/);
});

test("fleet: the targets judged on the slowest run and the largest memory, at the boundaries; its section beside the others", () => {
  const fleet = (wallMs: number[], rssKiB: number[], routers = 100): Results["fleet"] => ({
    meta,
    routers,
    concurrency: 16,
    versions: ["7.19", "7.26beta1"],
    arches: ["arm64", "arm"],
    runs: wallMs.map((w, i) => ({ wallMs: w, maxRssKiB: rssKiB[i]!, rowsRead: routers, exitCode: 0 })),
    startup: { wallMs: 600, maxRssKiB: 100 * 1024, rowsRead: 0, exitCode: 0 },
    note: "simulated here",
  });
  const at = (f: Results["fleet"]) => evaluateTargets({ schema: 1, fleet: f }).slice(8);
  assert.deepEqual(at(fleet([9000, 10_000], [150 * 1024, 200 * 1024])).map((t) => t.status), ["met", "met"]);
  const over = at(fleet([9000, 10_001], [200 * 1024 + 1, 1]));
  assert.deepEqual(over.map((t) => t.status), ["not met", "not met"], "the slowest run and the largest peak decide");
  assert.match(over[0]!.measured, /^10\.00 s over 100 routers \(2 runs; 16 at a time\)$/);
  assert.match(over[1]!.measured, /^200\.0 MiB over 100 routers$/);
  assert.deepEqual(at(fleet([1000], [1], 50)).map((t) => t.status), ["not measured", "not measured"], "fewer routers than the target names do not count");
  const r = sample({ arm64: 3_900_000, smallRss: 20_000, small: [1], stock: [1] });
  r.fleet = fleet([1540, 1570], [136 * 1024, 134 * 1024]);
  const md = renderReport(r);
  assert.match(md, /## Fleet status: 100 simulated routers\n\nMeasured 2026-01-02 03:04 UTC, commit 0123456789ab, on Test CPU, 2 cores, Node\.js v20\.0\.0\./);
  const later = { ...meta, date: "2027-01-01T00:00:00.000Z", machine: { ...meta.machine, cpu: "Other CPU" } };
  const md2 = renderReport({ ...r, fleet: { ...r.fleet!, meta: later } });
  assert.match(md2, /\| machine \| Test CPU, 2 cores/, "the machine table stays the image runs' even when the fleet run is newer");
  assert.match(md2, /^- fleet: 2027-01-01 00:00 UTC, commit 0123456789ab$/m);
  assert.match(md, /\| 1 \| 1\.54 s \| 136\.0 MiB \| 100 of 100 \|/);
  assert.match(md, /\| `routeros fleet --help` \(starting the tool alone\) \| 0\.60 s \| 100\.0 MiB \| – \|/);
  assert.match(md, /\| `routeros fleet status` over 100 simulated routers within 10 s \(the slowest of the runs\) \| 1\.57 s over 100 routers \(2 runs; 16 at a time\) \| met \|/);
  for (const h of ["## Flash: bytes on disk", "## Memory: tailscaled on amd64", "## Throughput", "## Build time and reproducibility", "## Reproducing"]) assert.ok(md.includes(h), h);
  assert.deepEqual(mergeResults(r, { flash: r.flash }).fleet, r.fleet, "a run of other steps keeps the fleet section");
  assert.doesNotMatch(md, /undefined|NaN/);
});

test("report: a build section with a failed reproducibility check says so", () => {
  const r: Results = {
    schema: 1,
    build: {
      meta,
      arches: ["amd64"],
      cold: { what: "cold", seconds: 600, byArch: { shared: 20, amd64: 580 }, steps: [] },
      warm: { what: "warm", seconds: 3.2, byArch: { shared: 1, amd64: 0.5 }, steps: [] },
      reproducibility: {
        sourceDateEpoch: 1700000000,
        between: "a and b",
        identical: false,
        files: [
          { file: "x-amd64.tar", a: "a".repeat(64), b: "a".repeat(64), same: true },
          { file: "oci/index.json", a: "b".repeat(64), b: "c".repeat(64), same: false },
        ],
      },
    },
  };
  const md = renderReport(r);
  assert.match(md, /\| cold \| \*\*600\.0 s\*\* \| 20\.0 s \| 580\.0 s \|/);
  assert.match(md, /\*\*DIFFERENT\*\*/);
  assert.match(md, /\| `oci\/index\.json` \| `bbbbbbbbbbbbbbbb…` vs `cccccccccccccccc…` \| \*\*no\*\* \|/);
});

test("results: a partial run replaces only its own sections", () => {
  const old = sample({ arm64: 1, smallRss: 1, small: [1], stock: [1] });
  const fresh = { ...old.flash!, rows: [] };
  const merged = mergeResults(old, { flash: fresh });
  assert.equal(merged.flash, fresh);
  assert.equal(merged.memory, old.memory);
  assert.equal(merged.throughput, old.throughput);
  assert.deepEqual(mergeResults(undefined, {}), { schema: 1 });
  assert.deepEqual(mergeResults({ schema: 2 } as unknown as Results, {}), { schema: 1 }, "an unknown schema is started over");
});

test("units: sizes in MiB/KiB, changes as lower or higher", () => {
  assert.equal(size(4_139_950), "3.95 MiB");
  assert.equal(size(221_400), "216.2 KiB");
  assert.equal(mib(1024 * 1024, 1), "1.0 MiB");
  assert.equal(lowerOrHigher(80, 100), "20% lower");
  assert.equal(lowerOrHigher(103, 100), "3% higher");
});

test("report: a baseline run gets a side-by-side table with the change and which way it goes", () => {
  const base = { ref: "v1.102.5-mt.3", commit: "fedcba9876543210fedcba9876543210fedcba98", tailscale: "v1.102.5", go: "go1.26.8" };
  const r = sample({ arm64: 3_900_000, smallRss: 20_000, slowRss: 30_000, cap64: true, small: [1000, 1100, 1200], stock: [1200, 1300, 1400] });
  const m = { ...meta, baseline: base };
  r.flash = { ...r.flash!, meta: m, rows: [...r.flash!.rows, row("baseline", "arm64", 3_800_000)] };
  r.memory = { ...r.memory!, meta: m, variants: { ...r.memory!.variants, baseline: { nodes: [node("a", 25_000, 25_000), node("b", 25_000, 25_000)] } } };
  const text = renderReport(r);
  assert.match(text, /## Tailscale versions side by side/);
  assert.match(text, /\| flash, arm64 root filesystem \(bytes\) \| 3,900,000 \| 3,800,000 \| \+2\.6% \(worse\) \|/);
  assert.match(text, /\| idle RSS, amd64 \(mean of both nodes\) \| 19\.5 MiB \| 24\.4 MiB \| −20\.0% \(better\) \|/);
  assert.match(text, /`baseline`: profile small built by the project at v1\.102\.5-mt\.3 \(commit fedcba987654\), Tailscale v1\.102\.5, go1\.26\.8\./);
  assert.doesNotMatch(renderReport(sample({ arm64: 3_900_000, smallRss: 20_000, small: [1], stock: [1] })), /versions side by side/);
});

test("report: the side-by-side table names our version from the baseline run, not from an older section", () => {
  const base = { ref: "main", commit: "fedcba9876543210fedcba9876543210fedcba98", tailscale: "v1.102.5", go: "go1.26.8" };
  const r = sample({ arm64: 3_900_000, smallRss: 20_000, small: [1000], stock: [1200] });
  r.memory = { ...r.memory!, meta: { ...meta, baseline: base, versions: { ...meta.versions, tailscale: "v1.104.2" } }, variants: { ...r.memory!.variants, baseline: { nodes: [node("a", 25_000, 25_000), node("b", 25_000, 25_000)] } } };
  const text = renderReport(r);
  assert.match(text, /\| reading \| small \(v1\.104\.2\) \| baseline \(v1\.102\.5\) \| change \|/);
  assert.doesNotMatch(text, /flash, arm64 root filesystem/, "the flash section is from a run without the baseline");
});
