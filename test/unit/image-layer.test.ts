import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLayer, comparePaths, LayerInputError, normalizeMode, normalizeTree, type TreeEntry } from "../../src/image/layer.js";
import { readTar } from "../../src/image/tar.js";

const enc = new TextEncoder();
const MTIME = 1_712_345_678;

/** A small tree shaped like the real one: binary + symlinks, busybox applets, long names, /tmp. */
function sampleTree(): TreeEntry[] {
  const longDir = `usr/share/${"x".repeat(90)}/${"y".repeat(40)}`;
  return [
    { path: "usr/local/bin/tailscale.combined", type: "file", mode: 0o755, data: enc.encode("ELF tailscale") },
    { path: "usr/local/bin/tailscale", type: "symlink", mode: 0o777, target: "tailscale.combined" },
    { path: "usr/local/bin/tailscaled", type: "symlink", mode: 0o777, target: "tailscale.combined" },
    { path: "usr/local/bin/entrypoint", type: "file", mode: 0o755, data: enc.encode("#!/bin/sh\n") },
    { path: "bin/busybox", type: "file", mode: 0o755, data: enc.encode("ELF busybox") },
    { path: "bin/sh", type: "symlink", mode: 0o777, target: "busybox" },
    { path: "bin/ls", type: "symlink", mode: 0o777, target: "/bin/busybox" },
    { path: "etc/ssl/certs/ca-certificates.crt", type: "file", mode: 0o644, data: enc.encode("-----BEGIN CERTIFICATE-----\n") },
    { path: "etc/passwd", type: "file", mode: 0o644, data: enc.encode("root:x:0:0:root:/root:/bin/sh\n") },
    { path: "tmp", type: "dir", mode: 0o1777 },
    { path: "var/lib/tailscale", type: "dir", mode: 0o755 },
    { path: "var/run/tailscale", type: "dir", mode: 0o755 },
    { path: "root", type: "dir", mode: 0o700 },
    { path: `${longDir}/${"z".repeat(110)}`, type: "file", mode: 0o644, data: enc.encode("long") },
  ];
}

test("paths compare by UTF-8 bytes, so parents come before children and uppercase before lowercase", () => {
  const paths = ["bin/sh", "bin", "bin-x", "bin.d", "Bin", "bin/a", "é", "z"];
  assert.deepEqual([...paths].sort(comparePaths), ["Bin", "bin", "bin-x", "bin.d", "bin/a", "bin/sh", "z", "é"]);
});

test("modes: no group/other write, no setuid; sticky directories and owner-only modes survive", () => {
  assert.equal(normalizeMode("file", 0o775), 0o755);
  assert.equal(normalizeMode("file", 0o664), 0o644);
  assert.equal(normalizeMode("file", 0o4755), 0o755);
  assert.equal(normalizeMode("file", 0o600), 0o600);
  assert.equal(normalizeMode("dir", 0o700), 0o700);
  assert.equal(normalizeMode("dir", 0o777), 0o755);
  assert.equal(normalizeMode("dir", 0o1777), 0o1777);
  assert.equal(normalizeMode("symlink", 0o755), 0o777);
});

test("normalizeTree sorts, adds every missing parent as 0755 and keeps what was given", () => {
  const t = normalizeTree(sampleTree());
  const paths = t.map((e) => e.path);
  assert.deepEqual(paths, [...paths].sort(comparePaths));
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) assert.ok(paths.includes(parts.slice(0, i).join("/")), `parent of ${p}`);
  }
  const get = (p: string) => t.find((e) => e.path === p)!;
  assert.equal(get("usr").mode, 0o755);
  assert.equal(get("usr").type, "dir");
  assert.equal(get("tmp").mode, 0o1777);
  assert.equal(get("root").mode, 0o700);
  assert.equal(get("bin/ls").target, "/bin/busybox");
});

test("normalizeTree refuses duplicates, children of non-directories, whiteouts and dangling hard links", () => {
  const f = (path: string): TreeEntry => ({ path, type: "file", mode: 0o644, data: new Uint8Array() });
  assert.throws(() => normalizeTree([f("a"), f("a")]), /duplicate/);
  assert.throws(() => normalizeTree([f("a"), f("a/b")]), /not a directory/);
  assert.throws(() => normalizeTree([{ path: "l", type: "symlink", mode: 0o777, target: "x" }, f("l/b")]), /not a directory/);
  assert.throws(() => normalizeTree([f("etc/.wh.passwd")]), /whiteout/);
  assert.throws(() => normalizeTree([f("./a")]), LayerInputError);
  assert.throws(() => normalizeTree([f("/a")]), LayerInputError);
  assert.throws(() => normalizeTree([f("a/../b")]), LayerInputError);
  assert.throws(() => normalizeTree([{ path: "s", type: "symlink", mode: 0o777, target: "" }]), /without a target/);
  assert.throws(() => normalizeTree([{ path: "a", type: "hardlink", mode: 0o644, target: "b" }, f("b")]), /sorts before/);
  assert.doesNotThrow(() => normalizeTree([f("a"), { path: "b", type: "hardlink", mode: 0o644, target: "a" }]));
});

test("the layer tar: sorted, no './', dirs with '/', owner 0:0 without names, one mtime, symlinks as symlinks", () => {
  const layer = buildLayer(sampleTree(), { mtime: MTIME });
  const entries = readTar(layer.tar);
  assert.equal(layer.diffId, `sha256:${createHash("sha256").update(layer.tar).digest("hex")}`);
  assert.deepEqual(entries.map((e) => e.path), layer.entries.map((e) => e.path));
  for (const e of entries) {
    assert.ok(!e.rawPath.startsWith("./") && !e.rawPath.startsWith("/"), e.rawPath);
    assert.equal(e.rawPath.endsWith("/"), e.type === "dir", e.rawPath);
    assert.equal(e.uid, 0);
    assert.equal(e.gid, 0);
    assert.equal(e.uname, "");
    assert.equal(e.gname, "");
    assert.equal(e.mtime, MTIME);
  }
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.equal(by.get("usr/local/bin/tailscale")!.type, "symlink");
  assert.equal(by.get("usr/local/bin/tailscale")!.linkTarget, "tailscale.combined");
  assert.equal(by.get("usr/local/bin/tailscale")!.mode, 0o777);
  assert.equal(by.get("usr/local/bin/tailscale.combined")!.mode, 0o755);
  assert.equal(Buffer.from(by.get("usr/local/bin/tailscale.combined")!.data).toString(), "ELF tailscale");
  assert.equal(by.get("tmp")!.mode, 0o1777);
  assert.equal(by.get("etc/passwd")!.mode, 0o644);
  // the binary and both of its names are in this one layer
  for (const p of ["usr/local/bin/tailscale.combined", "usr/local/bin/tailscale", "usr/local/bin/tailscaled"]) assert.ok(by.has(p));
});

test("the same tree gives the same bytes whatever order it comes in and whatever modes umask left", () => {
  const a = buildLayer(sampleTree(), { mtime: MTIME });
  const shuffled = sampleTree().reverse().map((e) => (e.type === "file" ? { ...e, mode: e.mode | 0o020 } : e));
  const b = buildLayer(shuffled, { mtime: MTIME });
  assert.deepEqual(b.tar, a.tar);
  assert.equal(b.diffId, a.diffId);
  const c = buildLayer(sampleTree(), { mtime: MTIME + 1 });
  assert.notEqual(c.diffId, a.diffId, "mtime is part of the content");
});

test("GNU tar extracts the layer into exactly the tree: paths, types, modes, link targets, bytes", () => {
  const tree = normalizeTree(sampleTree());
  const layer = buildLayer(tree, { mtime: MTIME });
  const dir = mkdtempSync(join(tmpdir(), "layer-"));
  try {
    const r = spawnSync("tar", ["-xf", "-", "-C", dir, "--same-permissions", "--numeric-owner"], { input: layer.tar });
    assert.equal(r.status, 0, String(r.stderr));
    for (const e of tree) {
      const p = join(dir, e.path);
      const st = lstatSync(p);
      if (e.type === "dir") assert.ok(st.isDirectory(), e.path);
      if (e.type === "symlink") {
        assert.ok(st.isSymbolicLink(), e.path);
        assert.equal(readlinkSync(p), e.target);
        continue;
      }
      if (e.type === "file") {
        assert.ok(st.isFile(), e.path);
        assert.deepEqual(new Uint8Array(readFileSync(p)), e.data);
      }
      assert.equal(st.mode & 0o7777, e.mode, `mode of ${e.path}`);
      if (e.type === "file") assert.equal(st.mtimeMs / 1000, MTIME);
    }
    const count = spawnSync("find", [dir, "-mindepth", "1"]).stdout.toString().trim().split("\n").length;
    assert.equal(count, tree.length, "nothing extra extracted");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hard links are stored as links to the first name", () => {
  const layer = buildLayer(
    [
      { path: "bin/a", type: "file", mode: 0o755, data: enc.encode("same") },
      { path: "bin/b", type: "hardlink", mode: 0o755, target: "bin/a" },
    ],
    { mtime: MTIME },
  );
  const e = readTar(layer.tar).find((x) => x.path === "bin/b")!;
  assert.equal(e.typeflag, "1");
  assert.equal(e.linkTarget, "bin/a");
  assert.equal(e.size, 0);
});
