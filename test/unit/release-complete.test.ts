/**
 * Releases are complete or refused: a narrow rebuild (`build --arch`) merges
 * with the matching builds already in dist/, the OCI layout is written only
 * when every architecture is there (and removed otherwise), and `publish`
 * refuses a layout that lacks a platform, naming it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { allArchitectures, type ArchName } from "../../src/arch.js";
import { imageVersion, recordPath, writeImageFiles } from "../../src/build/index.js";
import { InvalidInputError } from "../../src/errors.js";
import { imageFiles, writeImages } from "../../src/image/index.js";
import { OciLayoutReader, platformText } from "../../src/release/layout.js";
import { publish } from "../../src/release/publish.js";
import { createProgress } from "../../src/util/progress.js";
import { fakeBuild } from "../support/fake-rootfs.js";

const ALL = allArchitectures().map((a) => a.name);

function quietProgress() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const p = createProgress({ verbose: false, stream });
  return { p, lines };
}

async function platformsIn(ociDir: string): Promise<string[]> {
  const r = await OciLayoutReader.open(ociDir);
  const img = await r.image(r.indexRefs()[0]!);
  return img.platforms.map((x) => platformText(x.descriptor.platform)).sort();
}

test("build --arch into a full dist/ keeps every platform in dist/oci; one missing means no OCI layout, named", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "mt-release-complete-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const records = ALL.map((a) => fakeBuild(out, a));
  const { p } = quietProgress();
  await writeImageFiles(out, records, p);
  const oci = join(out, imageFiles.ociDir);
  assert.deepEqual(await platformsIn(oci), ["linux/amd64", "linux/arm/v5", "linux/arm/v7", "linux/arm64/v8"]);

  // The narrow rebuild: only arm64 was built in this run.
  const arm64 = records.find((r) => r.arch === "arm64")!;
  const narrow = quietProgress();
  const files = await writeImageFiles(out, [arm64], narrow.p);
  assert.deepEqual(await platformsIn(oci), ["linux/amd64", "linux/arm/v5", "linux/arm/v7", "linux/arm64/v8"]);
  // Named by the image version the build gives these records (this checkout's release revision).
  const v = await imageVersion("v1.102.5");
  for (const a of ALL) assert.ok(files.some((f) => f.endsWith(imageFiles.dockerArchive(v, a))), `${a}'s archive is part of the release`);

  // amd64's build is of other sources (another release fingerprint): not merged.
  const older = fakeBuild(join(out, "older"), "amd64");
  writeFileSync(recordPath(out, "amd64"), JSON.stringify({ ...older, fingerprint: "sha256:" + "0".repeat(64) }));
  const mixed = quietProgress();
  await writeImageFiles(out, [arm64], mixed.p);
  assert.equal(existsSync(oci), false, "builds of other sources never make one release");
  assert.match(mixed.lines.join("\n"), /no OCI layout written: .* has no matching build for amd64/);
  writeFileSync(recordPath(out, "amd64"), JSON.stringify(records.find((r) => r.arch === "amd64")));

  // armv5's build is of another Tailscale: not the same release, so no layout at all.
  rmSync(join(out, "rootfs", "armv5"), { recursive: true });
  fakeBuild(out, "armv5", { tailscale: { version: "v1.100.0" } });
  const partial = quietProgress();
  await writeImageFiles(out, [arm64], partial.p);
  assert.equal(existsSync(oci), false, "a stale dist/oci would be published as the whole release");
  assert.equal(existsSync(join(out, imageFiles.ociArchive(v))), false);
  assert.match(partial.lines.join("\n"), /no OCI layout written: .* has no matching build for armv5/);
});

test("image files of another version (left by bump) are removed by the next build", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "mt-release-stale-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const records = ALL.map((a) => fakeBuild(out, a));
  const stale = ["mikrotik-tailscale-v1.100.0-amd64.tar", "mikrotik-tailscale-v1.100.0-amd64.spdx.json", "mikrotik-tailscale-v1.100.0-oci.tar"];
  for (const f of stale) writeFileSync(join(out, f), "old");
  writeFileSync(join(out, "notes.txt"), "not ours");
  const { p, lines } = quietProgress();
  await writeImageFiles(out, records, p);
  const names = readdirSync(out);
  for (const f of stale) assert.ok(!names.includes(f), `${f} removed`);
  assert.ok(names.includes("notes.txt"), "files that are not images are left alone");
  assert.ok(names.includes(imageFiles.dockerArchive(await imageVersion("v1.102.5"), "amd64")));
  assert.match(lines.join("\n"), /removed .*mikrotik-tailscale-v1\.100\.0-amd64\.tar/);
  assert.ok(existsSync(recordPath(out, "amd64")));
});

test("publish refuses an OCI layout that lacks a platform, naming it, before talking to the registry", async (t) => {
  const base = mkdtempSync(join(tmpdir(), "mt-publish-partial-"));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const three: ArchName[] = ["amd64", "arm64", "armv7"];
  const records = three.map((a) => fakeBuild(base, a));
  const dist = join(base, "dist");
  await writeImages({
    distDir: dist,
    records,
    rootfsDir: (a) => join(base, "rootfs", a),
    sourceDateEpoch: 1_700_000_000,
    revision: "0".repeat(40),
    imageVersion: "v1.102.5-mt.1",
    progress: quietProgress().p,
    source: "https://example.invalid/x",
  });
  const requests: string[] = [];
  await assert.rejects(
    publish({ layoutDir: join(dist, "oci"), target: { registry: "127.0.0.1:9", repository: "owner/x" }, plainHttp: true, onRequest: (m, u) => requests.push(`${m} ${u}`) }),
    (e: unknown) => e instanceof InvalidInputError && /lacks linux\/arm\/v5 \(armv5\); a release holds every architecture/.test(e.message),
  );
  assert.deepEqual(requests, []);
});
