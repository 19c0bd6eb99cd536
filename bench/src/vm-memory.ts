/**
 * tailscaled's memory on ARM, read inside router VMs on real kernels
 * (test/support/vm.ts): arm64 with 256 MB, armv7 with 128 MB like a hAP ac².
 * Under qemu-user the memory one reads is qemu's; here it is the guest
 * kernel's account of the router's own process.
 *
 * Per architecture: the VM router joins headscale with an amd64 laptop
 * container as its peer and downloads from a server beside it through the
 * tunnel; readings of tailscaled's /proc/<pid>/status (VmRSS,
 * RssAnon, RssFile, VmHWM) idle, after traffic through the tunnel, and after
 * asking the kernel to reclaim what it can from the container's memory cgroup
 * (what memory pressure would take back); plus the guest's /proc/meminfo
 * with the container running.
 *
 * The VM's root filesystem is its initramfs, i.e. RAM: file-backed pages of
 * the image count as shared memory there and cannot be reclaimed without
 * swap, while on a router they sit on flash. MemAvailable is therefore lower
 * by about the image's size than on a router.
 */
import { writeFileSync } from "node:fs";
import { RouterVm, VM_ARCH, type VmArch } from "../../test/support/vm.js";
import { withVmLab } from "./vm-lab.js";

export interface VmProcSample {
  vmRssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  rssShmemKiB: number;
  hwmKiB: number;
}

export interface GuestMem {
  memTotalKiB: number;
  memFreeKiB: number;
  memAvailableKiB: number;
}

export interface VmMemoryRow {
  arch: VmArch;
  /** Which build the router and its peer ran (absent in older results: small). */
  variant?: "small" | "baseline";
  guestMemMb: number;
  machine: string;
  kernel: string;
  idleAfterSeconds: number;
  idle: VmProcSample;
  afterTraffic: VmProcSample;
  afterReclaim: VmProcSample;
  /** The guest with the container running, after traffic and reclaim. */
  guest: GuestMem;
  trafficMB: number;
}

const kb = (text: string, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text);
  if (!m) throw new Error(`no ${key} in ${text.slice(0, 200)}`);
  return Number(m[1]);
};

async function procSample(vm: RouterVm): Promise<VmProcSample> {
  const r = await vm.exec(["sh", "-c", 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = tailscaled ] && exec cat $p/status; done; exit 1'], 60_000);
  if (r.code !== 0) throw new Error(`no tailscaled in the VM: ${r.stderr}`);
  return {
    vmRssKiB: kb(r.stdout, "VmRSS"),
    rssAnonKiB: kb(r.stdout, "RssAnon"),
    rssFileKiB: kb(r.stdout, "RssFile"),
    rssShmemKiB: kb(r.stdout, "RssShmem"),
    hwmKiB: kb(r.stdout, "VmHWM"),
  };
}

async function guestMem(vm: RouterVm): Promise<GuestMem> {
  const r = await vm.exec(["cat", "/proc/meminfo"]);
  return { memTotalKiB: kb(r.stdout, "MemTotal"), memFreeKiB: kb(r.stdout, "MemFree"), memAvailableKiB: kb(r.stdout, "MemAvailable") };
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** One architecture's readings; `routerTar` is that architecture's image, `laptopTar` an amd64 one. */
export async function measureVmMemory(o: {
  arch: VmArch;
  routerTar: string;
  laptopTar: string;
  headscaleBin: string;
  idleSeconds: number;
  trafficMB: number;
  log: (s: string) => void;
}): Promise<VmMemoryRow> {
  return withVmLab(
    { prefix: "mtb", net: "10.214", arch: o.arch, routerTar: o.routerTar, laptopTar: o.laptopTar, headscaleBin: o.headscaleBin, loginTimeoutMs: 240_000, label: o.arch, log: o.log },
    async ({ vm, serveFromLaptop, stop }) => {
      o.log(`${o.arch}: idle ${o.idleSeconds} s`);
      await sleep(o.idleSeconds);
      const idle = await procSample(vm);
      // Traffic: the router downloads trafficMB from a server beside the
      // laptop, through the tunnel (busybox nc in the image cannot listen).
      const chunk = 1 << 16;
      const laptopIp = await serveFromLaptop(`const b=Buffer.alloc(${chunk});require("http").createServer((q,s)=>{let n=${o.trafficMB * 16};const w=()=>{while(n>0){n--;if(!s.write(b))return s.once("drain",w)}s.end()};w()}).listen(8090)`);
      const t0 = Date.now();
      const get = await vm.exec(["sh", "-c", `wget -q -O - http://${laptopIp}:8090/ | wc -c`], 600_000);
      const got = Number(get.stdout.trim());
      o.log(`${o.arch}: ${got} bytes through the tunnel in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      if (got !== o.trafficMB * 16 * chunk) throw new Error(`the ${o.arch} router received ${get.stdout.trim() || "nothing"} of ${o.trafficMB} MB: ${get.stderr}`);
      await sleep(5);
      const afterTraffic = await procSample(vm);
      const reclaim = await vm.exec(["sh", "-c", "echo 1G > /sys/fs/cgroup/container/memory.reclaim; cat /sys/fs/cgroup/container/memory.current"]);
      o.log(`${o.arch}: reclaim asked; container cgroup now ${reclaim.stdout.trim()} B`);
      await sleep(3);
      const afterReclaim = await procSample(vm);
      const guest = await guestMem(vm);
      const kernel = (await vm.exec(["uname", "-r"])).stdout.trim();
      await stop();
      const spec = VM_ARCH[o.arch];
      return {
        arch: o.arch,
        guestMemMb: spec.memMb,
        machine: `${spec.qemu} -M ${spec.machine} -cpu ${spec.cpu}`,
        kernel,
        idleAfterSeconds: o.idleSeconds,
        idle,
        afterTraffic,
        afterReclaim,
        guest,
        trafficMB: o.trafficMB,
      };
    },
  );
}

export function writeVmMemoryDebug(path: string, rows: VmMemoryRow[]): void {
  writeFileSync(path, JSON.stringify(rows, null, 2));
}
