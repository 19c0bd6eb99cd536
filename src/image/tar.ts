/**
 * A small, pure tar writer and reader: bytes in, bytes out.
 *
 * Writer: POSIX ustar headers; a PAX extended header ('x') is added only for
 * an entry whose name or link target cannot be stored in ustar fields (longer
 * than the name/prefix split allows, or not ASCII). Numbers are zero-padded
 * octal, NUL-terminated. The archive ends with two zero blocks and nothing
 * else. Entries are written in the order given: callers sort.
 *
 * Reader: ustar and GNU headers, PAX 'x' records (path, linkpath, size), GNU
 * long names ('L', 'K'), base-256 numbers. It is strict: a bad checksum, a
 * truncated entry, a missing end-of-archive marker or data after it is an
 * error, so a file cut short by an interrupted write never reads as complete.
 */

export const BLOCK = 512;

export type TarEntryType = "file" | "dir" | "symlink" | "hardlink";

export interface TarEntry {
  /** Relative path with `/` separators, no leading `./` or `/`, no trailing `/`. */
  path: string;
  type: TarEntryType;
  /** Permission bits, including setuid/setgid/sticky (masked with 0o7777). */
  mode: number;
  /** Contents of a regular file. */
  data?: Uint8Array;
  /** Target of a symlink (any string) or hardlink (an earlier entry's path). */
  linkTarget?: string;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarFormatError";
  }
}

const NAME_LEN = 100;
const PREFIX_LEN = 155;
const LINK_LEN = 100;
const enc = new TextEncoder();
const MAX_OCTAL_11 = 0o77777777777; // size, mtime: 11 octal digits
const MAX_OCTAL_7 = 0o7777777; // uid, gid: 7 octal digits

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

/** The name as stored: directories carry a trailing slash, as Docker's layers do. */
function storedName(e: TarEntry): string {
  return e.type === "dir" ? `${e.path}/` : e.path;
}

/**
 * Splits a name into ustar prefix and name fields, or returns undefined if it
 * cannot be stored there. The cut is at a slash; the slash itself is implied.
 */
export function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= NAME_LEN) return { prefix: "", name };
  // A trailing slash belongs to the name part; do not cut there.
  const searchEnd = Math.min(name.endsWith("/") ? name.length - 1 : name.length, PREFIX_LEN + 1);
  for (let i = searchEnd - 1; i > 0; i--) {
    if (name[i] !== "/") continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= PREFIX_LEN && rest.length > 0 && rest.length <= NAME_LEN) return { prefix, name: rest };
    if (rest.length > NAME_LEN) return undefined; // cutting further left only makes the name longer
  }
  return undefined;
}

/** One PAX record: "<len> <key>=<value>\n" where <len> counts the whole record. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = enc.encode(body).length;
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

function writeString(buf: Uint8Array, offset: number, length: number, value: string, field: string): void {
  const bytes = enc.encode(value);
  if (bytes.length > length) throw new TarFormatError(`tar header field ${field} too long: ${JSON.stringify(value)}`);
  buf.set(bytes, offset);
}

function writeOctal(buf: Uint8Array, offset: number, length: number, value: number, field: string): void {
  const digits = length - 1;
  if (!Number.isInteger(value) || value < 0 || value > 8 ** digits - 1) {
    throw new TarFormatError(`tar header field ${field} out of range: ${value}`);
  }
  writeString(buf, offset, length, value.toString(8).padStart(digits, "0"), field);
  buf[offset + digits] = 0;
}

const TYPEFLAG: Record<TarEntryType, string> = { file: "0", hardlink: "1", symlink: "2", dir: "5" };

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
}

function header(f: HeaderFields): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, NAME_LEN, f.name, "name");
  writeOctal(h, 100, 8, f.mode, "mode");
  writeOctal(h, 108, 8, f.uid, "uid");
  writeOctal(h, 116, 8, f.gid, "gid");
  writeOctal(h, 124, 12, f.size, "size");
  writeOctal(h, 136, 12, f.mtime, "mtime");
  h.fill(0x20, 148, 156); // checksum counts as spaces while summing
  writeString(h, 156, 1, f.typeflag, "typeflag");
  writeString(h, 157, LINK_LEN, f.linkname, "linkname");
  writeString(h, 257, 6, "ustar\0", "magic");
  writeString(h, 263, 2, "00", "version");
  writeString(h, 265, 32, f.uname, "uname");
  writeString(h, 297, 32, f.gname, "gname");
  writeOctal(h, 329, 8, 0, "devmajor");
  writeOctal(h, 337, 8, 0, "devminor");
  writeString(h, 345, PREFIX_LEN, f.prefix, "prefix");
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 6, sum.toString(8).padStart(6, "0"), "checksum");
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** A printable ASCII stand-in for a name that needs PAX, for readers that ignore PAX. */
function fallbackName(name: string, max: number): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_");
  return ascii.length <= max ? ascii : ascii.slice(0, max);
}

function validateEntry(e: TarEntry): void {
  if (e.path === "" || e.path.startsWith("/") || e.path.startsWith("./") || e.path.endsWith("/") || e.path.includes("\0")) {
    throw new TarFormatError(`invalid tar entry path ${JSON.stringify(e.path)}`);
  }
  if (e.path.split("/").some((c) => c === "" || c === "." || c === "..")) {
    throw new TarFormatError(`invalid tar entry path ${JSON.stringify(e.path)}`);
  }
  if (e.type === "file") {
    if (!e.data) throw new TarFormatError(`file entry ${e.path} has no data`);
    if (e.linkTarget !== undefined) throw new TarFormatError(`file entry ${e.path} has a link target`);
  } else if (e.data && e.data.length > 0) {
    throw new TarFormatError(`${e.type} entry ${e.path} cannot carry data`);
  }
  if ((e.type === "symlink" || e.type === "hardlink") && !e.linkTarget) {
    throw new TarFormatError(`${e.type} entry ${e.path} has no target`);
  }
  if (e.type === "dir" && e.linkTarget !== undefined) throw new TarFormatError(`directory entry ${e.path} has a link target`);
  if (e.linkTarget?.includes("\0")) throw new TarFormatError(`link target of ${e.path} contains NUL`);
  if (!Number.isInteger(e.mtime) || e.mtime < 0 || e.mtime > MAX_OCTAL_11) throw new TarFormatError(`mtime of ${e.path} out of range`);
}

/** Serialises entries into one tar archive. */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    total += b.length;
  };
  for (const e of entries) {
    validateEntry(e);
    const name = storedName(e);
    const link = e.linkTarget ?? "";
    const size = e.type === "file" ? e.data!.length : 0;
    if (size > MAX_OCTAL_11) throw new TarFormatError(`${e.path}: larger than a ustar header can describe`);
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    if (uid > MAX_OCTAL_7 || gid > MAX_OCTAL_7) throw new TarFormatError(`${e.path}: uid/gid too large`);
    const split = splitUstarName(name);
    const linkFits = isAscii(link) && link.length <= LINK_LEN;
    let pax = "";
    if (!split) pax += paxRecord("path", name);
    if (!linkFits) pax += paxRecord("linkpath", link);
    if (pax) {
      const paxBytes = enc.encode(pax);
      const base = name.replace(/\/$/, "").split("/").pop()!;
      push(
        header({
          name: fallbackName(`PaxHeader/${base}`, NAME_LEN),
          prefix: "",
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: paxBytes.length,
          mtime: e.mtime,
          typeflag: "x",
          linkname: "",
          uname: "",
          gname: "",
        }),
      );
      const body = new Uint8Array(padded(paxBytes.length));
      body.set(paxBytes);
      push(body);
    }
    push(
      header({
        name: split ? split.name : fallbackName(name, NAME_LEN),
        prefix: split ? split.prefix : "",
        mode: e.mode & 0o7777,
        uid,
        gid,
        size,
        mtime: e.mtime,
        typeflag: TYPEFLAG[e.type],
        linkname: linkFits ? link : fallbackName(link, LINK_LEN),
        uname: e.uname ?? "",
        gname: e.gname ?? "",
      }),
    );
    if (size > 0) {
      const body = new Uint8Array(padded(size));
      body.set(e.data!);
      push(body);
    }
  }
  push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- reader

export interface ReadTarEntry {
  /** The path as stored (after PAX/GNU long names), with one trailing `/` removed. */
  path: string;
  /** The name exactly as stored, before any normalisation. */
  rawPath: string;
  type: TarEntryType | "other";
  /** The raw typeflag character. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkTarget?: string;
  data: Uint8Array;
  /** Whether a PAX extended header preceded this entry. */
  pax: boolean;
  /** Byte offset of the entry's own header. */
  offset: number;
}

const dec = new TextDecoder("utf-8", { fatal: false });

function readString(buf: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && buf[end] !== 0) end++;
  return dec.decode(buf.subarray(offset, end));
}

function readNumber(buf: Uint8Array, offset: number, length: number, field: string, at: number): number {
  const first = buf[offset]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first & 0x40) throw new TarFormatError(`negative ${field} in tar header at offset ${at}`);
    let v = first & 0x3f;
    for (let i = 1; i < length; i++) v = v * 256 + buf[offset + i]!;
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`${field} too large in tar header at offset ${at}`);
    return v;
  }
  const s = readString(buf, offset, length).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`bad ${field} field ${JSON.stringify(s)} in tar header at offset ${at}`);
  return parseInt(s, 8);
}

function isZeroBlock(buf: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

function parsePax(body: Uint8Array, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    if (body[i] === 0) break; // padding
    let sp = i;
    while (sp < body.length && body[sp] !== 0x20) sp++;
    const lenStr = dec.decode(body.subarray(i, sp));
    const len = Number(lenStr);
    if (!/^\d+$/.test(lenStr) || len <= 0 || i + len > body.length || body[i + len - 1] !== 0x0a) {
      throw new TarFormatError(`malformed PAX record in tar header at offset ${at}`);
    }
    const rec = dec.decode(body.subarray(sp + 1, i + len - 1));
    const eq = rec.indexOf("=");
    if (eq <= 0) throw new TarFormatError(`malformed PAX record in tar header at offset ${at}`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/** Parses a whole tar archive. Entry data are views into `buf`, not copies. */
export function readTar(buf: Uint8Array): ReadTarEntry[] {
  const out: ReadTarEntry[] = [];
  let off = 0;
  let pax: Map<string, string> | undefined;
  let gnuLongName: string | undefined;
  let gnuLongLink: string | undefined;
  if (buf.length === 0) throw new TarFormatError("empty file, not a tar archive");
  for (;;) {
    if (off + BLOCK > buf.length) {
      throw new TarFormatError(`tar archive ends without an end-of-archive marker (truncated at ${buf.length} bytes)`);
    }
    if (isZeroBlock(buf, off)) {
      if (off + 2 * BLOCK > buf.length || !isZeroBlock(buf, off + BLOCK)) {
        throw new TarFormatError(`tar archive ends with a single zero block at offset ${off} (truncated?)`);
      }
      if (pax || gnuLongName || gnuLongLink) throw new TarFormatError("tar archive ends right after an extended header");
      for (let i = off + 2 * BLOCK; i < buf.length; i++) {
        if (buf[i] !== 0) throw new TarFormatError(`unexpected data after the end of the tar archive at offset ${i}`);
      }
      return out;
    }
    const at = off;
    const magic = readString(buf, off + 257, 6);
    const version = dec.decode(buf.subarray(off + 263, off + 265));
    const ustar = magic === "ustar" && version === "00";
    const gnu = magic === "ustar " && version === " \0";
    if (!ustar && !gnu) {
      throw new TarFormatError(
        at === 0 ? "not a tar archive (no ustar header at the start)" : `bad tar header at offset ${at} (no ustar magic)`,
      );
    }
    const stored = readNumber(buf, off + 148, 8, "checksum", at);
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 0x20 : buf[off + i]!;
      unsigned += b;
      signed += b > 127 ? b - 256 : b;
    }
    if (stored !== unsigned && stored !== signed) throw new TarFormatError(`tar header checksum mismatch at offset ${at}`);
    const typeflag = String.fromCharCode(buf[off + 156]!) === "\0" ? "0" : String.fromCharCode(buf[off + 156]!);
    let size = readNumber(buf, off + 124, 12, "size", at);
    if (pax?.has("size")) size = Number(pax.get("size"));
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`bad size in tar header at offset ${at}`);
    const dataStart = off + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) throw new TarFormatError(`tar entry at offset ${at} is truncated (needs ${size} bytes)`);
    const data = buf.subarray(dataStart, dataEnd);
    off = dataStart + padded(size);
    if (off > buf.length) throw new TarFormatError(`tar entry at offset ${at} is truncated (padding missing)`);

    if (typeflag === "x") {
      pax = parsePax(data, at);
      continue;
    }
    if (typeflag === "g") continue; // global headers carry nothing we use
    if (typeflag === "L" || typeflag === "K") {
      const s = readString(data, 0, data.length);
      if (typeflag === "L") gnuLongName = s;
      else gnuLongLink = s;
      continue;
    }
    const name = readString(buf, at, NAME_LEN);
    const prefix = ustar ? readString(buf, at + 345, PREFIX_LEN) : "";
    const rawPath = pax?.get("path") ?? gnuLongName ?? (prefix ? `${prefix}/${name}` : name);
    const link = pax?.get("linkpath") ?? gnuLongLink ?? readString(buf, at + 157, LINK_LEN);
    const type: ReadTarEntry["type"] =
      typeflag === "0" || typeflag === "7"
        ? "file"
        : typeflag === "5"
          ? "dir"
          : typeflag === "2"
            ? "symlink"
            : typeflag === "1"
              ? "hardlink"
              : "other";
    const entry: ReadTarEntry = {
      path: rawPath.endsWith("/") ? rawPath.slice(0, -1) : rawPath,
      rawPath,
      type,
      typeflag,
      mode: readNumber(buf, at + 100, 8, "mode", at),
      uid: pax?.has("uid") ? Number(pax.get("uid")) : readNumber(buf, at + 108, 8, "uid", at),
      gid: pax?.has("gid") ? Number(pax.get("gid")) : readNumber(buf, at + 116, 8, "gid", at),
      uname: pax?.get("uname") ?? readString(buf, at + 265, 32),
      gname: pax?.get("gname") ?? readString(buf, at + 297, 32),
      mtime: pax?.has("mtime") ? Math.floor(Number(pax.get("mtime"))) : readNumber(buf, at + 136, 12, "mtime", at),
      size,
      data,
      pax: pax !== undefined,
      offset: at,
    };
    if (type === "symlink" || type === "hardlink") entry.linkTarget = link;
    out.push(entry);
    pax = undefined;
    gnuLongName = undefined;
    gnuLongLink = undefined;
  }
}
