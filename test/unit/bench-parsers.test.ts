/** The benchmark's parsers and small helpers (bench/lib): pure, no machine state. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchUsageError, parseBenchArgs, parseSteps } from "../../bench/src/args.js";
import { memoryCgroupDir, parseKeyValues, readCgroupMemory, reclaimTarget } from "../../bench/src/cgroup.js";
import { cpuSecondsPerGB, IperfError, mbps, parseIperf3Json } from "../../bench/src/iperf.js";
import { osName } from "../../bench/src/machine.js";
import { medianSample, parseKbLines, parseMemory, parseProcStatTicks, readCpuSeconds, readMemory } from "../../bench/src/procmem.js";
import { parseStepTimes, secondsByArch } from "../../bench/src/progress-log.js";
import { median, rotation, summarize } from "../../bench/src/stats.js";
import { capModeEnv } from "../../bench/src/runtime.js";

const fixture = (name: string) => readFileSync(new URL(`../../bench/fixtures/${name}`, import.meta.url), "utf8");

test("iperf3 -J: a finished TCP run gives receiver and sender rates, hosts, retransmits and CPU", () => {
  const r = parseIperf3Json(fixture("iperf3-client.json"));
  assert.equal(Math.round(r.receivedBps), 12125327961);
  assert.equal(Math.round(r.sentBps), 12102314034);
  assert.equal(r.retransmits, 1);
  assert.equal(r.localHost, "100.64.0.2");
  assert.equal(r.remoteHost, "100.64.0.1");
  assert.ok(Math.abs(r.seconds - 2.00318) < 1e-9);
  assert.ok(r.cpuClientPct! > 0 && r.cpuServerPct! > 0);
  assert.equal(Math.round(mbps(r.receivedBps)), 12125);
  assert.equal(r.receivedBytes, 3036151808);
  assert.equal(cpuSecondsPerGB(r), undefined, "no CPU figure until the benchmark adds tailscaled's");
  assert.ok(Math.abs(cpuSecondsPerGB({ ...r, tailscaledCpuSeconds: 6.072303616 })! - 2) < 1e-9);
});

test("/proc/<pid>/stat: user + system ticks, whatever the command name holds", async () => {
  const stat = "4242 (tailscaled) S 1 4242 4242 0 -1 4194560 2895 0 0 0 150 37 0 0 20 0 12 0 1234 1676848000 50000 18446744073709551615\n";
  assert.equal(parseProcStatTicks(stat), 187);
  assert.equal(parseProcStatTicks(stat.replace("(tailscaled)", "(a) b (c)")), 187);
  assert.throws(() => parseProcStatTicks("4242 (x) S 1"), /unexpected/);
  const root = mkdtempSync(join(tmpdir(), "bench-proc-"));
  try {
    mkdirSync(join(root, "7"));
    writeFileSync(join(root, "7", "stat"), stat);
    assert.equal(await readCpuSeconds(7, root), 1.87);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("iperf3 -J: iperf3's own error, plain-text output and unfinished runs are IperfErrors", () => {
  assert.throws(() => parseIperf3Json(fixture("iperf3-refused.json")), (e: unknown) => e instanceof IperfError && /Connection refused/.test(e.message));
  assert.throws(() => parseIperf3Json("iperf3: error - the server is busy running a test. try again later\n"), (e: unknown) => e instanceof IperfError && /server is busy/.test(e.message));
  assert.throws(() => parseIperf3Json(""), IperfError);
  assert.throws(() => parseIperf3Json("[1,2]"), IperfError);
  assert.throws(() => parseIperf3Json('{"start":{},"end":{}}'), (e: unknown) => e instanceof IperfError && /sum_received/.test(e.message));
});

const ROLLUP = `55aa54274000-7fff338cc000 ---p 00000000 00:00 0                          [rollup]
Rss:               24752 kB
Pss:               24744 kB
Pss_Dirty:          7744 kB
Pss_Anon:           7744 kB
Pss_File:          17000 kB
Anonymous:          7744 kB
Swap:                  0 kB
`;
const STATUS = "Name:\ttailscaled\nVmHWM:\t   25100 kB\nVmRSS:\t   24752 kB\nRssAnon:\t    7744 kB\nRssFile:\t   17008 kB\nThreads:\t12\n";

test("/proc memory: smaps_rollup and status make one sample in kB", () => {
  assert.deepEqual(parseMemory(ROLLUP, STATUS), {
    rssKiB: 24752,
    pssKiB: 24744,
    pssAnonKiB: 7744,
    pssFileKiB: 17000,
    anonymousKiB: 7744,
    hwmKiB: 25100,
    rssAnonKiB: 7744,
    rssFileKiB: 17008,
  });
  assert.equal(parseKbLines("Threads:\t12\nVmRSS: 5 kB").get("Threads"), undefined);
  assert.throws(() => parseMemory("Swap: 0 kB\n", STATUS), /no Rss\/Pss/);
});

test("/proc memory: readMemory reads a process's files; medianSample takes each field's median", async () => {
  const root = mkdtempSync(join(tmpdir(), "bench-proc-"));
  try {
    mkdirSync(join(root, "42"));
    writeFileSync(join(root, "42", "smaps_rollup"), ROLLUP);
    writeFileSync(join(root, "42", "status"), STATUS);
    const s = await readMemory(42, root);
    assert.equal(s.rssKiB, 24752);
    await assert.rejects(readMemory(43, root));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const m = medianSample([
    { rssKiB: 10, pssKiB: 9, hwmKiB: 30 },
    { rssKiB: 30, pssKiB: 5, hwmKiB: 31 },
    { rssKiB: 20, pssKiB: 7 },
  ]);
  assert.deepEqual(m, { rssKiB: 20, pssKiB: 7 }, "a field some samples lack is left out, not guessed");
  assert.throws(() => medianSample([]), /no memory samples/);
});

test("stats: median, summary with spread, rotation of the running order", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
  const s = summarize([100, 90, 110, 105, 95]);
  assert.equal(s.n, 5);
  assert.equal(s.median, 100);
  assert.equal(s.min, 90);
  assert.equal(s.max, 110);
  assert.equal(s.mean, 100);
  assert.equal(s.spreadPct, 20);
  assert.ok(Math.abs(s.stdev - 7.9057) < 1e-3);
  assert.equal(summarize([5]).stdev, 0);
  assert.throws(() => summarize([1, NaN]), /finite/);
  assert.deepEqual(rotation(["s", "f", "k"], 0), ["s", "f", "k"]);
  assert.deepEqual(rotation(["s", "f", "k"], 1), ["f", "k", "s"]);
  assert.deepEqual(rotation(["s", "f", "k"], 5), ["k", "s", "f"]);
  assert.deepEqual(rotation([], 3), []);
});

test("build progress output: step times per architecture, nested steps not counted twice", () => {
  const out = [
    "==> resolve Tailscale feature tags",
    "    features in: a, b",
    "    done: resolve Tailscale feature tags (1.5s)",
    "==> [amd64] busybox 1.37.0",
    "    done: [amd64] busybox 1.37.0 (40.0s)",
    "==> [amd64] tailscale v1.102.5 (small)",
    "    done: [amd64] tailscale v1.102.5 (small) (100.2s)",
    "==> [arm64] upx tailscale.combined",
    "    done: [arm64] upx tailscale.combined (30s)",
    "==> write image files",
    "==> image amd64",
    "    done: image amd64 (0.5s)",
    "    done: write image files (2.0s)",
  ].join("\n");
  const steps = parseStepTimes(out);
  assert.equal(steps.length, 6);
  assert.deepEqual(steps[1], { label: "[amd64] busybox 1.37.0", seconds: 40, arch: "amd64" });
  assert.equal(steps.find((s) => s.label === "image amd64")?.nested, true);
  assert.deepEqual(secondsByArch(steps), { shared: 3.5, amd64: 140.2, arm64: 30 });
});

test("cgroups: where to ask for a reclaim, v1 and v2; never the root", () => {
  const v1 = "9:name=systemd:/x\n4:memory:/process_api/abc/mtb1234-a\n0::/x\n";
  assert.deepEqual(reclaimTarget(v1, "/cg"), { file: "/cg/memory/process_api/abc/mtb1234-a/memory.force_empty", value: "0" });
  assert.deepEqual(reclaimTarget("0::/mtb1234-a\n", "/cg"), { file: "/cg/mtb1234-a/memory.reclaim", value: "4G" });
  assert.equal(reclaimTarget("4:memory:/\n"), undefined);
  assert.equal(reclaimTarget("0::/\n"), undefined);
  assert.equal(reclaimTarget(""), undefined);
});

test("cgroups: a memory cgroup's folder, peak and OOM kills (v1 and v2)", async () => {
  assert.deepEqual(memoryCgroupDir("4:memory:/process_api/abc/mtb1-a\n", "/cg"), { dir: "/cg/memory/process_api/abc/mtb1-a", v2: false });
  assert.deepEqual(memoryCgroupDir("0::/mtb1-a\n", "/cg"), { dir: "/cg/mtb1-a", v2: true });
  assert.equal(memoryCgroupDir("0::/\n"), undefined);
  const k = parseKeyValues("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  assert.equal(k.get("oom_kill"), 2);
  const dir = mkdtempSync(join(tmpdir(), "mt-cg-"));
  try {
    writeFileSync(join(dir, "memory.max_usage_in_bytes"), "67108864\n");
    writeFileSync(join(dir, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    assert.deepEqual(await readCgroupMemory({ dir, v2: false }), { peakBytes: 67108864, oomKills: 1 });
    writeFileSync(join(dir, "memory.peak"), "1234\n");
    writeFileSync(join(dir, "memory.events"), "low 0\nhigh 3\nmax 9\noom 1\noom_kill 0\n");
    assert.deepEqual(await readCgroupMemory({ dir, v2: true }), { peakBytes: 1234, oomKills: 0 });
    assert.deepEqual(await readCgroupMemory({ dir: join(dir, "gone"), v2: true }), {}, "a cgroup that is gone reads as nothing");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("command line: steps, numbers and their limits; defaults", () => {
  const d = { workDir: "w", reportDir: "r" };
  const o = parseBenchArgs([], d);
  assert.deepEqual(o.steps, ["flash", "memory", "throughput", "cap", "build", "vm-memory", "vm-cpu", "fleet"]);
  assert.deepEqual([o.fleetRouters, o.fleetRuns], [100, 3]);
  assert.deepEqual(parseBenchArgs(["--only", "fleet", "--fleet-routers", "30", "--fleet-runs", "1"], d).fleetRouters, 30);
  assert.throws(() => parseBenchArgs(["--fleet-routers", "0"], d), /--fleet-routers must be a whole number from 1 to 1000/);
  assert.deepEqual(o.variants, ["small", "fast", "stock", "reference"]);
  assert.deepEqual([o.rateMbit, o.rateRuns, o.capsMiB], [100, 3, [96, 64]]);
  assert.deepEqual(parseBenchArgs(["--variants", "small+net, stock"], d).variants, ["small", "stock", "small+net"], "small always; fixed order");
  assert.throws(() => parseBenchArgs(["--variants", "tiny"], d), /unknown variant 'tiny'/);
  assert.deepEqual(parseBenchArgs(["--caps", "128, 48", "--rate", "50"], d).capsMiB, [128, 48]);
  assert.throws(() => parseBenchArgs(["--caps", "8"], d), /--caps: '8' is not a cap in MiB/);
  assert.deepEqual(o.capModes, ["auto", "off"]);
  assert.deepEqual(parseBenchArgs(["--cap-modes", "auto:16, off"], d).capModes, ["auto:16", "off"]);
  assert.throws(() => parseBenchArgs(["--cap-modes", "on"], d), /--cap-modes: 'on' is not auto, off or auto:N/);
  assert.deepEqual(capModeEnv("auto:16"), { TS_GOMEMLIMIT: "auto", TS_GOMEMLIMIT_HEADROOM: "16" });
  assert.deepEqual(capModeEnv("off"), { TS_GOMEMLIMIT: "off" });
  assert.deepEqual([o.runs, o.seconds, o.idleSeconds, o.trafficSeconds, o.workDir, o.reportDir, o.help], [5, 10, 30, 30, "w", "r", false]);
  const p = parseBenchArgs(["--only", "build, flash", "--runs", "9", "--seconds=20", "--work", "x", "-h"], d);
  assert.deepEqual(p.steps, ["flash", "build"], "steps run in their fixed order");
  assert.deepEqual([p.runs, p.seconds, p.workDir, p.help], [9, 20, "x", true]);
  assert.deepEqual(o.arches, [], "no --arch: every architecture");
  assert.equal(o.renderOnly, false);
  assert.equal(parseBenchArgs(["--render-only"], d).renderOnly, true);
  assert.deepEqual(parseBenchArgs(["--arch", "arm64, armv5"], d).arches, ["arm64", "armv5"]);
  assert.throws(() => parseBenchArgs(["--only", "flash,speed"], d), (e: unknown) => e instanceof BenchUsageError && /unknown step 'speed'/.test(e.message));
  assert.throws(() => parseBenchArgs(["--runs", "0"], d), /--runs must be a whole number from 1 to 50/);
  assert.throws(() => parseBenchArgs(["--seconds", "2.5"], d), BenchUsageError);
  assert.throws(() => parseBenchArgs(["--bogus"], d), BenchUsageError);
  assert.throws(() => parseBenchArgs(["extra"], d), BenchUsageError);
  assert.deepEqual(parseSteps("all"), ["flash", "memory", "throughput", "cap", "build", "vm-memory", "vm-cpu", "fleet"]);
  assert.throws(() => parseSteps(" , "), /names no step/);
});

test("machine: the OS name from os-release, with Debian's point release", () => {
  const rel = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n';
  assert.equal(osName(rel, "12.11\n"), "Debian GNU/Linux 12 (12.11)");
  assert.equal(osName('PRETTY_NAME="Ubuntu 24.04 LTS"\n'), "Ubuntu 24.04 LTS");
  assert.equal(osName(""), "Linux");
});

test("command line: --baseline adds the baseline variant; the variant alone is refused", () => {
  const d = { workDir: "w", reportDir: "r" };
  const o = parseBenchArgs(["--baseline", "main~2", "--variants", "small,stock"], d);
  assert.equal(o.baseline, "main~2");
  assert.deepEqual(o.variants, ["small", "stock", "baseline"]);
  assert.equal(parseBenchArgs([], d).baseline, undefined);
  assert.ok(!parseBenchArgs([], d).variants.includes("baseline"));
  assert.throws(() => parseBenchArgs(["--variants", "small,baseline"], d), /variant 'baseline' needs --baseline REF/);
  assert.throws(() => parseBenchArgs(["--baseline=-rf"], d), /--baseline: .-rf. is not a git ref/);
});
