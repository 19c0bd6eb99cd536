/**
 * The image configuration (the same JSON serves Docker and OCI) and the
 * constants every image shares. Pure.
 */
import type { BuildRecord } from "../build/record.js";
import { canonicalJson, digestOf } from "./digest.js";
import { loadImageSpec, type ImageSpec } from "./spec.js";

const spec = loadImageSpec();

/** Repository name in RepoTags and OCI ref names: `mikrotik-tailscale:<imageVersion>-<arch>`. */
export const IMAGE_NAME = spec.name;
/** The container config, as config/image.yaml declares it. */
export const ENTRYPOINT: readonly string[] = spec.config.entrypoint;
export const IMAGE_TITLE = spec.title;
export const IMAGE_DESCRIPTION = spec.description;

/** Our own labels, read back by `inspect`. */
export const LABEL = {
  arch: "mikrotik-tailscale.arch",
  profile: "mikrotik-tailscale.profile",
  tailscaleVersion: "mikrotik-tailscale.tailscale.version",
  tailscaleCommit: "mikrotik-tailscale.tailscale.commit",
  goVersion: "mikrotik-tailscale.tailscale.go-version",
  tags: "mikrotik-tailscale.tailscale.tags",
  features: "mikrotik-tailscale.tailscale.features",
  busyboxVersion: "mikrotik-tailscale.busybox.version",
  busyboxSha256: "mikrotik-tailscale.busybox.tarball-sha256",
  caBundle: "mikrotik-tailscale.ca-bundle",
} as const;

export const OCI_LABEL = {
  title: "org.opencontainers.image.title",
  description: "org.opencontainers.image.description",
  version: "org.opencontainers.image.version",
  revision: "org.opencontainers.image.revision",
  source: "org.opencontainers.image.source",
  created: "org.opencontainers.image.created",
} as const;

export interface ImageMeta {
  imageVersion: string;
  revision: string;
  /** Where the project's source lives (org.opencontainers.image.source). */
  source: string;
  sourceDateEpoch: number;
}

/** Every label an image carries: the OCI standard set plus what `inspect` shows. */
export function imageLabels(record: BuildRecord, meta: ImageMeta): Record<string, string> {
  const labels: Record<string, string> = {
    ...spec.config.labels,
    [OCI_LABEL.title]: IMAGE_TITLE,
    [OCI_LABEL.description]: IMAGE_DESCRIPTION,
    [OCI_LABEL.version]: meta.imageVersion,
    [OCI_LABEL.revision]: meta.revision,
    [OCI_LABEL.source]: meta.source,
    [OCI_LABEL.created]: rfc3339(meta.sourceDateEpoch),
    [LABEL.arch]: record.arch,
    [LABEL.profile]: record.profile,
    [LABEL.tailscaleVersion]: record.tailscale.version,
    [LABEL.goVersion]: record.tailscale.goVersion,
    [LABEL.tags]: record.tailscale.tags.join(","),
    [LABEL.features]: record.tailscale.features.join(","),
    [LABEL.busyboxVersion]: record.busybox.version,
    [LABEL.busyboxSha256]: record.busybox.tarballSha256,
    [LABEL.caBundle]: `${record.caBundle.module}@${record.caBundle.version}`,
  };
  if (record.tailscale.commit) labels[LABEL.tailscaleCommit] = record.tailscale.commit;
  return labels;
}

/** `mikrotik-tailscale:<imageVersion>-<arch>`. */
export function repoTag(imageVersion: string, arch: string): string {
  return `${IMAGE_NAME}:${imageTag(imageVersion, arch)}`;
}

export function imageTag(imageVersion: string, arch: string): string {
  const tag = `${imageVersion}-${arch}`;
  // Docker's tag grammar; a bad tag would be refused later by every tool.
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`invalid image tag ${JSON.stringify(tag)}`);
  return tag;
}

/** RFC 3339 in UTC, whole seconds: `2024-05-01T12:00:00Z`. */
export function rfc3339(epochSeconds: number): string {
  if (!Number.isInteger(epochSeconds) || epochSeconds < 0) throw new Error(`invalid epoch seconds: ${epochSeconds}`);
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface ImageConfigInput {
  platform: { architecture: string; variant?: string };
  created: number;
  diffIds: readonly string[];
  labels: Readonly<Record<string, string>>;
  /** `created_by` of the history entry. */
  createdBy: string;
  /** Entrypoint, Cmd, Env, Volumes, User (default: config/image.yaml's). */
  container?: ImageSpec["config"];
}

export interface Blob {
  mediaType: string;
  bytes: Uint8Array;
  digest: string;
  size: number;
}

export function blob(mediaType: string, bytes: Uint8Array): Blob {
  return { mediaType, bytes, digest: digestOf(bytes), size: bytes.length };
}

export const OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";

/** The image config JSON, canonical (sorted keys, no whitespace). */
export function imageConfig(input: ImageConfigInput): Blob {
  const created = rfc3339(input.created);
  const c = input.container ?? spec.config;
  const config = {
    architecture: input.platform.architecture,
    ...(input.platform.variant ? { variant: input.platform.variant } : {}),
    os: "linux",
    created,
    config: {
      Entrypoint: [...c.entrypoint],
      Cmd: [...c.cmd],
      Env: [...c.env],
      Volumes: Object.fromEntries(c.volumes.map((v) => [v, {}])),
      Labels: { ...input.labels },
      // Left out when empty (root), as Docker does.
      ...(c.user ? { User: c.user } : {}),
    },
    rootfs: { type: "layers", diff_ids: [...input.diffIds] },
    history: input.diffIds.map(() => ({ created, created_by: input.createdBy })),
  };
  return blob(OCI_CONFIG_MEDIA_TYPE, canonicalJson(config));
}
