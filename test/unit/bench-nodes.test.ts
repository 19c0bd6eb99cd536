/**
 * The benchmark's node helpers (bench/src/nodes.ts): preparing each node's
 * root filesystem (our image, or stock binaries swapped in), finding
 * tailscaled among a namespace's processes, reading `tailscale ping`.
 * Starting real nodes needs root and a built image: that is the benchmark
 * itself, not a unit test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTailscaled, isDirectPath, nodeHostname, nodeImage, parsePingPath, swapInStock } from "../../bench/src/nodes.js";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "bench-nodes-"));
}

/** A root filesystem laid out like ours: one combined binary, two names for it, busybox. */
function fakeRootfs(dir: string): void {
  mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "usr/local/bin/tailscale.combined"), "combined");
  chmodSync(join(dir, "usr/local/bin/tailscale.combined"), 0o755);
  symlinkSync("tailscale.combined", join(dir, "usr/local/bin/tailscale"));
  symlinkSync("tailscale.combined", join(dir, "usr/local/bin/tailscaled"));
  writeFileSync(join(dir, "usr/local/bin/entrypoint"), "#!/bin/sh\n");
  chmodSync(join(dir, "usr/local/bin/entrypoint"), 0o755);
  writeFileSync(join(dir, "bin/busybox"), "busybox");
  symlinkSync("busybox", join(dir, "bin/sh"));
}

function stockBins(dir: string): { tailscaled: string; tailscale: string } {
  writeFileSync(join(dir, "stock-tailscaled"), "upstream daemon");
  writeFileSync(join(dir, "stock-tailscale"), "upstream cli");
  return { tailscaled: join(dir, "stock-tailscaled"), tailscale: join(dir, "stock-tailscale") };
}

/** A docker-archive as `build` writes one, made with GNU tar. */
function fakeImage(dir: string): string {
  const root = join(dir, "layer-root");
  fakeRootfs(root);
  const staging = join(dir, "archive");
  mkdirSync(join(staging, "l1"), { recursive: true });
  execFileSync("tar", ["-cf", join(staging, "l1", "layer.tar"), "-C", root, "."]);
  writeFileSync(join(staging, "cfg.json"), JSON.stringify({ architecture: "amd64", config: { Entrypoint: ["/usr/local/bin/entrypoint"], Env: ["PATH=/usr/local/bin:/bin"] } }));
  writeFileSync(join(staging, "manifest.json"), JSON.stringify([{ Config: "cfg.json", RepoTags: ["x:y"], Layers: ["l1/layer.tar"] }]));
  const file = join(dir, "image.tar");
  execFileSync("tar", ["-cf", file, "-C", staging, "manifest.json", "cfg.json", "l1/layer.tar"]);
  return file;
}

test("swapInStock: upstream's two binaries replace the combined binary and both of its names", async () => {
  const dir = tmp();
  try {
    const rootfs = join(dir, "rootfs");
    fakeRootfs(rootfs);
    await swapInStock(rootfs, stockBins(dir));
    const bin = join(rootfs, "usr/local/bin");
    assert.ok(!existsSync(join(bin, "tailscale.combined")));
    for (const [name, body] of [["tailscaled", "upstream daemon"], ["tailscale", "upstream cli"]]) {
      const st = lstatSync(join(bin, name!));
      assert.ok(st.isFile(), `${name} is a regular file now, not a symlink`);
      assert.equal(st.mode & 0o777, 0o755);
      assert.equal(readFileSync(join(bin, name!), "utf8"), body);
    }
    assert.equal(readFileSync(join(bin, "entrypoint"), "utf8"), "#!/bin/sh\n", "the entrypoint stays: it starts the stock daemon the same way");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nodeImage: each node gets its own unpacked copy; stock swaps the binaries in that copy only", async () => {
  const dir = tmp();
  try {
    const tar = fakeImage(dir);
    const ours = await nodeImage({ variant: "small", tar }, join(dir, "node-a"));
    assert.deepEqual(ours.entrypoint, ["/usr/local/bin/entrypoint"]);
    assert.equal(readlinkSync(join(ours.rootfs, "usr/local/bin/tailscaled")), "tailscale.combined");
    const stock = await nodeImage({ variant: "stock", tar, stock: stockBins(dir) }, join(dir, "node-b"));
    assert.notEqual(stock.rootfs, ours.rootfs);
    assert.equal(readFileSync(join(stock.rootfs, "usr/local/bin/tailscaled"), "utf8"), "upstream daemon");
    assert.equal(readlinkSync(join(ours.rootfs, "usr/local/bin/tailscaled")), "tailscale.combined", "the other node's copy is untouched");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("findTailscaled: exactly one process named tailscaled among a namespace's processes", () => {
  const comm = new Map([
    [10, "runc\n"],
    [11, "tailscaled\n"],
    [12, "entrypoint\n"],
    [13, "iperf3\n"],
  ]);
  assert.equal(findTailscaled([10, 11, 12, 13, 99], (p) => comm.get(p)), 11);
  assert.throws(() => findTailscaled([10, 12], (p) => comm.get(p)), /found 0 among 2/);
  assert.throws(() => findTailscaled([11, 11], (p) => comm.get(p)), /found 2/);
});

test("tailscale ping: the last pong's path; direct only for an address and port", () => {
  const out = [
    "pong from fast-a (100.64.0.1) via DERP(lab) in 3ms",
    "pong from fast-a (100.64.0.1) via 10.214.1.2:41641 in 1ms",
    "",
  ].join("\n");
  assert.equal(parsePingPath(out), "10.214.1.2:41641");
  assert.equal(parsePingPath("pong from x (100.64.0.1) via DERP(lab) in 3ms\n"), "DERP(lab)");
  assert.equal(parsePingPath("ping \"100.64.0.1\" timed out\n"), undefined);
  assert.ok(isDirectPath("10.214.1.2:41641"));
  assert.ok(isDirectPath("[fd7a::1]:41641"));
  assert.ok(!isDirectPath("DERP(lab)"));
  assert.ok(!isDirectPath(undefined));
});

test("node host names are DNS labels, whatever a build is called", () => {
  assert.equal(nodeHostname("small", "a"), "small-a");
  assert.equal(nodeHostname("Small+GRO", "b"), "small-gro-b");
  assert.equal(nodeHostname("x".repeat(80), "a").length, 63);
});
