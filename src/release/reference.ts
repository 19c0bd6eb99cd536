import { UsageError } from "../errors.js";

/*
 * Image references of the form `<registry>/<repository>[:<tag>][@<digest>]`.
 * The registry host is always written out: this tool never guesses a default
 * registry, so a reference means the same thing on every machine.
 */

export interface ImageReference {
  /** host[:port], as written (lowercased). */
  registry: string;
  /** e.g. owner/mikrotik-tailscale */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
export const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

function looksLikeHost(s: string): boolean {
  return s === "localhost" || s.includes(".") || s.includes(":") || s.startsWith("[");
}

/** Parses a reference; throws UsageError naming what is wrong. */
export function parseReference(input: string, what = "image reference"): ImageReference {
  const text = input.trim();
  if (/^[a-z]+:\/\//i.test(text)) {
    throw new UsageError(`${what} '${text}': give <registry>/<repository>:<tag> without a scheme (plain http is used for loopback registries, or with --plain-http)`);
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw new UsageError(`${what} '${text}': '${digest}' is not a sha256 digest`);
  }
  const slash = rest.indexOf("/");
  if (slash < 0 || !looksLikeHost(rest.slice(0, slash))) {
    throw new UsageError(`${what} '${text}': name the registry host first, e.g. registry.example.com/owner/mikrotik-tailscale:stable`);
  }
  const registry = rest.slice(0, slash).toLowerCase();
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(":");
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new UsageError(`${what} '${text}': '${tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128)`);
  }
  if (!/^[\w.-]+(?::\d{1,5})?$/.test(registry) && !/^\[[0-9a-f:]+\](?::\d{1,5})?$/.test(registry)) {
    throw new UsageError(`${what} '${text}': '${registry}' is not a registry host[:port]`);
  }
  const parts = path.split("/");
  if (!path || parts.some((p) => !COMPONENT.test(p))) {
    throw new UsageError(`${what} '${text}': '${path}' is not a repository name (lowercase letters, digits and separators, '/' between parts)`);
  }
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** Host part of registry (without port and brackets). */
export function registryHostname(registry: string): string {
  const m = /^\[([^\]]+)\]/.exec(registry);
  if (m) return m[1]!;
  return registry.replace(/:\d+$/, "");
}

/** Whether a registry lives on this machine's loopback (plain http is then the default, as Docker does). */
export function isLoopbackRegistry(registry: string): boolean {
  const h = registryHostname(registry);
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The base URL of a registry's API: https, or http for loopback registries or when asked. */
export function registryBaseUrl(registry: string, plainHttp?: boolean): string {
  const scheme = (plainHttp ?? isLoopbackRegistry(registry)) ? "http" : "https";
  return `${scheme}://${registry}`;
}
