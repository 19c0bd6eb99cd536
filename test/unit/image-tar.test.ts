import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { paxRecord, readTar, splitUstarName, TarFormatError, writeTar, type TarEntry } from "../../src/image/tar.js";

const enc = new TextEncoder();
const field = (b: Uint8Array, off: number, len: number) => Buffer.from(b.subarray(off, off + len)).toString("latin1");
const cstr = (b: Uint8Array, off: number, len: number) => field(b, off, len).replace(/\0.*$/s, "");

/** GNU tar as an independent reader: `tar -tv` lines for an archive. */
function gnuList(archive: Uint8Array, extra: string[] = []): string[] {
  const r = spawnSync("tar", ["--numeric-owner", "--quoting-style=literal", "-tvf", "-", ...extra], { input: archive, env: { ...process.env, TZ: "UTC", LC_ALL: "C" } });
  assert.equal(r.status, 0, `tar failed: ${r.stderr}`);
  return r.stdout.toString("utf8").trim().split("\n");
}

const E = (over: Partial<TarEntry> & { path: string }): TarEntry => ({ type: "file", mode: 0o644, mtime: 1_700_000_000, data: new Uint8Array(), ...over });

test("a ustar header has every field where POSIX puts it, and a valid checksum", () => {
  const data = enc.encode("hello\n");
  const t = writeTar([E({ path: "bin/hello", mode: 0o755, data, uid: 0, gid: 0 })]);
  assert.equal(cstr(t, 0, 100), "bin/hello");
  assert.equal(field(t, 100, 8), "0000755\0");
  assert.equal(field(t, 108, 8), "0000000\0");
  assert.equal(field(t, 116, 8), "0000000\0");
  assert.equal(field(t, 124, 12), "00000000006\0");
  assert.equal(field(t, 136, 12), (1_700_000_000).toString(8).padStart(11, "0") + "\0");
  assert.equal(field(t, 156, 1), "0");
  assert.equal(field(t, 257, 8), "ustar\u000000");
  assert.equal(cstr(t, 265, 32), "");
  assert.equal(cstr(t, 345, 155), "");
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : t[i]!;
  assert.equal(field(t, 148, 8), sum.toString(8).padStart(6, "0") + "\0 ");
  assert.equal(Buffer.from(t.subarray(512, 518)).toString(), "hello\n");
});

test("sizes: data padded to 512, archive ends with exactly two zero blocks", () => {
  const t = writeTar([E({ path: "a", data: new Uint8Array(513) }), E({ path: "b", data: new Uint8Array(512) }), E({ path: "d", type: "dir", mode: 0o755, data: undefined })]);
  // a: header + 2 blocks; b: header + 1; d: header; end: 2 blocks
  assert.equal(t.length, 512 * (1 + 2 + 1 + 1 + 1 + 2));
  assert.ok(t.subarray(t.length - 1024).every((b) => b === 0));
  const names = readTar(t).map((e) => [e.rawPath, e.type, e.size]);
  assert.deepEqual(names, [["a", "file", 513], ["b", "file", 512], ["d/", "dir", 0]]);
});

test("entries stay in the order given; directories get a trailing slash; symlinks keep their targets", () => {
  const t = writeTar([
    E({ path: "z", type: "dir", mode: 0o755, data: undefined }),
    E({ path: "z/link", type: "symlink", mode: 0o777, linkTarget: "../target/file", data: undefined }),
    E({ path: "a", data: enc.encode("x") }),
  ]);
  const r = readTar(t);
  assert.deepEqual(r.map((e) => [e.rawPath, e.typeflag, e.linkTarget]), [["z/", "5", undefined], ["z/link", "2", "../target/file"], ["a", "0", undefined]]);
  assert.deepEqual(gnuList(t).map((l) => l.split(/\s+/).slice(5).join(" ")), ["z/", "z/link -> ../target/file", "a"]);
});

test("names up to 100 bytes go in the name field, longer ones are split at a slash into prefix + name", () => {
  const p100 = "a".repeat(100);
  assert.deepEqual(splitUstarName(p100), { prefix: "", name: p100 });
  const long = `${"d".repeat(60)}/${"e".repeat(70)}/${"f".repeat(90)}`;
  assert.deepEqual(splitUstarName(long), { prefix: `${"d".repeat(60)}/${"e".repeat(70)}`, name: "f".repeat(90) });
  // trailing slash of a directory stays with the name part
  assert.deepEqual(splitUstarName(`${"p".repeat(120)}/dir/`), { prefix: "p".repeat(120), name: "dir/" });
  assert.equal(splitUstarName("x".repeat(101)), undefined, "one component over 100 cannot be split");
  assert.equal(splitUstarName(`${"p".repeat(156)}/n`), undefined, "prefix over 155 cannot be split");
  assert.equal(splitUstarName("ünïcode"), undefined, "non-ASCII needs PAX");

  const t = writeTar([E({ path: long, data: enc.encode("L") })]);
  assert.equal(t.length, 512 * 4, "no PAX header needed");
  assert.equal(cstr(t, 0, 100), "f".repeat(90));
  assert.equal(cstr(t, 345, 155), `${"d".repeat(60)}/${"e".repeat(70)}`);
  assert.equal(readTar(t)[0]!.path, long);
  assert.deepEqual(gnuList(t).map((l) => l.split(/\s+/).pop()), [long]);
});

test("names and link targets that ustar cannot hold get a PAX header that GNU tar reads", () => {
  const longComponent = `usr/share/${"n".repeat(130)}`;
  const deep = Array.from({ length: 60 }, (_, i) => `dir${i}`).join("/") + "/file"; // ~350 bytes: no prefix/name split fits
  const unicode = "etc/ünïcödé";
  const longTarget = `/${"t".repeat(150)}`;
  const entries: TarEntry[] = [
    E({ path: longComponent, data: enc.encode("1") }),
    E({ path: deep, data: enc.encode("2") }),
    E({ path: unicode, data: enc.encode("3") }),
    E({ path: "bin/longlink", type: "symlink", mode: 0o777, linkTarget: longTarget, data: undefined }),
  ];
  const t = writeTar(entries);
  const r = readTar(t);
  assert.deepEqual(r.map((e) => e.path), [longComponent, deep, unicode, "bin/longlink"]);
  assert.deepEqual(r.map((e) => e.pax), [true, true, true, true]);
  assert.equal(r[3]!.linkTarget, longTarget);
  assert.deepEqual(r.map((e) => Buffer.from(e.data).toString()), ["1", "2", "3", ""]);
  const listed = gnuList(t).map((l) => l.split(/\s+/).slice(5).join(" "));
  assert.deepEqual(listed, [longComponent, deep, unicode, `bin/longlink -> ${longTarget}`]);
  // The PAX header itself has a short ASCII name and type 'x'.
  assert.equal(field(t, 156, 1), "x");
  assert.match(cstr(t, 0, 100), /^PaxHeader\//);
});

test("PAX record lengths count themselves, across digit-count boundaries", () => {
  for (let n = 0; n < 1200; n += 1) {
    const rec = paxRecord("path", "x".repeat(n));
    const len = Number(rec.slice(0, rec.indexOf(" ")));
    assert.equal(Buffer.byteLength(rec), len, `value length ${n}`);
    assert.ok(rec.endsWith("\n"));
  }
  const u = paxRecord("path", "é".repeat(50));
  assert.equal(Buffer.byteLength(u), Number(u.slice(0, u.indexOf(" "))));
});

test("the same entries always give the same bytes", () => {
  const mk = () =>
    writeTar([
      E({ path: "a", data: createHash("sha256").update("seed").digest() }),
      E({ path: `${"l".repeat(120)}`, data: enc.encode("pax") }),
      E({ path: "s", type: "symlink", mode: 0o777, linkTarget: "a", data: undefined }),
    ]);
  assert.deepEqual(mk(), mk());
});

test("the writer refuses paths and entries that would extract somewhere unexpected", () => {
  for (const path of ["", "/abs", "./dot", "a/../b", "a//b", "trailing/", "a/./b", "nul\0"]) {
    assert.throws(() => writeTar([E({ path })]), TarFormatError, JSON.stringify(path));
  }
  assert.throws(() => writeTar([E({ path: "f", data: undefined })]), /no data/);
  assert.throws(() => writeTar([E({ path: "s", type: "symlink", data: undefined })]), /no target/);
  assert.throws(() => writeTar([E({ path: "d", type: "dir", data: enc.encode("x") })]), /cannot carry data/);
  assert.throws(() => writeTar([E({ path: "f", mtime: -1 })]), /mtime/);
  assert.throws(() => writeTar([E({ path: "f", uid: 0o10000000 })]), /uid/);
});

test("the reader refuses truncated, corrupt and non-tar input", () => {
  const good = writeTar([E({ path: "a", data: new Uint8Array(1000).fill(7) }), E({ path: "b", data: enc.encode("b") })]);
  assert.equal(readTar(good).length, 2);
  assert.throws(() => readTar(new Uint8Array()), /empty/);
  assert.throws(() => readTar(good.subarray(0, 700)), /truncated/);
  assert.throws(() => readTar(good.subarray(0, 512 * 3)), /end-of-archive|truncated/, "cut at a header boundary");
  assert.throws(() => readTar(good.subarray(0, good.length - 512)), /single zero block/);
  const flipped = new Uint8Array(good);
  flipped[10] ^= 1;
  assert.throws(() => readTar(flipped), /checksum/);
  const trailing = new Uint8Array(good.length + 512);
  trailing.set(good);
  trailing[good.length + 3] = 1;
  assert.throws(() => readTar(trailing), /after the end/);
  assert.throws(() => readTar(enc.encode("{\"not\":\"a tar\"}".padEnd(2048, " "))), /not a tar archive/);
});

test("the reader accepts what GNU tar writes, including its long-name extension", () => {
  const long = `g/${"q".repeat(140)}`;
  const script = `set -e; d=$(mktemp -d); cd "$d"; mkdir -p g; printf hi > "${long}"; ln -s "${long}" g/l; tar --format=gnu --owner=0 --group=0 -cf - g; rm -rf "$d"`;
  const r = spawnSync("sh", ["-c", script]);
  assert.equal(r.status, 0, String(r.stderr));
  const entries = readTar(new Uint8Array(r.stdout));
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(Buffer.from(byPath.get(long)!.data).toString(), "hi");
  assert.equal(byPath.get("g/l")!.linkTarget, long);
  assert.equal(byPath.get("g")!.type, "dir");
});
