import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { allArchitectures } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { inspectPath } from "../../src/cli/commands/inspect.js";
import { main } from "../../src/cli/main.js";
import { InvalidInputError } from "../../src/errors.js";
import { imageConfig, imageLabels } from "../../src/image/config.js";
import { digestOf } from "../../src/image/digest.js";
import { dockerArchive } from "../../src/image/docker-archive.js";
import { ImageFormatError, inspectLayout, inspectTar } from "../../src/image/inspect.js";
import { buildLayer, type TreeEntry } from "../../src/image/layer.js";
import { gzipLayer, ociLayout, packFiles, type OciImageInput } from "../../src/image/oci.js";
import { readTar, writeTar, type TarEntry } from "../../src/image/tar.js";
import { fakeRecord } from "../support/records.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SDE = 1_700_000_000;

function record(arch: BuildRecord["arch"]): BuildRecord {
  return fakeRecord(arch);
}

const tree: TreeEntry[] = [
  { path: "bin/busybox", type: "file", mode: 0o755, data: enc.encode("busybox!") },
  { path: "bin/sh", type: "symlink", mode: 0o777, target: "busybox" },
  { path: "tmp", type: "dir", mode: 0o1777 },
];

function parts(arch: BuildRecord["arch"]) {
  const a = allArchitectures().find((x) => x.name === arch)!;
  const layer = buildLayer(tree, { mtime: SDE });
  const config = imageConfig({
    platform: a.platform,
    created: SDE,
    diffIds: [layer.diffId],
    labels: imageLabels(record(arch), { imageVersion: "v1.102.5-mt.1", revision: "r", source: "s", sourceDateEpoch: SDE }),
    createdBy: "test",
  });
  return { a, layer, config };
}

function archive(arch: BuildRecord["arch"] = "arm64"): Uint8Array {
  const { layer, config } = parts(arch);
  return dockerArchive({ repoTag: `mikrotik-tailscale:v1.102.5-mt.1-${arch}`, config, layer: layer.tar, diffId: layer.diffId, mtime: SDE });
}

function layout() {
  const images: OciImageInput[] = allArchitectures().map((x) => {
    const { layer, config } = parts(x.name);
    return { arch: x.name, platform: { os: "linux", ...x.platform }, config, layerGzip: gzipLayer(layer.tar), sbom: enc.encode('{"spdxVersion":"SPDX-2.3","packages":[{},{}]}') };
  });
  return ociLayout({ tag: "v1.102.5-mt.1", images });
}

/** Rewrites one entry of a tar (same order, same everything else). */
function retar(bytes: Uint8Array, edit: (entries: TarEntry[]) => TarEntry[]): Uint8Array {
  const entries: TarEntry[] = readTar(bytes).map((e) => ({
    path: e.path,
    type: e.type as TarEntry["type"],
    mode: e.mode,
    mtime: e.mtime,
    ...(e.type === "file" ? { data: e.data } : {}),
    ...(e.linkTarget ? { linkTarget: e.linkTarget } : {}),
  }));
  return writeTar(edit(entries));
}

test("a docker-archive reads back with platform, versions, tags, features and per-file digests", () => {
  const r = inspectTar(archive("arm64"));
  assert.equal(r.format, "docker-archive");
  assert.deepEqual(r.warnings, []);
  assert.equal(r.images.length, 1);
  const img = r.images[0]!;
  assert.deepEqual(img.names, ["mikrotik-tailscale:v1.102.5-mt.1-arm64"]);
  assert.deepEqual(img.platform, { os: "linux", architecture: "arm64", variant: "v8" });
  assert.equal(img.tailscaleVersion, "v1.102.5");
  assert.equal(img.busyboxVersion, "1.37.0");
  assert.deepEqual(img.buildTags, ["ts_include_cli", "ts_omit_aws"]);
  assert.deepEqual(img.features, ["osrouter", "netstack"]);
  assert.deepEqual(img.entrypoint, ["/usr/local/bin/entrypoint"]);
  assert.equal(img.layers.length, 1);
  assert.equal(img.layers[0]!.compression, "none");
  const files = img.layers[0]!.files;
  const bb = files.find((f) => f.path === "bin/busybox")!;
  assert.equal(bb.size, 8);
  assert.equal(bb.digest, digestOf(enc.encode("busybox!")));
  assert.equal(bb.mode, 0o755);
  assert.equal(files.find((f) => f.path === "bin/sh")!.target, "busybox");
  assert.equal(files.find((f) => f.path === "tmp")!.mode, 0o1777);
});

test("an OCI layout (folder or tar) reads back with all four platforms, refs and SBOMs", () => {
  const l = layout();
  const dirReport = inspectLayout({ read: (p) => l.files.get(p) });
  const tarReport = inspectTar(packFiles(l.files, SDE));
  assert.equal(dirReport.format, "oci-layout");
  assert.equal(tarReport.format, "oci-archive");
  assert.ok(tarReport.warnings.some((w) => /RouterOS/.test(w)), "an OCI tar is flagged as not for RouterOS file import");
  for (const r of [dirReport, tarReport]) {
    assert.equal(r.indexDigest, l.indexDigest);
    assert.deepEqual(r.indexNames, ["v1.102.5-mt.1"]);
    assert.deepEqual(
      r.images.map((i) => [i.names.join(","), `${i.platform.architecture}/${i.platform.variant ?? ""}`, i.layers[0]!.compression, i.sbom?.packages]),
      [
        ["v1.102.5-mt.1-amd64", "amd64/", "gzip", 2],
        ["v1.102.5-mt.1-arm64", "arm64/v8", "gzip", 2],
        ["v1.102.5-mt.1-armv7", "arm/v7", "gzip", 2],
        ["v1.102.5-mt.1-armv5", "arm/v5", "gzip", 2],
      ],
    );
  }
});

test("docker-archive damage is refused with a clear reason", () => {
  const good = archive();
  const cases: [string, Uint8Array, RegExp][] = [
    ["layer content changed", retar(good, (es) => es.map((e) => (e.path.endsWith("layer.tar") ? { ...e, data: retar(e.data!, (l) => l.map((x) => (x.path === "bin/busybox" ? { ...x, data: enc.encode("BUSYBOX!") } : x))) } : e))), /does not match the config's diff_id/],
    ["config edited", retar(good, (es) => es.map((e) => (/^[0-9a-f]{64}\.json$/.test(e.path) ? { ...e, data: enc.encode(dec.decode(e.data!).replace("arm64", "amd64")) } : e))), /not the one its name says/],
    ["manifest.json missing", retar(good, (es) => es.filter((e) => e.path !== "manifest.json")), /neither manifest.json/],
    ["layer missing", retar(good, (es) => es.filter((e) => !e.path.endsWith("layer.tar"))), /layer 1 .* is missing/],
    ["manifest.json not JSON", retar(good, (es) => es.map((e) => (e.path === "manifest.json" ? { ...e, data: enc.encode("[{") } : e))), /not valid JSON/],
    ["manifest.json wrong shape", retar(good, (es) => es.map((e) => (e.path === "manifest.json" ? { ...e, data: enc.encode('[{"Config":"x.json"}]') } : e))), /Layers/],
    ["truncated", good.subarray(0, good.length - 1536), /truncated|end-of-archive|single zero/],
    ["not a tar", enc.encode("hello"), /not a tar|truncated|end-of-archive/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => inspectTar(bytes), (e: unknown) => e instanceof ImageFormatError && re.test(e.message), what);
  }
});

test("RouterOS problems in an otherwise valid docker-archive are warnings", () => {
  const good = archive();
  const gz = retar(good, (es) => es.map((e) => (e.path.endsWith("layer.tar") ? { ...e, data: new Uint8Array(gzipSync(e.data!)) } : e)));
  const r = inspectTar(gz);
  assert.equal(r.images[0]!.layers[0]!.compression, "gzip");
  assert.ok(r.warnings.some((w) => /gzip/.test(w)));
  const noRepos = inspectTar(retar(good, (es) => es.filter((e) => e.path !== "repositories")));
  assert.ok(noRepos.warnings.some((w) => /repositories/.test(w)));
});

test("OCI layout damage is refused: corrupt blob, wrong size, missing blob, platform mismatch", () => {
  const l = layout();
  const read = (files: Map<string, Uint8Array>) => () => inspectLayout({ read: (p) => files.get(p) });
  const blobPaths = [...l.files.keys()].filter((p) => p.startsWith("blobs/"));
  const biggest = blobPaths.reduce((a, b) => (l.files.get(a)!.length >= l.files.get(b)!.length ? a : b));

  const corrupt = new Map(l.files);
  const flipped = new Uint8Array(l.files.get(biggest)!);
  flipped[flipped.length - 10] ^= 0xff;
  corrupt.set(biggest, flipped);
  assert.throws(read(corrupt), /does not match its digest/);

  const short = new Map(l.files);
  short.set(biggest, l.files.get(biggest)!.subarray(1));
  assert.throws(read(short), /bytes/);

  const missing = new Map(l.files);
  missing.delete(biggest);
  assert.throws(read(missing), /missing/);

  const noLayout = new Map(l.files);
  noLayout.delete("oci-layout");
  assert.throws(read(noLayout), /no oci-layout/);

  // index claims arm/v7 for the amd64 manifest
  const top = JSON.parse(dec.decode(l.files.get("index.json")!));
  const amd = top.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.["org.opencontainers.image.ref.name"] === "v1.102.5-mt.1-amd64");
  amd.platform = { os: "linux", architecture: "arm", variant: "v7" };
  const lying = new Map(l.files);
  lying.set("index.json", enc.encode(JSON.stringify(top)));
  assert.throws(read(lying), /platform/);
});

test("inspect on the command line: exit 0 on an image, 1 on anything else, 2 without an argument", async () => {
  const dir = mkdtempSync(join(tmpdir(), "inspect-"));
  const out: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const tarPath = join(dir, "img.tar");
    writeFileSync(tarPath, archive("armv7"));
    const l = layout();
    const ociDir = join(dir, "oci");
    for (const [p, b] of l.files) {
      mkdirSync(join(ociDir, p, ".."), { recursive: true });
      writeFileSync(join(ociDir, p), b);
    }
    writeFileSync(join(dir, "junk.tar"), "not an image at all");

    assert.equal(await main(["inspect", tarPath]), 0);
    const text = out.join("");
    assert.match(text, /platform\s+linux\/arm\/v7/);
    assert.match(text, /tailscale\s+v1\.102\.5/);
    assert.match(text, /busybox\s+1\.37\.0/);
    assert.match(text, /features\s+osrouter,netstack/);
    assert.match(text, /build tags\s+ts_include_cli,ts_omit_aws/);
    assert.match(text, new RegExp(`8 ${digestOf(enc.encode("busybox!"))} bin/busybox`));
    out.length = 0;
    assert.equal(await main(["inspect", "--json", ociDir]), 0);
    const json = JSON.parse(out.join(""));
    assert.equal(json.images.length, 4);
    out.length = 0;
    assert.equal(await main(["inspect", join(dir, "junk.tar")]), 1);
    assert.match(out.join(""), /not a valid image/);
    assert.equal(await main(["inspect", join(dir, "nope.tar")]), 1);
    assert.equal(await main(["inspect", dir]), 1, "a folder that is not an OCI layout");
    assert.equal(await main(["inspect"]), 2);
    assert.throws(() => inspectPath(join(dir, "junk.tar")), InvalidInputError);
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    rmSync(dir, { recursive: true, force: true });
  }
});
