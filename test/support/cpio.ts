/**
 * A minimal writer of "newc" cpio archives, the format the Linux kernel
 * unpacks as an initramfs. Concatenated archives are unpacked in order, so a
 * cached base archive plus a small per-VM one make one initrd.
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** Full st_mode, type bits included. */
  mode: number;
  data?: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const hex8 = (n: number) => n.toString(16).padStart(8, "0");

/** The archive bytes for `entries`, in the order given, with the trailer. */
export function cpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (e: CpioEntry) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`, "utf8");
    const fields = [ino++, e.mode, 0, 0, (e.mode & 0o170000) === S_IFDIR ? 2 : 1, 0, data.length, 0, 0, e.rdevMajor ?? 0, e.rdevMinor ?? 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map(hex8).join("")}`, "ascii");
    parts.push(header, name, Buffer.alloc(pad4(header.length + name.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) push(e);
  push({ name: "TRAILER!!!", mode: 0 });
  return Buffer.concat(parts);
}

/** Every directory, regular file and symlink under `dir`, parents first, placed under `prefix`. */
export function treeEntries(dir: string, prefix = ""): CpioEntry[] {
  const out: CpioEntry[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const perm = st.mode & 0o7777;
      if (st.isDirectory()) {
        out.push({ name: r, mode: S_IFDIR | perm });
        walk(p, r);
      } else if (st.isSymbolicLink()) {
        out.push({ name: r, mode: S_IFLNK | 0o777, data: Buffer.from(readlinkSync(p), "utf8") });
      } else if (st.isFile()) {
        out.push({ name: r, mode: S_IFREG | perm, data: readFileSync(p) });
      }
    }
  };
  walk(dir, prefix);
  return out;
}
