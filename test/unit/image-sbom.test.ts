import { test } from "node:test";
import assert from "node:assert/strict";
import type { BuildRecord } from "../../src/build/record.js";
import { goPurl, spdxDocument, type SbomInput } from "../../src/image/sbom.js";

const dec = new TextDecoder();

function input(over: Partial<BuildRecord["tailscale"]> = {}): SbomInput {
  const record: BuildRecord = {
    schema: 3,
    arch: "armv5",
    platform: { os: "linux", architecture: "arm", variant: "v5" },
    profile: "small",
    tailscale: {
      version: "v1.102.5",
      commit: "0123456789abcdef",
      goVersion: "go1.26.8",
      tags: ["ts_include_cli", "ts_omit_aws", "ts_omit_ssh"],
      features: ["osrouter", "netstack"],
      omittedFeatures: ["aws", "ssh"],
      modules: [
        { path: "tailscale.com", version: "v1.102.5", sum: "h1:TS=" },
        { path: "golang.org/x/net", version: "v0.40.0", sum: "h1:NET=" },
        { path: "github.com/BurntSushi/toml", version: "v1.4.0", sum: "h1:TOML=" },
        { path: "github.com/old/thing", version: "v2.0.0+incompatible", sum: "h1:OLD=" },
      ],
      goEnv: { GOARCH: "arm", GOARM: "5" },
      ldflags: "-s -w",
      gcflags: ["all=-l", "golang.org/x/crypto/...="],
      upx: true,
      upxArgs: ["--lzma", "--best", "--crp-lzma-lc=1"],
      ...over,
    },
    busybox: { version: "1.37.0", tarballSha256: "3".repeat(64), applets: ["sh", "ls"], upx: true, upxArgs: ["--lzma", "--best"] },
    caBundle: {
      module: "golang.org/x/crypto/x509roots/fallback",
      version: "v0.0.0-20250101000000-abcdefabcdef",
      sum: "h1:CA=",
      sha256: "4".repeat(64),
      included: 118,
      droppedDistrustAfter: 3,
    },
    healthcheck: { sourceSha256: "5".repeat(64), gccArgs: ["-Os", "-static"], toolchain: "gcc 12.2.0 musl 1.2.3-1" },
    sizes: { tailscale: 1, busybox: 1, caBundle: 1, healthcheck: 1, other: 1, total: 5 },
  };
  return {
    record,
    imageVersion: "v1.102.5-mt.1",
    repoTag: "mikrotik-tailscale:v1.102.5-mt.1-armv5",
    revision: "feedface",
    source: "https://example.invalid/project",
    sourceDateEpoch: 1_700_000_000,
    toolVersion: "0.1.0",
    layerDiffId: `sha256:${"9".repeat(64)}`,
  };
}

interface Pkg {
  name: string;
  SPDXID: string;
  versionInfo: string;
  downloadLocation: string;
  checksums?: { algorithm: string; checksumValue: string }[];
  externalRefs?: { referenceType: string; referenceLocator: string }[];
  comment?: string;
  sourceInfo?: string;
}

const doc = (i = input()) => JSON.parse(dec.decode(spdxDocument(i))) as {
  spdxVersion: string;
  dataLicense: string;
  SPDXID: string;
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: Pkg[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
};

test("an SPDX 2.3 document with the required document fields", () => {
  const d = doc();
  assert.equal(d.spdxVersion, "SPDX-2.3");
  assert.equal(d.dataLicense, "CC0-1.0");
  assert.equal(d.SPDXID, "SPDXRef-DOCUMENT");
  assert.equal(d.name, "mikrotik-tailscale-v1.102.5-mt.1-armv5");
  assert.match(d.documentNamespace, /^https:\/\/\S+$/);
  assert.equal(d.creationInfo.created, "2023-11-14T22:13:20Z");
  assert.deepEqual(d.creationInfo.creators, ["Tool: mikrotik-tailscale-0.1.0"]);
  const ids = d.packages.map((p) => p.SPDXID);
  assert.equal(new Set(ids).size, ids.length, "SPDXIDs are unique");
  for (const id of ids) assert.match(id, /^SPDXRef-[A-Za-z0-9.-]+$/);
  for (const p of d.packages) assert.ok(p.downloadLocation, `${p.name} has a downloadLocation`);
  const all = new Set(["SPDXRef-DOCUMENT", ...ids]);
  for (const r of d.relationships) assert.ok(all.has(r.spdxElementId) && all.has(r.relatedSpdxElement), JSON.stringify(r));
  assert.ok(d.relationships.some((r) => r.spdxElementId === "SPDXRef-DOCUMENT" && r.relationshipType === "DESCRIBES" && r.relatedSpdxElement === "SPDXRef-Image"));
});

test("Tailscale, every Go module with its purl and go.sum hash, the Go stdlib", () => {
  const d = doc();
  const by = new Map(d.packages.map((p) => [p.name, p]));
  const ts = by.get("tailscale.com")!;
  assert.equal(ts.versionInfo, "v1.102.5");
  assert.equal(ts.externalRefs![0]!.referenceLocator, "pkg:golang/tailscale.com@v1.102.5");
  assert.match(ts.comment!, /build tags: ts_include_cli,ts_omit_aws,ts_omit_ssh/);
  assert.match(ts.comment!, /features: osrouter,netstack/);
  assert.match(ts.comment!, /upx: --lzma --best --crp-lzma-lc=1/);
  assert.match(ts.comment!, /gcflags: -gcflags=all=-l -gcflags=golang\.org\/x\/crypto\/\.\.\.=;/);
  assert.match(ts.comment!, /h1:TS=/);
  assert.match(ts.comment!, /upstream commit 0123456789abcdef/);
  for (const [path, version, sum] of [
    ["golang.org/x/net", "v0.40.0", "h1:NET="],
    ["github.com/BurntSushi/toml", "v1.4.0", "h1:TOML="],
    ["github.com/old/thing", "v2.0.0+incompatible", "h1:OLD="],
  ] as const) {
    const p = by.get(path)!;
    assert.ok(p, path);
    assert.equal(p.versionInfo, version);
    assert.equal(p.externalRefs![0]!.referenceLocator, goPurl(path, version));
    assert.match(p.comment!, new RegExp(sum.replace(/[+=]/g, "\\$&")));
    assert.ok(d.relationships.some((r) => r.spdxElementId === "SPDXRef-Tailscale" && r.relationshipType === "DEPENDS_ON" && r.relatedSpdxElement === p.SPDXID));
  }
  assert.equal(d.packages.filter((p) => p.name === "tailscale.com").length, 1, "tailscale.com is not listed twice");
  assert.equal(by.get("stdlib")!.versionInfo, "go1.26.8");
  assert.equal(goPurl("github.com/old/thing", "v2.0.0+incompatible"), "pkg:golang/github.com/old/thing@v2.0.0%2Bincompatible");
});

test("busybox with its version and tarball sha256; the CA bundle with its source module and version", () => {
  const d = doc();
  const by = new Map(d.packages.map((p) => [p.name, p]));
  const bb = by.get("busybox")!;
  assert.equal(bb.versionInfo, "1.37.0");
  assert.deepEqual(bb.checksums, [{ algorithm: "SHA256", checksumValue: "3".repeat(64) }]);
  assert.match(bb.externalRefs![0]!.referenceLocator, /^pkg:generic\/busybox@1\.37\.0\?checksum=sha256:3{64}$/);
  const ca = by.get("ca-certificates.crt")!;
  assert.equal(ca.versionInfo, "v0.0.0-20250101000000-abcdefabcdef");
  assert.equal(ca.externalRefs![0]!.referenceLocator, "pkg:golang/golang.org/x/crypto/x509roots/fallback@v0.0.0-20250101000000-abcdefabcdef");
  assert.match(ca.sourceInfo!, /golang\.org\/x\/crypto\/x509roots\/fallback@v0\.0\.0-20250101000000-abcdefabcdef/);
  assert.deepEqual(ca.checksums, [{ algorithm: "SHA256", checksumValue: "4".repeat(64) }]);
  const img = by.get("mikrotik-tailscale:v1.102.5-mt.1-armv5")!;
  assert.match(img.comment!, /linux\/arm\/v5/);
  assert.match(img.comment!, new RegExp(`sha256:${"9".repeat(64)}`));
  assert.match(img.sourceInfo!, /feedface/);
});

test("deterministic: the same input gives the same bytes; a different input a different namespace", () => {
  assert.deepEqual(spdxDocument(input()), spdxDocument(input()));
  const a = doc();
  const b = doc(input({ version: "v1.102.6" }));
  assert.notEqual(a.documentNamespace, b.documentNamespace);
  // module order in the record does not matter
  const i = input();
  i.record.tailscale.modules.reverse();
  assert.deepEqual(spdxDocument(i), spdxDocument(input()));
});
