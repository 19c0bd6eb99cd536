/**
 * Asks the kernel to reclaim what it can from one container's memory
 * cgroup, as memory pressure on a small router would: clean file-backed
 * pages (an unpacked binary's code) go and fault back in when used;
 * anonymous memory (the heap, and the code a UPX stub unpacked) stays, as
 * there is no swap. cgroup v2 has memory.reclaim; v1 has memory.force_empty.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

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
