/**
 * Writes the images for the built root filesystems:
 *
 *   dist/mikrotik-tailscale-<tailscale version>-<arch>.tar        docker-archive, one per arch
 *   dist/mikrotik-tailscale-<tailscale version>-<arch>.spdx.json  its SBOM
 *   dist/oci/                                                     OCI layout, all arches, one index
 *   dist/mikrotik-tailscale-<tailscale version>-oci.tar           the same layout as one tar
 *
 * This module does the file system work (read the trees, write atomically);
 * the bytes come from the pure modules beside it. See docs/images.md.
 */
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { architecture, type ArchName } from "../arch.js";
import type { BuildRecord } from "../build/record.js";
import { FailureError } from "../errors.js";
import { projectRoot } from "../paths.js";
import { readTree } from "../rootfs/read-tree.js";
import { atomicDirectory, atomicWriteFile } from "../util/fsx.js";
import type { Progress } from "../util/progress.js";
import { imageConfig, imageLabels, imageTag, repoTag, OCI_LABEL, rfc3339, type ImageMeta } from "./config.js";
import { digestHex } from "./digest.js";
import { dockerArchive } from "./docker-archive.js";
import { buildLayer, LayerInputError } from "./layer.js";
import { gzipLayer, ociLayout, packFiles, type OciImageInput } from "./oci.js";
import { spdxDocument } from "./sbom.js";
import { readPackageInfo } from "./source-info.js";

export { defaultSourceDateEpoch, gitRevision } from "./source-info.js";
export { IMAGE_NAME, repoTag } from "./config.js";

export interface WriteImagesOptions {
  distDir: string;
  /** One per built arch, in src/arch.ts order. */
  records: BuildRecord[];
  rootfsDir: (arch: ArchName) => string;
  /** Seconds; see defaultSourceDateEpoch. */
  sourceDateEpoch: number;
  /** Git commit of this project, "unknown" if none. */
  revision: string;
  /** e.g. v1.102.5-mt.1 */
  imageVersion: string;
  progress: Progress;
  /** org.opencontainers.image.source; default: package.json repository/homepage. */
  source?: string;
  /**
   * Write dist/oci and its tar (default true). Only a complete release (every
   * architecture) may: a layout with fewer platforms would be pushed as if it
   * were the whole release.
   */
  oci?: boolean;
}

/** File names inside dist/, in one place. */
export const imageFiles = {
  // Named by the image version (v1.104.2-mt.4), as the tags are: the name alone tells one build from another.
  dockerArchive: (imageVersion: string, arch: string) => `mikrotik-tailscale-${imageVersion}-${arch}.tar`,
  sbom: (imageVersion: string, arch: string) => `mikrotik-tailscale-${imageVersion}-${arch}.spdx.json`,
  ociDir: "oci",
  ociArchive: (imageVersion: string) => `mikrotik-tailscale-${imageVersion}-oci.tar`,
};

/** The docker-archives for `arch` among the names in a folder (any version: a build leaves one). */
export function dockerArchivesFor(names: readonly string[], arch: string): string[] {
  const re = new RegExp(`^mikrotik-tailscale-v[\\w.+-]+-${arch}\\.tar$`);
  return names.filter((n) => re.test(n));
}

/** Whether a file name in dist/ is one of ours (any version): an image, SBOM or OCI file. */
export function isImageFileName(name: string): boolean {
  return name === imageFiles.ociDir || /^mikrotik-tailscale-v[\w.+-]+-(?:[a-z0-9]+\.tar|[a-z0-9]+\.spdx\.json|oci\.tar)$/.test(name);
}

/**
 * Removes image files in distDir that `keep` does not name: those of another
 * Tailscale version (after `bump`), of an architecture no longer built
 * with the others, or an OCI layout that no longer covers the release.
 * Returns what it removed.
 */
export async function removeStaleImageFiles(distDir: string, keep: readonly string[]): Promise<string[]> {
  const kept = new Set(keep.map((k) => resolve(k)));
  let names: string[];
  try {
    names = await readdir(distDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const removed: string[] = [];
  for (const n of names.sort()) {
    const p = resolve(distDir, n);
    if (!isImageFileName(n) || kept.has(p)) continue;
    await rm(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}

export async function writeImages(opts: WriteImagesOptions): Promise<{ files: string[] }> {
  if (opts.records.length === 0) throw new FailureError("no built architectures to write images for");
  const versions = new Set(opts.records.map((r) => r.tailscale.version));
  if (versions.size !== 1) throw new FailureError(`build records disagree on the Tailscale version: ${[...versions].join(", ")}`);
  imageTag(opts.imageVersion, "amd64"); // throws early on a version no tool would accept as a tag
  const fileVersion = opts.imageVersion;
  if (!/^[\w][\w.+-]*$/.test(fileVersion)) throw new FailureError(`unusable image version for a file name: ${fileVersion}`);

  const pkg = await readPackageInfo(projectRoot);
  const meta: ImageMeta = {
    imageVersion: opts.imageVersion,
    revision: opts.revision,
    source: opts.source ?? pkg.source,
    sourceDateEpoch: opts.sourceDateEpoch,
  };
  const mtime = opts.sourceDateEpoch;
  const files: string[] = [];
  const oci: OciImageInput[] = [];
  const seen = new Set<string>();

  for (const record of opts.records) {
    const arch = architecture(record.arch);
    if (seen.has(arch.name)) throw new FailureError(`architecture ${arch.name} given twice`);
    seen.add(arch.name);
    const want = arch.platform;
    if (record.platform.architecture !== want.architecture || (record.platform.variant ?? undefined) !== want.variant) {
      throw new FailureError(`${arch.name}: build record platform ${JSON.stringify(record.platform)} does not match ${JSON.stringify(want)}`);
    }
    await opts.progress.step(`image ${arch.name}`, async () => {
      const dir = opts.rootfsDir(arch.name);
      const tree = await readTree(dir);
      let layer;
      try {
        layer = buildLayer(tree, { mtime });
      } catch (e) {
        if (e instanceof LayerInputError) throw new FailureError(`${dir}: ${e.message}`);
        throw e;
      }
      const platform = { os: "linux" as const, architecture: want.architecture, ...(want.variant ? { variant: want.variant } : {}) };
      const labels = imageLabels(record, meta);
      const config = imageConfig({
        platform,
        created: mtime,
        diffIds: [layer.diffId],
        labels,
        createdBy: `mikrotik-tailscale ${pkg.version} build (${record.profile})`,
      });
      const tag = repoTag(opts.imageVersion, arch.name);
      const archive = dockerArchive({ repoTag: tag, config, layer: layer.tar, diffId: layer.diffId, mtime });
      const sbom = spdxDocument({
        record,
        imageVersion: opts.imageVersion,
        repoTag: tag,
        revision: opts.revision,
        source: meta.source,
        sourceDateEpoch: mtime,
        toolVersion: pkg.version,
        layerDiffId: layer.diffId,
      });
      const tarPath = join(opts.distDir, imageFiles.dockerArchive(fileVersion, arch.name));
      const sbomPath = join(opts.distDir, imageFiles.sbom(fileVersion, arch.name));
      await atomicWriteFile(sbomPath, sbom);
      await atomicWriteFile(tarPath, archive);
      files.push(tarPath, sbomPath);
      opts.progress.info(`${tarPath}: ${archive.length} bytes, config ${config.digest}, layer ${layer.diffId}`);
      oci.push({
        arch: arch.name,
        platform,
        config,
        layerGzip: gzipLayer(layer.tar),
        sbom,
        annotations: {
          [OCI_LABEL.created]: rfc3339(mtime),
          [OCI_LABEL.version]: opts.imageVersion,
          [OCI_LABEL.revision]: opts.revision,
          [OCI_LABEL.source]: meta.source,
        },
      });
    });
  }

  if (opts.oci === false) return { files };
  await opts.progress.step("OCI image layout (all architectures)", async () => {
    const layout = ociLayout({
      tag: opts.imageVersion,
      images: oci,
      annotations: {
        [OCI_LABEL.created]: rfc3339(mtime),
        [OCI_LABEL.version]: opts.imageVersion,
        [OCI_LABEL.revision]: opts.revision,
        [OCI_LABEL.source]: meta.source,
      },
    });
    const ociDir = join(opts.distDir, imageFiles.ociDir);
    await atomicDirectory(ociDir, async (tmp) => {
      for (const [rel, data] of layout.files) {
        const p = join(tmp, ...rel.split("/"));
        await mkdir(dirname(p), { recursive: true });
        await writeFile(p, data, { mode: 0o644 });
        await chmod(p, 0o644); // the final mode, whatever the umask
      }
      for (const d of ["", "blobs", "blobs/sha256"]) await chmod(join(tmp, d), 0o755);
    });
    const ociTar = join(opts.distDir, imageFiles.ociArchive(fileVersion));
    await atomicWriteFile(ociTar, packFiles(layout.files, mtime));
    files.push(ociDir, ociTar);
    opts.progress.info(`${ociDir}: index ${layout.indexDigest} (ref ${opts.imageVersion}; per arch ${opts.imageVersion}-<arch>)`);
    opts.progress.detail(`manifests: ${layout.manifests.map((m) => `${m.arch}=${digestHex(m.digest).slice(0, 12)}`).join(" ")}`);
  });
  return { files };
}
