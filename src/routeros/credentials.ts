import { readFileSync } from "node:fs";
import { ConfigError, CredentialsUsageError } from "./errors.js";
import { normalizeFingerprint, type RouterTarget } from "./rest.js";

/*
 * Where the router and its credentials come from. The password never comes
 * from the command line: only from ROUTEROS_PASSWORD, or a file named by
 * --password-file or ROUTEROS_PASSWORD_FILE.
 */

export interface TargetOptions {
  /** --router, e.g. https://admin@192.168.88.1 */
  router?: string;
  /** `router:` from the config file. */
  configRouter?: string;
  passwordFile?: string;
  insecure?: boolean;
  caFile?: string;
  /** --tls-server-name: the name the certificate must carry. */
  tlsServerName?: string;
  /** --tls-fingerprint sha256:...: trust exactly this certificate. */
  tlsFingerprint?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface ResolvedTarget {
  target: RouterTarget;
  /** Things to print on stderr before connecting. */
  warnings: string[];
}

export function resolveTarget(o: TargetOptions): ResolvedTarget {
  const env = o.env ?? process.env;
  const raw = o.router ?? env.ROUTEROS_URL ?? o.configRouter;
  if (!raw) throw new CredentialsUsageError("no router given: use --router https://user@host, ROUTEROS_URL, or `router:` in the config");
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new CredentialsUsageError(`--router: '${raw}' is not a URL (expected https://user@host)`);
  }
  if (u.password) {
    throw new CredentialsUsageError("--router: put no password in the URL; use ROUTEROS_PASSWORD, ROUTEROS_PASSWORD_FILE or --password-file");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new CredentialsUsageError(`--router: unsupported scheme ${u.protocol} (use https://)`);
  if (u.pathname !== "/" && u.pathname !== "" && u.pathname !== "/rest" && u.pathname !== "/rest/") {
    throw new CredentialsUsageError(`--router: give only the host (and port), not a path: ${u.pathname}`);
  }
  if (u.protocol === "http:") {
    // Silently ignored, they would let a user believe the connection is pinned or verified.
    const tls = (
      [
        [o.tlsFingerprint, "--tls-fingerprint", "ROUTEROS_TLS_FINGERPRINT"],
        [o.caFile, "--ca-file", "ROUTEROS_CA_FILE"],
        [o.tlsServerName, "--tls-server-name", "ROUTEROS_TLS_SERVER_NAME"],
      ] as const
    )
      .flatMap(([opt, flag, name]): string[] => (opt ? [flag] : opt === undefined && env[name] ? [name] : []))
      .concat(o.insecure ? ["--insecure"] : []);
    if (tls.length) {
      const names = tls.length === 1 ? `${tls[0]} has` : `${tls.slice(0, -1).join(", ")} and ${tls.at(-1)} have`;
      throw new CredentialsUsageError(`${names} no effect with an http:// router: use https://, or leave ${tls.length === 1 ? "it" : "them"} out`);
    }
  }
  const warnings: string[] = [];
  const user = decodeURIComponent(u.username) || env.ROUTEROS_USER || "admin";
  let password: string;
  const file = o.passwordFile ?? env.ROUTEROS_PASSWORD_FILE;
  if (file) {
    try {
      password = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new ConfigError(`cannot read password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if (env.ROUTEROS_PASSWORD !== undefined) {
    password = env.ROUTEROS_PASSWORD;
  } else {
    throw new CredentialsUsageError(`no password for ${user}: set ROUTEROS_PASSWORD, or ROUTEROS_PASSWORD_FILE / --password-file to a file holding it`);
  }
  if (u.protocol === "http:") warnings.push("warning: plain http sends the router password unencrypted; use https (www-ssl)");
  if (o.insecure && u.protocol === "https:") warnings.push(`warning: --insecure: the TLS certificate of ${u.host} is not verified; anyone on the path can read the password`);
  let ca: Buffer | undefined;
  const caFile = o.caFile ?? env.ROUTEROS_CA_FILE;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new ConfigError(`cannot read CA file ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const fingerprint = o.tlsFingerprint ?? env.ROUTEROS_TLS_FINGERPRINT;
  if (fingerprint && !normalizeFingerprint(fingerprint)) {
    throw new CredentialsUsageError(`--tls-fingerprint: '${fingerprint}' is not a SHA-256 fingerprint (expected sha256: and 64 hex digits, as 'routeros status' prints it)`);
  }
  if (fingerprint && o.insecure) throw new CredentialsUsageError("give --tls-fingerprint or --insecure, not both");
  const servername = o.tlsServerName ?? env.ROUTEROS_TLS_SERVER_NAME;
  return {
    target: { origin: u.origin, user, password, insecure: !!o.insecure, ca, timeoutMs: o.timeoutMs, servername, fingerprint },
    warnings,
  };
}
