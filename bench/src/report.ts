/** Renders bench/results.json as bench/REPORT.md. Pure: results in, Markdown out. */
import { mbps } from "./iperf.js";
import type { MemorySample } from "./procmem.js";
import type { VmMemoryRow } from "./vm-memory.js";
import type { CallCost, VmCpuRow } from "./vm-cpu.js";
import { OTHER_IMAGES, REFERENCE_ARM64, REFERENCE_SOURCE, TARGETS } from "./reference.js";
import { VARIANTS, type BaselineInfo, type CapRun, type FlashRow, type MemorySection, type NodeMemory, type Results, type RunMeta, type Variant } from "./results.js";

export const ARCH_ORDER = ["amd64", "arm64", "armv7", "armv5"];

export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function mib(bytes: number, digits = 2): string {
  return `${(bytes / 1024 / 1024).toFixed(digits)} MiB`;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** Bytes as people read sizes: MiB above one, KiB below. */
export function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? mib(bytes) : kib(bytes);
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function memMiB(kiB: number | undefined): string {
  return kiB === undefined ? "–" : `${(kiB / 1024).toFixed(1)} MiB`;
}

function pct(x: number, digits = 0): string {
  return `${x.toFixed(digits)}%`;
}

export type TargetStatus = "met" | "not met" | "not measured";

export interface TargetRow {
  target: string;
  measured: string;
  status: TargetStatus;
}

/** Mean over the nodes of one variant of a memory field. */
export function meanNodes(mem: MemorySection | undefined, v: Variant, pick: (n: NodeMemory) => number | undefined): number | undefined {
  const nodes = mem?.variants[v]?.nodes ?? [];
  const vals = nodes.map(pick).filter((x): x is number => typeof x === "number");
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : undefined;
}

/** x as a share of ref, truncated to 0.1%: 89.99% must not read as a 90% it missed. */
export function ratioPct(x: number, ref: number): string {
  return pct(Math.floor((x / ref) * 1000) / 10, 1);
}

/** "12% lower" or "3% higher". */
export function lowerOrHigher(x: number, ref: number): string {
  const d = (1 - x / ref) * 100;
  const digits = Math.abs(d) < 1 ? 1 : 0;
  return d >= 0 ? `${pct(d, digits)} lower` : `${pct(-d, digits)} higher`;
}

function cpuNote(r: Results): string {
  const s = r.throughput?.variants.small?.cpuSecondsPerGB?.median;
  const k = r.throughput?.variants.stock?.cpuSecondsPerGB?.median;
  return s !== undefined && k !== undefined ? `; tailscaled CPU per GB small ${s.toFixed(2)} s vs stock ${k.toFixed(2)} s (${pct((s / k) * 100)} of stock's)` : "";
}

/** The issue's targets beside what was measured. */
export function evaluateTargets(r: Results): TargetRow[] {
  const rows: TargetRow[] = [];
  const arm64 = r.flash?.rows.find((x) => x.variant === "small" && x.arch === "arm64");
  rows.push({
    target: `arm64 extracted root filesystem (profile small, every feature) at most ${mb(TARGETS.arm64RootfsBytes)} (${int(TARGETS.arm64RootfsBytes)} B)`,
    measured: arm64 ? `${mb(arm64.total)} (${int(arm64.total)} B = ${mib(arm64.total)})` : "–",
    status: arm64 ? (arm64.total <= TARGETS.arm64RootfsBytes ? "met" : "not met") : "not measured",
  });
  const ref64 = r.flash?.rows.find((x) => x.variant === "reference" && x.arch === "arm64");
  rows.push({
    target: "arm64 root filesystem smaller than the reference recipe's at the same Tailscale version",
    measured: arm64 && ref64 ? `small ${int(arm64.total)} B vs reference ${int(ref64.total)} B (${lowerOrHigher(arm64.total, ref64.total)}; Tailscale binary ${int(arm64.tailscale)} vs ${int(ref64.tailscale)} B)` : "–",
    status: arm64 && ref64 ? (arm64.total < ref64.total ? "met" : "not met") : "not measured",
  });
  const ts = r.throughput?.variants.small?.mbps.median;
  const tk = r.throughput?.variants.stock?.mbps.median;
  const ok2 = ts !== undefined && tk !== undefined && tk > 0;
  rows.push({
    target: `small profile's throughput at least ${TARGETS.smallThroughputOfStockPct}% of stock's (median of ${r.throughput?.runs ?? 5}, unthrottled)`,
    measured: ok2 ? `${ratioPct(ts, tk)} (small ${ts.toFixed(0)} vs stock ${tk.toFixed(0)} Mbit/s)${cpuNote(r)}` : "–",
    status: ok2 ? ((ts / tk) * 100 >= TARGETS.smallThroughputOfStockPct ? "met" : "not met") : "not measured",
  });
  const slow = (r.memory?.variants.small?.nodes ?? []).map((n) => n.afterRouterRate?.rssKiB).filter((x): x is number => x !== undefined);
  rows.push({
    target: `small's RSS after ${r.memory?.trafficSeconds ?? 30} s at ${r.memory?.routerRateMbit ?? 100} Mbit/s at most ${memMiB(TARGETS.routerRateRssKiB)} (each node, amd64, no cap)`,
    measured: slow.length ? `receiver ${memMiB(slow[0])}, sender ${memMiB(slow[1])}` : "–",
    status: slow.length ? (Math.max(...slow) <= TARGETS.routerRateRssKiB ? "met" : "not met") : "not measured",
  });
  const cap = r.cap?.runs.filter((x) => x.variant === "small" && x.capMiB === TARGETS.capMiB && x.gomemlimit === "auto") ?? [];
  rows.push({
    target: `no OOM kill under a ${TARGETS.capMiB} MiB cgroup cap at full speed (small, the entrypoint's GOMEMLIMIT)`,
    measured: cap.length ? cap.map((c) => `${c.survived ? "survived" : "killed"}; peak ${memMiB(c.peakKiB.a)} / ${memMiB(c.peakKiB.b)} (receiver / sender) at ${c.trafficMbps?.toFixed(0) ?? "–"} Mbit/s`).join("; ") : "–",
    status: cap.length ? (cap.every((c) => c.survived) ? "met" : "not met") : "not measured",
  });
  const si = meanNodes(r.memory, "small", (n) => n.idle.rssKiB);
  const ri = meanNodes(r.memory, "reference", (n) => n.idle.rssKiB);
  rows.push({
    target: "small's idle RSS at most the reference recipe's (same version, same machine, mean of both nodes)",
    measured: si !== undefined && ri !== undefined ? `small ${memMiB(si)} vs reference ${memMiB(ri)} (${lowerOrHigher(si, ri)})` : "–",
    status: si !== undefined && ri !== undefined ? (si <= ri ? "met" : "not met") : "not measured",
  });
  const checks = (r.vmCpu?.rows ?? []).filter((x) => x.variant === "small");
  // The router VMs' container cgroup CPU (tailscaled's share included); amd64's own CPU where no cgroup was read.
  const cpuOf = (c: CallCost) => c.cgroupCpuMs ?? c.cpuMs;
  const cpuText = (c: CallCost) => (c.cgroupCpuMs !== undefined ? cgMs(c.cgroupCpuMs) : ownMs(c.cpuMs, c.loops));
  rows.push({
    target: `the new health check's CPU at most 1/${Math.round(1 / TARGETS.healthcheckCpuShare)} of \`tailscale version --daemon\`'s (small; arm64 and armv7: container cgroup CPU in the router VMs, emulated; amd64: the call's own CPU)`,
    measured: checks.length ? checks.map((x) => `${x.arch} ${cpuText(x.calls.newCheck)} vs ${cpuText(x.calls.oldCheck)}`).join("; ") : "–",
    status: checks.length ? (checks.every((x) => cpuOf(x.calls.newCheck) <= cpuOf(x.calls.oldCheck) * TARGETS.healthcheckCpuShare) ? "met" : "not met") : "not measured",
  });
  rows.push({
    target: `the new health check's peak memory at most ${memMiB(TARGETS.healthcheckRssKiB)} (its peak RSS, each architecture measured)`,
    measured: checks.length ? checks.map((x) => `${x.arch} ${x.calls.newCheck.maxRssKiB} KiB (old ${memMiB(x.calls.oldCheck.maxRssKiB)})`).join("; ") : "–",
    status: checks.length ? (checks.every((x) => x.calls.newCheck.maxRssKiB <= TARGETS.healthcheckRssKiB) ? "met" : "not met") : "not measured",
  });
  const fl = r.fleet;
  const slowest = fl?.runs.length ? Math.max(...fl.runs.map((x) => x.wallMs)) : undefined;
  const largest = fl?.runs.length ? Math.max(...fl.runs.map((x) => x.maxRssKiB)) : undefined;
  const enough = !!fl && fl.routers >= TARGETS.fleetRouters;
  rows.push({
    target: `\`routeros fleet status\` over ${TARGETS.fleetRouters} simulated routers within ${TARGETS.fleetWallMs / 1000} s (the slowest of the runs)`,
    measured: fl && slowest !== undefined ? `${(slowest / 1000).toFixed(2)} s over ${fl.routers} routers (${fl.runs.length} runs; ${fl.concurrency} at a time)` : "–",
    status: fl && slowest !== undefined && enough ? (slowest <= TARGETS.fleetWallMs ? "met" : "not met") : "not measured",
  });
  rows.push({
    target: `...and the tool's peak memory at most ${memMiB(TARGETS.fleetRssKiB)} (its peak RSS, the largest of the runs)`,
    measured: fl && largest !== undefined ? `${memMiB(largest)} over ${fl.routers} routers` : "–",
    status: fl && largest !== undefined && enough ? (largest <= TARGETS.fleetRssKiB ? "met" : "not met") : "not measured",
  });
  return rows;
}

function ms(x: number): string {
  return x >= 100 ? `${int(x)} ms` : `${x.toFixed(1)} ms`;
}

/** The cgroup's counter is in microseconds: small figures keep two decimals. */
function cgMs(x: number): string {
  return x < 10 ? `${x.toFixed(2)} ms` : ms(x);
}

/** busybox time's CPU figures come in 10 ms steps (over a loop of n calls, 10/n ms a call): 0 means under one step. */
function ownMs(x: number, loops = 1): string {
  return x === 0 ? `< ${+(10 / loops).toFixed(2)} ms` : x < 10 ? `${x.toFixed(2)} ms` : ms(x);
}

function vmCpuSection(r: Results): string[] {
  const m = r.vmCpu;
  if (!m || m.rows.length === 0) return ["## CPU on ARM (router VMs)", "", "_Not measured yet: `npm run bench -- --only vm-cpu`._", ""];
  const out = ["## CPU on ARM: health checks, CLI calls and traffic inside router VMs", "", `Measured ${metaLine(m.meta)}.`, ""];
  out.push(
    "**Emulated CPUs (qemu TCG on this machine's x86 cores): read the figures relative to each other,",
    "not as a router's seconds.** Each build as the router in the VMs of the tests (test/support/vm.ts,",
    "real Debian ARM kernels), joined to headscale with an amd64 peer. A call runs inside the",
    "container's cgroup: *cgroup CPU* is that cgroup's CPU over the call (tailscaled's work answering",
    "it included) less the wrapper's own (busybox `time -v` around a program that does not exist);",
    `*own CPU* and *peak RSS* are the call's process as busybox \`time -v\` reports them (10 ms steps). Median of ${m.rows[0]!.repeats} calls each;`,
    `the new check's CPU figures are per call over a loop of ${m.rows.find((x) => x.calls.newCheck.loops)?.calls.newCheck.loops ?? 1} calls less the same loop doing nothing`,
    "(one call is below the steps); its peak RSS is from single calls. A child's peak RSS as the kernel",
    "reports it includes its moments as a fork of busybox `time` before the exec: the wrapper alone shows",
    `${m.rows.filter((x) => x.wrapperRssKiB !== undefined).map((x) => `${int(x.wrapperRssKiB!)} KiB (${x.arch}, ${x.variant})`).join(", ") || "–"}, so a figure near that is the wrapper's, an upper bound for the call.`,
    `The wrapper alone cost the cgroup ${m.rows.filter((x) => x.wrapperCgroupMs !== undefined).map((x) => `${cgMs(x.wrapperCgroupMs!)} (${x.arch}, ${x.variant})`).join(", ") || "–"}`,
    "(busybox, UPX-packed in small and reference, unpacks itself for `time`); the loops of new checks against the",
    `loops doing nothing, as read: ${m.rows.filter((x) => x.calls.newCheck.loopCgroupMs).map((x) => `${cgMs(x.calls.newCheck.loopCgroupMs!.calls)} vs ${cgMs(x.calls.newCheck.loopCgroupMs!.empty)} (${x.arch}, ${x.variant})`).join(", ") || "–"}.`,
    "",
  );
  const moved = m.rows.filter((x) => x.transfer);
  const cost = (c: CallCost) => [c.cgroupCpuMs === undefined ? "–" : cgMs(c.cgroupCpuMs), ownMs(c.cpuMs, c.loops), `${int(c.maxRssKiB)} KiB`, ms(c.wallMs)];
  const callRows: string[][] = [];
  for (const x of m.rows) {
    for (const [label, c] of [
      ["health check, old: `tailscale version --daemon`", x.calls.oldCheck],
      ["health check, new: `/usr/local/bin/healthcheck`", x.calls.newCheck],
      ["`tailscale status`", x.calls.status],
    ] as const) {
      callRows.push([x.arch === "amd64" ? "amd64 (native container)" : `${x.arch} (${x.guestMemMb} MB VM)`, x.variant, label, ...cost(c)]);
    }
  }
  out.push(table(["VM", "build", "call", "cgroup CPU", "own CPU", "peak RSS", "wall"], callRows, ["l", "l", "l", "r", "r", "r", "r"]), "");
  out.push(
    "`fast` is not UPX-packed: its CLI calls do not unpack the binary first. The new check prints",
    `'${m.rows.find((x) => x.variant === "small")?.calls.newCheck.line ?? "Running"}' on a Running node.`,
    "",
    "amd64 runs natively (a runc container of the small image joined to headscale); its cgroup CPU was",
    "not read, so its target row uses the call's own CPU. armv5 is not measured: it has no VM here",
    "(README, Tests), and under qemu-user the CPU and memory read would be qemu's. It runs the same C",
    "program and the same UPX-packed Tailscale as armv7.",
    "",
    `tailscaled's CPU while the router downloads ${mb(moved[0]?.transfer?.bytes ?? 0)} through the tunnel from a server beside its`,
    `peer that paces itself to ${moved[0]?.transfer?.rateMbit ?? "–"} Mbit/s (busybox wget in the router; CPU from /proc/<pid>/stat); the median of`,
    `${moved[0]?.transfer?.runsCpuSecondsPerGB?.length ?? 1} downloads, every one in brackets:`,
    "",
  );
  const arches = [...new Set(moved.map((x) => x.arch))];
  const variants = [...new Set(moved.map((x) => x.variant))];
  out.push(
    table(
      ["build", ...arches.map((a) => `${a}: CPU s per GB (achieved rate)`)],
      variants.map((v) => [
        v,
        ...arches.map((a) => {
          const x = moved.find((y) => y.arch === a && y.variant === v)?.transfer;
          return x ? `${x.cpuSecondsPerGB.toFixed(0)} s [${(x.runsCpuSecondsPerGB ?? [x.cpuSecondsPerGB]).map((v) => v.toFixed(0)).join(", ")}] (${x.achievedMbit.toFixed(0)} Mbit/s)` : "–";
        }),
      ]),
    ),
    "",
    "Where the achieved rate is below the paced one, the emulated CPU was the limit, and the emulated CPU's",
    "runs spread widely (whatever else the host's two cores did): compare builds by the order of magnitude,",
    "not by a few percent. `reference` is the reference image's recipe at our Tailscale version in place of",
    "our binary (see Flash).",
    "",
  );
  return out;
}

/** The run facts of the first section measured with a baseline (they come from one run when --baseline was given). */
function baselineRun(r: Results): (RunMeta & { baseline: BaselineInfo }) | undefined {
  const m = [r.memory, r.throughput, r.cap, r.flash, r.vmMemory].find((x) => x?.meta.baseline)?.meta;
  return m?.baseline ? { ...m, baseline: m.baseline } : undefined;
}

function baselineLine(b: BaselineInfo): string {
  return `\`baseline\`: profile small built by the project at ${b.ref} (commit ${b.commit.slice(0, 12)}), Tailscale ${b.tailscale}, ${b.go}.`;
}

/**
 * Our small build beside the baseline (another commit, typically the previous
 * Tailscale pin), every figure from the same run on the same machine: what a
 * version bump buys or costs a router.
 */
export function versionsSection(r: Results): string[] {
  const baseRun = baselineRun(r);
  if (!baseRun) return [];
  const b = baseRun.baseline;
  // Our version as the baseline run saw it (sections from older runs may hold another).
  const ours = baseRun.versions.tailscale;
  const rows: string[][] = [];
  const add = (what: string, s: number | undefined, base: number | undefined, fmt: (n: number) => string, lowerIsBetter = true) => {
    if (s === undefined || base === undefined) return;
    const d = base === 0 ? 0 : ((s - base) / base) * 100;
    const better = lowerIsBetter ? s < base : s > base;
    rows.push([what, fmt(s), fmt(base), `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)}%${Math.abs(d) < 0.05 ? "" : better ? " (better)" : " (worse)"}`]);
  };
  for (const arch of ARCH_ORDER) {
    const f = (v: Variant) => (r.flash?.meta.baseline ? r.flash.rows.find((x) => x.arch === arch && x.variant === v)?.total : undefined);
    add(`flash, ${arch} root filesystem (bytes)`, f("small"), f("baseline"), int);
  }
  const node = (v: Variant, who: "a" | "b", pick: (n: NodeMemory) => number | undefined) => {
    const n = r.memory?.variants[v]?.nodes.find((x) => x.node === who);
    return n ? pick(n) : undefined;
  };
  add("idle RSS, amd64 (mean of both nodes)", meanNodes(r.memory, "small", (n) => n.idle.rssKiB), meanNodes(r.memory, "baseline", (n) => n.idle.rssKiB), memMiB);
  if (r.memory?.routerRateMbit) {
    add(`RSS after ${r.memory.trafficSeconds} s at ${r.memory.routerRateMbit} Mbit/s, receiver`, node("small", "a", (n) => n.afterRouterRate?.rssKiB), node("baseline", "a", (n) => n.afterRouterRate?.rssKiB), memMiB);
    add(`RSS after ${r.memory.trafficSeconds} s at ${r.memory.routerRateMbit} Mbit/s, sender`, node("small", "b", (n) => n.afterRouterRate?.rssKiB), node("baseline", "b", (n) => n.afterRouterRate?.rssKiB), memMiB);
  }
  add("peak RSS (VmHWM) after unthrottled traffic, receiver", node("small", "a", (n) => n.afterTraffic?.hwmKiB), node("baseline", "a", (n) => n.afterTraffic?.hwmKiB), memMiB);
  add("peak RSS (VmHWM) after unthrottled traffic, sender", node("small", "b", (n) => n.afterTraffic?.hwmKiB), node("baseline", "b", (n) => n.afterTraffic?.hwmKiB), memMiB);
  for (const capMiB of [...new Set(r.cap?.runs.map((x) => x.capMiB) ?? [])]) {
    for (const mode of [...new Set(r.cap?.runs.map((x) => x.gomemlimit) ?? [])]) {
      const run = (v: Variant) => r.cap?.runs.find((x) => x.variant === v && x.capMiB === capMiB && x.gomemlimit === mode);
      const s = run("small");
      const k = run("baseline");
      if (!s || !k) continue;
      const outcome = (x: CapRun) => (x.survived ? "survived" : /did not log in/.test(x.error ?? "") ? "**ended before it joined**" : "**killed**");
      rows.push([`under a ${capMiB} MiB cap, TS_GOMEMLIMIT=${mode}`, outcome(s), outcome(k), ""]);
      add(`  cgroup peak, receiver (${capMiB} MiB, ${mode})`, s.peakKiB.a, k.peakKiB.a, memMiB);
      add(`  Mbit/s (${capMiB} MiB, ${mode})`, s.trafficMbps, k.trafficMbps, (n) => n.toFixed(0), false);
    }
  }
  add("throughput, median Mbit/s (unthrottled)", r.throughput?.variants.small?.mbps.median, r.throughput?.variants.baseline?.mbps.median, (n) => n.toFixed(0), false);
  add("tailscaled CPU s per GB (unthrottled)", r.throughput?.variants.small?.cpuSecondsPerGB?.median, r.throughput?.variants.baseline?.cpuSecondsPerGB?.median, (n) => n.toFixed(2));
  add(`tailscaled CPU s per GB at ${r.throughput?.routerRate?.mbit ?? 100} Mbit/s`, r.throughput?.routerRate?.variants.small?.cpuSecondsPerGB?.median, r.throughput?.routerRate?.variants.baseline?.cpuSecondsPerGB?.median, (n) => n.toFixed(2));
  for (const arch of ["arm64", "armv7"]) {
    const vm = (v: "small" | "baseline") => r.vmMemory?.rows.find((x) => x.arch === arch && (x.variant ?? "small") === v);
    add(`${arch} router VM, idle VmRSS`, vm("small")?.idle.vmRssKiB, vm("baseline")?.idle.vmRssKiB, memMiB);
    add(`${arch} router VM, VmRSS after traffic`, vm("small")?.afterTraffic.vmRssKiB, vm("baseline")?.afterTraffic.vmRssKiB, memMiB);
  }
  return [
    "## Tailscale versions side by side",
    "",
    `Our small build (${ours}) beside ${baselineLine(b).replace(/^`baseline`: /, "the baseline, ")} Same run, same machine; each row's`,
    "figures come from the section below that explains them. Lower is better except for Mbit/s.",
    "",
    table(["reading", `small (${ours})`, `baseline (${b.tailscale})`, "change"], rows, ["l", "r", "r", "l"]),
    "",
  ];
}

function table(header: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? "l" : "r"));
  return [
    `| ${header.join(" | ")} |`,
    `|${a.map((x) => (x === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function metaLine(m: RunMeta): string {
  return `${m.date.slice(0, 16).replace("T", " ")} UTC, commit ${m.commit.slice(0, 12)}${m.baseline ? `; ${baselineLine(m.baseline)}` : ""}`;
}

function flashSection(r: Results): string[] {
  const f = r.flash;
  if (!f) return ["## Flash", "", "_Not measured yet: `npm run bench -- --only flash`._", ""];
  const out = ["## Flash: bytes on disk", "", `Measured ${metaLine(f.meta)}.`, ""];
  out.push(
    "Bytes of regular files in each extracted root filesystem: what RouterOS keeps",
    "on flash once it has unpacked the image (symlinks and directories cost a",
    "block or an inode, not counted). `small` packs Tailscale and busybox with UPX;",
    "`fast` does not; `stock` is upstream's own two binaries (see below).",
    "",
  );
  const rows: string[][] = [];
  for (const arch of ARCH_ORDER) {
    const smallTotal = f.rows.find((x) => x.arch === arch && x.variant === "small")?.total;
    for (const v of VARIANTS) {
      const row = f.rows.find((x) => x.arch === arch && x.variant === v);
      if (!row) continue;
      rows.push([
        arch,
        v,
        size(row.tailscale),
        size(row.busybox),
        size(row.caBundle),
        size(row.other),
        `**${mib(row.total)}**`,
        int(row.total),
        smallTotal ? `${(row.total / smallTotal).toFixed(2)}×` : "–",
        row.imageTar !== undefined ? size(row.imageTar) : "–",
      ]);
    }
    if (arch === "arm64") {
      rows.push([
        "arm64",
        "reference image",
        `~${REFERENCE_ARM64.tailscaleMB} MB`,
        `~${REFERENCE_ARM64.busyboxKB} kB`,
        `~${REFERENCE_ARM64.caBundleKB} kB`,
        "–",
        `~${REFERENCE_ARM64.rootfsMB} MB`,
        "–",
        smallTotal ? `${((REFERENCE_ARM64.rootfsMB * 1e6) / smallTotal).toFixed(2)}× (if MB = 10⁶ B)` : "–",
        "–",
      ]);
    }
  }
  out.push(
    table(["arch", "build", "Tailscale", "busybox", "CA bundle", "other", "total", "bytes", "vs small", "image .tar"], rows, ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"]),
    "",
    `Stock: ${f.stockNote}`,
    "",
    ...(f.recipeNote && f.rows.some((x) => x.variant !== "small" && x.variant !== "fast" && x.variant !== "stock") ? [`Recipes: ${f.recipeNote}`, ""] : []),
    `Reference image figures as published (${REFERENCE_SOURCE}): rounded and without a`,
    "unit definition; its CA bundle was Debian's, ours is Mozilla's roots from a pinned Go module.",
    "",
    "Other images, as published (not measured here): " + OTHER_IMAGES.filter((o) => !o.what.startsWith("throughput")).map((o) => `${o.what} ${o.figure} (${o.source})`).join("; ") + ".",
    "",
  );
  return out;
}

function memorySection(r: Results): string[] {
  const m = r.memory;
  if (!m) return ["## Memory", "", "_Not measured yet: `npm run bench -- --only memory`._", ""];
  const out = ["## Memory: tailscaled on amd64", "", `Measured ${metaLine(m.meta)}.`, ""];
  out.push(
    "Two nodes of the same build join a headscale in network namespaces (kernel",
    `TUN, direct path). Readings from the host's /proc/<pid>/smaps_rollup and`,
    `/proc/<pid>/status of each tailscaled: idle ${m.idleSeconds} s after both joined, and again`,
    `right after ${m.trafficSeconds} s of iperf3 traffic from node b (sender) to node a (receiver).`,
    "Each figure is the median of several readings a second apart. Each node runs",
    "from its own copy of the root filesystem, so no page of a binary is shared",
    "between the two nodes (PSS would otherwise halve it); so PSS equals RSS but for",
    "a few shared kernel-provided pages.",
    "",
    "*Anonymous* RSS is memory the kernel cannot take back without swap (routers have",
    "none): the heap, and for `small` also the code the UPX stub unpacked. The rest is",
    "file-backed: pages of an unpacked binary, which the kernel drops under memory",
    "pressure and reads again from flash when needed. *After reclaim* is the idle RSS",
    `${m.reclaimSettleSeconds ?? 5} s after asking the kernel to reclaim everything it can from the container's`,
    "memory cgroup, as a router short of memory would: what each build really holds on to.",
    "",
  );
  const present = VARIANTS.filter((v) => m.variants[v]);
  const rows: string[][] = [];
  const line = (label: string, phase: "idle" | "afterReclaim" | "afterRouterRate" | "afterTraffic", field: keyof MemorySample, node: "a" | "b") =>
    rows.push([label, ...present.map((v) => memMiB(m.variants[v]!.nodes.find((n) => n.node === node)?.[phase]?.[field]))]);
  for (const node of ["a", "b"] as const) {
    const who = node === "a" ? "node a (receiver)" : "node b (sender)";
    line(`**idle RSS**, ${who}`, "idle", "rssKiB", node);
    line(`idle PSS, ${who}`, "idle", "pssKiB", node);
    line(`idle anonymous RSS, ${who}`, "idle", "rssAnonKiB", node);
    line(`idle RSS after reclaim, ${who}`, "afterReclaim", "rssKiB", node);
    if (m.routerRateMbit) {
      line(`**RSS after ${m.trafficSeconds} s at ${m.routerRateMbit} Mbit/s**, ${who}`, "afterRouterRate", "rssKiB", node);
      line(`anonymous RSS after ${m.routerRateMbit} Mbit/s, ${who}`, "afterRouterRate", "rssAnonKiB", node);
    }
    line(`RSS after ${m.trafficSeconds} s unthrottled, ${who}`, "afterTraffic", "rssKiB", node);
    line(`PSS after unthrottled, ${who}`, "afterTraffic", "pssKiB", node);
    line(`peak RSS (VmHWM) by the end, ${who}`, "afterTraffic", "hwmKiB", node);
  }
  out.push(table(["reading", ...present], rows), "");
  const rate = present.map((v) => m.variants[v]!.trafficMbps).filter((x): x is number => typeof x === "number");
  if (rate.length) {
    out.push(
      `${m.routerRateMbit ? `The router-rate phase is iperf3 -b ${m.routerRateMbit}M, what an ARM router pushes; then t` : "T"}he unthrottled phase ran at ${Math.min(...rate).toFixed(0)}-${Math.max(...rate).toFixed(0)} Mbit/s, many times what a router's CPU pushes;`,
      "the readings after it show the Go heap grown for that rate (returned to the kernel only",
      "gradually), not what a router would hold at its own speed.",
      "",
    );
  }
  out.push(
    `Reference image: ~${REFERENCE_ARM64.rssMB} MB resident after start on an arm64 router with netstack`,
    `(~${REFERENCE_ARM64.rssNoNetstackMB} MB without), as published (${REFERENCE_SOURCE}): a different`,
    "architecture, load and Tailscale version, so a rough yardstick only.",
    "",
  );
  return out;
}

function vmMemorySection(r: Results): string[] {
  const m = r.vmMemory;
  if (!m || m.rows.length === 0) return ["## Memory on ARM (router VMs)", "", "_Not measured yet: `npm run bench -- --only vm-memory`._", ""];
  const out = ["## Memory on ARM: tailscaled inside router VMs", "", `Measured ${metaLine(m.meta)}.`, ""];
  out.push(
    "The `small` image as the router in a VM on Debian's real ARM kernel (test/support/vm.ts),",
    "guest RAM like real routers; an amd64 container of the same build as its peer. Readings of",
    "tailscaled's /proc/<pid>/status inside the guest: idle after joining, after traffic through",
    "the tunnel into the router, and after asking the guest kernel to reclaim all it can",
    "from the container's memory cgroup (what memory pressure takes back; no swap, as on a",
    "router). Under qemu-user these figures would be qemu's own; here they are the guest's.",
    "",
  );
  const cols = m.rows.map((x) => `${x.arch} (${x.guestMemMb} MB VM)${x.variant === "baseline" ? ", baseline" : ""}`);
  const row = (label: string, f: (x: VmMemoryRow) => number | undefined) => [label, ...m.rows.map((x) => memMiB(f(x)))];
  out.push(
    table(
      ["reading", ...cols, "reference image (arm64)"],
      [
        [...row(`**idle VmRSS** (${m.rows[0]!.idleAfterSeconds} s after joining)`, (x) => x.idle.vmRssKiB), `~${REFERENCE_ARM64.rssMB} MB`],
        [...row("idle RssAnon (never reclaimable)", (x) => x.idle.rssAnonKiB), ""],
        [...row("idle RssFile + RssShmem", (x) => x.idle.rssFileKiB + x.idle.rssShmemKiB), ""],
        [...row("VmRSS after traffic", (x) => x.afterTraffic.vmRssKiB), ""],
        [...row("RssAnon after traffic", (x) => x.afterTraffic.rssAnonKiB), ""],
        [...row("VmRSS after the kernel reclaimed what it could", (x) => x.afterReclaim.vmRssKiB), ""],
        [...row("peak RSS (VmHWM)", (x) => x.afterReclaim.hwmKiB), ""],
        [...row("guest MemTotal", (x) => x.guest.memTotalKiB), ""],
        [...row("guest MemAvailable, container running", (x) => x.guest.memAvailableKiB), ""],
        [...row("guest MemFree, container running", (x) => x.guest.memFreeKiB), ""],
      ],
    ),
    "",
    `Traffic: the router downloaded ${m.rows[0]!.trafficMB} MB from a server beside its peer, through the tunnel (busybox wget).`,
    `Reference: ~${REFERENCE_ARM64.rssMB} MB resident after start on an arm64 router (${REFERENCE_SOURCE}).`,
    "The VM's root filesystem is its initramfs, held in RAM: the image's files (about 4 MB) count",
    "against the guest's memory and cannot be reclaimed there, where a router keeps them on flash;",
    "a router's MemAvailable is higher by about that much. The guest kernel is Debian's, not",
    "RouterOS's, and uses some more memory itself.",
    "",
  );
  return out;
}

function throughputSection(r: Results): string[] {
  const t = r.throughput;
  if (!t) return ["## Throughput", "", "_Not measured yet: `npm run bench -- --only throughput`._", ""];
  const out = ["## Throughput: TCP through the tailnet (amd64)", "", `Measured ${metaLine(t.meta)}.`, ""];
  out.push(
    `iperf3 (Debian) from node b to node a's tailnet address, both nodes of the same build,`,
    `kernel TUN, direct UDP path between two network namespaces on one machine. ${t.runs} runs of`,
    `${t.seconds} s each per build (first second omitted), the builds taking turns in rotating order.`,
    "Both tailscaled processes, the iperf3 client and server share this machine's cores:",
    "the figures compare builds with each other, not with a router.",
    "",
  );
  const stock = t.variants.stock?.mbps.median;
  const stockCpu = t.variants.stock?.cpuSecondsPerGB?.median;
  const rows: string[][] = [];
  for (const v of VARIANTS) {
    const x = t.variants[v];
    if (!x) continue;
    const retr = x.runs.map((q) => q.retransmits).filter((n): n is number => n !== undefined);
    rows.push([
      v,
      `**${x.mbps.median.toFixed(0)}**`,
      x.mbps.min.toFixed(0),
      x.mbps.max.toFixed(0),
      pct(x.mbps.spreadPct, 1),
      x.runs.map((q) => mbps(q.receivedBps).toFixed(0)).join(", "),
      retr.length ? int(retr.reduce((a, b) => a + b, 0) / retr.length) : "–",
      stock ? ratioPct(x.mbps.median, stock) : "–",
      x.cpuSecondsPerGB ? `${x.cpuSecondsPerGB.median.toFixed(2)} (±${pct(x.cpuSecondsPerGB.spreadPct / 2)})` : "–",
      x.cpuSecondsPerGB && stockCpu ? pct((x.cpuSecondsPerGB.median / stockCpu) * 100) : "–",
    ]);
  }
  out.push(
    table(
      ["build", "median Mbit/s", "min", "max", "spread (max−min)/median", "each run", "retransmits/run", "of stock", "tailscaled CPU s per GB", "CPU of stock's"],
      rows,
      ["l", "r", "r", "r", "r", "l", "r", "r", "r", "r"],
    ),
    "",
    "CPU s per GB: user + system CPU time of both tailscaled processes (from /proc/<pid>/stat) per",
    "gigabyte delivered, median of the runs (± half the spread): what the tunnel costs, and far less",
    "sensitive than Mbit/s to other work competing for the cores.",
    "",
  );
  const rr = t.routerRate;
  if (rr) {
    const rrows: string[][] = [];
    for (const v of VARIANTS) {
      const x = rr.variants[v];
      if (!x) continue;
      rrows.push([
        v,
        `**${x.mbps.median.toFixed(0)}**`,
        x.runs.map((q) => mbps(q.receivedBps).toFixed(0)).join(", "),
        x.cpuSecondsPerGB ? `${x.cpuSecondsPerGB.median.toFixed(2)} (±${pct(x.cpuSecondsPerGB.spreadPct / 2)})` : "–",
        x.cpuSecondsPerGB && rr.variants.stock?.cpuSecondsPerGB ? pct((x.cpuSecondsPerGB.median / rr.variants.stock.cpuSecondsPerGB.median) * 100) : "–",
      ]);
    }
    out.push(
      `At a router's rate (iperf3 -b ${rr.mbit}M, ${rr.runs} runs of ${t.seconds} s per build): the CPU each build needs for the same traffic.`,
      "",
      table(["build", "median Mbit/s", "each run", "tailscaled CPU s per GB", "CPU of stock's"], rrows, ["l", "r", "l", "r", "r"]),
      "",
    );
  }
  if (t.loadBefore?.length) {
    const lo = Math.min(...t.loadBefore);
    const hi = Math.max(...t.loadBefore);
    out.push(`The machine's 1-minute load average before the runs ranged from ${lo.toFixed(2)} to ${hi.toFixed(2)}; it includes the benchmark's own previous run (about 2 on 2 cores), so only a figure well above that shows other work competing.`, "");
  }
  const paths = VARIANTS.map((v) => t.variants[v] && `${v}: ${t.variants[v]!.path}`).filter(Boolean);
  if (paths.length) out.push(`Path between the nodes (\`tailscale ping\`): ${paths.join("; ")}.`, "");
  out.push("For scale, published router figures (not comparable): hAP ax2 / ax3 ~50-65 Mbps (Fluent issues #49, README).", "");
  return out;
}

function capSection(r: Results): string[] {
  const c = r.cap;
  if (!c) return ["## Memory under a cap", "", "_Not measured yet: `npm run bench -- --only cap`._", ""];
  const out = ["## Memory under a cgroup cap (amd64)", "", `Measured ${metaLine(c.meta)}.`, ""];
  out.push(
    "Both nodes' containers get a cgroup memory cap (runc `memory.limit`, no swap: RouterOS's `memory-max`),",
    "with the cgroup file system visible to the entrypoint. After joining, node b sends to node a unthrottled",
    `for ${c.trafficSeconds} s. With \`TS_GOMEMLIMIT=auto\` (the default) the entrypoint sets GOMEMLIMIT from the cap;`,
    "with `off` it sets none, as before. Peak: the cgroup's highest charge (memory.max_usage_in_bytes or",
    "memory.peak: heap, the code UPX unpacked, page cache and socket buffers the kernel charges to it);",
    "VmHWM: tailscaled's own peak RSS. Killed: the container ended during the traffic (the OOM killer).",
    "",
  );
  const rows = c.runs.map((x) => [
    x.variant,
    `${x.capMiB} MiB`,
    x.gomemlimit,
    x.logged?.startsWith("GOMEMLIMIT=") ? `\`${x.logged.slice("GOMEMLIMIT=".length).split(" ")[0]}\`` : x.logged || x.gomemlimit === "off" ? "not set" : "–",
    x.survived ? "survived" : `**killed**${x.killed.length ? ` (${x.killed.map((n) => (n === "a" ? "receiver" : "sender")).join(", ")})` : ""}${x.error && !x.killed.length ? `: ${x.error.slice(0, 80)}` : ""}`,
    memMiB(x.peakKiB.a),
    memMiB(x.peakKiB.b),
    memMiB(x.hwmKiB.a),
    memMiB(x.hwmKiB.b),
    x.trafficMbps !== undefined ? x.trafficMbps.toFixed(0) : "–",
    String(x.oomKills),
  ]);
  out.push(
    table(["build", "cap", "TS_GOMEMLIMIT", "GOMEMLIMIT", "outcome", "peak, receiver", "peak, sender", "VmHWM, receiver", "VmHWM, sender", "Mbit/s", "OOM kills"], rows, ["l", "l", "l", "l", "l", "r", "r", "r", "r", "r", "r"]),
    "",
  );
  return out;
}

function buildSection(r: Results): string[] {
  const b = r.build;
  if (!b) return ["## Build time and reproducibility", "", "_Not measured yet: `npm run bench -- --only build`._", ""];
  const out = ["## Build time and reproducibility", "", `Measured ${metaLine(b.meta)}.`, ""];
  out.push(
    `\`mikrotik-tailscale build\` (profile small, ${b.arches.join(", ")}, images included), from a clean`,
    "clone of the commit. Cold: empty step cache (`MIKROTIK_TAILSCALE_CACHE`) and empty Go",
    "build cache (`GOCACHE`), both fresh temporary folders; the Go module cache and the",
    "busybox tarball are reused (downloads are not build work). Warm: the same command",
    "again on the caches the cold build filled.",
    "",
  );
  const cols = ["shared", ...b.arches];
  const rows = [b.cold, b.warm, ...(b.reference ? [b.reference] : [])].map((t) => [
    t.what,
    `**${t.seconds.toFixed(1)} s**`,
    ...cols.map((c) => (t.byArch[c] !== undefined ? `${t.byArch[c]!.toFixed(1)} s` : "–")),
  ]);
  out.push(table(["build", "wall time", ...cols.map((c) => (c === "shared" ? "shared steps" : c))], rows), "");
  if (b.coldCacheBytes) {
    out.push(`The cold build filled ${int(b.coldCacheBytes.goBuild / 1e6)} MB of Go build cache and ${int(b.coldCacheBytes.steps / 1e6)} MB of step cache, starting from empty.`, "");
  }
  out.push(
    "Per-architecture columns add up that architecture's steps (busybox, Tailscale, UPX, root filesystem);",
    "shared steps are the feature tags, the CA bundle and writing every image file.",
    "",
  );
  const rp = b.reproducibility;
  out.push(
    `Reproducibility: ${rp.between}, SOURCE_DATE_EPOCH=${rp.sourceDateEpoch}: ` +
      (rp.identical ? "**identical**, every file below has the same sha256." : "**DIFFERENT**: see the files marked below."),
    "",
    table(
      ["file", "sha256", "same"],
      rp.files.map((f) => [`\`${f.file}\``, f.same ? `\`${f.a.slice(0, 16)}…\`` : `\`${f.a.slice(0, 16)}…\` vs \`${f.b.slice(0, 16)}…\``, f.same ? "yes" : "**no**"]),
      ["l", "l", "l"],
    ),
    "",
  );
  return out;
}

function fleetSection(r: Results): string[] {
  const f = r.fleet;
  if (!f) return ["## Fleet status", "", "_Not measured yet: `npm run bench -- --only fleet`._", ""];
  const m = f.meta.machine;
  const out = [`## Fleet status: ${f.routers} simulated routers`, "", `Measured ${metaLine(f.meta)}, on ${m.cpu}, ${m.cores} cores, Node.js ${f.meta.versions.node}.`, ""];
  out.push(
    `\`routeros fleet status --json\` over ${f.routers} routers (RouterOS ${f.versions.join(", ")}; ${f.arches.join(", ")}), ${f.concurrency} read at a time. ${f.note[0]!.toUpperCase()}${f.note.slice(1)}.`,
    "",
    table(
      ["run", "wall time", "peak RSS", "routers read"],
      [
        ...f.runs.map((x, i) => [String(i + 1), `${(x.wallMs / 1000).toFixed(2)} s`, memMiB(x.maxRssKiB), `${x.rowsRead} of ${f.routers}`]),
        ["`routeros fleet --help` (starting the tool alone)", `${(f.startup.wallMs / 1000).toFixed(2)} s`, memMiB(f.startup.maxRssKiB), "–"],
      ],
      ["l", "r", "r", "r"],
    ),
    "",
  );
  return out;
}

function machineSection(r: Results): string[] {
  const metas = (["flash", "memory", "throughput", "cap", "build", "fleet"] as const).map((k) => [k, r[k]?.meta] as const).filter((x): x is readonly [typeof x[0], RunMeta] => !!x[1]);
  if (metas.length === 0) return [];
  // The image's figures describe the machine and tools; the fleet step (no image, no Go) names its own machine in its section.
  const imageMetas = metas.filter(([k]) => k !== "fleet");
  const latest = [...(imageMetas.length ? imageMetas : metas)].sort((a, b) => b[1].date.localeCompare(a[1].date))[0]![1];
  const m = latest.machine;
  const v = latest.versions;
  const out = [
    "## Machine and versions",
    "",
    table(
      ["", ""],
      [
        ["machine", `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM (host name ${m.hostname})`],
        ["system", `${m.os}, Linux ${m.kernel}`],
        ["image", `${v.imageVersion} (Tailscale ${v.tailscale}), commit ${latest.commit.slice(0, 12)}`],
        ["tools", `${v.go}, Node.js ${v.node}, busybox ${v.busybox}, ${v.upx}, ${v.iperf3}, headscale ${v.headscale}, ${v.runc}`],
      ],
      ["l", "l"],
    ),
    "",
  ];
  const distinct = new Set(metas.map(([, x]) => `${x.commit}|${x.machine.cpu}|${x.versions.go}`));
  if (metas.length > 1) {
    out.push(
      distinct.size > 1 ? "The sections below come from different runs; each names its own date and commit:" : "Sections and when they were measured:",
      "",
      ...metas.map(([k, x]) => `- ${k}: ${metaLine(x)}`),
      "",
    );
  }
  return out;
}

export function renderReport(r: Results, command = "npm run bench"): string {
  const targets = evaluateTargets(r);
  const out = [
    "# Benchmarks",
    "",
    `Written by \`${command}\` (bench/run.ts); the raw figures are in`,
    "[results.json](results.json). Do not edit by hand: run the benchmark again.",
    "",
    ...machineSection(r),
    "## Targets",
    "",
    table(
      ["target", "measured", "status"],
      targets.map((t) => [t.target, t.measured, t.status === "met" ? "met" : t.status === "not met" ? "**not met**" : "not measured"]),
      ["l", "l", "l"],
    ),
    "",
    ...versionsSection(r),
    ...flashSection(r),
    ...memorySection(r),
    ...vmMemorySection(r),
    ...vmCpuSection(r),
    ...throughputSection(r),
    ...capSection(r),
    ...buildSection(r),
    ...fleetSection(r),
    "## Reproducing",
    "",
    "```sh",
    "npm run bench                                  # everything: ~60 min on 2 cores with nothing cached, ~30 min with the builds cached",
    "npm run bench -- --only memory,throughput,cap  # the runtime figures again (on a quiet machine); results.json keeps the other sections",
    "npm run bench -- --only flash,memory           # some steps",
    "npm run bench -- --variants small,stock,small+runtime,small+net --only flash,throughput   # the inlining experiments",
    "npm run bench -- --only throughput --runs 9    # more runs",
    "npm run bench -- --baseline REF --variants small,stock,reference   # beside the small build of commit REF (an earlier Tailscale pin, say)",
    "npm run bench -- --only vm-cpu                 # health check, CLI and traffic CPU inside the arm64 and armv7 router VMs (~30 min)",
    "npm run bench -- --only fleet                  # fleet status over 100 simulated routers (no root; under a minute)",
    "npm run bench -- --render-only                 # REPORT.md again from results.json",
    "```",
    "",
    "Needs root (network namespaces, runc) on Debian 12 with the build tools (`npm run images`",
    "installs them). Work files go to `bench/out/` (git-ignored).",
    "",
  ];
  return out.join("\n");
}

export type { FlashRow };
