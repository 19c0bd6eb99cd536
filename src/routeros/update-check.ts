import type { Architecture } from "../arch.js";
import { UsageError } from "../errors.js";
import { resolveCredentials, type Credentials } from "../release/credentials.js";
import { parseReference, type ImageReference } from "../release/reference.js";
import { MEDIA, RegistryClient, RegistryError } from "../release/registry.js";
import { prepare, upgrade, type RunOptions, type RunResult, type UpgradeResult } from "./deploy.js";
import { buildPlan } from "./plan.js";
import type { RosRecord } from "./rest.js";
import { stateOf } from "./schema/state.js";

/*
 * `routeros upgrade --if-changed`: recreate the container only when the
 * registry's image for this router's platform differs from the one the
 * container was made from. That image's digest is written into the
 * container's comment (`mikrotik-tailscale image-digest=sha256:...`) when it
 * is created, here and by the RouterOS update script (update-script.ts), so
 * both agree on what "what the router runs" is. The state mount is kept by
 * upgrade() as always.
 */

export { DIGEST_MARK, recordedDigest } from "./swap.js";
import { DIGEST_MARK, recordedDigest } from "./swap.js";

/** A comment recording `digest`, keeping whatever else the comment said. */
export function commentWithDigest(comment: string | undefined, digest: string): string {
  const rest = (comment ?? "")
    .replace(new RegExp(`\\s*${DIGEST_MARK.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\S*`), "")
    .trim();
  return rest ? `${rest} ${DIGEST_MARK}${digest}` : `${DIGEST_MARK}${digest}`;
}

/**
 * The registry reference of a remote image: `registry/repo:tag`, or
 * `repo:tag` under /container/config registry-url.
 */
export function remoteImageReference(ref: string, registryUrl?: string): ImageReference & { tag: string } {
  let r: ImageReference;
  try {
    r = parseReference(ref, "image.remote");
  } catch (e) {
    if (!registryUrl) throw e;
    const host = new URL(registryUrl).host;
    r = parseReference(`${host}/${ref}`, "image.remote");
  }
  if (r.digest) throw new UsageError(`image.remote '${ref}': pinned by digest, so it cannot change; --if-changed follows a tag such as :stable`);
  return { ...r, tag: r.tag ?? "latest" };
}

/** Whether an index entry's platform is this architecture's (arm64's v8 variant may be left out). */
export function platformMatches(p: { architecture?: string; variant?: string; os?: string } | undefined, arch: Architecture): boolean {
  if (!p || (p.os && p.os !== "linux") || p.architecture !== arch.platform.architecture) return false;
  const want = arch.platform.variant;
  if (!want) return !p.variant;
  return p.variant === want || (arch.platform.architecture === "arm64" && !p.variant);
}

/** The digest of the image a router of `arch` pulls for `tag`: its platform's manifest in an index, or the manifest itself. */
export async function registryImageDigest(client: RegistryClient, tag: string, arch: Architecture): Promise<string> {
  const m = await client.getManifest(tag);
  if (!m) throw new RegistryError(`${client.registry}/${client.repository}:${tag} does not exist in the registry`);
  if (m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList) {
    const j = JSON.parse(m.bytes.toString("utf8")) as { manifests?: { digest: string; platform?: { architecture?: string; variant?: string; os?: string } }[] };
    const hit = (j.manifests ?? []).find((d) => platformMatches(d.platform, arch));
    if (!hit) {
      throw new RegistryError(
        `${client.registry}/${client.repository}:${tag} has no image for linux/${arch.platform.architecture}${arch.platform.variant ? `/${arch.platform.variant}` : ""} (the router's ${arch.routerosArch})`,
      );
    }
    return hit.digest;
  }
  return m.digest;
}

export interface IfChangedOptions extends RunOptions {
  /** Registry credentials; default: from the environment or an auth file, else anonymous. */
  credentials?: Credentials | null;
  plainHttp?: boolean;
}

export type IfChangedResult = RunResult & {
  from?: string;
  to?: string;
  rolledBack?: boolean;
  /** The registry's digest for this router's platform, and the one the container records. */
  digest: { registry: string; running?: string };
  changed: boolean;
};

function containerNamed(list: RosRecord[], name: string): RosRecord | undefined {
  return list.find((c) => c.name === name);
}

/** upgrade(), but only when the registry's image differs from the one the container was made from. */
export async function upgradeIfChanged(o: IfChangedOptions): Promise<IfChangedResult> {
  const { client } = o;
  // The image source is known before asking the router anything.
  if (buildPlan(o.config, { ...o.planOptions, resolveSecrets: false }).container.image.kind !== "remote") {
    throw new UsageError(
      "--if-changed compares a registry tag with what the router runs, but the image is a file: set image: { remote: registry.example.com/owner/mikrotik-tailscale:stable } in the config, or pass --image <registry>/<repository>:stable",
    );
  }
  const prepared = await prepare({ ...o, planOptions: { secretsOptional: true, ...o.planOptions } });
  const { config, plan, facts } = prepared;
  const img = plan.container.image;
  if (img.kind !== "remote") throw new Error("unreachable: the image source changed between plans");
  const ref = remoteImageReference(img.ref, config.image.registryUrl);
  const credentials = o.credentials === null ? undefined : (o.credentials ?? resolveCredentials({ registry: ref.registry }));
  const registry = new RegistryClient({ registry: ref.registry, repository: ref.repository, credentials, plainHttp: o.plainHttp });
  if (plan.container.key.field !== "name") {
    throw new UsageError(`--if-changed records the image digest in the container's comment, which RouterOS ${facts.version.text} uses to find the container (containers have names from 7.19 on): upgrade without --if-changed`);
  }
  const want = await registryImageDigest(registry, ref.tag, config.arch);
  const name = plan.container.name;
  const current = containerNamed(await client.getList("container"), name);
  const running = recordedDigest(current?.comment);
  if (current && running === want && !o.force) {
    return {
      changes: [],
      notes: [`container ${name} runs ${want.slice(0, 19)}..., the registry's current image of ${img.ref} for ${config.arch.routerosArch}: nothing to do`],
      status: stateOf(current),
      facts,
      digest: { registry: want, running },
      changed: false,
    };
  }
  const why = !current
    ? undefined
    : running
      ? `${img.ref} changed: ${running.slice(0, 19)}... -> ${want.slice(0, 19)}...`
      : `container ${name} records no image digest (made by deploy or by hand): replacing it once to record ${want.slice(0, 19)}...`;
  o.log?.(why ?? `no container ${name}`);
  // The router records the digest on the new container once it has proven itself.
  const r = await upgrade({ ...o, force: true }, prepared, { digest: want });
  const notes = [...(why ? [why] : []), ...r.notes];
  if (!o.dryRun) notes.push(`recorded ${DIGEST_MARK}${want} on container ${name}`);
  return { ...r, notes, digest: { registry: want, ...(running ? { running } : {}) }, changed: true };
}

/**
 * A plain `upgrade`: for a registry image, the digest of what the router
 * will pull is asked here (best effort) and recorded on the new container
 * once it runs, so a self-update that follows the same tag does not replace
 * it again. A file image records none: it is not the registry's.
 */
export async function upgradeRecordingDigest(o: IfChangedOptions): Promise<UpgradeResult> {
  const prepared = await prepare({ ...o, planOptions: { secretsOptional: true, ...o.planOptions } });
  const { config, plan } = prepared;
  const img = plan.container.image;
  let digest: string | undefined;
  const notes: string[] = [];
  if (img.kind === "remote" && plan.container.key.field === "name" && !o.dryRun) {
    try {
      const ref = remoteImageReference(img.ref, config.image.registryUrl);
      const credentials = o.credentials === null ? undefined : (o.credentials ?? resolveCredentials({ registry: ref.registry }));
      const registry = new RegistryClient({ registry: ref.registry, repository: ref.repository, credentials, plainHttp: o.plainHttp });
      digest = await registryImageDigest(registry, ref.tag, config.arch);
    } catch (e) {
      notes.push(`the registry's digest of ${img.ref} could not be read from here (${(e as Error).message}): none is recorded, so a self-update following the tag replaces the container once more`);
    }
  }
  const r = await upgrade(o, prepared, { digest });
  return { ...r, notes: [...r.notes, ...notes] };
}
