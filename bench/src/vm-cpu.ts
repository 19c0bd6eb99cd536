/**
 * What the router's CPU pays, read inside router VMs on real ARM kernels
 * (test/support/vm.ts; TCG emulation on this machine, so the figures are
 * relative: one build or call against another on the same emulated CPU, not
 * a router's seconds).
 *
 * Per architecture and build: the VM router joins headscale with an amd64
 * laptop container as its peer, then
 *   - one health check, old (`tailscale version --daemon`) and new
 *     (/usr/local/bin/healthcheck), and one `tailscale status`, each run
 *     inside the container's cgroup: the container cgroup's CPU (what
 *     tailscaled spends answering included) less the wrapper's own, and the
 *     call's own CPU and peak RSS (busybox `time -v`); the median of several
 *     runs (the new check: per call over a loop of calls);
 *   - tailscaled's CPU per GB while the router downloads through the tunnel
 *     from a server beside the laptop that paces itself to a router's rate.
 */
import { join } from "node:path";
import { Container, unpackImage } from "../../test/support/container.js";
import { Headscale } from "../../test/support/headscale.js";
import { Lab, waitFor } from "../../test/support/netns.js";
import { RouterVm, VM_ARCH, type VmArch } from "../../test/support/vm.js";
import { withVmLab } from "./vm-lab.js";
import { HEALTHCHECK_COMMAND } from "../../src/routeros/plan.js";
import { median } from "./stats.js";

export const OLD_HEALTHCHECK = "/usr/local/bin/tailscale version --daemon";

export interface CallCost {
  /** The container cgroup's CPU over the call, less the wrapper's (ms); absent where not read (amd64 container). */
  cgroupCpuMs?: number;
  /** The call's own user + system CPU (ms; busybox time has 10 ms steps). */
  cpuMs: number;
  /** The call's peak RSS (KiB). */
  maxRssKiB: number;
  wallMs: number;
  /** Exit code and first line of output of the last run. */
  exit: number;
  line: string;
  /** The CPU figures are per call of a loop of this many (absent: single calls). */
  loops?: number;
  /** With loops: the cgroup CPU (ms) of the whole loop of calls and of the same loop doing nothing, as read. */
  loopCgroupMs?: { calls: number; empty: number };
}

export type VmCpuVariant = "small" | "fast" | "reference";

export interface VmCpuRow {
  arch: VmArch | "amd64";
  variant: VmCpuVariant;
  guestMemMb: number;
  machine: string;
  kernel: string;
  repeats: number;
  calls: { oldCheck: CallCost; newCheck: CallCost; status: CallCost };
  /** The cgroup CPU of the wrapper alone (busybox time around a program that does not exist), subtracted from single calls (ms). */
  wrapperCgroupMs?: number;
  /**
   * The peak RSS the kernel reports for the wrapper's child alone (KiB): a
   * child's peak includes its time as a fork of busybox before the exec, so
   * a call's peak RSS is at least this.
   */
  wrapperRssKiB?: number;
  /** Absent for amd64 (bench/REPORT.md's throughput section has amd64's CPU per GB). */
  transfer?: {
    /** Bytes of each download. */
    bytes: number;
    /** The rate the server paced itself to. */
    rateMbit: number;
    /** Medians over the downloads. */
    achievedMbit: number;
    tailscaledCpuSeconds: number;
    cpuSecondsPerGB: number;
    /** Every download's CPU per GB, in order (the emulated CPU's runs spread widely). */
    runsCpuSecondsPerGB?: number[];
  };
}

const CG = "/sys/fs/cgroup/container";

type Exec = (argv: string[], timeoutMs?: number) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/**
 * One measurement inside the container's cgroup (in a VM), wrapped in
 * busybox time: `cmd` once, or `loops` times in a shell loop (for calls too
 * cheap for busybox time's 10 ms steps). Its files go to the socket
 * directory, a tmpfs (the container's root may be read-only).
 */
async function measureOnce(vm: { exec: Exec }, cmd: string, cgroup: boolean, loops = 1): Promise<{ rawCgroupUs: number; cpuMs: number; maxRssKiB: number; wallMs: number; exit: number; line: string }> {
  const run = loops === 1 ? cmd : `sh -c 'i=0; while [ $i -lt ${loops} ]; do ${cmd} >/dev/null 2>&1; i=$((i+1)); done'`;
  const script = [
    cgroup ? `echo $$ > ${CG}/cgroup.procs` : "c0=0",
    cgroup ? `c0=$(sed -n 's/^usage_usec //p' ${CG}/cpu.stat)` : ":",
    `t0=$(cut -d' ' -f1 /proc/uptime)`,
    `time -v -o /var/run/tailscale/bench-time ${run} >/var/run/tailscale/bench-out 2>&1; rc=$?`,
    `t1=$(cut -d' ' -f1 /proc/uptime)`,
    cgroup ? `c1=$(sed -n 's/^usage_usec //p' ${CG}/cpu.stat)` : "c1=0",
    `echo "bench: rc=$rc c0=$c0 c1=$c1 t0=$t0 t1=$t1"`,
    "cat /var/run/tailscale/bench-time",
    "echo 'bench: output'",
    "head -n 1 /var/run/tailscale/bench-out",
  ].join("\n");
  const r = await vm.exec(["sh", "-c", script], 600_000);
  const m = /bench: rc=(\d+) c0=(\d+) c1=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`measuring '${cmd}' in the VM failed: ${r.stdout}${r.stderr}`);
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const user = num(/User time \(seconds\): ([\d.]+)/);
  const sys = num(/System time \(seconds\): ([\d.]+)/);
  const rss = num(/Maximum resident set size \(kbytes\): (\d+)/);
  if (![user, sys, rss].every(Number.isFinite)) throw new Error(`busybox time -v said nothing usable for '${cmd}': ${r.stdout}`);
  return {
    rawCgroupUs: Number(m[3]) - Number(m[2]),
    cpuMs: (user + sys) * 1000,
    maxRssKiB: rss,
    wallMs: (Number(m[5]) - Number(m[4])) * 1000,
    exit: Number(m[1]),
    line: (r.stdout.split("bench: output\n")[1] ?? "").trim(),
  };
}

/**
 * Costs of one call: peak RSS, wall time, exit and output from `repeats`
 * single runs (medians); CPU from the same single runs less the wrapper's
 * own, or, with `loops` > 1, from one loop of `loops` calls less the same
 * loop doing nothing, divided by `loops`.
 */
async function callCost(vm: { exec: Exec }, cmd: string, o: { repeats: number; cgroup: boolean; loops: number; wrapper: { rawCgroupUs: number; cpuMs: number } }): Promise<CallCost> {
  const runs: Awaited<ReturnType<typeof measureOnce>>[] = [];
  for (let i = 0; i < o.repeats; i++) runs.push(await measureOnce(vm, cmd, o.cgroup));
  const last = runs[runs.length - 1]!;
  let cgUs = median(runs.map((r) => r.rawCgroupUs)) - o.wrapper.rawCgroupUs;
  let cpuMs = median(runs.map((r) => r.cpuMs));
  let loopCg: CallCost["loopCgroupMs"];
  if (o.loops > 1) {
    const many = await measureOnce(vm, cmd, o.cgroup, o.loops);
    // The same loop doing nothing (`:` is a shell builtin): the shell and its loop, no process per turn.
    const empty = await measureOnce(vm, ":", o.cgroup, o.loops);
    cgUs = (many.rawCgroupUs - empty.rawCgroupUs) / o.loops;
    cpuMs = Math.max(0, many.cpuMs - empty.cpuMs) / o.loops;
    loopCg = { calls: many.rawCgroupUs / 1000, empty: empty.rawCgroupUs / 1000 };
  }
  return {
    ...(o.cgroup ? { cgroupCpuMs: Math.max(0, cgUs) / 1000 } : {}),
    cpuMs,
    maxRssKiB: median(runs.map((r) => r.maxRssKiB)),
    wallMs: median(runs.map((r) => r.wallMs)),
    exit: last.exit,
    line: last.line,
    ...(o.loops > 1 ? { loops: o.loops } : {}),
    ...(o.cgroup && loopCg ? { loopCgroupMs: loopCg } : {}),
  };
}

/**
 * The three calls, with the wrapper's own cost measured first: busybox time
 * around a program that does not exist (it forks, the exec fails). Not
 * /bin/true: that is a busybox applet, and in a UPX-packed image every
 * exec of busybox unpacks it.
 */
async function measureCalls(vm: { exec: Exec }, repeats: number, cgroup: boolean): Promise<{ calls: VmCpuRow["calls"]; wrapperCgroupMs?: number; wrapperRssKiB: number }> {
  const w: Awaited<ReturnType<typeof measureOnce>>[] = [];
  for (let i = 0; i < repeats; i++) w.push(await measureOnce(vm, NO_PROGRAM, cgroup));
  const wrapper = { rawCgroupUs: median(w.map((x) => x.rawCgroupUs)), cpuMs: median(w.map((x) => x.cpuMs)) };
  const base = { repeats, cgroup, wrapper };
  const newCheck = await callCost(vm, HEALTHCHECK_COMMAND, { ...base, loops: NEW_CHECK_LOOPS });
  const oldCheck = await callCost(vm, OLD_HEALTHCHECK, { ...base, loops: 1 });
  const status = await callCost(vm, "/usr/local/bin/tailscale status", { ...base, loops: 1 });
  return { calls: { oldCheck, newCheck, status }, ...(cgroup ? { wrapperCgroupMs: wrapper.rawCgroupUs / 1000 } : {}), wrapperRssKiB: median(w.map((x) => x.maxRssKiB)) };
}

const NO_PROGRAM = "/nonexistent/bench-no-program";

/** The new check is timed over this many calls in a loop: one is below busybox time's 10 ms step. */
const NEW_CHECK_LOOPS = 40;

/** user + system ticks of tailscaled in the guest, and the guest's ticks per second. */
async function tailscaledTicks(vm: RouterVm): Promise<{ ticks: number; hz: number }> {
  const r = await vm.exec(["sh", "-c", 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = tailscaled ] && exec cat $p/stat; done; exit 1'], 60_000);
  if (r.code !== 0) throw new Error(`no tailscaled in the VM: ${r.stderr}`);
  // Fields after the ")" that ends comm: state is field 3, utime 14, stime 15.
  const f = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).trim().split(/\s+/);
  // Linux reports these in USER_HZ, 100 on every architecture here.
  return { ticks: Number(f[11]) + Number(f[12]), hz: 100 };
}

/** One architecture and build. `replace` swaps files into the image (the reference recipe's binary). */
export async function measureVmCpu(o: {
  arch: VmArch;
  variant: VmCpuVariant;
  routerTar: string;
  replace?: Record<string, string>;
  laptopTar: string;
  headscaleBin: string;
  repeats: number;
  transferMB: number;
  /** Downloads per build (the median is reported). */
  transfers: number;
  rateMbit: number;
  log: (s: string) => void;
}): Promise<VmCpuRow> {
  return withVmLab(
    { prefix: "mtc", net: "10.215", arch: o.arch, routerTar: o.routerTar, replace: o.replace, laptopTar: o.laptopTar, headscaleBin: o.headscaleBin, loginTimeoutMs: 300_000, label: `${o.arch} (${o.variant})`, log: o.log },
    async ({ vm, serveFromLaptop, stop }) => {
      // Let the start settle (the entrypoint's helper, the first netmap).
      await new Promise((r) => setTimeout(r, 20_000));

      const { calls, wrapperCgroupMs, wrapperRssKiB } = await measureCalls(vm, o.repeats, true);
      const { oldCheck, newCheck, status } = calls;
      o.log(`${o.arch} (${o.variant}): health check old ${oldCheck.cgroupCpuMs!.toFixed(1)} ms CPU / ${oldCheck.maxRssKiB} KiB, new ${newCheck.cgroupCpuMs!.toFixed(2)} ms / ${newCheck.maxRssKiB} KiB ('${newCheck.line}'); tailscale status ${status.cgroupCpuMs!.toFixed(1)} ms`);
      if (newCheck.exit !== 0 || newCheck.line !== "Running") throw new Error(`the health check did not pass on a Running node: exit ${newCheck.exit}, '${newCheck.line}'`);

      // A server beside the laptop that sends at most rateMbit (a router's WAN), in 64 KiB writes.
      const bytes = o.transferMB * 1024 * 1024;
      const js = `const b=Buffer.alloc(65536),rate=${o.rateMbit}e6/8,total=${bytes};require("http").createServer((q,s)=>{const t0=Date.now();let sent=0;const tick=()=>{const due=Math.min(total,rate*(Date.now()-t0)/1000);while(sent<due){const n=Math.min(b.length,total-sent);sent+=n;if(!s.write(n===b.length?b:b.subarray(0,n)))return s.once("drain",tick)}if(sent>=total)return s.end();setTimeout(tick,5)};tick()}).listen(8090)`;
      const laptopIp = await serveFromLaptop(js);
      // Warm the path (a direct UDP path, the peer's keys) before counting.
      await vm.exec(["sh", "-c", `wget -q -O /dev/null http://${laptopIp}:8090/ & p=$!; sleep 3; kill $p 2>/dev/null; wait`], 60_000);
      const runs: { secs: number; cpu: number }[] = [];
      for (let i = 0; i < o.transfers; i++) {
        const c0 = await tailscaledTicks(vm);
        const t0 = Date.now();
        const get = await vm.exec(["sh", "-c", `wget -q -O - http://${laptopIp}:8090/ | wc -c`], 900_000);
        const secs = (Date.now() - t0) / 1000;
        const c1 = await tailscaledTicks(vm);
        const got = Number(get.stdout.trim());
        if (got !== bytes) throw new Error(`the ${o.arch} router received ${get.stdout.trim() || "nothing"} of ${bytes} bytes: ${get.stderr}`);
        runs.push({ secs, cpu: (c1.ticks - c0.ticks) / c0.hz });
        o.log(`${o.arch} (${o.variant}): ${o.transferMB} MB at ${((bytes * 8) / secs / 1e6).toFixed(0)} Mbit/s, tailscaled ${runs[i]!.cpu.toFixed(2)} s CPU, ${(runs[i]!.cpu / (bytes / 1e9)).toFixed(1)} s/GB`);
      }
      const perGB = runs.map((r) => r.cpu / (bytes / 1e9));
      const transfer = {
        bytes,
        rateMbit: o.rateMbit,
        achievedMbit: median(runs.map((r) => (bytes * 8) / r.secs / 1e6)),
        tailscaledCpuSeconds: median(runs.map((r) => r.cpu)),
        cpuSecondsPerGB: median(perGB),
        runsCpuSecondsPerGB: perGB,
      };

      const kernel = (await vm.exec(["uname", "-r"])).stdout.trim();
      await stop();
      const spec = VM_ARCH[o.arch];
      return {
        arch: o.arch,
        variant: o.variant,
        guestMemMb: spec.memMb,
        machine: `${spec.qemu} -M ${spec.machine} -cpu ${spec.cpu} (TCG)`,
        kernel,
        repeats: o.repeats,
        calls,
        ...(wrapperCgroupMs !== undefined ? { wrapperCgroupMs } : {}),
        wrapperRssKiB,
        transfer,
      };
    },
  );
}

/**
 * amd64, natively: the small image as a runc container joined to headscale;
 * the same calls with their own CPU and peak RSS (busybox time -v in the
 * container). The container cgroup's CPU is not read here.
 */
export async function measureContainerCalls(o: { tar: string; headscaleBin: string; repeats: number; log: (s: string) => void }): Promise<VmCpuRow> {
  const lab = new Lab("mtd");
  try {
    await lab.addNamespace("core", { forwarding: true });
    await lab.addNamespace("router");
    await lab.link("r", "core=10.216.1.1/24", "router=10.216.1.2/24");
    await lab.exec("router", ["ip", "route", "add", "default", "via", "10.216.1.1"]);
    const hs = new Headscale(lab, o.headscaleBin, { role: "core", ip: "10.216.1.1" });
    await hs.start();
    const key = await hs.preAuthKey(await hs.createUser("bench"));
    const router = new Container(lab, {
      id: "router",
      image: await unpackImage(o.tar, join(lab.dir, "router-image")),
      role: "router",
      hostname: "router",
      stateDir: join(lab.dir, "state-router"),
      env: { TS_AUTHKEY: key, TS_LOGIN_SERVER: hs.url, TS_HOSTNAME: "router" },
    });
    router.start();
    await waitFor("the amd64 router never logged in", 120_000, async () => {
      const r = await router.exec(["tailscale", "ip", "-4"]);
      return r.code === 0 && /^100\./.test(r.stdout.trim()) ? true : undefined;
    }, 1000);
    await new Promise((r) => setTimeout(r, 10_000));
    const { calls, wrapperRssKiB } = await measureCalls(router, o.repeats, false);
    const { oldCheck, newCheck, status } = calls;
    o.log(`amd64 (small): health check old ${oldCheck.cpuMs.toFixed(0)} ms CPU / ${oldCheck.maxRssKiB} KiB, new ${newCheck.cpuMs.toFixed(2)} ms / ${newCheck.maxRssKiB} KiB ('${newCheck.line}'); tailscale status ${status.cpuMs.toFixed(0)} ms`);
    if (newCheck.exit !== 0 || newCheck.line !== "Running") throw new Error(`the health check did not pass on a Running node: exit ${newCheck.exit}, '${newCheck.line}'`);
    await router.stop(10_000);
    return { arch: "amd64", variant: "small", guestMemMb: 0, machine: "runc container on this machine (native)", kernel: "", repeats: o.repeats, calls, wrapperRssKiB };
  } finally {
    await lab.cleanup();
  }
}
