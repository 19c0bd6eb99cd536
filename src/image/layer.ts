/**
 * Turns a root filesystem (in-memory entries) into one image layer tar.
 * Pure: the same entries and mtime give the same bytes.
 *
 * Rules (docs/images.md repeats them):
 * - paths are relative (`usr/local/bin/tailscale`), directories get a
 *   trailing `/`, nothing starts with `./`, the root itself is not an entry;
 * - entries are sorted by the UTF-8 bytes of their path, so parents come
 *   before their children; a parent directory missing from the input is added
 *   with mode 0755;
 * - owner and group are 0/0 with empty names; every mtime is the given one;
 * - modes: symlinks 0777; directories with the sticky bit keep their bits
 *   (e.g. /tmp 1777); everything else keeps its permission bits minus
 *   group/other write and minus setuid/setgid (`mode & 0o755`);
 * - symlinks are stored as symlinks; hard links as hard links to an earlier
 *   entry; nothing else (devices, fifos, sockets) is accepted.
 */
import { createHash } from "node:crypto";
import { writeTar, type TarEntry } from "./tar.js";

export type TreeEntryType = "file" | "dir" | "symlink" | "hardlink";

/** One node of a root filesystem, independent of where it came from. */
export interface TreeEntry {
  /** Relative to the root, `/`-separated, e.g. `bin/busybox`. */
  path: string;
  type: TreeEntryType;
  /** st_mode permission bits (0o7777); ignored for symlinks. */
  mode: number;
  /** File contents (type file). */
  data?: Uint8Array;
  /** Symlink target as stored, or the path of the file a hard link shares its inode with. */
  target?: string;
}

export class LayerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayerInputError";
  }
}

/** The mode a layer stores for an entry (see the rules above). */
export function normalizeMode(type: TreeEntryType, mode: number): number {
  if (type === "symlink") return 0o777;
  if (type === "dir" && mode & 0o1000) return mode & 0o1777;
  return mode & 0o755;
}

const enc = new TextEncoder();

/** Byte-wise comparison of UTF-8 paths (not UTF-16 code units). */
export function comparePaths(a: string, b: string): number {
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function checkPath(p: string): void {
  if (p === "" || p.startsWith("/") || p.endsWith("/") || p.includes("\0")) {
    throw new LayerInputError(`invalid path ${JSON.stringify(p)} (must be relative, without leading or trailing '/')`);
  }
  for (const c of p.split("/")) {
    if (c === "" || c === "." || c === "..") throw new LayerInputError(`invalid path ${JSON.stringify(p)}`);
    // Runtimes read these names as whiteouts (deletions); a base layer must not have them.
    if (c.startsWith(".wh.")) throw new LayerInputError(`path ${JSON.stringify(p)} uses the reserved whiteout prefix .wh.`);
  }
}

/**
 * Validates entries, adds missing parent directories, normalises modes and
 * sorts. Throws LayerInputError on duplicates, on a path below a non-directory,
 * and on a hard link whose target is not a regular file listed before it.
 */
export function normalizeTree(entries: readonly TreeEntry[]): TreeEntry[] {
  const byPath = new Map<string, TreeEntry>();
  for (const e of entries) {
    checkPath(e.path);
    if (byPath.has(e.path)) throw new LayerInputError(`duplicate path ${e.path}`);
    switch (e.type) {
      case "file":
        if (!e.data) throw new LayerInputError(`${e.path}: regular file without data`);
        break;
      case "symlink":
        if (!e.target) throw new LayerInputError(`${e.path}: symlink without a target`);
        break;
      case "hardlink":
        if (!e.target) throw new LayerInputError(`${e.path}: hard link without a target`);
        break;
      case "dir":
        break;
      default:
        throw new LayerInputError(`${(e as TreeEntry).path}: unsupported entry type ${String((e as TreeEntry).type)}`);
    }
    byPath.set(e.path, {
      path: e.path,
      type: e.type,
      mode: normalizeMode(e.type, e.mode),
      ...(e.type === "file" ? { data: e.data } : {}),
      ...(e.type === "symlink" || e.type === "hardlink" ? { target: e.target } : {}),
    });
  }
  for (const p of [...byPath.keys()]) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const have = byPath.get(parent);
      if (!have) byPath.set(parent, { path: parent, type: "dir", mode: 0o755 });
      else if (have.type !== "dir") throw new LayerInputError(`${p}: parent ${parent} is a ${have.type}, not a directory`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  const seen = new Map<string, TreeEntry>();
  for (const e of sorted) {
    if (e.type === "hardlink") {
      const t = seen.get(e.target!);
      if (!t || t.type !== "file") {
        throw new LayerInputError(`${e.path}: hard link target ${e.target} must be a regular file that sorts before it`);
      }
    }
    seen.set(e.path, e);
  }
  return sorted;
}

export interface Layer {
  /** The uncompressed layer tar. */
  tar: Uint8Array;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
  /** The normalised entries, in the order they were written. */
  entries: TreeEntry[];
}

/** Builds the uncompressed layer tar for a root filesystem. */
export function buildLayer(entries: readonly TreeEntry[], opts: { mtime: number }): Layer {
  const tree = normalizeTree(entries);
  const tarEntries: TarEntry[] = tree.map((e) => ({
    path: e.path,
    type: e.type,
    mode: e.mode,
    mtime: opts.mtime,
    uid: 0,
    gid: 0,
    uname: "",
    gname: "",
    ...(e.type === "file" ? { data: e.data } : {}),
    ...(e.type === "symlink" || e.type === "hardlink" ? { linkTarget: e.target } : {}),
  }));
  const tar = writeTar(tarEntries);
  return { tar, diffId: `sha256:${createHash("sha256").update(tar).digest("hex")}`, entries: tree };
}
