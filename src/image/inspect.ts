/**
 * Reads an image back and checks it: a docker-archive `.tar`, an OCI image
 * layout (a directory, through a file lookup) or an OCI layout packed as a
 * `.tar`. Pure: bytes in, a report out. Every digest, size and diff_id is
 * verified; anything inconsistent throws ImageFormatError. Things a valid
 * image may have but RouterOS's file import does not take (gzip layers,
 * several images in one file, names starting with `./`) become warnings.
 */
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import { LABEL } from "./config.js";
import { digestHex, digestOf, isSha256Digest } from "./digest.js";
import { MT, REF_NAME } from "./oci.js";
import { readTar, TarFormatError, type ReadTarEntry } from "./tar.js";

export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageFormatError";
  }
}

/** Where inspect reads files from: a tar's entries or a directory. */
export interface FileLookup {
  read(path: string): Uint8Array | undefined;
}

export interface LayerFile {
  path: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** `sha256:<hex>` of a regular file's contents. */
  digest?: string;
  target?: string;
}

export interface LayerReport {
  /** Digest of the blob as stored (compressed in OCI, the tar in docker-archive). */
  digest: string;
  size: number;
  mediaType?: string;
  compression: "none" | "gzip";
  diffId: string;
  uncompressedSize: number;
  files: LayerFile[];
}

export interface ImageReport {
  /** OCI ref names or Docker RepoTags pointing at this image. */
  names: string[];
  platform: { os: string; architecture: string; variant?: string };
  created?: string;
  manifestDigest?: string;
  config: { digest: string; size: number };
  layers: LayerReport[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  volumes?: string[];
  labels: Record<string, string>;
  /** What our labels say; undefined on images that are not ours. */
  tailscaleVersion?: string;
  busyboxVersion?: string;
  goVersion?: string;
  buildTags?: string[];
  features?: string[];
  profile?: string;
  /** The SBOM found for this image: an OCI artifact, or the `.spdx.json` file beside a `.tar`. */
  sbom?: { location: string; digest: string; size: number; packages: number; name?: string; manifestDigest?: string };
}

export interface InspectReport {
  format: "docker-archive" | "oci-layout" | "oci-archive";
  /** Digest of the top-level multi-arch index, OCI only. */
  indexDigest?: string;
  indexNames?: string[];
  images: ImageReport[];
  warnings: string[];
}

const dec = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new ImageFormatError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ImageFormatError(`${what}: ${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`);
  }
  return r.data;
}

const Digest = z.string().refine(isSha256Digest, "must be sha256:<64 hex digits>");
const Platform = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).passthrough();
const DescriptorSchema = z
  .object({
    mediaType: z.string(),
    digest: Digest,
    size: z.number().int().nonnegative(),
    platform: Platform.optional(),
    artifactType: z.string().optional(),
    annotations: z.record(z.string()).optional(),
  })
  .passthrough();
type Descriptor = z.infer<typeof DescriptorSchema>;

const IndexSchema = z
  .object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(DescriptorSchema) })
  .passthrough();
const ManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
  })
  .passthrough();
const ConfigSchema = z
  .object({
    architecture: z.string().min(1),
    os: z.string().min(1),
    variant: z.string().optional(),
    created: z.string().optional(),
    config: z
      .object({
        Entrypoint: z.array(z.string()).nullable().optional(),
        Cmd: z.array(z.string()).nullable().optional(),
        Env: z.array(z.string()).nullable().optional(),
        Volumes: z.record(z.unknown()).nullable().optional(),
        Labels: z.record(z.string()).nullable().optional(),
      })
      .passthrough()
      .optional(),
    rootfs: z.object({ type: z.literal("layers"), diff_ids: z.array(Digest) }),
  })
  .passthrough();
type ImageConfig = z.infer<typeof ConfigSchema>;

const DockerManifestSchema = z
  .array(
    z
      .object({
        Config: z.string().min(1),
        RepoTags: z.array(z.string()).nullable().optional(),
        Layers: z.array(z.string().min(1)),
      })
      .passthrough(),
  )
  .min(1, "lists no image");
const RepositoriesSchema = z.record(z.record(z.string()));

const MANIFEST_TYPES = new Set([MT.manifest, "application/vnd.docker.distribution.manifest.v2+json"]);
const INDEX_TYPES = new Set([MT.index, "application/vnd.docker.distribution.manifest.list.v2+json"]);
const GZIP_LAYER_TYPES = new Set([MT.layerGzip, "application/vnd.docker.image.rootfs.diff.tar.gzip"]);
const TAR_LAYER_TYPES = new Set([MT.layerTar, "application/vnd.docker.image.rootfs.diff.tar"]);

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function gunzip(b: Uint8Array, what: string): Uint8Array {
  try {
    return new Uint8Array(gunzipSync(b));
  } catch (e) {
    throw new ImageFormatError(`${what}: gzip data is corrupt: ${(e as Error).message}`);
  }
}

function layerFiles(tar: Uint8Array, what: string): LayerFile[] {
  let entries: ReadTarEntry[];
  try {
    entries = readTar(tar);
  } catch (e) {
    if (e instanceof TarFormatError) throw new ImageFormatError(`${what}: ${e.message}`);
    throw e;
  }
  const seen = new Set<string>();
  return entries.map((e) => {
    if (seen.has(e.path)) throw new ImageFormatError(`${what}: ${e.path} appears twice`);
    seen.add(e.path);
    const f: LayerFile = { path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.type === "file" ? e.size : 0 };
    if (e.type === "file") f.digest = digestOf(e.data);
    if (e.linkTarget !== undefined) f.target = e.linkTarget;
    return f;
  });
}

function splitList(s: string | undefined): string[] | undefined {
  return s === undefined ? undefined : s.split(",").filter(Boolean);
}

function imageFromConfig(config: ImageConfig, configBlob: { digest: string; size: number }, layers: LayerReport[]): ImageReport {
  if (config.rootfs.diff_ids.length !== layers.length) {
    throw new ImageFormatError(`config lists ${config.rootfs.diff_ids.length} diff_ids but the image has ${layers.length} layers`);
  }
  config.rootfs.diff_ids.forEach((d, i) => {
    if (layers[i]!.diffId !== d) {
      throw new ImageFormatError(`layer ${i + 1}: content digest ${layers[i]!.diffId} does not match the config's diff_id ${d}`);
    }
  });
  const c = config.config ?? {};
  const labels = c.Labels ?? {};
  const img: ImageReport = {
    names: [],
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    config: configBlob,
    layers,
    labels,
  };
  if (config.created) img.created = config.created;
  if (c.Entrypoint) img.entrypoint = c.Entrypoint;
  if (c.Cmd) img.cmd = c.Cmd;
  if (c.Env) img.env = c.Env;
  if (c.Volumes) img.volumes = Object.keys(c.Volumes).sort();
  const set = <K extends keyof ImageReport>(k: K, v: ImageReport[K] | undefined) => {
    if (v !== undefined) img[k] = v;
  };
  set("tailscaleVersion", labels[LABEL.tailscaleVersion]);
  set("busyboxVersion", labels[LABEL.busyboxVersion]);
  set("goVersion", labels[LABEL.goVersion]);
  set("buildTags", splitList(labels[LABEL.tags]));
  set("features", splitList(labels[LABEL.features]));
  set("profile", labels[LABEL.profile]);
  return img;
}

// ---------------------------------------------------------------- docker-archive

function inspectDockerArchive(entries: ReadTarEntry[], warnings: string[]): ImageReport[] {
  const byName = new Map<string, ReadTarEntry>();
  for (const e of entries) {
    if (e.rawPath.startsWith("./")) {
      warnings.push(`entry names start with './' (${e.rawPath}); RouterOS's importer wants plain names`);
      break;
    }
  }
  for (const e of entries) {
    const p = e.path.replace(/^\.\//, "");
    if (byName.has(p)) throw new ImageFormatError(`docker-archive: ${p} appears twice`);
    byName.set(p, e);
  }
  const get = (p: string, what: string): Uint8Array => {
    const e = byName.get(p.replace(/^\.\//, ""));
    if (!e) throw new ImageFormatError(`docker-archive: ${what} ${p} is missing`);
    if (e.type !== "file") throw new ImageFormatError(`docker-archive: ${what} ${p} is not a regular file`);
    return e.data;
  };
  const manifest = validate(DockerManifestSchema, parseJson(get("manifest.json", "file"), "manifest.json"), "manifest.json");
  if (manifest.length > 1) warnings.push(`${manifest.length} images in one file; RouterOS takes one platform per file`);

  const images = manifest.map((m, n) => {
    const what = manifest.length > 1 ? `image ${n + 1}` : "image";
    const configBytes = get(m.Config, `${what} config`);
    const configDigest = digestOf(configBytes);
    const named = /^(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/.exec(m.Config);
    if (named && named[1] !== digestHex(configDigest)) {
      throw new ImageFormatError(`docker-archive: config ${m.Config} has digest ${configDigest}, not the one its name says`);
    }
    const config = validate(ConfigSchema, parseJson(configBytes, `config ${m.Config}`), `config ${m.Config}`);
    const layers = m.Layers.map((p, i): LayerReport => {
      const stored = get(p, `layer ${i + 1}`);
      const gz = isGzip(stored);
      if (gz) warnings.push(`layer ${p} is gzip-compressed; RouterOS's file import needs uncompressed layers`);
      const tar = gz ? gunzip(stored, `layer ${p}`) : stored;
      return {
        digest: digestOf(stored),
        size: stored.length,
        compression: gz ? "gzip" : "none",
        diffId: gz ? digestOf(tar) : digestOf(stored),
        uncompressedSize: tar.length,
        files: layerFiles(tar, `layer ${p}`),
      };
    });
    const img = imageFromConfig(config, { digest: configDigest, size: configBytes.length }, layers);
    img.names = [...(m.RepoTags ?? [])];
    return img;
  });

  const repoBytes = byName.get("repositories");
  if (!repoBytes) {
    warnings.push("no 'repositories' file; older importers need it");
  } else {
    const repos = validate(RepositoriesSchema, parseJson(repoBytes.data, "repositories"), "repositories");
    const tags = new Set(images.flatMap((i) => i.names));
    for (const [name, t] of Object.entries(repos)) {
      for (const tag of Object.keys(t)) {
        if (!tags.has(`${name}:${tag}`)) warnings.push(`'repositories' names ${name}:${tag}, which manifest.json does not`);
      }
    }
  }
  return images;
}

// ---------------------------------------------------------------- OCI layout

/** A descriptor's platform, where given, must be the one the image's config states. */
function checkPlatform(d: Descriptor, img: ImageReport, what: string): void {
  const p = d.platform;
  if (!p) return;
  if (p.os !== img.platform.os || p.architecture !== img.platform.architecture || (p.variant ?? "") !== (img.platform.variant ?? "")) {
    throw new ImageFormatError(
      `${what}: index says platform ${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""} but the config says ` +
        `${img.platform.os}/${img.platform.architecture}${img.platform.variant ? `/${img.platform.variant}` : ""}`,
    );
  }
}

function inspectOciLayout(files: FileLookup, warnings: string[]): { images: ImageReport[]; indexDigest?: string; indexNames?: string[] } {
  const layoutBytes = files.read("oci-layout");
  if (!layoutBytes) throw new ImageFormatError("not an OCI image layout: no oci-layout file");
  validate(z.object({ imageLayoutVersion: z.string() }), parseJson(layoutBytes, "oci-layout"), "oci-layout");
  const indexBytes = files.read("index.json");
  if (!indexBytes) throw new ImageFormatError("OCI layout: index.json is missing");
  const top = validate(IndexSchema, parseJson(indexBytes, "index.json"), "index.json");

  const verified = new Map<string, Uint8Array>();
  const blobOf = (d: Descriptor, what: string): Uint8Array => {
    const cached = verified.get(d.digest);
    if (cached) {
      if (cached.length !== d.size) throw new ImageFormatError(`${what}: descriptor says ${d.size} bytes, blob ${d.digest} has ${cached.length}`);
      return cached;
    }
    const p = `blobs/sha256/${digestHex(d.digest)}`;
    const b = files.read(p);
    if (!b) throw new ImageFormatError(`${what}: blob ${p} is missing`);
    if (b.length !== d.size) throw new ImageFormatError(`${what}: descriptor says ${d.size} bytes, ${p} has ${b.length}`);
    if (digestOf(b) !== d.digest) throw new ImageFormatError(`${what}: ${p} does not match its digest (corrupt blob)`);
    verified.set(d.digest, b);
    return b;
  };

  const images = new Map<string, ImageReport>();
  const sboms: { subject: string; report: NonNullable<ImageReport["sbom"]> }[] = [];
  let indexDigest: string | undefined;
  let indexNames: string[] | undefined;

  const visitManifest = (d: Descriptor, names: string[], what: string): void => {
    const existing = images.get(d.digest);
    if (existing) {
      blobOf(d, what); // the descriptor's size must agree too
      checkPlatform(d, existing, what);
      for (const n of names) if (!existing.names.includes(n)) existing.names.push(n);
      return;
    }
    const m = validate(ManifestSchema, parseJson(blobOf(d, what), `${what} manifest`), `${what} manifest`);
    if (m.mediaType !== undefined && m.mediaType !== d.mediaType) {
      throw new ImageFormatError(`${what}: manifest mediaType ${m.mediaType} differs from its descriptor's ${d.mediaType}`);
    }
    const artifactType = m.artifactType ?? d.artifactType;
    if (artifactType === MT.spdx || (m.config.mediaType === MT.empty && m.subject)) {
      blobOf(m.config, `${what} artifact config`);
      const layer = m.layers[0];
      if (!m.subject || !layer) throw new ImageFormatError(`${what}: SBOM artifact without a subject or a layer`);
      const bytes = blobOf(layer, `${what} SBOM`);
      const doc = parseJson(bytes, `${what} SBOM`) as { spdxVersion?: unknown; packages?: unknown; name?: unknown };
      if (typeof doc.spdxVersion !== "string" || !Array.isArray(doc.packages)) {
        throw new ImageFormatError(`${what}: SBOM blob is not an SPDX JSON document`);
      }
      sboms.push({
        subject: m.subject.digest,
        report: {
          location: "OCI artifact",
          manifestDigest: d.digest,
          digest: layer.digest,
          size: layer.size,
          packages: doc.packages.length,
          ...(typeof doc.name === "string" ? { name: doc.name } : {}),
        },
      });
      return;
    }
    const configBytes = blobOf(m.config, `${what} config`);
    const config = validate(ConfigSchema, parseJson(configBytes, `${what} config`), `${what} config`);
    const layers = m.layers.map((l, i): LayerReport => {
      const stored = blobOf(l, `${what} layer ${i + 1}`);
      let tar: Uint8Array;
      let compression: LayerReport["compression"];
      if (GZIP_LAYER_TYPES.has(l.mediaType)) {
        tar = gunzip(stored, `${what} layer ${i + 1}`);
        compression = "gzip";
      } else if (TAR_LAYER_TYPES.has(l.mediaType)) {
        tar = stored;
        compression = "none";
      } else {
        throw new ImageFormatError(`${what} layer ${i + 1}: unsupported media type ${l.mediaType}`);
      }
      return {
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType,
        compression,
        diffId: digestOf(tar),
        uncompressedSize: tar.length,
        files: layerFiles(tar, `${what} layer ${i + 1}`),
      };
    });
    const img = imageFromConfig(config, { digest: m.config.digest, size: m.config.size }, layers);
    checkPlatform(d, img, what);
    img.manifestDigest = d.digest;
    img.names = [...names];
    images.set(d.digest, img);
  };

  const visit = (d: Descriptor, names: string[], what: string, depth: number): void => {
    if (depth > 4) throw new ImageFormatError(`${what}: indexes nested too deeply`);
    if (INDEX_TYPES.has(d.mediaType)) {
      const idx = validate(IndexSchema, parseJson(blobOf(d, what), `${what} index`), `${what} index`);
      if (depth === 1 && indexDigest === undefined) {
        indexDigest = d.digest;
        indexNames = names;
      }
      for (const [i, m] of idx.manifests.entries()) visit(m, [], `${what} -> manifest ${i + 1}`, depth + 1);
    } else if (MANIFEST_TYPES.has(d.mediaType)) {
      visitManifest(d, names, what);
    } else {
      throw new ImageFormatError(`${what}: unsupported media type ${d.mediaType}`);
    }
  };
  if (top.manifests.length === 0) throw new ImageFormatError("OCI layout: index.json lists no manifests");
  for (const [i, d] of top.manifests.entries()) {
    const ref = d.annotations?.[REF_NAME];
    visit(d, ref ? [ref] : [], ref ? `ref ${ref}` : `index.json manifest ${i + 1}`, 1);
  }
  for (const s of sboms) {
    const img = images.get(s.subject);
    if (!img) throw new ImageFormatError(`SBOM ${s.report.manifestDigest} refers to ${s.subject}, which is not an image in this layout`);
    img.sbom = s.report;
  }
  if (images.size === 0) throw new ImageFormatError("OCI layout holds no image");
  return { images: [...images.values()], ...(indexDigest ? { indexDigest, indexNames: indexNames ?? [] } : {}) };
}

// ---------------------------------------------------------------- entry points

/** Inspects a `.tar`: docker-archive or a packed OCI layout. */
export function inspectTar(bytes: Uint8Array): InspectReport {
  let entries: ReadTarEntry[];
  try {
    entries = readTar(bytes);
  } catch (e) {
    if (e instanceof TarFormatError) throw new ImageFormatError(e.message);
    throw e;
  }
  const warnings: string[] = [];
  const names = new Set(entries.map((e) => e.path.replace(/^\.\//, "")));
  if (names.has("oci-layout")) {
    const map = new Map<string, Uint8Array>();
    for (const e of entries) {
      const p = e.path.replace(/^\.\//, "");
      if (e.type !== "file") continue;
      if (map.has(p)) throw new ImageFormatError(`OCI archive: ${p} appears twice`);
      map.set(p, e.data);
    }
    warnings.push("OCI layout in a tar: RouterOS's file import (7.10-7.20 at least) does not take this; use the per-arch docker-archive .tar");
    const r = inspectOciLayout({ read: (p) => map.get(p) }, warnings);
    return { format: "oci-archive", ...r, warnings };
  }
  if (names.has("manifest.json")) {
    return { format: "docker-archive", images: inspectDockerArchive(entries, warnings), warnings };
  }
  throw new ImageFormatError("a tar archive, but not an image: neither manifest.json (docker-archive) nor oci-layout (OCI) in it");
}

/** Inspects an OCI image layout directory through a file lookup. */
export function inspectLayout(files: FileLookup): InspectReport {
  const warnings: string[] = [];
  return { format: "oci-layout", ...inspectOciLayout(files, warnings), warnings };
}
