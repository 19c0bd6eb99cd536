import { test } from "node:test";
import assert from "node:assert/strict";
import { goFlags, goSumHashes, parseGoVersionM } from "../../src/build/tailscale.js";
import { parseUpxVersion, upxArgs, versionAtLeast } from "../../src/build/upx.js";
import { allArchitectures } from "../../src/arch.js";
import { sizeTable } from "../../src/build/sizes.js";

const VM = [
  "/x/tailscale.combined: go1.26.8",
  "\tpath\ttailscale.com/cmd/tailscaled",
  "\tmod\ttailscale.com\tv1.102.5\t",
  "\tdep\tgithub.com/google/btree\tv1.1.3\t",
  "\tdep\tgolang.org/x/net\tv0.1.0\th1:abc=",
  "\tbuild\t-tags=ts_include_cli,ts_omit_ssh",
  "\tbuild\tGOARCH=arm",
  "\tbuild\tGOARM=5",
].join("\n");

test("go version -m output gives the main module, deps and build settings", () => {
  const r = parseGoVersionM(VM);
  assert.equal(r.goVersion, "go1.26.8");
  assert.deepEqual(r.main, { path: "tailscale.com", version: "v1.102.5", sum: "" });
  assert.deepEqual(r.deps.map((d) => d.path), ["github.com/google/btree", "golang.org/x/net"]);
  assert.equal(r.deps[1]!.sum, "h1:abc=");
  assert.equal(r.settings.get("-tags"), "ts_include_cli,ts_omit_ssh");
  assert.equal(r.settings.get("GOARM"), "5");
});

test("go.sum gives zip hashes, not go.mod hashes", () => {
  const m = goSumHashes("a.b/c v1.0.0 h1:zip=\na.b/c v1.0.0/go.mod h1:mod=\n");
  assert.equal(m.get("a.b/c@v1.0.0"), "h1:zip=");
  assert.equal(m.size, 1);
});

test("profiles: small disables inlining but where packets flow, fast keeps it; both strip and stamp the version", () => {
  const small = goFlags("small", "v1.102.5");
  const fast = goFlags("fast", "v1.102.5");
  // The go command applies the last matching -gcflags pattern: all=-l must come first.
  assert.equal(small.gcflags[0], "all=-l");
  for (const hot of ["golang.org/x/crypto/...=", "github.com/tailscale/wireguard-go/...="]) {
    assert.ok(small.gcflags.indexOf(hot) > 0, `${hot} must follow all=-l in ${small.gcflags.join(" ")}`);
  }
  assert.deepEqual(fast.gcflags, []);
  for (const f of [small, fast]) {
    assert.match(f.ldflags, /^-s -w -buildid= /);
    assert.match(f.ldflags, /version\.shortStamp=1\.102\.5/);
  }
});

test("UPX arguments: ARM's 4-byte-word LZMA settings on every ARM architecture, not on amd64", () => {
  for (const a of allArchitectures()) {
    const args = upxArgs(a, "small");
    assert.deepEqual(upxArgs(a, "fast"), [], "fast does not pack");
    assert.deepEqual(args.slice(0, 2), ["--lzma", "--best"], a.name);
    assert.equal(args.includes("--crp-lzma-lp=2"), a.goarch !== "amd64", `${a.name}: ${args.join(" ")}`);
  }
});

test("UPX versions parse and compare", () => {
  assert.deepEqual(parseUpxVersion("upx 4.2.2\nUCL data compression library 1.03\n"), [4, 2, 2]);
  assert.equal(parseUpxVersion("nonsense"), null);
  assert.ok(versionAtLeast([4, 2, 2], [4, 2, 0]));
  assert.ok(!versionAtLeast([3, 96, 0], [4, 2, 0]));
  assert.ok(versionAtLeast([5, 0, 0], [4, 2, 0]));
});

test("the size table lists every component and the exact total", () => {
  const t = sizeTable([{ arch: "arm64", profile: "small", sizes: { tailscale: 3_500_000, busybox: 220_000, caBundle: 175_000, healthcheck: 26_000, other: 600, total: 3_921_600 } }]);
  const lines = t.split("\n");
  assert.match(lines[0]!, /arch\s+profile\s+tailscale\.combined\s+busybox\s+CA bundle\s+healthcheck\s+other\s+total on disk/);
  assert.match(lines[2]!, /^arm64\s+small\s+3\.34 MiB\s+214\.8 KiB\s+170\.9 KiB\s+25\.4 KiB\s+600 B\s+3\.74 MiB \(3921600 B\)$/);
});
