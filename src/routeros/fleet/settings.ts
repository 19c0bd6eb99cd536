import { z } from "zod";
import { routerArchitecture } from "../config.js";
import { ConfigError } from "../errors.js";
import { normalizeFingerprint } from "../rest.js";
import { parseRouterOsVersion } from "../version.js";

/*
 * What an inventory may say about one router, whichever format it is in:
 * how to reach it and its overrides of the shared config. One vocabulary
 * (snake_case, as Ansible variables are written); Ansible inventories use the
 * same keys with a `mikrotik_tailscale_` prefix. Each value is checked on its
 * own so an error names the file, the line and the key.
 */

export const SETTING_KEYS = [
  "address",
  "port",
  "user",
  "password_env",
  "password_file",
  "tls_fingerprint",
  "ca_file",
  "tls_server_name",
  "version",
  "arch",
  "hostname",
  "advertise_routes",
  "container_name",
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** Where a value was written: a file and a line (1-based). */
export interface Origin {
  file: string;
  line: number;
}

export function at(o: Origin): string {
  return `${o.file}:${o.line}`;
}

/** One key set at one place. */
export interface Entry {
  key: SettingKey;
  value: unknown;
  origin: Origin;
  /** How the value was typed, when YAML turned it into something else (7.20 -> 7.2). */
  typed?: string;
  /** Whose setting it is in messages ("group eu"), when not the router's. */
  owner?: string;
}

/** The settings of one router after every layer: typed values, and where each came from. */
export interface RouterSettings {
  address?: string;
  port?: number;
  user?: string;
  password?: { env: string } | { file: string };
  tlsFingerprint?: string;
  caFile?: string;
  tlsServerName?: string;
  /** A RouterOS version, or "auto": what the router reports. */
  version?: string;
  /** A RouterOS or project architecture name, or "auto". */
  arch?: string;
  hostname?: string;
  advertiseRoutes?: string[];
  containerName?: string;
  origins: Partial<Record<SettingKey | "password", Origin>>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const Text = z.string().min(1, "must not be empty").refine((v) => !CONTROL_RE.test(v), "must not contain control characters");

/** advertise_routes: a YAML list, or (INI) a comma-separated string or a Python-style list. */
const RouteList = z.union([
  z.array(z.string()),
  z.string().transform((v) =>
    v
      .trim()
      .replace(/^\[|\]$/g, "")
      .split(",")
      .map((x) => x.trim().replace(/^(['"])(.*)\1$/, "$2"))
      .filter(Boolean),
  ),
]);

const SCHEMAS: Record<SettingKey, z.ZodType<unknown>> = {
  address: Text.refine((v) => !/\s/.test(v), "must be a host name, an address or an https:// URL without spaces"),
  // INI values are text: "8443" is a port too.
  port: z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int("must be a port number (1-65535)").min(1, "must be a port number (1-65535)").max(65535, "must be a port number (1-65535)")),
  user: Text.refine((v) => !v.includes(":"), "must not contain ':'"),
  password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
  password_file: Text,
  tls_fingerprint: z.string().refine((v) => normalizeFingerprint(v) !== undefined, "must be a SHA-256 fingerprint (sha256: and 64 hex digits, as 'routeros certificate' prints it)"),
  ca_file: Text,
  tls_server_name: Text,
  version: z.string().superRefine((v, ctx) => {
    if (v === "auto") return;
    try {
      parseRouterOsVersion(v);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${(e as Error).message}, or auto` });
    }
  }),
  arch: z.string().refine((v) => v === "auto" || routerArchitecture(v) !== undefined, "must be auto or one of arm64, arm, x86, arm32v5 (or amd64, armv7, armv5)"),
  hostname: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, "must be a DNS label (letters, digits, '-')"),
  advertise_routes: RouteList,
  container_name: z.string().regex(NAME_RE, "must be 1-63 letters, digits, '.', '_' or '-'"),
};

/** Keys that would put a password in the inventory in clear text. */
export const PASSWORD_KEYS = new Set(["password", "ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_httpapi_pass", "ansible_httpapi_password"]);

/** The environment variable a router's password is read from when the inventory names none. */
export function passwordEnvName(router: string): string {
  return `ROUTEROS_PASSWORD_${router.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "")}`;
}

export function refusePassword(where: Origin, owner: string, key: string): never {
  throw new ConfigError(
    `${at(where)}: ${owner}: ${key}: a password in the inventory is refused; give it through the environment (${owner.startsWith("router ") ? passwordEnvName(owner.slice(7)) : "ROUTEROS_PASSWORD_<ROUTER>"}, or password_env: NAME) or a file (password_file: PATH)`,
  );
}

/** Checks one value; returns it typed (a port as a number, routes as a list). */
export function checkSetting(e: Entry, router: string): unknown {
  const owner = e.owner ?? router;
  if (e.key === "version" && typeof e.value === "number") {
    const typed = e.typed ?? String(e.value);
    throw new ConfigError(`${at(e.origin)}: ${owner}: version: YAML reads the unquoted ${typed} as the number ${e.value}; quote it: "${typed}"`);
  }
  const r = SCHEMAS[e.key].safeParse(e.value);
  if (!r.success) {
    const got = e.value === null || e.value === undefined ? "nothing" : typeof e.value === "object" ? (Array.isArray(e.value) ? "a list" : "a mapping") : JSON.stringify(e.value);
    const msg = r.error.issues[0]!.code === "invalid_type" ? `expected ${expected(e.key)}, got ${got}` : r.error.issues[0]!.message;
    throw new ConfigError(`${at(e.origin)}: ${owner}: ${e.key}: ${msg}`);
  }
  return r.data;
}

function expected(k: SettingKey): string {
  return k === "port" ? "a port number" : k === "advertise_routes" ? "a list of prefixes" : "a string";
}

/** The RouterSettings field each plain key sets (the password keys are one choice, handled apart). */
const FIELD_OF: Record<Exclude<SettingKey, "password_env" | "password_file">, keyof Omit<RouterSettings, "password" | "origins">> = {
  address: "address",
  port: "port",
  user: "user",
  tls_fingerprint: "tlsFingerprint",
  ca_file: "caFile",
  tls_server_name: "tlsServerName",
  version: "version",
  arch: "arch",
  hostname: "hostname",
  advertise_routes: "advertiseRoutes",
  container_name: "containerName",
};

/**
 * Applies layers in order (later ones win) and checks every value. A layer is
 * one place: defaults, a group, the router itself. password_env and
 * password_file are one choice: the most specific layer's wins, and one layer
 * may not give both.
 */
export function mergeSettings(layers: readonly (readonly Entry[])[], owner: string): RouterSettings {
  const out: RouterSettings = { origins: {} };
  for (const layer of layers) {
    const pw = layer.filter((e) => e.key === "password_env" || e.key === "password_file");
    if (pw.length > 1 && pw.some((e) => e.key === "password_env") && pw.some((e) => e.key === "password_file")) {
      throw new ConfigError(`${at(pw[1]!.origin)}: ${pw[1]!.owner ?? owner}: give password_env or password_file, not both`);
    }
    for (const e of layer) {
      const v = checkSetting(e, owner);
      if (e.key === "password_env" || e.key === "password_file") {
        out.password = e.key === "password_env" ? { env: v as string } : { file: v as string };
        out.origins.password = e.origin;
        continue;
      }
      (out as unknown as Record<string, unknown>)[FIELD_OF[e.key]] = v;
      out.origins[e.key] = e.origin;
    }
  }
  return out;
}

/** A one-line list of the keys, for "unknown key" errors. */
export function knownKeys(prefix = ""): string {
  return SETTING_KEYS.map((k) => prefix + k).join(", ");
}
