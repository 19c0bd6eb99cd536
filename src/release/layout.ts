import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidInputError } from "../errors.js";
import { REF_NAME, type Descriptor } from "../image/oci.js";
import { MEDIA } from "./registry.js";

/*
 * Reads an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>) as
 * the image-layout spec describes it, without assuming who wrote it, and
 * works out everything one tagged image needs in a registry: blobs first,
 * then manifests, then the index that names them, plus artifacts (SBOMs)
 * whose `subject` is one of those manifests.
 */

export { REF_NAME, type Descriptor };
export const VERSION_ANNOTATION = "org.opencontainers.image.version";

interface ManifestJson {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface LayoutImage {
  /** The ref name in index.json (e.g. v1.102.5-mt.1). */
  ref: string;
  /** The descriptor of the image index (or single manifest) that ref names. */
  top: Descriptor;
  /** Per-platform manifests of the index. */
  platforms: { descriptor: Descriptor; configDigest: string; layerDigests: string[]; diffIds: string[]; ref?: string }[];
  /** Artifact manifests (SBOMs) whose subject is one of the platform manifests. */
  artifacts: { descriptor: Descriptor; subject: string }[];
  /** Every blob (configs, layers, artifact payloads) these need, each once. */
  blobs: Descriptor[];
  /** org.opencontainers.image.version of the index, if set. */
  version?: string;
}

export class OciLayoutReader {
  private cache = new Map<string, Buffer>();
  private constructor(
    readonly dir: string,
    readonly index: { manifests: Descriptor[] },
  ) {}

  static async open(dir: string): Promise<OciLayoutReader> {
    let layoutText: string;
    try {
      layoutText = await readFile(join(dir, "oci-layout"), "utf8");
    } catch {
      throw new InvalidInputError(`${dir}: not an OCI image layout (no oci-layout file); build first: mikrotik-tailscale build`);
    }
    let v: string | undefined;
    try {
      v = (JSON.parse(layoutText) as { imageLayoutVersion?: string }).imageLayoutVersion;
    } catch {
      // handled below
    }
    if (v !== "1.0.0") throw new InvalidInputError(`${dir}/oci-layout: unsupported imageLayoutVersion ${JSON.stringify(v)}`);
    let index: { manifests?: Descriptor[] };
    try {
      index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    } catch (e) {
      throw new InvalidInputError(`${dir}/index.json: cannot read it (${(e as Error).message})`);
    }
    if (!Array.isArray(index.manifests)) throw new InvalidInputError(`${dir}/index.json: no manifests list`);
    return new OciLayoutReader(dir, { manifests: index.manifests });
  }

  /** Reads a blob and checks its digest and (when given) size. */
  async blob(digest: string, size?: number): Promise<Buffer> {
    const hit = this.cache.get(digest);
    if (hit) return hit;
    const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(digest);
    if (!m || m[1] !== "sha256") throw new InvalidInputError(`${this.dir}: unsupported digest ${digest}`);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, "blobs", m[1], m[2]!));
    } catch {
      throw new InvalidInputError(`${this.dir}: blob ${digest} is missing`);
    }
    const got = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (got !== digest) throw new InvalidInputError(`${this.dir}: blob ${digest} is corrupt (its bytes hash to ${got})`);
    if (size !== undefined && bytes.length !== size) throw new InvalidInputError(`${this.dir}: blob ${digest} has ${bytes.length} bytes, its descriptor says ${size}`);
    this.cache.set(digest, bytes);
    return bytes;
  }

  async json(d: Descriptor): Promise<ManifestJson> {
    const bytes = await this.blob(d.digest, d.size);
    try {
      return JSON.parse(bytes.toString("utf8")) as ManifestJson;
    } catch {
      throw new InvalidInputError(`${this.dir}: ${d.digest} (${d.mediaType}) is not JSON`);
    }
  }

  /** Ref names in index.json, in order. */
  refs(): { name: string; descriptor: Descriptor }[] {
    return this.index.manifests.filter((d) => d.annotations?.[REF_NAME]).map((d) => ({ name: d.annotations![REF_NAME]!, descriptor: d }));
  }

  /** The refs that name an image index (multi-arch images). */
  indexRefs(): string[] {
    return this.refs()
      .filter((r) => r.descriptor.mediaType === MEDIA.ociIndex || r.descriptor.mediaType === MEDIA.dockerList)
      .map((r) => r.name);
  }

  /** Everything one ref needs, checked blob by blob. */
  async image(ref: string): Promise<LayoutImage> {
    const named = this.refs().find((r) => r.name === ref);
    if (!named) throw new InvalidInputError(`${this.dir}: index.json has no ref '${ref}' (it has: ${this.refs().map((r) => r.name).join(", ") || "none"})`);
    const top = named.descriptor;
    const platformDescs: Descriptor[] = [];
    let version: string | undefined;
    if (top.mediaType === MEDIA.ociIndex || top.mediaType === MEDIA.dockerList) {
      const idx = await this.json(top);
      version = idx.annotations?.[VERSION_ANNOTATION];
      for (const d of idx.manifests ?? []) {
        if (d.mediaType === MEDIA.ociIndex || d.mediaType === MEDIA.dockerList) {
          throw new InvalidInputError(`${this.dir}: nested image indexes are not supported (${d.digest})`);
        }
        platformDescs.push(d);
      }
    } else {
      platformDescs.push(top);
    }
    const blobs = new Map<string, Descriptor>();
    const refByDigest = new Map(this.refs().filter((r) => r.name !== ref).map((r) => [r.descriptor.digest, r.name]));
    const platforms: LayoutImage["platforms"] = [];
    for (const d of platformDescs) {
      const m = await this.json(d);
      if (!m.config) throw new InvalidInputError(`${this.dir}: manifest ${d.digest} has no config`);
      await this.blob(m.config.digest, m.config.size);
      blobs.set(m.config.digest, m.config);
      for (const l of m.layers ?? []) {
        await this.blob(l.digest, l.size);
        blobs.set(l.digest, l);
      }
      const cfg = JSON.parse((await this.blob(m.config.digest)).toString("utf8")) as { rootfs?: { diff_ids?: string[] } };
      if (!version) version = m.annotations?.[VERSION_ANNOTATION];
      platforms.push({
        descriptor: d,
        configDigest: m.config.digest,
        layerDigests: (m.layers ?? []).map((l) => l.digest),
        diffIds: cfg.rootfs?.diff_ids ?? [],
        ...(refByDigest.has(d.digest) ? { ref: refByDigest.get(d.digest)! } : {}),
      });
    }
    const wanted = new Set(platforms.map((p) => p.descriptor.digest));
    const artifacts: LayoutImage["artifacts"] = [];
    for (const d of this.index.manifests) {
      if (d.mediaType !== MEDIA.ociManifest || wanted.has(d.digest)) continue;
      const m = await this.json(d);
      if (!m.subject || !wanted.has(m.subject.digest)) continue;
      for (const b of [m.config, ...(m.layers ?? [])]) {
        if (!b) continue;
        await this.blob(b.digest, b.size);
        blobs.set(b.digest, b);
      }
      artifacts.push({ descriptor: d, subject: m.subject.digest });
    }
    return { ref, top, platforms, artifacts, blobs: [...blobs.values()], ...(version ? { version } : {}) };
  }
}

/** "linux/arm/v7" from a platform. */
export function platformText(p: Descriptor["platform"] | undefined): string {
  if (!p) return "?";
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}
