/**
 * `bump busybox`: version and sha256 move together. Tarballs come from a
 * server on 127.0.0.1 standing in for the mirrors the build uses.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pinBusybox } from "../../src/release/busybox-pin.js";

const files = new Map<string, Buffer>();
let server: http.Server;
let base = "";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

before(async () => {
  server = http.createServer((req, res) => {
    const body = files.get(req.url ?? "");
    if (!body) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function configDir(version: string, sha256: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mt-bb-"));
  writeFileSync(
    join(dir, "pins.json"),
    JSON.stringify({ $comment: "pins", busybox: { version, sha256 }, headscale: { module: "m", version: "v0.29.3" } }, null, 2) + "\n",
  );
  return dir;
}

const urls = (v: string) => [`${base}/mirror/busybox_${v}.orig.tar.bz2`, `${base}/upstream/busybox-${v}.tar.bz2`];

test("a new version is pinned with the sha256 of its tarball, checked against every copy and the published checksum", async () => {
  const tarball = Buffer.from("busybox 1.38.0 release tarball");
  files.set("/mirror/busybox_1.38.0.orig.tar.bz2", tarball);
  files.set("/upstream/busybox-1.38.0.tar.bz2", tarball);
  files.set("/upstream/busybox-1.38.0.tar.bz2.sha256", Buffer.from(`${sha(tarball)}  busybox-1.38.0.tar.bz2\n`));
  const dir = configDir("1.37.0", "a".repeat(64));
  try {
    // Renovate's case: the version moved, the hash is the old one's.
    const pins = JSON.parse(readFileSync(join(dir, "pins.json"), "utf8"));
    pins.busybox.version = "1.38.0";
    writeFileSync(join(dir, "pins.json"), JSON.stringify(pins, null, 2) + "\n");
    const r = await pinBusybox({ configDir: dir, urls });
    assert.equal(r.written, true);
    assert.deepEqual(r.to, { version: "1.38.0", sha256: sha(tarball) });
    assert.equal(r.sources.length, 2);
    assert.equal(r.checkedAgainst, `${base}/upstream/busybox-1.38.0.tar.bz2.sha256`);
    const after = JSON.parse(readFileSync(join(dir, "pins.json"), "utf8"));
    assert.deepEqual(after.busybox, { version: "1.38.0", sha256: sha(tarball) });
    assert.equal(after.$comment, "pins", "the rest of the file is kept");
    assert.deepEqual(Object.keys(after), ["$comment", "busybox", "headscale"]);
    // Run again: nothing to change.
    assert.equal((await pinBusybox({ configDir: dir, urls })).written, false);
    // --version moves both fields at once.
    const t2 = Buffer.from("busybox 1.38.1");
    files.set("/upstream/busybox-1.38.1.tar.bz2", t2);
    const r2 = await pinBusybox({ configDir: dir, urls, version: "1.38.1" });
    assert.deepEqual(r2.to, { version: "1.38.1", sha256: sha(t2) });
    assert.equal(r2.checkedAgainst, undefined, "no checksum file published for it");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("copies that disagree, a wrong published checksum, or no source at all: nothing is written", async () => {
  files.set("/mirror/busybox_1.39.0.orig.tar.bz2", Buffer.from("one"));
  files.set("/upstream/busybox-1.39.0.tar.bz2", Buffer.from("two"));
  files.set("/upstream/busybox-1.40.0.tar.bz2", Buffer.from("three"));
  files.set("/upstream/busybox-1.40.0.tar.bz2.sha256", Buffer.from(`${"0".repeat(64)}  busybox-1.40.0.tar.bz2\n`));
  const dir = configDir("1.37.0", "a".repeat(64));
  const before = readFileSync(join(dir, "pins.json"), "utf8");
  try {
    await assert.rejects(pinBusybox({ configDir: dir, urls, version: "1.39.0" }), /busybox 1\.39\.0: the copies differ/);
    await assert.rejects(pinBusybox({ configDir: dir, urls, version: "1.40.0" }), /hashes to .* but .*busybox-1\.40\.0\.tar\.bz2\.sha256 says 0{64}/);
    await assert.rejects(pinBusybox({ configDir: dir, urls, version: "1.41.0" }), /could not download busybox 1\.41\.0 from anywhere:\n.*HTTP 404/);
    await assert.rejects(pinBusybox({ configDir: dir, urls, version: "1.x" }), /does not look like 1\.37\.0/);
    assert.equal(readFileSync(join(dir, "pins.json"), "utf8"), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the committed version with other bytes is refused: a release's hash never changes silently", async () => {
  const good = Buffer.from("busybox 1.42.0");
  const dir = configDir("1.42.0", sha(good));
  try {
    const git = (...a: string[]) => assert.equal(spawnSync("git", ["-C", dir, ...a], { encoding: "utf8" }).status, 0, a.join(" "));
    git("init", "-q");
    git("add", "pins.json");
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "pin");
    files.set("/upstream/busybox-1.42.0.tar.bz2", Buffer.from("busybox 1.42.0, republished"));
    await assert.rejects(pinBusybox({ configDir: dir, urls }), /refusing to change the hash of a release/);
    files.set("/upstream/busybox-1.42.0.tar.bz2", good);
    const ok = await pinBusybox({ configDir: dir, urls });
    assert.equal(ok.written, false, "the pin is right");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
