/**
 * A minimal tar reader and writer: enough to look inside a docker-archive
 * image (manifest.json, the config blob) and to make small test images.
 * Regular files and directories only; ustar names, plus PAX `path` records.
 */

export interface TarEntry {
  name: string;
  type: "file" | "dir" | "other";
  data: Buffer;
}

function readString(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

function readOctal(b: Buffer, off: number, len: number): number {
  // GNU base-256 for large sizes.
  if (b[off]! & 0x80) {
    let n = 0;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = readString(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const text = data.toString("utf8");
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!len) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads every entry of an uncompressed tar. Throws on a truncated or malformed archive. */
export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let paxPath: string | undefined;
  let longName: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const sum = readOctal(h, 148, 8);
    let calc = 0;
    for (let i = 0; i < 512; i++) calc += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== calc) throw new Error(`bad tar header checksum at offset ${off}`);
    const size = readOctal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156]!);
    const prefix = readString(h, 345, 155);
    let name = readString(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new Error("truncated tar");
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (typeflag === "x") {
      paxPath = parsePax(data).path;
      continue;
    }
    if (typeflag === "L") {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (typeflag === "g") continue;
    if (paxPath !== undefined) name = paxPath;
    else if (longName !== undefined) name = longName;
    paxPath = longName = undefined;
    const type = typeflag === "0" || typeflag === "\0" ? "file" : typeflag === "5" ? "dir" : "other";
    out.push({ name, type, data: Buffer.from(data) });
  }
  return out;
}

function writeOctal(h: Buffer, off: number, len: number, n: number): void {
  h.write(n.toString(8).padStart(len - 1, "0") + "\0", off, len, "ascii");
}

/** Writes a tar of regular files and directories (names up to 100 bytes), owned by root, fixed mtime. */
export function writeTar(entries: { name: string; data?: Buffer | string; dir?: boolean; mode?: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.dir ? Buffer.alloc(0) : Buffer.from(e.data ?? "");
    const name = e.dir && !e.name.endsWith("/") ? `${e.name}/` : e.name;
    if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, "utf8");
    writeOctal(h, 100, 8, e.mode ?? (e.dir ? 0o755 : 0o644));
    writeOctal(h, 108, 8, 0);
    writeOctal(h, 116, 8, 0);
    writeOctal(h, 124, 12, data.length);
    writeOctal(h, 136, 12, 0);
    h.write(e.dir ? "5" : "0", 156, 1, "ascii");
    h.write("ustar\0", 257, 6, "ascii");
    h.write("00", 263, 2, "ascii");
    h.fill(32, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i]!;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
