import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { allArchitectures } from "../../src/arch.js";
import { imageConfig } from "../../src/image/config.js";
import { buildLayer } from "../../src/image/layer.js";
import { gzipLayer, MT, ociLayout, packFiles, REF_NAME, type OciImageInput } from "../../src/image/oci.js";
import { readTar } from "../../src/image/tar.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SDE = 1_700_000_000;
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const json = (b: Uint8Array | undefined) => JSON.parse(dec.decode(b!));

function images(): OciImageInput[] {
  return allArchitectures().map((a) => {
    const layer = buildLayer([{ path: "bin/busybox", type: "file", mode: 0o755, data: enc.encode(`busybox for ${a.name}`) }], { mtime: SDE });
    const config = imageConfig({ platform: a.platform, created: SDE, diffIds: [layer.diffId], labels: {}, createdBy: "test" });
    return {
      arch: a.name,
      platform: { os: "linux", ...a.platform },
      config,
      layerGzip: gzipLayer(layer.tar),
      sbom: enc.encode(JSON.stringify({ spdxVersion: "SPDX-2.3", name: a.name, packages: [] })),
      annotations: { "org.opencontainers.image.version": "v1-mt.1" },
    };
  });
}

test("every blob is stored under its own digest, and nothing else is in the layout", () => {
  const { files } = ociLayout({ tag: "v1-mt.1", images: images() });
  assert.deepEqual(json(files.get("oci-layout")), { imageLayoutVersion: "1.0.0" });
  for (const [p, b] of files) {
    if (p === "oci-layout" || p === "index.json") continue;
    assert.match(p, /^blobs\/sha256\/[0-9a-f]{64}$/);
    assert.equal(`sha256:${p.slice(13)}`, sha(b), p);
  }
});

test("index.json: the tag names one image index of all four platforms; each arch has its own ref; SBOMs point at their image", () => {
  const imgs = images();
  const layout = ociLayout({ tag: "v1-mt.1", images: imgs, annotations: { "org.opencontainers.image.created": "x" } });
  const blob = (d: string) => layout.files.get(`blobs/sha256/${d.slice(7)}`);
  const top = json(layout.files.get("index.json"));
  assert.equal(top.schemaVersion, 2);
  assert.equal(top.mediaType, MT.index);
  const tagged = top.manifests.filter((m: { annotations?: Record<string, string> }) => m.annotations?.[REF_NAME] === "v1-mt.1");
  assert.equal(tagged.length, 1);
  assert.equal(tagged[0].mediaType, MT.index);
  assert.equal(tagged[0].digest, layout.indexDigest);
  const index = json(blob(layout.indexDigest));
  assert.equal(index.annotations["org.opencontainers.image.created"], "x");
  assert.deepEqual(
    index.manifests.map((m: { platform: unknown }) => m.platform),
    [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
      { os: "linux", architecture: "arm", variant: "v7" },
      { os: "linux", architecture: "arm", variant: "v5" },
    ],
  );
  for (const [i, d] of index.manifests.entries()) {
    const img = imgs[i]!;
    assert.equal(d.mediaType, MT.manifest);
    assert.equal(d.size, blob(d.digest)!.length);
    const ref = top.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.[REF_NAME] === `v1-mt.1-${img.arch}`);
    assert.equal(ref.digest, d.digest, `per-arch ref for ${img.arch}`);
    const m = json(blob(d.digest));
    assert.equal(m.mediaType, MT.manifest);
    assert.equal(m.config.mediaType, MT.config);
    assert.equal(m.config.digest, img.config.digest);
    assert.deepEqual(blob(m.config.digest), img.config.bytes);
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0].mediaType, MT.layerGzip);
    const gz = blob(m.layers[0].digest)!;
    assert.equal(m.layers[0].size, gz.length);
    const diffId = json(img.config.bytes).rootfs.diff_ids[0];
    assert.equal(sha(new Uint8Array(gunzipSync(gz))), diffId, "the gzip layer decompresses to the diff_id");
    assert.equal(m.annotations["org.opencontainers.image.version"], "v1-mt.1");
    const art = layout.manifests[i]!;
    const sbomManifest = json(blob(art.sbomDigest!));
    assert.equal(sbomManifest.artifactType, MT.spdx);
    assert.equal(sbomManifest.subject.digest, d.digest);
    assert.equal(sbomManifest.config.mediaType, MT.empty);
    assert.deepEqual(blob(sbomManifest.config.digest), enc.encode("{}"));
    assert.deepEqual(blob(sbomManifest.layers[0].digest), img.sbom);
    assert.ok(top.manifests.some((x: { digest: string; artifactType?: string }) => x.digest === art.sbomDigest && x.artifactType === MT.spdx));
  }
});

test("the layout and its tar are byte-identical across runs", () => {
  const a = ociLayout({ tag: "v1-mt.1", images: images() });
  const b = ociLayout({ tag: "v1-mt.1", images: images() });
  assert.equal(a.indexDigest, b.indexDigest);
  assert.deepEqual([...a.files.keys()], [...b.files.keys()]);
  for (const [p, bytes] of a.files) assert.deepEqual(b.files.get(p), bytes, p);
  assert.deepEqual(packFiles(a.files, SDE), packFiles(b.files, SDE));
  assert.deepEqual(gzipLayer(enc.encode("same")), gzipLayer(enc.encode("same")));
});

test("the gzip header carries no name and no time", () => {
  const gz = gzipLayer(enc.encode("x".repeat(1000)));
  assert.equal(gz[0], 0x1f);
  assert.equal(gz[1], 0x8b);
  assert.equal(gz[3], 0, "FLG: no name, no comment, no extra");
  assert.deepEqual([...gz.subarray(4, 8)], [0, 0, 0, 0], "MTIME is 0");
});

test("packFiles: directories first, sorted, fixed owner, modes and mtime", () => {
  const { files } = ociLayout({ tag: "t", images: images().slice(0, 1) });
  const entries = readTar(packFiles(files, SDE));
  assert.deepEqual(entries.slice(0, 2).map((e) => e.rawPath), ["blobs/", "blobs/sha256/"]);
  assert.deepEqual(entries.slice(-2).map((e) => e.rawPath), ["index.json", "oci-layout"]);
  for (const e of entries) {
    assert.equal(e.mtime, SDE);
    assert.equal(e.uid + e.gid, 0);
    assert.equal(e.mode, e.type === "dir" ? 0o755 : 0o644);
    if (e.type === "file") assert.deepEqual(e.data, files.get(e.path));
  }
  assert.equal(entries.filter((e) => e.type === "file").length, files.size);
});

test("an architecture given twice or no image at all is an error", () => {
  const imgs = images();
  assert.throws(() => ociLayout({ tag: "t", images: [imgs[0]!, imgs[0]!] }), /twice/);
  assert.throws(() => ociLayout({ tag: "t", images: [] }), /no images/);
});
