import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EM_AARCH64, EM_ARM, readElf, upxArmPageMultipleHazard } from "../../src/build/elf.js";
import { InvalidInputError } from "../../src/errors.js";

/** A minimal little-endian ELF with the given PT_LOAD file sizes. */
function elf(cls: 32 | 64, machine: number, fileSizes: number[]): Uint8Array {
  const ehsize = cls === 64 ? 64 : 52;
  const phentsize = cls === 64 ? 56 : 32;
  const buf = new Uint8Array(ehsize + phentsize * (fileSizes.length + 1));
  const v = new DataView(buf.buffer);
  v.setUint32(0, 0x7f454c46);
  buf[4] = cls === 64 ? 2 : 1;
  buf[5] = 1;
  v.setUint16(18, machine, true);
  if (cls === 64) {
    v.setBigUint64(32, BigInt(ehsize), true);
    v.setUint16(54, phentsize, true);
    v.setUint16(56, fileSizes.length + 1, true);
  } else {
    v.setUint32(28, ehsize, true);
    v.setUint16(42, phentsize, true);
    v.setUint16(44, fileSizes.length + 1, true);
  }
  // A PT_NOTE first, which must be ignored.
  v.setUint32(ehsize, 4, true);
  fileSizes.forEach((size, i) => {
    const o = ehsize + phentsize * (i + 1);
    v.setUint32(o, 1, true);
    if (cls === 64) {
      v.setBigUint64(o + 32, BigInt(size), true);
      v.setBigUint64(o + 40, BigInt(size + 100), true);
    } else {
      v.setUint32(o + 16, size, true);
      v.setUint32(o + 20, size + 100, true);
    }
  });
  return buf;
}

test("PT_LOAD segments are read from 32- and 64-bit ELF headers", () => {
  const e32 = readElf(elf(32, EM_ARM, [1000, 8192]));
  assert.equal(e32.class, 32);
  assert.deepEqual(e32.loads.map((l) => [l.fileSize, l.memSize]), [[1000, 1100], [8192, 8292]]);
  const e64 = readElf(elf(64, EM_AARCH64, [5000]));
  assert.equal(e64.machine, EM_AARCH64);
  assert.deepEqual(e64.loads.map((l) => l.fileSize), [5000]);
});

test("an ARM segment of an exact multiple of 4096 bytes is the UPX hazard; other machines and sizes are not", () => {
  assert.deepEqual(upxArmPageMultipleHazard(readElf(elf(32, EM_ARM, [4097, 12288]))).map((l) => l.fileSize), [12288]);
  assert.deepEqual(upxArmPageMultipleHazard(readElf(elf(64, EM_AARCH64, [4096]))).map((l) => l.fileSize), [4096]);
  assert.deepEqual(upxArmPageMultipleHazard(readElf(elf(64, EM_AARCH64, [4095, 4097]))), []);
  assert.deepEqual(upxArmPageMultipleHazard(readElf(elf(64, 62, [8192]))), [], "x86-64 is not affected");
});

test("a real binary parses; junk is refused with its name", () => {
  const node = readElf(new Uint8Array(readFileSync(process.execPath)), "node");
  assert.ok(node.loads.length >= 2);
  assert.throws(() => readElf(new TextEncoder().encode("#!/bin/sh\necho not elf\n".padEnd(64)), "script"), (e: unknown) => e instanceof InvalidInputError && /script: not an ELF file/.test(e.message));
});
