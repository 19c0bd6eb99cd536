import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import {
  RouterApiError,
  RouterAuthError,
  RouterReplyError,
  RouterTlsError,
  RouterUnreachableError,
} from "./errors.js";

/*
 * A small client for the RouterOS REST API (RouterOS 7.1+): HTTP Basic auth,
 * JSON bodies, every value a string. GET lists a menu or reads one item,
 * PUT creates, PATCH changes, DELETE removes, POST runs a command.
 */

export type RosRecord = Record<string, string>;

export interface RouterTarget {
  /** Origin only: https://host[:port]. */
  origin: string;
  user: string;
  password: string;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
  /** The name the router's certificate is checked against, when it is not the address (e.g. its identity). */
  servername?: string;
  /** Trust exactly the certificate with this SHA-256 fingerprint (sha256:AB:CD:... or hex), whoever signed it. */
  fingerprint?: string;
  /** Per-request timeout; the router gives up after 60 s itself. */
  timeoutMs?: number;
  /** Time allowed to open the connection. */
  connectTimeoutMs?: number;
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_SIGNATURE_FAILURE",
]);

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused (is the www-ssl/www service enabled and the port right?)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  EPROTO: "TLS handshake failed (is this an https port?)",
};

/** Normalizes a fingerprint to upper-case hex pairs joined by ':' (Node's fingerprint256 form); undefined if it is not one. */
export function normalizeFingerprint(s: string): string | undefined {
  const hex = s.trim().replace(/^sha256:/i, "").replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(":");
}

/** The SHA-256 fingerprint of a DER certificate, as `sha256:AB:CD:...`. */
export function certificateFingerprint(der: Buffer): string {
  return `sha256:${createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":")}`;
}

/** Connects once without verifying, only to read the certificate a TLS server shows. */
export function peerCertificateFingerprint(origin: string, servername?: string, timeoutMs = 10_000): Promise<string | undefined> {
  const u = new URL(origin);
  return new Promise((resolve) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port || 443), servername: servername ?? (isIP(u.hostname) ? undefined : u.hostname), rejectUnauthorized: false });
    const done = (v: string | undefined) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(undefined));
    s.once("secureConnect", () => {
      const c = s.getPeerCertificate();
      done(c?.raw ? certificateFingerprint(c.raw) : undefined);
    });
    s.once("error", () => done(undefined));
  });
}

/** What kind of JSON value `v` is, for a message. */
function kindOf(v: unknown): string {
  if (v === undefined) return "an empty answer";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** Why `v` is not a RouterOS record (an object whose values are all strings); undefined if it is one. */
function notARecord(v: unknown): string | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return kindOf(v);
  for (const [k, x] of Object.entries(v)) if (typeof x !== "string") return `an object whose '${k}' is ${kindOf(x)}`;
  return undefined;
}

export class RestClient {
  readonly origin: string;
  private readonly agent: http.Agent;
  private readonly isHttps: boolean;
  /** The certificate the router showed on the last HTTPS connection (sha256:...). */
  peerFingerprint?: string;

  constructor(readonly target: RouterTarget) {
    const u = new URL(target.origin);
    this.origin = u.origin;
    this.isHttps = u.protocol === "https:";
    if (!this.isHttps) {
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    } else if (target.fingerprint) {
      const want = normalizeFingerprint(target.fingerprint);
      if (!want) throw new RouterTlsError(`--tls-fingerprint: '${target.fingerprint}' is not a SHA-256 fingerprint (expected sha256: and 64 hex digits)`);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
      // The pin is checked before the request (and its password) is written to the socket.
      const pinned = (opts: tls.ConnectionOptions, cb: (err: Error | null, s?: Duplex) => void): undefined => {
        const s = tls.connect({ ...opts, rejectUnauthorized: false, servername: target.servername ?? opts.servername });
        s.once("secureConnect", () => {
          const c = s.getPeerCertificate();
          const got = c?.raw ? certificateFingerprint(c.raw) : "none";
          if (got === `sha256:${want}`) {
            s.removeListener("error", fail);
            cb(null, s);
          } else {
            s.destroy();
            cb(new RouterTlsError(`the TLS certificate of ${u.host} is not the pinned one: it shows ${got}, --tls-fingerprint says sha256:${want}; nothing was sent`));
          }
        });
        const fail = (e: Error) => cb(e);
        s.once("error", fail);
        return undefined;
      };
      (agent as unknown as { createConnection: typeof pinned }).createConnection = pinned;
      this.agent = agent;
    } else {
      this.agent = new https.Agent({ keepAlive: true, rejectUnauthorized: !target.insecure, ca: target.ca, maxSockets: 4, servername: target.servername });
    }
  }

  close(): void {
    this.agent.destroy();
  }

  get<T = RosRecord[]>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  /**
   * A menu's items. Whatever answers on the router's address (a portal, a
   * proxy, a broken build) may send another shape: that is an error naming
   * the request, not a TypeError deep in the caller.
   */
  async getList(path: string): Promise<RosRecord[]> {
    const v = await this.get<unknown>(path);
    const where = `/rest/${path.replace(/^\/+/, "")}`;
    if (!Array.isArray(v)) throw new RouterReplyError("GET", where, `expected a list of records, got ${kindOf(v)}`);
    v.forEach((item, i) => {
      const why = notARecord(item);
      if (why) throw new RouterReplyError("GET", where, `expected a list of records, but item ${i} is ${why}`);
    });
    return v as RosRecord[];
  }
  /** One item or a settings menu (system/resource): an object of strings, else an error naming the request. */
  async getRecord(path: string): Promise<RosRecord> {
    const v = await this.get<unknown>(path);
    const why = notARecord(v);
    if (why) throw new RouterReplyError("GET", `/rest/${path.replace(/^\/+/, "")}`, `expected a record (a JSON object), got ${why}`);
    return v as RosRecord;
  }
  put(path: string, body: RosRecord): Promise<RosRecord> {
    return this.request<RosRecord>("PUT", path, body);
  }
  patch(path: string, body: RosRecord): Promise<RosRecord> {
    return this.request<RosRecord>("PATCH", path, body);
  }
  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }
  post<T = unknown>(path: string, body: Record<string, string> = {}): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** `path` is a menu path such as "interface/veth" or "interface/veth/*1". */
  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`/rest/${path.replace(/^\/+/, "")}`, this.origin);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const auth = Buffer.from(`${this.target.user}:${this.target.password}`).toString("base64");
    const lib = this.isHttps ? https : http;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | null, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        if (err) reject(err);
        else resolve(value as T);
      };
      const req = lib.request(url, {
        method,
        agent: this.agent,
        headers: {
          authorization: `Basic ${auth}`,
          accept: "application/json",
          ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
        },
      });
      const connectTimer = setTimeout(() => {
        req.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" }));
      }, this.target.connectTimeoutMs ?? 10_000);
      req.on("socket", (s) => {
        // A kept-alive socket is connected already; a new one reports when it is.
        if (!s.connecting) clearTimeout(connectTimer);
        else s.once(this.isHttps ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
      });
      req.setTimeout(this.target.timeoutMs ?? 70_000, () => {
        req.destroy(Object.assign(new Error("request timeout"), { code: "ETIMEDOUT" }));
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e instanceof RouterTlsError) done(e);
        else void this.translate(e).then((t) => done(t));
      });
      req.on("response", (res) => {
        const sock = res.socket as tls.TLSSocket;
        if (typeof sock.getPeerCertificate === "function") {
          const c = sock.getPeerCertificate();
          if (c?.raw) this.peerFingerprint = certificateFingerprint(c.raw);
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e: NodeJS.ErrnoException) => void this.translate(e).then((t) => done(t)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          let json: unknown = undefined;
          if (text.trim()) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          if (status === 401) {
            done(new RouterAuthError(`router at ${this.origin} refused user '${this.target.user}': wrong user name or password`));
            return;
          }
          if (status >= 400) {
            const j = (json ?? {}) as { message?: string; detail?: string };
            const detail = j.detail ?? j.message ?? (text.trim().slice(0, 200) || res.statusMessage || "error");
            done(new RouterApiError(method, `/rest/${path}`, status, detail));
            return;
          }
          if (text.trim() && json === undefined) {
            done(new RouterApiError(method, `/rest/${path}`, status, "the answer is not JSON: is this the RouterOS REST API (RouterOS 7.1+, www-ssl service)?"));
            return;
          }
          done(null, json as T);
        });
      });
      req.end(payload);
    });
  }

  private async translate(e: NodeJS.ErrnoException): Promise<Error> {
    const code = e.code ?? "";
    const host = new URL(this.origin).host;
    if (TLS_CODES.has(code)) {
      const fp = await peerCertificateFingerprint(this.origin, this.target.servername);
      const pin = fp ? `--tls-fingerprint ${fp} (the certificate it shows now: compare it with /certificate print detail on the router)` : "--tls-fingerprint sha256:...";
      const name = code === "ERR_TLS_CERT_ALTNAME_INVALID" ? "; --tls-server-name NAME if the certificate names the router differently" : "";
      return new RouterTlsError(
        `the TLS certificate of ${host} is not trusted (${code}: ${e.message}); pass ${pin}, --ca-file with the router's CA certificate${name}, or --insecure to skip verification`,
      );
    }
    const reason = NET_REASONS[code] ?? e.message;
    return new RouterUnreachableError(`cannot reach router at ${this.origin}: ${reason}`);
  }
}
