import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidInputError, UsageError } from "../errors.js";

/*
 * Registry credentials. Never from an option value: from the environment
 * (MIKROTIK_TAILSCALE_REGISTRY_USER plus _PASSWORD or _PASSWORD_FILE), or
 * from an auth file in the format `docker login`, `podman login` and
 * `skopeo login` write ({"auths": {"<registry>": {"auth": base64(user:pass)}}}).
 * No credentials at all means anonymous access, which public pulls use.
 */

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages (never the secret itself). */
  source: string;
}

export const ENV_USER = "MIKROTIK_TAILSCALE_REGISTRY_USER";
export const ENV_PASSWORD = "MIKROTIK_TAILSCALE_REGISTRY_PASSWORD";
export const ENV_PASSWORD_FILE = "MIKROTIK_TAILSCALE_REGISTRY_PASSWORD_FILE";

export interface CredentialOptions {
  registry: string;
  /** --user: the user name (the password still comes from the environment or a file). */
  user?: string;
  /** --password-file */
  passwordFile?: string;
  /** --auth-file: a docker/containers auth JSON file. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Home folder, for the default auth file locations. */
  home?: string;
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new InvalidInputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The auth files looked at when none is named, in order. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  out.push(join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"));
  return out;
}

/** Keys an auth file may use for a registry: `host:port`, or with a scheme and /v1/ or /v2/ path. */
function authKeyMatches(key: string, registry: string): boolean {
  const k = key
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/\/(v1|v2)\/?$/, "")
    .replace(/\/+$/, "");
  return k === registry.toLowerCase();
}

/** Credentials for `registry` from an auth file's text; undefined when it has none for it. */
export function credentialsFromAuthFile(text: string, registry: string, source: string): Credentials | undefined {
  let json: { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>; credHelpers?: Record<string, string>; credsStore?: string };
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  for (const [key, entry] of Object.entries(json.auths ?? {})) {
    if (!authKeyMatches(key, registry) || !entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon <= 0) throw new InvalidInputError(`${source}: the auth entry for ${registry} is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
    }
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password, source };
    if (entry.identitytoken) {
      throw new InvalidInputError(`${source}: the entry for ${registry} holds an identity token, which this tool does not use; give a user and password or access token instead`);
    }
  }
  return undefined;
}

/**
 * Resolves credentials for a registry: --user/--password-file, then the
 * environment, then an auth file (named, or the usual places). Returns
 * undefined for anonymous access.
 */
export function resolveCredentials(o: CredentialOptions): Credentials | undefined {
  const env = o.env ?? process.env;
  const user = o.user ?? env[ENV_USER];
  const pwFile = o.passwordFile ?? env[ENV_PASSWORD_FILE];
  if (o.passwordFile && !user) throw new UsageError(`--password-file needs a user name: --user NAME or ${ENV_USER}`);
  if (user) {
    if (pwFile) return { username: user, password: readSecretFile(pwFile, "password file"), source: `user ${user}, password from ${pwFile}` };
    if (env[ENV_PASSWORD] !== undefined) return { username: user, password: env[ENV_PASSWORD]!, source: `user ${user}, password from ${ENV_PASSWORD}` };
    throw new UsageError(`no password for registry user ${user}: set ${ENV_PASSWORD}, or ${ENV_PASSWORD_FILE} / --password-file to a file holding it`);
  }
  if (env[ENV_PASSWORD] !== undefined || pwFile) {
    throw new UsageError(`a registry password is set but no user: set ${ENV_USER} or pass --user`);
  }
  const files = o.authFile ? [o.authFile] : defaultAuthFiles(env, o.home ?? homedir());
  for (const f of files) {
    if (!o.authFile && !existsSync(f)) continue;
    const c = credentialsFromAuthFile(readSecretFile(f, "auth file"), o.registry, f);
    if (c) return c;
  }
  return undefined;
}
