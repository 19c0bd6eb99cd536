/** What machine and which tool versions a run used, for the report. */
import { readFileSync } from "node:fs";
import { cpus, hostname, release, totalmem } from "node:os";
import { imageVersion } from "../../src/build/index.js";
import { goCommandEnv } from "../../src/build/tailscale.js";
import { loadGoModPins, loadPins } from "../../src/pins.js";
import { runCmd } from "../../test/support/netns.js";
import type { BaselineInfo, MachineInfo, RunMeta, Versions } from "./results.js";

export function osName(osRelease: string, debianVersion?: string): string {
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "Linux";
  return debianVersion && /debian/i.test(pretty) ? `${pretty.replace(/\s*\(.*\)$/, "")} (${debianVersion.trim()})` : pretty;
}

export function machineInfo(): MachineInfo {
  const read = (p: string) => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return "";
    }
  };
  const c = cpus();
  return {
    hostname: hostname(),
    cpu: c[0]?.model.trim() || "unknown CPU",
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    os: osName(read("/etc/os-release"), read("/etc/debian_version") || undefined),
  };
}

async function firstLine(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCmd(cmd, args, { timeoutMs: 15_000, ...(env ? { env } : {}) });
  const line = (r.stdout || r.stderr).split("\n").find((l) => l.trim()) ?? "";
  return r.code === 0 && line ? line.trim() : `${cmd} (version unknown)`;
}

export async function versions(): Promise<Versions> {
  const ts = loadGoModPins().tailscaleVersion;
  const pins = loadPins();
  return {
    tailscale: ts,
    imageVersion: await imageVersion(ts),
    go: await firstLine("go", ["env", "GOVERSION"], goCommandEnv()),
    node: process.version,
    busybox: pins.busybox.version,
    upx: await firstLine("upx", ["--version"]),
    iperf3: (await firstLine("iperf3", ["--version"])).replace(/\s*\(cJSON.*\)$/, ""),
    headscale: pins.headscale.version,
    runc: await firstLine("runc", ["--version"]),
  };
}

export async function runMeta(commit: string, baseline?: BaselineInfo): Promise<RunMeta> {
  return { date: new Date().toISOString(), commit, ...(baseline ? { baseline } : {}), machine: machineInfo(), versions: await versions() };
}
