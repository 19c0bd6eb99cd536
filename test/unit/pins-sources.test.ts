import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { loadGoModPins, loadPins, parseGoMod, parsePins } from "../../src/pins.js";
import { debianOrigPath, fetchPinned, parseAptSourceUris } from "../../src/build/sources.js";
import { FailureError, IntegrityError, InvalidInputError } from "../../src/errors.js";
import { sha256 } from "../../src/util/fsx.js";
import { silentProgress } from "../../src/util/progress.js";

test("pins.json is validated: version shape and sha256", () => {
  const good = { busybox: { version: "1.37.0", sha256: "a".repeat(64) }, headscale: { module: "m", version: "v0.1.0" } };
  assert.equal(parsePins(JSON.stringify(good)).busybox.version, "1.37.0");
  assert.throws(() => parsePins(JSON.stringify({ ...good, busybox: { version: "1.37", sha256: "a".repeat(64) } })), /busybox.version: must look like 1.37.0/);
  assert.throws(() => parsePins(JSON.stringify({ ...good, busybox: { version: "1.37.0", sha256: "ABC" } })), /busybox.sha256: must be 64 lowercase hex/);
  const kernel = { package: "linux-image-6.1.0-50-arm64", debArch: "arm64", version: "6.1.176-1", sha256: "b".repeat(64) };
  const vm = { ...good, vmKernels: { arm64: kernel, armv7: { ...kernel, debArch: "armhf" } } };
  assert.equal(parsePins(JSON.stringify(vm)).vmKernels?.armv7.debArch, "armhf");
  assert.throws(() => parsePins(JSON.stringify({ ...vm, vmKernels: { ...vm.vmKernels, arm64: { ...kernel, sha256: "xyz" } } })), /vmKernels.arm64.sha256: must be 64 lowercase hex/);
  assert.throws(() => parsePins(JSON.stringify({ ...vm, vmKernels: { ...vm.vmKernels, armv7: { ...kernel, package: "busybox" } } })), /vmKernels.armv7.package: must be a linux-image-\* package name/);
  assert.throws(() => parsePins("{"), (e: unknown) => e instanceof InvalidInputError && /not valid JSON/.test(e.message));
});

test("the repo's pins load, and Tailscale is pinned to a stable (even minor) release", () => {
  const p = loadPins(); // validates every field; throws with the field's name otherwise
  assert.ok(p.vmKernels, "config/pins.json pins no kernels for the router VMs");
  const g = loadGoModPins();
  const minor = Number(/^v1\.(\d+)\./.exec(g.tailscaleVersion)?.[1]);
  assert.equal(minor % 2, 0, `${g.tailscaleVersion} is not a stable release`);
});

test("go.mod parsing finds tailscale and the CA roots, direct or indirect", () => {
  const g = parseGoMod("module x\n\ngo 1.26.6\n\nrequire golang.org/x/crypto/x509roots/fallback v0.0.0-1\n\nrequire (\n\ttailscale.com v1.102.5 // indirect\n)\n\ntool tailscale.com/cmd/tailscaled\n");
  assert.deepEqual(g, { goVersion: "1.26.6", toolchainVersion: "1.26.6", tailscaleVersion: "v1.102.5", caRootsVersion: "v0.0.0-1" });
  assert.equal(parseGoMod("module x\n\ngo 1.26.6\n\ntoolchain go1.26.8\n\nrequire golang.org/x/crypto/x509roots/fallback v0.0.0-1\nrequire tailscale.com v1.102.5\n").toolchainVersion, "1.26.8");
  assert.throws(() => parseGoMod("module x\n"), InvalidInputError);
});

test("apt sources in both formats yield mirror URIs; comments ignored", () => {
  const text = [
    "Types: deb",
    "URIs: http://mirror.invalid/debian",
    "Suites: bookworm",
    "# URIs: http://commented.invalid/",
    "deb [arch=amd64 signed-by=/x] http://other.invalid/debian/ bookworm main",
    "deb-src http://src.invalid/debian bookworm main",
  ].join("\n");
  assert.deepEqual(parseAptSourceUris(text), ["http://mirror.invalid/debian", "http://other.invalid/debian", "http://src.invalid/debian"]);
  assert.equal(debianOrigPath("busybox", "1.37.0", "tar.bz2"), "pool/main/b/busybox/busybox_1.37.0.orig.tar.bz2");
  assert.equal(debianOrigPath("libfoo", "1.0", "tar.xz"), "pool/main/libf/libfoo/libfoo_1.0.orig.tar.xz");
});

async function serve(files: Record<string, Buffer>): Promise<{ base: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ""];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

test("a pinned download is used only when its sha256 matches; a mismatch is an integrity error and leaves nothing", async () => {
  const cache = mkdtempSync(join(tmpdir(), "mt-cache-"));
  const prev = process.env.MIKROTIK_TAILSCALE_CACHE;
  process.env.MIKROTIK_TAILSCALE_CACHE = cache;
  const good = Buffer.from("the real tarball");
  const bad = Buffer.from("a tampered tarball");
  const srv = await serve({ "/bad.tar": bad, "/good.tar": good });
  try {
    await assert.rejects(
      fetchPinned({ name: "x.tar", sha256: sha256(good), urls: [`${srv.base}/bad.tar`] }, silentProgress),
      (e: unknown) => e instanceof IntegrityError && /does not match the pinned/.test(e.message),
    );
    assert.equal(existsSync(join(cache, "sources")) ? readdirSync(join(cache, "sources")).length : 0, 0);
    // The first candidate is tampered, a 404 follows, the third is right: it wins.
    const path = await fetchPinned(
      { name: "x.tar", sha256: sha256(good), urls: [`${srv.base}/bad.tar`, `${srv.base}/missing.tar`, `${srv.base}/good.tar`] },
      silentProgress,
    );
    assert.equal(readFileSync(path, "utf8"), "the real tarball");
    await assert.rejects(
      fetchPinned({ name: "y.tar", sha256: "0".repeat(64), urls: [`${srv.base}/missing.tar`, "http://127.0.0.1:1/none"] }, silentProgress),
      (e: unknown) => e instanceof FailureError && !(e instanceof IntegrityError) && /HTTP 404/.test(e.message),
    );
  } finally {
    await srv.close();
    rmSync(cache, { recursive: true, force: true });
    if (prev === undefined) delete process.env.MIKROTIK_TAILSCALE_CACHE;
    else process.env.MIKROTIK_TAILSCALE_CACHE = prev;
  }
});
