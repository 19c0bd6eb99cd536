import { allArchitectures, platformString } from "../arch.js";
import { InvalidInputError } from "../errors.js";
import type { Credentials } from "./credentials.js";
import { OciLayoutReader, VERSION_ANNOTATION, platformText, type Descriptor, type LayoutImage } from "./layout.js";
import { formatReference, type ImageReference } from "./reference.js";
import { MEDIA, RegistryClient, RegistryError } from "./registry.js";
import { compareImageVersions, parseImageVersion } from "./version.js";

/*
 * publish: pushes the multi-arch image of an OCI layout (dist/oci) to a
 * registry and tags it v<tailscale>-mt.<N> and a channel tag (stable by
 * default). Blobs the registry already has are not sent again.
 *
 * Release tags are immutable. If the version tag is already in the registry
 * with a different digest, whole manifests and configs decide, per platform,
 * with only the provenance of the build left out (creation times and the git
 * revision: a rebuild of the same release at a later commit). Equal means the
 * release is already out and nothing is pushed; anything else that differs
 * (a layer, Env, Entrypoint, Volumes, User, a label, a platform) means our
 * revision was not raised for a meaningful change, which is refused
 * (`mikrotik-tailscale release` raises it). The channel tag never moves back
 * to an older version.
 */

export const DEFAULT_CHANNEL = "stable";

export interface PublishOptions {
  layoutDir: string;
  /** registry/repository, with an optional channel tag (default stable). */
  target: ImageReference;
  /** The image in the layout to push (default: its only multi-arch image). */
  ref?: string;
  credentials?: Credentials;
  plainHttp?: boolean;
  /** Replace a release tag that holds different content; move the channel back. */
  force?: boolean;
  /** Look at the registry and report, change nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  onRequest?: (method: string, url: string) => void;
  timeoutMs?: number;
}

export type PublishStatus = "published" | "unchanged" | "same-content";

export interface PublishResult {
  status: PublishStatus;
  version: string;
  /** Digest of the image index the version tag names in the registry afterwards. */
  digest: string;
  /** Tags set (or that would be set, with dryRun). */
  tags: string[];
  uploaded: string[];
  uploadedBytes: number;
  skipped: string[];
  platforms: { platform: string; digest: string }[];
  notes: string[];
}

function short(d: string): string {
  return d.replace(/^sha256:/, "").slice(0, 12);
}

function mb(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/** Chooses the image to push: the one named, or the layout's only multi-arch image. */
export function chooseRef(refs: string[], wanted?: string): string {
  if (wanted) return wanted;
  if (refs.length === 1) return refs[0]!;
  if (refs.length === 0) throw new InvalidInputError("the OCI layout holds no multi-arch image (an index with a ref name); build first: mikrotik-tailscale build");
  throw new InvalidInputError(`the OCI layout holds several images (${refs.join(", ")}); choose one with --ref`);
}

interface RemoteImage {
  digest: string;
  version?: string;
  /** platform text -> contentKey of its manifest and config */
  contents: Map<string, string>;
}

/** Labels and annotations that record when and from which commit a build was made, not what it holds. */
const PROVENANCE = ["org.opencontainers.image.created", "org.opencontainers.image.revision"];

/**
 * What a platform's image is, without its provenance: the manifest's media
 * types, layers and (non-provenance) annotations, and the whole config but
 * its creation times and revision label.
 */
export function contentKey(manifest: Record<string, any>, config: Record<string, any>): string {
  const strip = (o: Record<string, string> | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => !PROVENANCE.includes(k)).sort());
  const m = {
    mediaType: manifest.mediaType,
    configMediaType: manifest.config?.mediaType,
    layers: (manifest.layers ?? []).map((l: Descriptor) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations: strip(manifest.annotations),
  };
  const c = structuredClone(config);
  delete c.created;
  for (const h of c.history ?? []) delete h.created;
  if (c.config?.Labels) c.config.Labels = strip(c.config.Labels);
  return JSON.stringify(sortKeys({ manifest: m, config: c }));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

async function readRemote(client: RegistryClient, tag: string): Promise<RemoteImage | undefined> {
  const m = await client.getManifest(tag);
  if (!m) return undefined;
  const j = JSON.parse(m.bytes.toString("utf8")) as { manifests?: Descriptor[]; config?: Descriptor; annotations?: Record<string, string> };
  const contents = new Map<string, string>();
  let version = j.annotations?.[VERSION_ANNOTATION];
  const platformManifests: { platform: string; manifest: Record<string, any>; config?: Descriptor; annotations?: Record<string, string> }[] = [];
  if (m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList) {
    for (const d of j.manifests ?? []) {
      if (!d.platform) continue;
      const pm = await client.getManifest(d.digest);
      if (!pm) continue;
      const pj = JSON.parse(pm.bytes.toString("utf8")) as { config?: Descriptor; annotations?: Record<string, string> };
      platformManifests.push({ platform: platformText(d.platform), manifest: { ...pj, mediaType: (pj as { mediaType?: string }).mediaType ?? pm.mediaType }, config: pj.config, annotations: pj.annotations });
    }
  } else {
    platformManifests.push({ platform: "?", manifest: { ...j, mediaType: (j as { mediaType?: string }).mediaType ?? m.mediaType }, config: j.config, annotations: j.annotations });
  }
  for (const p of platformManifests) {
    if (!version) version = p.annotations?.[VERSION_ANNOTATION];
    if (!p.config) continue;
    const cfg = JSON.parse((await client.getBlob(p.config.digest)).toString("utf8")) as {
      rootfs?: { diff_ids?: string[] };
      architecture?: string;
      variant?: string;
      os?: string;
      config?: { Labels?: Record<string, string> };
    };
    const key = p.platform !== "?" ? p.platform : `${cfg.os}/${cfg.architecture}${cfg.variant ? `/${cfg.variant}` : ""}`;
    contents.set(key, contentKey(p.manifest, cfg));
    if (!version) version = cfg.config?.Labels?.[VERSION_ANNOTATION];
  }
  return { digest: m.digest, ...(version ? { version } : {}), contents };
}

/** The platforms whose contents differ (or that only one side has); empty when the images are the same release. */
async function differingPlatforms(reader: OciLayoutReader, local: LayoutImage, remote: RemoteImage): Promise<string[]> {
  const mine = new Map<string, string>();
  for (const p of local.platforms) {
    const manifest = (await reader.json(p.descriptor)) as Record<string, any>;
    const config = JSON.parse((await reader.blob(p.configDigest)).toString("utf8")) as Record<string, any>;
    mine.set(platformText(p.descriptor.platform), contentKey({ ...manifest, mediaType: manifest.mediaType ?? p.descriptor.mediaType }, config));
  }
  const all = [...new Set([...mine.keys(), ...remote.contents.keys()])].sort();
  return all.filter((k) => mine.get(k) !== remote.contents.get(k));
}

/** A release holds every architecture: a layout with fewer would strand the routers of the others. */
export function requireEveryPlatform(img: LayoutImage, layoutDir: string): void {
  const have = new Set(img.platforms.map((p) => platformText(p.descriptor.platform)));
  const missing = allArchitectures().filter((a) => !have.has(platformString(a)));
  if (missing.length) {
    throw new InvalidInputError(
      `${layoutDir}: ${img.ref} lacks ${missing.map((a) => `${platformString(a)} (${a.name})`).join(", ")}; a release holds every architecture: ` +
        `run a full 'mikrotik-tailscale build' and publish again`,
    );
  }
}

export async function publish(o: PublishOptions): Promise<PublishResult> {
  const log = o.log ?? (() => {});
  const reader = await OciLayoutReader.open(o.layoutDir);
  const ref = chooseRef(reader.indexRefs(), o.ref);
  const img = await reader.image(ref);
  const version = parseImageVersion(ref);
  if (!version) throw new InvalidInputError(`'${ref}' is not an image version (v<tailscale version>-mt.<N>); only releases are published`);
  if (img.version && img.version !== ref) {
    throw new InvalidInputError(`the image named '${ref}' says it is version ${img.version} (org.opencontainers.image.version)`);
  }
  requireEveryPlatform(img, o.layoutDir);
  const channel = o.target.tag ?? DEFAULT_CHANNEL;
  const repoText = formatReference({ registry: o.target.registry, repository: o.target.repository });
  const client = new RegistryClient({
    registry: o.target.registry,
    repository: o.target.repository,
    credentials: o.credentials,
    plainHttp: o.plainHttp,
    push: true,
    onRequest: o.onRequest,
    timeoutMs: o.timeoutMs,
  });
  const notes: string[] = [];
  const result: PublishResult = {
    status: "published",
    version: ref,
    digest: img.top.digest,
    tags: [],
    uploaded: [],
    uploadedBytes: 0,
    skipped: [],
    platforms: img.platforms.map((p) => ({ platform: platformText(p.descriptor.platform), digest: p.descriptor.digest })),
    notes,
  };

  log(`${repoText}: publishing ${ref} (${img.platforms.map((p) => platformText(p.descriptor.platform)).join(", ")}), index ${img.top.digest}`);
  const existing = await readRemote(client, ref);
  let pushImage = true;
  if (existing && existing.digest === img.top.digest) {
    pushImage = false;
    result.status = "unchanged";
    notes.push(`${ref} is already in ${repoText} with this exact digest`);
  } else if (existing) {
    const differ = await differingPlatforms(reader, img, existing);
    if (differ.length === 0) {
      if (!o.force) {
        pushImage = false;
        result.status = "same-content";
        result.digest = existing.digest;
        notes.push(
          `${ref} is already in ${repoText} (${short(existing.digest)}) with the same manifests and configs; this build differs only in when and from which commit it was made, so the published release stays as it is`,
        );
      }
    } else if (!o.force) {
      throw new RegistryError(
        `${ref} is already in ${repoText} with different contents (${short(existing.digest)}, ours ${short(img.top.digest)}; differing: ${differ.join(", ")}): release tags are immutable; ` +
          `raise the revision with 'mikrotik-tailscale release' and rebuild, or pass --force to replace it`,
      );
    } else {
      notes.push(`--force: replacing ${ref} (was ${short(existing.digest)}) with different contents`);
    }
  }
  const finalDigest = result.digest;

  // The channel tag moves forward only.
  const chan = channel === ref ? undefined : await readRemote(client, channel);
  const moveChannel = channel !== ref && chan?.digest !== finalDigest;
  if (moveChannel && chan) {
    const theirs = parseImageVersion(chan.version);
    if (theirs && compareImageVersions(theirs, version) > 0) {
      if (!o.force) {
        throw new RegistryError(`${repoText}:${channel} already points to ${theirs.text}, newer than ${ref}; pass --force to move it back`);
      }
      notes.push(`--force: moving ${channel} back from ${theirs.text} to ${ref}`);
    } else if (!theirs && !o.force) {
      throw new RegistryError(`${repoText}:${channel} points to an image without a version label (${short(chan.digest)}); pass --force to replace it`);
    }
  }

  if (pushImage) {
    for (const b of img.blobs) {
      if (await client.hasBlob(b.digest)) {
        result.skipped.push(b.digest);
        log(`  blob ${short(b.digest)} (${mb(b.size)}): already in the registry`);
        continue;
      }
      if (!o.dryRun) await client.uploadBlob(b.digest, await reader.blob(b.digest, b.size));
      result.uploaded.push(b.digest);
      result.uploadedBytes += b.size;
      log(`  blob ${short(b.digest)} (${mb(b.size)}): ${o.dryRun ? "would upload" : "uploaded"}`);
    }
    for (const p of img.platforms) {
      const bytes = await reader.blob(p.descriptor.digest, p.descriptor.size);
      if (!o.dryRun) await client.putManifest(p.descriptor.digest, p.descriptor.mediaType, bytes);
      log(`  manifest ${platformText(p.descriptor.platform)} ${short(p.descriptor.digest)}`);
    }
    const topBytes = await reader.blob(img.top.digest, img.top.size);
    if (!o.dryRun) await client.putManifest(ref, img.top.mediaType, topBytes);
    result.tags.push(ref);
    log(`  tag ${ref} -> ${short(img.top.digest)}`);
    for (const p of img.platforms) {
      if (!p.ref) continue;
      if (!o.dryRun) await client.putManifest(p.ref, p.descriptor.mediaType, await reader.blob(p.descriptor.digest));
      result.tags.push(p.ref);
      log(`  tag ${p.ref} -> ${short(p.descriptor.digest)}`);
    }
    for (const a of img.artifacts) {
      try {
        if (!o.dryRun) await pushArtifact(client, reader, a.descriptor, a.subject);
        log(`  SBOM ${short(a.descriptor.digest)} for ${short(a.subject)}`);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        notes.push(`the registry did not take SBOM ${short(a.descriptor.digest)}: ${e.message}`);
      }
    }
  }

  if (moveChannel) {
    const bytes = finalDigest === img.top.digest ? await reader.blob(img.top.digest) : (await client.getManifest(finalDigest))!.bytes;
    if (!o.dryRun) await client.putManifest(channel, img.top.mediaType, bytes);
    result.tags.push(channel);
    log(`  tag ${channel} -> ${short(finalDigest)}${chan ? ` (was ${chan.version ?? short(chan.digest)})` : ""}`);
  } else if (channel !== ref) {
    notes.push(`${channel} already points to ${short(finalDigest)}`);
  }
  return result;
}

/**
 * Pushes an artifact manifest (an SBOM whose subject is an image manifest).
 * Registries without the referrers API get the OCI 1.1 fallback: an index
 * of referrers under the tag sha256-<subject hex>.
 */
async function pushArtifact(client: RegistryClient, reader: OciLayoutReader, d: Descriptor, subject: string): Promise<void> {
  const bytes = await reader.blob(d.digest, d.size);
  const res = await client.request("PUT", `/v2/${client.repository}/manifests/${d.digest}`, { headers: { "content-type": d.mediaType }, body: bytes });
  if (res.status !== 201 && res.status !== 200) {
    const text = await res.text().catch(() => "");
    throw new RegistryError(`HTTP ${res.status} ${text.trim().slice(0, 200)}`);
  }
  const handled = !!res.headers.get("oci-subject");
  await res.body?.cancel();
  if (handled) return;
  const tag = subject.replace(":", "-");
  const current = await client.getManifest(tag);
  let manifests: Descriptor[] = [];
  if (current) {
    try {
      manifests = (JSON.parse(current.bytes.toString("utf8")) as { manifests?: Descriptor[] }).manifests ?? [];
    } catch {
      manifests = [];
    }
  }
  if (manifests.some((m) => m.digest === d.digest)) return;
  manifests.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.artifactType ? { artifactType: d.artifactType } : {}), ...(d.annotations ? { annotations: d.annotations } : {}) });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  await client.putManifest(tag, MEDIA.ociIndex, index);
}

/** A one-line summary of a result. */
export function publishSummary(r: PublishResult, target: string): string {
  const what =
    r.status === "unchanged"
      ? `${r.version} was already published`
      : r.status === "same-content"
        ? `${r.version} is already published with the same contents`
        : `published ${r.version}`;
  return `${what} to ${target} (${r.digest}); ${r.uploaded.length} blob${r.uploaded.length === 1 ? "" : "s"} uploaded (${mb(r.uploadedBytes)}), ${r.skipped.length} already there${r.tags.length ? `; tags: ${r.tags.join(", ")}` : ""}`;
}

