/**
 * The image files in dist/ (written by `mikrotik-tailscale build`, which
 * scripts/test.sh runs first) checked by tools that are not ours: skopeo,
 * GNU tar, umoci and runc (through qemu-user binfmt for the ARM images).
 * Every architecture must have been built: a missing one fails, it is not
 * skipped.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { allArchitectures, type ArchName } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { LABEL, OCI_LABEL } from "../../src/image/config.js";
import { imageFiles, writeImages } from "../../src/image/index.js";
import { readTree } from "../../src/rootfs/read-tree.js";
import type { TreeEntry } from "../../src/image/layer.js";
import { silentProgress } from "../../src/util/progress.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// MIKROTIK_TAILSCALE_DIST points the test at another output folder (e.g. `build --out x`).
const dist = process.env.MIKROTIK_TAILSCALE_DIST ? process.env.MIKROTIK_TAILSCALE_DIST : join(repoRoot, "dist");
const arches = allArchitectures();

interface Built {
  record: BuildRecord;
  rootfs: string;
  tar: string;
  sbom: string;
}
const built = new Map<ArchName, Built>();
let imageVersion = "";
let work = "";

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 180_000, ...opts });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return String(r.stdout);
}

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

before(() => {
  // The image version names the files as it names the tags.
  const index = JSON.parse(readFileSync(join(dist, "oci", "index.json"), "utf8")) as {
    manifests: { mediaType: string; annotations?: Record<string, string> }[];
  };
  const top = index.manifests.find((m) => m.mediaType === "application/vnd.oci.image.index.v1+json");
  imageVersion = top?.annotations?.["org.opencontainers.image.ref.name"] ?? "";
  assert.ok(imageVersion, "dist/oci/index.json names the multi-arch index");
  const missing: string[] = [];
  for (const a of arches) {
    const rootfs = join(dist, "rootfs", a.name);
    const recPath = join(dist, "rootfs", `${a.name}.build.json`);
    if (!existsSync(rootfs) || !existsSync(recPath)) {
      missing.push(rootfs);
      continue;
    }
    const record = JSON.parse(readFileSync(recPath, "utf8")) as BuildRecord;
    built.set(a.name, {
      record,
      rootfs,
      tar: join(dist, imageFiles.dockerArchive(imageVersion, a.name)),
      sbom: join(dist, imageFiles.sbom(imageVersion, a.name)),
    });
  }
  if (missing.length) {
    throw new Error(`${missing.join(", ")} missing: build all architectures first (node bin/mikrotik-tailscale.js build; scripts/test.sh does this)`);
  }
  for (const b of built.values()) {
    if (!existsSync(b.tar)) throw new Error(`${relative(repoRoot, b.tar)} missing: the build did not write image files`);
  }
  work = mkdtempSync(join(tmpdir(), "mt-images-"));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Compares two trees read from disk: paths, types, modes, link targets and bytes. */
function assertSameTree(actual: TreeEntry[], expected: TreeEntry[], what: string): void {
  const fmt = (t: TreeEntry[]) => t.map((e) => `${e.type} ${e.mode.toString(8)} ${e.path}${e.target !== undefined ? ` -> ${e.target}` : ""}`);
  assert.deepEqual(fmt(actual), fmt(expected), `${what}: paths, types, modes and link targets`);
  for (const [i, e] of expected.entries()) {
    if (e.type === "file") assert.ok(Buffer.from(actual[i]!.data!).equals(Buffer.from(e.data!)), `${what}: contents of ${e.path}`);
  }
}

test("dist has a docker-archive and an SBOM per architecture, an OCI layout and its tar", () => {
  for (const b of built.values()) {
    assert.ok(statSync(b.tar).size > 100_000, `${b.tar} has the binaries in it`);
    assert.ok(existsSync(b.sbom), `${b.sbom}`);
  }
  assert.ok(existsSync(join(dist, "oci", "oci-layout")));
  assert.ok(existsSync(join(dist, imageFiles.ociArchive(imageVersion))));
});

test("skopeo reads each docker-archive: platform, one layer, entrypoint, labels", () => {
  for (const a of arches) {
    const b = built.get(a.name)!;
    const info = JSON.parse(run("skopeo", ["inspect", `docker-archive:${b.tar}`]));
    const config = JSON.parse(run("skopeo", ["inspect", "--config", `docker-archive:${b.tar}`]));
    assert.equal(info.Os, "linux");
    assert.equal(info.Architecture, a.platform.architecture);
    assert.equal(config.variant, a.platform.variant, `${a.name} variant`);
    assert.equal(info.Layers.length, 1, "one layer");
    assert.deepEqual(config.rootfs.diff_ids, info.Layers);
    assert.deepEqual(config.config.Entrypoint, ["/usr/local/bin/entrypoint"]);
    assert.deepEqual(config.config.Env, ["PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"]);
    assert.deepEqual(Object.keys(config.config.Volumes), ["/var/lib/tailscale"]);
    assert.equal(info.Labels[LABEL.tailscaleVersion], b.record.tailscale.version);
    assert.equal(info.Labels[LABEL.busyboxVersion], b.record.busybox.version);
    assert.equal(info.Labels[OCI_LABEL.version], imageVersion);
    for (const k of Object.values(OCI_LABEL)) assert.ok(info.Labels[k], `label ${k}`);
  }
});

test("GNU tar unpacks each .tar's one layer into exactly the root filesystem the build produced", async () => {
  for (const a of arches) {
    const b = built.get(a.name)!;
    const outer = join(work, `outer-${a.name}`);
    const root = join(work, `root-${a.name}`);
    run("mkdir", ["-p", outer, root]);
    const names = run("tar", ["-tf", b.tar]).trim().split("\n");
    assert.ok(names.every((n) => !n.startsWith("./") && !n.startsWith("/")), "no leading ./ in the archive");
    run("tar", ["-xf", b.tar, "-C", outer]);
    const manifest = JSON.parse(readFileSync(join(outer, "manifest.json"), "utf8"));
    assert.equal(manifest.length, 1, "one image per file");
    assert.deepEqual(Object.keys(manifest[0]).sort(), ["Config", "Layers", "RepoTags"]);
    assert.deepEqual(manifest[0].RepoTags, [`mikrotik-tailscale:${imageVersion}-${a.name}`]);
    assert.equal(manifest[0].Layers.length, 1);
    const layer = join(outer, manifest[0].Layers[0]);
    const head = readFileSync(layer).subarray(0, 2);
    assert.ok(!(head[0] === 0x1f && head[1] === 0x8b), "the layer is not compressed");
    const layerNames = run("tar", ["-tf", layer]).trim().split("\n");
    assert.ok(layerNames.every((n) => !n.startsWith("./") && !n.startsWith("/")), "no leading ./ in the layer");
    assert.deepEqual(layerNames, [...layerNames].sort((x, y) => Buffer.compare(Buffer.from(x.replace(/\/$/, "")), Buffer.from(y.replace(/\/$/, "")))), "layer entries are sorted");
    const owners = run("tar", ["--numeric-owner", "-tvf", layer]).trim().split("\n").map((l) => l.split(/\s+/)[1]);
    assert.ok(owners.every((o) => o === "0/0"), "every entry is owned by 0/0");
    run("tar", ["-xpf", layer, "-C", root, "--numeric-owner", "--same-owner"]);
    assertSameTree(await readTree(root), await readTree(b.rootfs), `${a.name} layer vs dist/rootfs/${a.name}`);
  }
});

test("skopeo copies the OCI layout into another OCI layout, digests unchanged", () => {
  const copy = join(work, "oci-copy");
  run("skopeo", ["copy", "--all", "--preserve-digests", `oci:${join(dist, "oci")}:${imageVersion}`, `oci:${copy}:${imageVersion}`]);
  const ours = JSON.parse(readFileSync(join(dist, "oci", "index.json"), "utf8"));
  const theirs = JSON.parse(readFileSync(join(copy, "index.json"), "utf8"));
  const digestOf = (idx: { manifests: { digest: string; annotations?: Record<string, string> }[] }) =>
    idx.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === imageVersion)?.digest;
  assert.ok(digestOf(ours));
  assert.equal(digestOf(theirs), digestOf(ours), "the multi-arch index digest survives the copy");
  const raw = JSON.parse(run("skopeo", ["inspect", "--raw", `oci:${copy}:${imageVersion}`]));
  assert.deepEqual(
    raw.manifests.map((m: { platform: { architecture: string; variant?: string } }) => `${m.platform.architecture}/${m.platform.variant ?? ""}`),
    arches.map((a) => `${a.platform.architecture}/${a.platform.variant ?? ""}`),
  );
  for (const m of raw.manifests as { digest: string }[]) assert.ok(existsSync(join(copy, "blobs", "sha256", m.digest.slice(7))));
  // the packed OCI tar is the same layout
  const info = JSON.parse(run("skopeo", ["inspect", `oci-archive:${join(dist, imageFiles.ociArchive(imageVersion))}:${imageVersion}-arm64`]));
  assert.equal(info.Architecture, "arm64");
});

test("umoci unpacks each architecture and runc runs /bin/busybox echo ok in it", () => {
  for (const a of arches) {
    const bundle = join(work, `bundle-${a.name}`);
    run("umoci", ["unpack", "--image", `${join(dist, "oci")}:${imageVersion}-${a.name}`, bundle]);
    const cfgPath = join(bundle, "config.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    assert.deepEqual(cfg.process.args, ["/usr/local/bin/entrypoint"], "umoci took the entrypoint from the image config");
    cfg.process.args = ["/bin/busybox", "echo", "ok"];
    cfg.process.terminal = false;
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const id = `mt-images-${a.name}-${process.pid}-${Date.now()}`;
    try {
      const out = run("runc", ["run", "--bundle", bundle, id], { timeout: 120_000 });
      assert.equal(out.trim(), "ok", `${a.name}: busybox ran in the container`);
    } finally {
      spawnSync("runc", ["delete", "--force", id]);
    }
  }
});

test("writing the images again from the same inputs gives byte-identical files", async () => {
  const b0 = built.get("amd64")!;
  const config = JSON.parse(run("skopeo", ["inspect", "--config", `docker-archive:${b0.tar}`]));
  const labels = config.config.Labels as Record<string, string>;
  const again = join(work, "dist-again");
  await writeImages({
    distDir: again,
    records: arches.map((a) => built.get(a.name)!.record),
    rootfsDir: (a) => built.get(a)!.rootfs,
    sourceDateEpoch: Date.parse(config.created) / 1000,
    revision: labels[OCI_LABEL.revision]!,
    imageVersion: labels[OCI_LABEL.version]!,
    source: labels[OCI_LABEL.source]!,
    progress: silentProgress,
  });
  const files = (d: string): string[] =>
    readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(d, join(e.parentPath, e.name)))
      .sort();
  const produced = files(again);
  assert.ok(produced.length >= 4 * 2 + 2);
  for (const f of produced) {
    assert.ok(existsSync(join(dist, f)), `dist/${f} exists`);
    assert.equal(sha(join(again, f)), sha(join(dist, f)), `dist/${f} is reproduced byte for byte`);
  }
});

test("inspect reads every file we wrote, and refuses a damaged copy with exit 1", () => {
  const cli = join(repoRoot, "bin", "mikrotik-tailscale.js");
  for (const a of arches) {
    const b = built.get(a.name)!;
    const out = run(process.execPath, [cli, "inspect", b.tar]);
    assert.match(out, new RegExp(`platform\\s+linux/${a.platform.architecture}${a.platform.variant ? `/${a.platform.variant}` : ""}\\n`));
    assert.match(out, new RegExp(`tailscale\\s+${b.record.tailscale.version.replace(/\./g, "\\.")}`));
    assert.match(out, new RegExp(`busybox\\s+${b.record.busybox.version.replace(/\./g, "\\.")}`));
    assert.match(out, /usr\/local\/bin\/tailscale\.combined/);
    assert.match(out, /sbom\s+\S+\.spdx\.json/);
    assert.doesNotMatch(out, /warning:/);
  }
  const oci = JSON.parse(run(process.execPath, [cli, "inspect", "--json", join(dist, "oci")]));
  assert.equal(oci.images.length, 4);
  assert.ok(oci.images.every((i: { sbom?: unknown }) => i.sbom), "every image in the layout has its SBOM");
  run(process.execPath, [cli, "inspect", join(dist, imageFiles.ociArchive(imageVersion))]);

  const damaged = join(work, "damaged.tar");
  copyFileSync(built.get("armv7")!.tar, damaged);
  const bytes = readFileSync(damaged);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff; // inside the layer: the diff_id no longer matches
  writeFileSync(damaged, bytes);
  const r = spawnSync(process.execPath, [cli, "inspect", damaged], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not a valid image/);
});

test("each SBOM lists Tailscale, every Go module of the binary, busybox with its tarball hash and the CA bundle source", () => {
  for (const a of arches) {
    const b = built.get(a.name)!;
    const doc = JSON.parse(readFileSync(b.sbom, "utf8")) as {
      spdxVersion: string;
      packages: { name: string; versionInfo: string; comment?: string; checksums?: { checksumValue: string }[]; externalRefs?: { referenceLocator: string }[] }[];
    };
    assert.equal(doc.spdxVersion, "SPDX-2.3");
    const by = new Map(doc.packages.map((p) => [p.name, p]));
    assert.equal(by.get("tailscale.com")?.versionInfo, b.record.tailscale.version);
    assert.ok(b.record.tailscale.modules.length > 5, "the build recorded the binary's modules");
    for (const m of b.record.tailscale.modules) {
      if (m.path === "tailscale.com") continue;
      // A go.mod replace: the SBOM names the code linked, and what it stands in for.
      const linked = m.replacedBy ?? m;
      const p = by.get(linked.path);
      assert.equal(p?.versionInfo, linked.version, `module ${m.path}`);
      if (m.replacedBy) assert.match(p?.comment ?? "", new RegExp(`replaces ${m.path.replace(/\./g, "\\.")}@${m.version} \\(go\\.mod replace\\)`), `module ${m.path}`);
    }
    for (const sp of b.record.tailscale.sourcePatches ?? []) {
      assert.ok(by.get("tailscale.com")?.comment?.includes(`source patch ${sp.module}/${sp.file} (sha256 ${sp.sha256} -> ${sp.patchedSha256})`), `source patch ${sp.file} in the SBOM`);
    }
    assert.equal(by.get("busybox")?.versionInfo, b.record.busybox.version);
    assert.equal(by.get("busybox")?.checksums?.[0]?.checksumValue, b.record.busybox.tarballSha256);
    const ca = by.get("ca-certificates.crt")!;
    assert.equal(ca.versionInfo, b.record.caBundle.version);
    assert.ok(ca.externalRefs?.[0]?.referenceLocator.includes(b.record.caBundle.module));
  }
});
