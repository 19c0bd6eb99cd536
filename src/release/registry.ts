import { createHash } from "node:crypto";
import { FailureError } from "../errors.js";
import type { Credentials } from "./credentials.js";
import { registryBaseUrl } from "./reference.js";

/*
 * A small client for the OCI distribution API (the registry HTTP API v2):
 * blob existence and monolithic uploads, manifests by tag or digest. Auth
 * follows the registry's 401 challenge: Basic (htpasswd registries), or
 * Bearer tokens from the realm it names (Docker Hub, GHCR and most hosted
 * registries), anonymous or with the user's credentials.
 */

export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest];

/** Something went wrong talking to a registry. */
export class RegistryError extends FailureError {}
/** The registry could not be reached at all. */
export class RegistryUnreachableError extends RegistryError {}
/** The registry (or its token service) refused us. */
export class RegistryAuthError extends RegistryError {}

export interface RegistryClientOptions {
  registry: string;
  repository: string;
  /** Override the API base URL (default: https, http for loopback). */
  baseUrl?: string;
  plainHttp?: boolean;
  credentials?: Credentials;
  /** Ask for push rights as well as pull. */
  push?: boolean;
  timeoutMs?: number;
  /** Called for each HTTP request (method, URL path) - for tests and --verbose. */
  onRequest?: (method: string, url: string) => void;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header (one challenge: `Bearer realm="...",service="..."`). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  UND_ERR_CONNECT_TIMEOUT: "timed out connecting",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  EPROTO: "TLS handshake failed (is this an https port? loopback registries use http)",
  UND_ERR_SOCKET: "connection closed",
};

function networkReason(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return "timed out";
  const code = err?.cause?.code;
  if (code && NET_REASONS[code]) return NET_REASONS[code]!;
  if (code && /CERT|SELF_SIGNED|UNABLE_TO/.test(code)) return `TLS certificate not trusted (${code}; NODE_EXTRA_CA_CERTS can name a CA file)`;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER") return "TLS handshake failed (is this a plain http registry? use --plain-http)";
  return err?.cause?.message ?? err?.message ?? String(e);
}

/** The first error a registry put in its JSON body, as "CODE: message". */
export function registryErrorText(body: string): string {
  try {
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string }[]; details?: string; message?: string; error?: string };
    const e = j.errors?.[0];
    if (e) return [e.code, e.message].filter(Boolean).join(": ");
    const t = j.details ?? j.message ?? j.error;
    if (typeof t === "string") return t;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 200);
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface ManifestResult {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

type Body = Uint8Array | undefined;

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  readonly baseUrl: string;
  private auth: { header: string; kind: "basic" | "bearer" } | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly o: RegistryClientOptions) {
    this.registry = o.registry;
    this.repository = o.repository;
    this.baseUrl = (o.baseUrl ?? registryBaseUrl(o.registry, o.plainHttp)).replace(/\/+$/, "");
    this.timeoutMs = o.timeoutMs ?? 120_000;
  }

  private get scope(): string {
    return `repository:${this.repository}:${this.o.push ? "pull,push" : "pull"}`;
  }

  private who(): string {
    const c = this.o.credentials;
    return c ? `user ${c.username} (${c.source})` : "anonymous access";
  }

  private async rawFetch(method: string, url: string, headers: Record<string, string>, body: Body, redirect: "follow" | "manual" = "follow"): Promise<Response> {
    this.o.onRequest?.(method, url);
    try {
      return await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        redirect,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const host = new URL(url).host;
      throw new RegistryUnreachableError(`cannot reach the registry at ${new URL(url).protocol}//${host}: ${networkReason(e)}`);
    }
  }

  /** Sends a request, answering one 401 challenge; returns the response for the caller to check. */
  async request(method: string, path: string, init: { headers?: Record<string, string>; body?: Body; redirect?: "follow" | "manual" } = {}): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (this.auth) headers.authorization = this.auth.header;
      const res = await this.rawFetch(method, url, headers, init.body, init.redirect);
      if (res.status !== 401) return res;
      const text = await res.text().catch(() => "");
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      if (attempt > 0 || !challenge) {
        const detail = registryErrorText(text);
        if (this.o.credentials) {
          throw new RegistryAuthError(`registry ${this.registry} refused ${this.who()}: HTTP 401${detail ? ` (${detail})` : ""}; check the user name and password or token`);
        }
        throw new RegistryAuthError(
          `registry ${this.registry} needs credentials for ${this.repository}: HTTP 401${detail ? ` (${detail})` : ""}; set MIKROTIK_TAILSCALE_REGISTRY_USER and MIKROTIK_TAILSCALE_REGISTRY_PASSWORD (or _PASSWORD_FILE), or use --auth-file`,
        );
      }
      await this.authenticate(challenge);
    }
  }

  private async authenticate(c: Challenge): Promise<void> {
    const creds = this.o.credentials;
    if (c.scheme === "basic") {
      if (!creds) {
        throw new RegistryAuthError(
          `registry ${this.registry} needs a user name and password (HTTP Basic); set MIKROTIK_TAILSCALE_REGISTRY_USER and MIKROTIK_TAILSCALE_REGISTRY_PASSWORD (or _PASSWORD_FILE), or use --auth-file`,
        );
      }
      this.auth = { kind: "basic", header: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` };
      return;
    }
    if (c.scheme === "bearer") {
      const realm = c.params.realm;
      if (!realm) throw new RegistryError(`registry ${this.registry} asked for a bearer token without naming a realm`);
      let u: URL;
      try {
        u = new URL(realm);
      } catch {
        throw new RegistryError(`registry ${this.registry} named a token realm that is not a URL: ${realm}`);
      }
      if (c.params.service) u.searchParams.set("service", c.params.service);
      u.searchParams.append("scope", this.scope);
      const headers: Record<string, string> = { accept: "application/json" };
      if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      const res = await this.rawFetch("GET", u.toString(), headers, undefined);
      const text = await res.text().catch(() => "");
      if (res.status === 401 || res.status === 403) {
        throw new RegistryAuthError(`the token service of ${this.registry} (${u.host}) refused ${this.who()}: HTTP ${res.status}${registryErrorText(text) ? ` (${registryErrorText(text)})` : ""}`);
      }
      if (!res.ok) throw new RegistryError(`the token service of ${this.registry} (${u.host}) answered HTTP ${res.status}: ${registryErrorText(text)}`);
      let token: string | undefined;
      try {
        const j = JSON.parse(text) as { token?: string; access_token?: string };
        token = j.token || j.access_token;
      } catch {
        // handled below
      }
      if (!token) throw new RegistryError(`the token service of ${this.registry} (${u.host}) returned no token`);
      this.auth = { kind: "bearer", header: `Bearer ${token}` };
      return;
    }
    throw new RegistryError(`registry ${this.registry} asks for '${c.scheme}' authentication, which this tool does not speak (Basic and Bearer only)`);
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = await res.text().catch(() => "");
    const detail = registryErrorText(text);
    if (res.status === 403) {
      throw new RegistryAuthError(`registry ${this.registry} denied ${what} to ${this.who()}: HTTP 403${detail ? ` (${detail})` : ""}`);
    }
    throw new RegistryError(`registry ${this.registry}: ${what} failed: HTTP ${res.status}${detail ? ` (${detail})` : ""}`);
  }

  private repoPath(kind: "blobs" | "manifests", ref: string): string {
    return `/v2/${this.repository}/${kind}/${encodeURIComponent(ref).replace(/%3A/g, ":")}`;
  }

  /** GET /v2/: checks the registry answers and our credentials work (for registries that challenge there). */
  async ping(): Promise<void> {
    const res = await this.request("GET", "/v2/");
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RegistryError(`${this.baseUrl} is not an OCI registry (GET /v2/ answered 404)`);
    }
    if (!res.ok) await this.fail(res, "the API version check");
    await res.body?.cancel();
  }

  /** Whether the repository already has a blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request("HEAD", this.repoPath("blobs", digest), { redirect: "manual" });
    await res.body?.cancel();
    if (res.status === 200 || (res.status >= 300 && res.status < 400)) return true;
    if (res.status === 404) return false;
    return this.fail(res, `checking blob ${digest}`);
  }

  /** Uploads a blob in one piece (POST for a session, PUT with the digest). */
  async uploadBlob(digest: string, data: Uint8Array): Promise<void> {
    if (sha256Digest(data) !== digest) throw new RegistryError(`refusing to upload ${digest}: the bytes have a different digest`);
    const start = await this.request("POST", `/v2/${this.repository}/blobs/uploads/`, { headers: { "content-length": "0" } });
    if (start.status !== 202) return this.fail(start, `starting the upload of ${digest}`);
    await start.body?.cancel();
    const loc = start.headers.get("location");
    if (!loc) throw new RegistryError(`registry ${this.registry} started an upload without a Location`);
    const u = new URL(loc, `${this.baseUrl}/`);
    u.searchParams.set("digest", digest);
    const put = await this.request("PUT", u.toString(), {
      headers: { "content-type": "application/octet-stream", "content-length": String(data.byteLength) },
      body: data,
    });
    if (put.status !== 201 && put.status !== 204) return this.fail(put, `uploading ${digest}`);
    await put.body?.cancel();
  }

  /** Reads a blob (small ones: configs); follows a redirect to storage without our credentials. */
  async getBlob(digest: string): Promise<Buffer> {
    let res = await this.request("GET", this.repoPath("blobs", digest), { redirect: "manual" });
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      await res.body?.cancel();
      res = await this.rawFetch("GET", new URL(res.headers.get("location")!, `${this.baseUrl}/`).toString(), {}, undefined);
    }
    if (!res.ok) return this.fail(res, `reading blob ${digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (sha256Digest(bytes) !== digest) throw new RegistryError(`registry ${this.registry} returned blob ${digest} with different content`);
    return bytes;
  }

  /** HEAD a manifest: its digest and media type, or undefined when the tag or digest is unknown. */
  async headManifest(ref: string): Promise<{ digest: string; mediaType: string } | undefined> {
    const res = await this.request("HEAD", this.repoPath("manifests", ref), { headers: { accept: MANIFEST_ACCEPT.join(", ") } });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    if (!res.ok) return this.fail(res, `looking up ${this.repository}:${ref}`);
    const digest = res.headers.get("docker-content-digest");
    if (digest) return { digest, mediaType: (res.headers.get("content-type") ?? "").split(";")[0]!.trim() };
    const full = await this.getManifest(ref);
    return full && { digest: full.digest, mediaType: full.mediaType };
  }

  /** GET a manifest; undefined when unknown. The digest is computed from the bytes. */
  async getManifest(ref: string): Promise<ManifestResult | undefined> {
    const res = await this.request("GET", this.repoPath("manifests", ref), { headers: { accept: MANIFEST_ACCEPT.join(", ") } });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.fail(res, `reading ${this.repository}:${ref}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(bytes);
    if (ref.startsWith("sha256:") && digest !== ref) throw new RegistryError(`registry ${this.registry} returned manifest ${ref} with different content`);
    let mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    try {
      const j = JSON.parse(bytes.toString("utf8")) as { mediaType?: string };
      if (j.mediaType) mediaType = j.mediaType;
    } catch {
      throw new RegistryError(`registry ${this.registry} returned a manifest for ${ref} that is not JSON`);
    }
    return { digest, mediaType, bytes };
  }

  /** PUT a manifest under a tag or its digest; returns the digest. */
  async putManifest(ref: string, mediaType: string, bytes: Uint8Array): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.request("PUT", this.repoPath("manifests", ref), { headers: { "content-type": mediaType }, body: bytes });
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) return this.fail(res, `storing manifest ${ref}`);
    await res.body?.cancel();
    const got = res.headers.get("docker-content-digest");
    if (got && got !== digest) throw new RegistryError(`registry ${this.registry} stored ${ref} as ${got}, expected ${digest}`);
    return digest;
  }
}

/**
 * How an anonymous client gets pull access to a repository: undefined when
 * the registry needs no token, else the token URL (realm, service and pull
 * scope), as a RouterOS script must fetch it. Basic-only registries cannot be
 * pulled anonymously: that is an error.
 */
export async function anonymousPullTokenUrl(registry: string, repository: string, opts: { plainHttp?: boolean; baseUrl?: string; timeoutMs?: number } = {}): Promise<string | undefined> {
  const base = (opts.baseUrl ?? registryBaseUrl(registry, opts.plainHttp)).replace(/\/+$/, "");
  let res: Response;
  try {
    res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
  } catch (e) {
    throw new RegistryUnreachableError(`cannot reach the registry at ${base}: ${networkReason(e)}`);
  }
  await res.body?.cancel();
  if (res.ok) return undefined;
  const c = parseChallenge(res.headers.get("www-authenticate"));
  if (res.status === 401 && c?.scheme === "bearer" && c.params.realm) {
    const u = new URL(c.params.realm);
    if (c.params.service) u.searchParams.set("service", c.params.service);
    u.searchParams.set("scope", `repository:${repository}:pull`);
    return u.toString().replace(/%3A/gi, ":").replace(/%2F/gi, "/");
  }
  if (res.status === 401) {
    throw new RegistryAuthError(`registry ${registry} wants a user name and password (${c?.scheme ?? "no challenge"}) even to pull; the router script pulls anonymously, so the image must be public`);
  }
  throw new RegistryError(`registry ${registry}: GET /v2/ answered HTTP ${res.status}`);
}
