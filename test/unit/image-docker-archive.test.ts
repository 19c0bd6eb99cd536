import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { allArchitectures } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { imageConfig, imageLabels, repoTag, rfc3339 } from "../../src/image/config.js";
import { dockerArchive, v1LayerId } from "../../src/image/docker-archive.js";
import { buildLayer, type TreeEntry } from "../../src/image/layer.js";
import { readTar } from "../../src/image/tar.js";
import { fakeRecord } from "../support/records.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SDE = 1_700_000_000;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function record(arch: BuildRecord["arch"]): BuildRecord {
  return fakeRecord(arch, {
    tailscale: { modules: [{ path: "tailscale.com", version: "v1.102.5", sum: "h1:aaa=" }], gcflags: ["all=-l"] },
    caBundle: { version: "v0.0.0-20250101000000-abcdef", included: 120, droppedDistrustAfter: 1 },
  });
}

const tree: TreeEntry[] = [
  { path: "bin/busybox", type: "file", mode: 0o755, data: enc.encode("busybox") },
  { path: "bin/sh", type: "symlink", mode: 0o777, target: "busybox" },
];

function build(arch: BuildRecord["arch"]) {
  const rec = record(arch);
  const layer = buildLayer(tree, { mtime: SDE });
  const a = allArchitectures().find((x) => x.name === arch)!;
  const config = imageConfig({
    platform: a.platform,
    created: SDE,
    diffIds: [layer.diffId],
    labels: imageLabels(rec, { imageVersion: "v1.102.5-mt.1", revision: "abc123", source: "https://example.invalid/src", sourceDateEpoch: SDE }),
    createdBy: "test",
  });
  const tag = repoTag("v1.102.5-mt.1", arch);
  return { layer, config, tag, tar: dockerArchive({ repoTag: tag, config, layer: layer.tar, diffId: layer.diffId, mtime: SDE }) };
}

test("the image config: exact platform per arch, entrypoint, cmd, env, volume, labels, one diff_id", () => {
  const want: Record<string, [string, string | undefined]> = { amd64: ["amd64", undefined], arm64: ["arm64", "v8"], armv7: ["arm", "v7"], armv5: ["arm", "v5"] };
  for (const a of allArchitectures()) {
    const { config, layer } = build(a.name);
    const c = JSON.parse(dec.decode(config.bytes));
    assert.equal(c.os, "linux");
    assert.equal(c.architecture, want[a.name]![0]);
    assert.equal(c.variant, want[a.name]![1]);
    assert.equal(c.created, "2023-11-14T22:13:20Z");
    assert.deepEqual(c.config.Entrypoint, ["/usr/local/bin/entrypoint"]);
    assert.deepEqual(c.config.Cmd, []);
    assert.deepEqual(c.config.Env, ["PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"]);
    assert.deepEqual(c.config.Volumes, { "/var/lib/tailscale": {} });
    assert.deepEqual(c.rootfs, { type: "layers", diff_ids: [layer.diffId] });
    const l = c.config.Labels;
    assert.equal(l["org.opencontainers.image.title"], "mikrotik-tailscale");
    assert.ok(l["org.opencontainers.image.description"]);
    assert.equal(l["org.opencontainers.image.version"], "v1.102.5-mt.1");
    assert.equal(l["org.opencontainers.image.revision"], "abc123");
    assert.equal(l["org.opencontainers.image.source"], "https://example.invalid/src");
    assert.equal(l["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    assert.equal(l["mikrotik-tailscale.arch"], a.name);
    assert.equal(l["mikrotik-tailscale.tailscale.tags"], "ts_include_cli,ts_omit_aws");
    assert.equal(config.digest, `sha256:${sha(config.bytes)}`);
  }
  assert.equal(rfc3339(0), "1970-01-01T00:00:00Z");
  assert.throws(() => rfc3339(1.5));
});

test("docker-archive entries: legacy layer dir, config named by its digest, manifest.json, repositories; sorted, no './'", () => {
  const { tar, config, layer, tag } = build("armv7");
  const entries = readTar(tar);
  const id = v1LayerId(config.digest, layer.diffId);
  const cfgName = `${config.digest.slice(7)}.json`;
  const expected = [`${id}/`, `${id}/VERSION`, `${id}/json`, `${id}/layer.tar`, cfgName, "manifest.json", "repositories"].sort((a, b) =>
    Buffer.compare(Buffer.from(a.replace(/\/$/, "")), Buffer.from(b.replace(/\/$/, ""))),
  );
  assert.deepEqual(entries.map((e) => e.rawPath), expected);
  for (const e of entries) {
    assert.equal(e.mtime, SDE);
    assert.equal(e.uid, 0);
    assert.equal(e.gid, 0);
    assert.equal(e.mode, e.type === "dir" ? 0o755 : 0o644);
    assert.ok(!e.rawPath.startsWith("."));
  }
  const get = (p: string) => entries.find((e) => e.path === p)!.data;
  const manifest = JSON.parse(dec.decode(get("manifest.json")));
  assert.deepEqual(manifest, [{ Config: cfgName, Layers: [`${id}/layer.tar`], RepoTags: [tag] }]);
  assert.equal(tag, "mikrotik-tailscale:v1.102.5-mt.1-armv7");
  assert.deepEqual(Object.keys(manifest[0]).sort(), ["Config", "Layers", "RepoTags"]);
  assert.deepEqual(JSON.parse(dec.decode(get("repositories"))), { "mikrotik-tailscale": { "v1.102.5-mt.1-armv7": id } });
  assert.deepEqual(get(cfgName), config.bytes);
  assert.deepEqual(get(`${id}/layer.tar`), layer.tar, "the layer is stored uncompressed, byte for byte");
  assert.equal(`sha256:${sha(get(`${id}/layer.tar`))}`, layer.diffId);
  assert.equal(dec.decode(get(`${id}/VERSION`)), "1.0");
  const v1 = JSON.parse(dec.decode(get(`${id}/json`)));
  assert.equal(v1.id, id);
  assert.equal(v1.architecture, "arm");
  assert.equal(v1.variant, "v7");
  assert.equal(entries.filter((e) => e.path.endsWith(".tar")).length, 1, "exactly one layer tar");
});

test("docker-archive output is deterministic and changes with its inputs", () => {
  assert.deepEqual(build("arm64").tar, build("arm64").tar);
  assert.notDeepEqual(build("arm64").tar, build("amd64").tar);
});

test("docker-archive refuses a layer that does not match its diff_id, and a tag without a name", () => {
  const { config, layer } = build("amd64");
  const other = new Uint8Array(layer.tar);
  other[600] ^= 1;
  assert.throws(() => dockerArchive({ repoTag: "a:b", config, layer: other, diffId: layer.diffId, mtime: SDE }), /diffId/);
  assert.throws(() => dockerArchive({ repoTag: "notag", config, layer: layer.tar, diffId: layer.diffId, mtime: SDE }), /name:tag/);
  assert.throws(() => repoTag("bad version!", "amd64"), /invalid image tag/);
});
