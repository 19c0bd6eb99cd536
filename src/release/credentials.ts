import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidInputError, UsageError } from "../errors.js";

/*
 * Registry credentials. Never from an option value: from the environment
 * (MIKROTIK_TAILSCALE_REGISTRY_USER plus _PASSWORD or _PASSWORD_FILE), or
 * from an auth file in the format `docker login`, `podman login` and
 * `skopeo login` write: `auths` ({"<registry>": {"auth": base64(user:pass)}},
 * Docker Hub under its legacy key https://index.docker.io/v1/), and the
 * `credHelpers` and `credsStore` that hand the secret to a
 * docker-credential-* program.
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
  /** Runs credential helpers (default: the docker-credential-* programs on PATH). */
  helper?: HelperRunner;
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new InvalidInputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The auth files looked at when none is named, in order (podman's, then Docker's). */
export function defaultAuthFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  out.push(join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"));
  out.push(join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"));
  return out;
}

/** Docker Hub's names: its config key is the legacy `https://index.docker.io/v1/`. */
const DOCKER_HUB = ["docker.io", "index.docker.io", "registry-1.docker.io"];
export const DOCKER_HUB_KEY = "https://index.docker.io/v1/";

function normalizeKey(key: string): string {
  const k = key
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/\/(v1|v2)\/?$/, "")
    .replace(/\/+$/, "");
  return DOCKER_HUB.includes(k) ? "docker.io" : k;
}

/** Keys an auth file may use for a registry: `host:port`, with a scheme and /v1/ or /v2/ path, or Docker Hub's legacy key. */
function authKeyMatches(key: string, registry: string): boolean {
  return normalizeKey(key) === normalizeKey(registry);
}

/** What a credential helper is asked for: the registry as Docker names it (Docker Hub by its legacy key). */
export function helperServerUrl(registry: string): string {
  return normalizeKey(registry) === "docker.io" ? DOCKER_HUB_KEY : registry;
}

interface AuthFileJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Runs `docker-credential-<helper> get` (the Docker credential helper protocol). */
export type HelperRunner = (helper: string, serverUrl: string) => { username: string; secret: string } | undefined;

/**
 * The real helper: the server URL on stdin, {"Username","Secret"} on stdout;
 * "credentials not found" means none. Errors name the helper, never a secret.
 */
export const runCredentialHelper: HelperRunner = (helper, serverUrl) => {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(helper)) throw new InvalidInputError(`credential helper name '${helper}' is not a program name`);
  const program = `docker-credential-${helper}`;
  const r = spawnSync(program, ["get"], { input: serverUrl, encoding: "utf8", timeout: 60_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new InvalidInputError(code === "ENOENT" ? `credential helper ${program} is not installed (named in the registry auth file)` : `credential helper ${program}: ${code ?? r.error.message}`);
  }
  const out = `${r.stdout}`.trim();
  if (r.status !== 0) {
    if (/credentials not found/i.test(out + r.stderr)) return undefined;
    throw new InvalidInputError(`credential helper ${program} failed for ${serverUrl} (exit ${r.status})`);
  }
  let j: { Username?: string; Secret?: string };
  try {
    j = JSON.parse(out);
  } catch {
    throw new InvalidInputError(`credential helper ${program} did not answer with JSON for ${serverUrl}`);
  }
  if (!j.Secret) return undefined;
  return { username: j.Username ?? "", secret: j.Secret };
};

/**
 * Credentials for `registry` from an auth file's text, as Docker and podman
 * read it: `credHelpers` for this registry first, then `credsStore`, then
 * `auths`. Undefined when it has none for it.
 */
export function credentialsFromAuthFile(text: string, registry: string, source: string, helper: HelperRunner = runCredentialHelper): Credentials | undefined {
  let json: AuthFileJson;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const fromHelper = (name: string, how: string): Credentials | undefined => {
    const got = helper(name, helperServerUrl(registry));
    if (!got) return undefined;
    if (got.username === "<token>") {
      throw new InvalidInputError(`${source}: docker-credential-${name} holds an identity token for ${registry}, which this tool does not use; log in with a user and password or access token`);
    }
    return { username: got.username, password: got.secret, source: `${source} (${how} docker-credential-${name})` };
  };
  const helperName = Object.entries(json.credHelpers ?? {}).find(([k]) => authKeyMatches(k, registry))?.[1];
  if (helperName) return fromHelper(helperName, "credHelpers:");
  if (json.credsStore) {
    const c = fromHelper(json.credsStore, "credsStore:");
    if (c) return c;
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
    const c = credentialsFromAuthFile(readSecretFile(f, "auth file"), o.registry, f, o.helper);
    if (c) return c;
  }
  return undefined;
}
