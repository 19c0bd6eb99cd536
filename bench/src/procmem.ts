/**
 * A process's memory as the kernel accounts it, read from /proc on the host
 * (a namespaced process is an ordinary process there).
 *
 * RSS counts every page mapped and resident; PSS shares each page among the
 * processes mapping it, so a page of a binary's text that two processes map
 * counts half for each. A UPX-packed binary unpacks its code into anonymous
 * memory, so all of it is resident and private; an unpacked binary's code is
 * file-backed and only the pages actually touched are resident.
 */
import { readFile } from "node:fs/promises";

export interface MemorySample {
  /** kB (KiB), as /proc prints them. */
  rssKiB: number;
  pssKiB: number;
  pssAnonKiB?: number;
  pssFileKiB?: number;
  anonymousKiB?: number;
  /** Peak RSS since the process started (VmHWM). */
  hwmKiB?: number;
  rssAnonKiB?: number;
  rssFileKiB?: number;
}

/** Parses "Key:   123 kB" lines into a map of kB values. */
export function parseKbLines(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    const r = /^(\w+):\s+(\d+)\s*kB\s*$/.exec(line.trim());
    if (r) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** Combines /proc/<pid>/smaps_rollup and /proc/<pid>/status text into one sample. */
export function parseMemory(smapsRollup: string, status: string): MemorySample {
  const s = parseKbLines(smapsRollup);
  const st = parseKbLines(status);
  const rss = s.get("Rss");
  const pss = s.get("Pss");
  if (rss === undefined || pss === undefined) throw new Error("smaps_rollup has no Rss/Pss lines");
  return {
    rssKiB: rss,
    pssKiB: pss,
    pssAnonKiB: s.get("Pss_Anon"),
    pssFileKiB: s.get("Pss_File"),
    anonymousKiB: s.get("Anonymous"),
    hwmKiB: st.get("VmHWM"),
    rssAnonKiB: st.get("RssAnon"),
    rssFileKiB: st.get("RssFile"),
  };
}

export async function readMemory(pid: number, procRoot = "/proc"): Promise<MemorySample> {
  const [rollup, status] = await Promise.all([
    readFile(`${procRoot}/${pid}/smaps_rollup`, "utf8"),
    readFile(`${procRoot}/${pid}/status`, "utf8"),
  ]);
  return parseMemory(rollup, status);
}

/** Element-wise median of several samples (each field on its own). */
export function medianSample(samples: readonly MemorySample[]): MemorySample {
  if (samples.length === 0) throw new Error("no memory samples");
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
  };
  const keys = Object.keys(samples[0]!) as (keyof MemorySample)[];
  const out: Partial<MemorySample> = {};
  for (const k of keys) {
    const vals = samples.map((x) => x[k]).filter((v): v is number => typeof v === "number");
    if (vals.length === samples.length) out[k] = med(vals);
  }
  return out as MemorySample;
}

/** User + system CPU time of a process in clock ticks, from /proc/<pid>/stat (fields 14 and 15). */
export function parseProcStatTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || rest.length < 13) throw new Error("unexpected /proc/<pid>/stat format");
  return utime + stime;
}

/** CPU seconds a process has used so far (ticks are USER_HZ, 100 on Linux for every architecture that matters here). */
export async function readCpuSeconds(pid: number, procRoot = "/proc", ticksPerSecond = 100): Promise<number> {
  return parseProcStatTicks(await readFile(`${procRoot}/${pid}/stat`, "utf8")) / ticksPerSecond;
}
