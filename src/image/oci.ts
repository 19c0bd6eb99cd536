/**
 * An OCI image layout holding every architecture under one image index, with
 * one SPDX SBOM per architecture attached as an OCI 1.1 artifact (a manifest
 * whose `subject` is the image manifest). Pure: returns the layout as a map of
 * relative path -> bytes; the caller writes it to disk or packs it as a tar.
 *
 *   oci-layout
 *   index.json                 ref "<imageVersion>"        -> the image index
 *                              ref "<imageVersion>-<arch>" -> each image manifest
 *                              each SBOM artifact manifest (no ref)
 *   blobs/sha256/<hex>         index, manifests, configs, gzip layers, SBOMs
 *
 * Layers are gzip-compressed here (registries expect it); the docker-archive
 * files keep them uncompressed for RouterOS. gzip is node:zlib at level 9
 * with no name and mtime 0 in its header: the same Node (zlib) version gives
 * the same bytes.
 */
import { gzipSync, constants as zc } from "node:zlib";
import { blob, type Blob } from "./config.js";
import { canonicalJson, digestHex } from "./digest.js";
import { comparePaths } from "./layer.js";
import { writeTar, type TarEntry } from "./tar.js";

export const MT = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  layerTar: "application/vnd.oci.image.layer.v1.tar",
  empty: "application/vnd.oci.empty.v1+json",
  spdx: "application/spdx+json",
} as const;

export const REF_NAME = "org.opencontainers.image.ref.name";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  artifactType?: string;
  annotations?: Record<string, string>;
}

function descriptor(b: Blob, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra };
}

/** gzip with fixed settings (see the file comment). */
export function gzipLayer(tar: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(tar, { level: 9, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY }));
}

export interface OciImageInput {
  /** Our arch name, used in the per-arch ref name. */
  arch: string;
  platform: { os: "linux"; architecture: string; variant?: string };
  config: Blob;
  /** The gzip-compressed layer (see gzipLayer). */
  layerGzip: Uint8Array;
  /** SPDX JSON for this image, attached as an artifact. */
  sbom?: Uint8Array;
  /** Annotations for the image manifest (e.g. the OCI labels). */
  annotations?: Record<string, string>;
}

export interface OciLayoutInput {
  /** Tag of the multi-arch index, e.g. `v1.102.5-mt.1`; each arch gets `<tag>-<arch>`. */
  tag: string;
  images: readonly OciImageInput[];
  /** Annotations for the image index. */
  annotations?: Record<string, string>;
}

export interface OciLayout {
  /** Relative path -> bytes; paths use `/`. */
  files: Map<string, Uint8Array>;
  /** Digest of the multi-arch image index (what a registry push names). */
  indexDigest: string;
  manifests: { arch: string; digest: string; sbomDigest?: string }[];
}

export function ociLayout(input: OciLayoutInput): OciLayout {
  if (input.images.length === 0) throw new Error("OCI layout: no images");
  const blobs = new Map<string, Uint8Array>();
  const put = (b: Blob) => {
    blobs.set(b.digest, b.bytes);
    return b;
  };
  const refs: Descriptor[] = [];
  const artifacts: Descriptor[] = [];
  const platformManifests: Descriptor[] = [];
  const manifests: OciLayout["manifests"] = [];
  const seenArch = new Set<string>();

  for (const img of input.images) {
    if (seenArch.has(img.arch)) throw new Error(`OCI layout: architecture ${img.arch} given twice`);
    seenArch.add(img.arch);
    const config = put(blob(MT.config, img.config.bytes));
    const layer = put(blob(MT.layerGzip, img.layerGzip));
    const manifest = put(
      blob(
        MT.manifest,
        canonicalJson({
          schemaVersion: 2,
          mediaType: MT.manifest,
          config: descriptor(config),
          layers: [descriptor(layer)],
          ...(img.annotations ? { annotations: img.annotations } : {}),
        }),
      ),
    );
    platformManifests.push(descriptor(manifest, { platform: img.platform }));
    refs.push(descriptor(manifest, { platform: img.platform, annotations: { [REF_NAME]: `${input.tag}-${img.arch}` } }));
    let sbomDigest: string | undefined;
    if (img.sbom) {
      const empty = put(blob(MT.empty, new TextEncoder().encode("{}")));
      const sbom = put(blob(MT.spdx, img.sbom));
      const art = put(
        blob(
          MT.manifest,
          canonicalJson({
            schemaVersion: 2,
            mediaType: MT.manifest,
            artifactType: MT.spdx,
            config: descriptor(empty),
            layers: [descriptor(sbom, { annotations: { "org.opencontainers.image.title": `sbom-${img.arch}.spdx.json` } })],
            subject: descriptor(manifest),
          }),
        ),
      );
      sbomDigest = art.digest;
      artifacts.push(descriptor(art, { artifactType: MT.spdx }));
    }
    manifests.push({ arch: img.arch, digest: manifest.digest, ...(sbomDigest ? { sbomDigest } : {}) });
  }

  const index = put(
    blob(
      MT.index,
      canonicalJson({
        schemaVersion: 2,
        mediaType: MT.index,
        manifests: platformManifests,
        ...(input.annotations ? { annotations: input.annotations } : {}),
      }),
    ),
  );
  const top = canonicalJson({
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: [descriptor(index, { annotations: { [REF_NAME]: input.tag } }), ...refs, ...artifacts],
  });

  const files = new Map<string, Uint8Array>();
  files.set("oci-layout", canonicalJson({ imageLayoutVersion: "1.0.0" }));
  files.set("index.json", top);
  for (const d of [...blobs.keys()].sort()) files.set(`blobs/sha256/${digestHex(d)}`, blobs.get(d)!);
  return { files, indexDigest: index.digest, manifests };
}

/** Packs a file map (e.g. an OCI layout) as one tar with directories, sorted, fixed owner/modes/mtime. */
export function packFiles(files: ReadonlyMap<string, Uint8Array>, mtime: number): Uint8Array {
  const dirs = new Set<string>();
  for (const p of files.keys()) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const entries: TarEntry[] = [
    ...[...dirs].map((d): TarEntry => ({ path: d, type: "dir", mode: 0o755, mtime })),
    ...[...files].map(([p, data]): TarEntry => ({ path: p, type: "file", mode: 0o644, data, mtime })),
  ];
  entries.sort((a, b) => comparePaths(a.path, b.path));
  return writeTar(entries);
}
