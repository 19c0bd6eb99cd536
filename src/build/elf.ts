import { InvalidInputError } from "../errors.js";

export interface ElfLoadSegment {
  offset: number;
  fileSize: number;
  memSize: number;
}

export interface ElfSummary {
  class: 32 | 64;
  machine: number;
  loads: ElfLoadSegment[];
}

export const EM_ARM = 40;
export const EM_AARCH64 = 183;

/** Reads an ELF header and its PT_LOAD program headers (little-endian only: every target here is). */
export function readElf(buf: Uint8Array, name = "binary"): ElfSummary {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 52 || v.getUint32(0) !== 0x7f454c46) throw new InvalidInputError(`${name}: not an ELF file`);
  const cls = buf[4] === 2 ? 64 : buf[4] === 1 ? 32 : 0;
  if (!cls) throw new InvalidInputError(`${name}: unknown ELF class ${buf[4]}`);
  if (buf[5] !== 1) throw new InvalidInputError(`${name}: big-endian ELF is not supported`);
  const machine = v.getUint16(18, true);
  const phoff = cls === 64 ? Number(v.getBigUint64(32, true)) : v.getUint32(28, true);
  const phentsize = v.getUint16(cls === 64 ? 54 : 42, true);
  const phnum = v.getUint16(cls === 64 ? 56 : 44, true);
  const loads: ElfLoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + phentsize > buf.length) throw new InvalidInputError(`${name}: program header ${i} lies past the end of the file`);
    if (v.getUint32(o, true) !== 1) continue; // PT_LOAD
    if (cls === 64) {
      loads.push({ offset: Number(v.getBigUint64(o + 8, true)), fileSize: Number(v.getBigUint64(o + 32, true)), memSize: Number(v.getBigUint64(o + 40, true)) });
    } else {
      loads.push({ offset: v.getUint32(o + 4, true), fileSize: v.getUint32(o + 16, true), memSize: v.getUint32(o + 20, true) });
    }
  }
  return { class: cls, machine, loads };
}

/**
 * UPX before 4.2.4 can emit ARM binaries that crash at start when a PT_LOAD
 * segment's file size is an exact multiple of 4096 (fixed upstream in 4.2.4).
 * Returns the offending segments, empty when the binary is safe to pack.
 */
export function upxArmPageMultipleHazard(elf: ElfSummary): ElfLoadSegment[] {
  if (elf.machine !== EM_ARM && elf.machine !== EM_AARCH64) return [];
  return elf.loads.filter((l) => l.fileSize > 0 && l.fileSize % 4096 === 0);
}
