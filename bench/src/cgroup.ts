/**
 * Asks the kernel to reclaim what it can from one container's memory
 * cgroup, as memory pressure on a small router would: clean file-backed
 * pages (an unpacked binary's code) go and fault back in when used;
 * anonymous memory (the heap, and the code a UPX stub unpacked) stays, as
 * there is no swap. cgroup v2 has memory.reclaim; v1 has memory.force_empty.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface ReclaimTarget {
  file: string;
  value: string;
}

/** Where to write for a process, from its /proc/<pid>/cgroup text; undefined for the root cgroup (never reclaimed). */
export function reclaimTarget(procCgroup: string, root = "/sys/fs/cgroup"): ReclaimTarget | undefined {
  const lines = procCgroup.split("\n").map((l) => l.trim()).filter(Boolean);
  const v1 = lines.map((l) => l.split(":")).find((f) => f[1]?.split(",").includes("memory"));
  if (v1) {
    const path = v1.slice(2).join(":");
    return path && path !== "/" ? { file: join(root, "memory", path, "memory.force_empty"), value: "0" } : undefined;
  }
  const v2 = lines.map((l) => l.split(":")).find((f) => f[0] === "0" && f[1] === "");
  if (v2) {
    const path = v2.slice(2).join(":");
    // More than any container holds; the kernel reclaims what it can and reports EAGAIN for the rest.
    return path && path !== "/" ? { file: join(root, path, "memory.reclaim"), value: "4G" } : undefined;
  }
  return undefined;
}

/** Reclaims the cgroup of `pid`; returns what it wrote to, or throws when the kernel offers no way. */
export async function reclaimProcessCgroup(pid: number): Promise<string> {
  const t = reclaimTarget(await readFile(`/proc/${pid}/cgroup`, "utf8"));
  if (!t) throw new Error(`process ${pid} is in no memory cgroup of its own`);
  try {
    await writeFile(t.file, t.value);
  } catch (e) {
    // memory.reclaim says EAGAIN when it reclaimed less than asked: expected here.
    if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
  }
  return t.file;
}

/** The host folder of a process's memory cgroup, from its /proc/<pid>/cgroup text (v1 memory controller or v2). */
export function memoryCgroupDir(procCgroup: string, root = "/sys/fs/cgroup"): { dir: string; v2: boolean } | undefined {
  const t = reclaimTarget(procCgroup, root);
  return t ? { dir: dirname(t.file), v2: t.file.endsWith("memory.reclaim") } : undefined;
}

export interface CgroupMemory {
  /** Highest charge since the cgroup was made, bytes (v1 memory.max_usage_in_bytes, v2 memory.peak). */
  peakBytes?: number;
  /** OOM kills in this cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  oomKills?: number;
}

/** Parses "key value" lines (memory.oom_control, memory.events) into numbers. */
export function parseKeyValues(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) m.set(k, Number(v));
  }
  return m;
}

/** What a memory cgroup says now; fields it cannot read (the cgroup is gone) are left out. */
export async function readCgroupMemory(cg: { dir: string; v2: boolean }): Promise<CgroupMemory> {
  const read = async (f: string) => {
    try {
      return await readFile(join(cg.dir, f), "utf8");
    } catch {
      return undefined;
    }
  };
  const peak = await read(cg.v2 ? "memory.peak" : "memory.max_usage_in_bytes");
  const events = await read(cg.v2 ? "memory.events" : "memory.oom_control");
  const out: CgroupMemory = {};
  if (peak !== undefined && /^\d+\s*$/.test(peak)) out.peakBytes = Number(peak.trim());
  const oom = events !== undefined ? parseKeyValues(events).get("oom_kill") : undefined;
  if (oom !== undefined) out.oomKills = oom;
  return out;
}
