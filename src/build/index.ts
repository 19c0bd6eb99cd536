import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { allArchitectures, type Architecture, type ArchName } from "../arch.js";
import { FailureError, InvalidInputError } from "../errors.js";
import { projectRoot } from "../paths.js";
import { loadGoModPins, loadPins } from "../pins.js";
import { computeFingerprint, readReleaseRecord } from "../release/release.js";
import { formatImageVersion } from "../release/version.js";
import { assembleRootfs } from "../rootfs/assemble.js";
import { atomicDirectory, atomicWriteFile, exists } from "../util/fsx.js";
import type { Progress } from "../util/progress.js";
import { buildBusybox } from "./busybox.js";
import { buildCaBundle } from "./cacerts.js";
import { buildHealthcheck } from "./healthcheck.js";
import type { BuildRecord, Profile } from "./record.js";
import { measureRootfs, sizeTable } from "./sizes.js";
import { buildTailscale, resolveFeatures } from "./tailscale.js";
import { requireBuildTools } from "./toolchain.js";
import { upxArgs, upxPack } from "./upx.js";

export interface BuildOptions {
  arches: Architecture[];
  profile: Profile;
  outDir: string;
  progress: Progress;
  /** Write image files after the root filesystems (default true). */
  images?: boolean;
}

export interface BuildResult {
  records: BuildRecord[];
  table: string;
  imageFiles: string[];
}

export function rootfsDir(outDir: string, arch: ArchName): string {
  return join(outDir, "rootfs", arch);
}

export function recordPath(outDir: string, arch: ArchName): string {
  return join(outDir, "rootfs", `${arch}.build.json`);
}

export async function readRecord(outDir: string, arch: ArchName): Promise<BuildRecord> {
  const path = recordPath(outDir, arch);
  const rec = JSON.parse(await readFile(path, "utf8")) as BuildRecord;
  // Schema 1 had gcflags as one string, 2 no health checker: such a folder needs a new build.
  if (rec.schema !== 3) throw new InvalidInputError(`${path}: build record schema ${String(rec.schema)}, expected 3: build again`);
  return rec;
}

/** Records of every architecture built into outDir, in the usual order. */
export async function recordsIn(outDir: string): Promise<BuildRecord[]> {
  const out: BuildRecord[] = [];
  for (const a of allArchitectures()) {
    try {
      out.push(await readRecord(outDir, a.name));
    } catch {
      // not built here
    }
  }
  return out;
}

/** v<tailscale>-mt.<N>, N from config/release.json (validated there). */
export async function imageVersion(tailscaleVersion: string): Promise<string> {
  return formatImageVersion(tailscaleVersion, (await readReleaseRecord(projectRoot)).revision);
}

/**
 * Turns the pinned sources into a root filesystem per architecture, then
 * (unless told not to) into image files. Every step is cached by its inputs;
 * every output appears atomically.
 */
export async function buildAll(opts: BuildOptions): Promise<BuildResult> {
  const { progress, profile } = opts;
  const outDir = resolve(opts.outDir);
  await requireBuildTools(opts.arches);
  const pins = loadPins();
  const goPins = loadGoModPins();
  const fingerprint = await computeFingerprint(projectRoot);
  const features = await progress.step("resolve Tailscale feature tags", () => resolveFeatures(progress));
  const ca = await progress.step("CA bundle", () => buildCaBundle(progress));

  const records: BuildRecord[] = [];
  for (const arch of opts.arches) {
    const bb = await progress.step(`[${arch.name}] busybox ${pins.busybox.version}`, () => buildBusybox(arch, pins, progress));
    const ts = await progress.step(`[${arch.name}] tailscale ${goPins.tailscaleVersion} (${profile})`, () =>
      buildTailscale(arch, profile, features, progress),
    );
    const hc = await progress.step(`[${arch.name}] healthcheck`, () => buildHealthcheck(arch));
    let tsBinary = ts.binary;
    let bbBinary = bb.binary;
    const packArgs = upxArgs(arch, profile);
    const packed = packArgs.length > 0;
    if (packed) {
      tsBinary = (await progress.step(`[${arch.name}] upx tailscale.combined`, () => upxPack(ts.binary, `tailscale.combined (${arch.name})`, arch, profile, progress))).path;
      bbBinary = (await progress.step(`[${arch.name}] upx busybox`, () => upxPack(bb.binary, `busybox (${arch.name})`, arch, profile, progress))).path;
    }
    const dir = rootfsDir(outDir, arch.name);
    const record = await progress.step(`[${arch.name}] assemble root filesystem`, async () => {
      await atomicDirectory(dir, (tmp) =>
        assembleRootfs(tmp, { tailscaleBinary: tsBinary, busyboxBinary: bbBinary, applets: bb.applets, caBundle: ca.path, healthcheck: hc.binary }),
      );
      const rec: BuildRecord = {
        schema: 3,
        fingerprint: fingerprint.digest,
        arch: arch.name,
        platform: { os: "linux", ...arch.platform },
        profile,
        tailscale: {
          version: ts.version,
          goVersion: ts.goVersion,
          tags: ts.tags,
          features: features.features,
          omittedFeatures: features.omittedFeatures,
          modules: ts.modules,
          goEnv: ts.goEnv,
          ldflags: ts.ldflags,
          gcflags: ts.gcflags,
          upx: packed,
          upxArgs: packArgs,
          ...(ts.sourcePatches ? { sourcePatches: ts.sourcePatches } : {}),
        },
        busybox: { version: bb.version, tarballSha256: bb.tarballSha256, applets: bb.applets, upx: packed, upxArgs: packArgs },
        caBundle: ca.meta,
        healthcheck: { sourceSha256: hc.sourceSha256, gccArgs: hc.args, toolchain: hc.toolchain },
        sizes: await measureRootfs(dir),
      };
      await atomicWriteFile(recordPath(outDir, arch.name), JSON.stringify(rec, null, 2) + "\n");
      return rec;
    });
    records.push(record);
  }

  // The report covers every architecture now in the output folder, so a
  // narrower rebuild (--arch) does not drop the others from it.
  const present = await recordsIn(outDir);
  const table = sizeTable(present.map((r) => ({ arch: r.arch, profile: r.profile, sizes: r.sizes })));
  await atomicWriteFile(
    join(outDir, "sizes.json"),
    JSON.stringify(
      {
        tailscale: records[0]?.tailscale.version,
        arches: Object.fromEntries(present.map((r) => [r.arch, { profile: r.profile, ...r.sizes }])),
      },
      null,
      2,
    ) + "\n",
  );

  let imageFiles: string[] = [];
  if (opts.images !== false) {
    imageFiles = await writeImageFiles(outDir, records, progress);
  }
  return { records, table, imageFiles };
}

/**
 * What must agree between the architectures of one release: everything in a
 * record but the architecture itself, its Go target and its sizes.
 */
export function releaseKey(r: BuildRecord): string {
  const { version, goVersion, tags, features, ldflags, gcflags, upx } = r.tailscale;
  return JSON.stringify({
    fingerprint: r.fingerprint ?? null,
    profile: r.profile,
    tailscale: { version, goVersion, tags, features, ldflags, gcflags, upx },
    busybox: { version: r.busybox.version, tarballSha256: r.busybox.tarballSha256, applets: r.busybox.applets, upx: r.busybox.upx },
    caBundle: r.caBundle.sha256,
    // gcc arguments name each architecture's musl: the source is what must agree.
    healthcheck: r.healthcheck.sourceSha256,
  });
}

export interface ReleaseSet {
  /** Records of the same release as the ones just built, in arch order. */
  records: BuildRecord[];
  /** Architectures that release lacks in the output folder. */
  missing: ArchName[];
}

/** The release the just-built records belong to, merged with matching builds already in outDir. */
export async function releaseSet(outDir: string, built: readonly BuildRecord[]): Promise<ReleaseSet> {
  if (built.length === 0) throw new FailureError("no built architectures to write images for");
  const key = releaseKey(built[0]!);
  const mismatch = built.find((r) => releaseKey(r) !== key);
  if (mismatch) throw new FailureError(`${mismatch.arch} was built differently from ${built[0]!.arch} in the same run`);
  const fresh = new Map(built.map((r) => [r.arch, r]));
  const records: BuildRecord[] = [];
  const missing: ArchName[] = [];
  for (const a of allArchitectures()) {
    let r = fresh.get(a.name);
    if (!r) {
      const old = await readRecord(outDir, a.name).catch(() => undefined);
      if (old && releaseKey(old) === key && (await exists(rootfsDir(outDir, a.name)))) r = old;
    }
    if (r) records.push(r);
    else missing.push(a.name);
  }
  return { records, missing };
}

/**
 * Image files for the release in outDir. A narrow build (--arch) merges with
 * the matching builds already there; the OCI layout, which is what `publish`
 * pushes, is written only when every architecture is present, and removed
 * otherwise. Image files of other versions or builds are removed too.
 */
export async function writeImageFiles(outDir: string, built: BuildRecord[], progress: Progress): Promise<string[]> {
  const image = await import("../image/index.js");
  const set = await releaseSet(outDir, built);
  const complete = set.missing.length === 0;
  const version = await imageVersion(set.records[0]!.tailscale.version);
  const result = await progress.step("write image files", async () =>
    image.writeImages({
      distDir: outDir,
      records: set.records,
      rootfsDir: (a: ArchName) => rootfsDir(outDir, a),
      sourceDateEpoch: await image.defaultSourceDateEpoch(projectRoot),
      revision: await image.gitRevision(projectRoot),
      imageVersion: version,
      progress,
      oci: complete,
    }),
  );
  const removed = await image.removeStaleImageFiles(outDir, result.files);
  for (const f of removed) progress.info(`removed ${f}: not part of ${version} as built now`);
  if (!complete) {
    progress.info(
      `no OCI layout written: ${outDir} has no matching build for ${set.missing.join(", ")}; a release holds every architecture, so build ` +
        `them too (or run a full build) before 'publish'`,
    );
  }
  return result.files;
}
