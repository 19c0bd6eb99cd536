import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { routerArchitecture, routerConfigFromObject, type RouterConfig } from "../config.js";
import { resolveTarget } from "../credentials.js";
import { ConfigError, CredentialsUsageError } from "../errors.js";
import { detectRouterArch } from "../preflight.js";
import type { RestClient, RosRecord, RouterTarget } from "../rest.js";
import { knownReleases } from "../schema/tree.js";
import { parseRouterOsVersion } from "../version.js";
import type { InventoryRouter } from "./inventory.js";
import { at, passwordEnvName, type Origin, type SettingKey } from "./settings.js";

/*
 * One router of the fleet, ready to talk to: its REST target (address, user,
 * password, TLS) and its config, which is the shared config file with the
 * inventory's settings for it. `version: auto` and `arch: auto` are filled in
 * from what the router reports (/system/resource), so the plan is made for
 * the router as it is.
 */

export interface SharedConfig {
  path: string;
  text: string;
  raw: Record<string, unknown>;
  baseDir: string;
  /** The shared file's own warnings (printed once). */
  warnings: string[];
}

export interface FleetRouter {
  name: string;
  groups: string[];
  /** https://host[:port], for the table. */
  address: string;
  origin: Origin;
  target: RouterTarget;
  /** Warnings about how it is reached (plain http, --insecure). */
  warnings: string[];
  inventory: InventoryRouter;
}

/** What a router says about itself, as far as the config needs it. */
export interface RouterIdentity {
  /** As /system/resource reports it, e.g. "7.24 (stable)". */
  version: string;
  /** RouterOS architecture name (arm64, arm, x86, arm32v5), arm32v5 recognised by its CPU. */
  arch?: string;
}

/** The newest release this tool has a tree for: what an `auto` version is checked against before any router answers. */
function placeholderVersion(): string {
  return knownReleases().at(-1)!;
}

export function loadSharedConfig(path: string): SharedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read router config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${path}: expected a mapping at the top level`);
  const shared: SharedConfig = { path, text, raw: raw as Record<string, unknown>, baseDir: dirname(resolve(path)), warnings: [] };
  // The file on its own, `auto` standing for a known release: its own mistakes are named once, before any router.
  const c = build(shared, {}, { version: placeholderVersion(), arch: "arm64" }, path);
  shared.warnings.push(...c.warnings);
  if (shared.raw.router !== undefined) shared.warnings.push(`${path}: router: is not used by the fleet commands (each router's address comes from the inventory)`);
  return shared;
}

type Overrides = { version?: string; arch?: string; hostname?: string; advertiseRoutes?: string[]; containerName?: string };

function build(shared: SharedConfig, o: Overrides, facts: { version: string; arch: string }, source: string): RouterConfig {
  const raw = structuredClone(shared.raw) as Record<string, Record<string, unknown>>;
  const routeros = { ...(raw.routeros ?? {}) };
  const pick = (over: string | undefined, own: unknown, fact: string) => {
    const v = over ?? (own === undefined ? "auto" : own);
    return v === "auto" ? fact : v;
  };
  routeros.version = pick(o.version, routeros.version, facts.version);
  routeros.arch = pick(o.arch, routeros.arch, facts.arch);
  raw.routeros = routeros;
  delete raw.router;
  if (o.hostname !== undefined || o.containerName !== undefined) {
    raw.container = { ...(raw.container ?? {}), ...(o.hostname !== undefined ? { hostname: o.hostname } : {}), ...(o.containerName !== undefined ? { name: o.containerName } : {}) };
  }
  if (o.advertiseRoutes !== undefined) raw.tailscale = { ...(raw.tailscale ?? {}), advertiseRoutes: o.advertiseRoutes };
  return routerConfigFromObject(raw, shared.text, source, shared.baseDir);
}

/** Which config field each inventory setting overrides: an error there is the inventory's line. */
const FIELD_OF: [string, SettingKey][] = [
  ["routeros.version", "version"],
  ["routeros.arch", "arch"],
  ["container.hostname", "hostname"],
  ["container.name", "container_name"],
  ["tailscale.advertiseRoutes", "advertise_routes"],
];

/**
 * The config of one router: the shared file with its settings. Without
 * `id` (before the router is asked), `auto` is checked as a known release.
 */
export function routerConfig(shared: SharedConfig, r: InventoryRouter, id?: RouterIdentity): RouterConfig {
  const s = r.settings;
  const arch = id ? (id.arch ?? "unknown") : "arm64";
  let version = placeholderVersion();
  if (id) {
    try {
      version = parseRouterOsVersion(id.version).text;
    } catch {
      version = id.version;
    }
  }
  const source = `\u0000${r.name}`;
  try {
    return build(shared, { version: s.version, arch: s.arch, hostname: s.hostname, advertiseRoutes: s.advertiseRoutes, containerName: s.containerName }, { version, arch }, source);
  } catch (e) {
    if (!(e instanceof ConfigError) || !e.message.startsWith(`${source}: `)) throw e;
    const rest = e.message.slice(source.length + 2);
    const hit = FIELD_OF.find(([f, k]) => rest.startsWith(f) && s.origins[k]);
    if (hit) throw new ConfigError(`${at(s.origins[hit[1]]!)}: router ${r.name}: ${hit[1]}: ${rest.slice(rest.indexOf(": ") + 2)}`);
    const auto = /^routeros\.(version|arch)/.test(rest) && id ? ` (as the router reports it)` : "";
    throw new ConfigError(`${at(r.origin)}: router ${r.name}: ${shared.path} with this router's settings${auto}: ${rest}`);
  }
}

/** What /system/resource says, as the config needs it. */
export async function identify(client: RestClient): Promise<RouterIdentity & { board: string; archName: string }> {
  const res = await client.getRecord("system/resource");
  return { version: res.version ?? "?", arch: detectRouterArch(res as RosRecord)?.routerosArch, board: res["board-name"] ?? "?", archName: res["architecture-name"] ?? "?" };
}

export interface TargetDefaults {
  env?: NodeJS.ProcessEnv;
  /** --password-file: every router's password, where the inventory names none of its own. */
  passwordFile?: string;
  /** --ca-file / ROUTEROS_CA_FILE: the CA for routers without their own. */
  caFile?: string;
  insecure?: boolean;
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

/** The REST target of one router: address and user from the inventory, the password by the documented rule. */
export function fleetRouter(r: InventoryRouter, baseDir: string, d: TargetDefaults = {}): FleetRouter {
  const env = d.env ?? process.env;
  const s = r.settings;
  const where = (k: SettingKey | "password") => at(s.origins[k] ?? r.origin);
  const address = s.address ?? r.name;
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `https://${address}`);
  } catch {
    throw new ConfigError(`${where("address")}: router ${r.name}: address: '${address}' is not a host name, an address or an https:// URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new ConfigError(`${where("address")}: router ${r.name}: address: unsupported scheme ${u.protocol} (use https://)`);
  if (u.password) throw new ConfigError(`${where("address")}: router ${r.name}: address: a password in the address is refused; use ${passwordEnvName(r.name)}, password_env or password_file`);
  if (u.pathname !== "/" && u.pathname !== "/rest" && u.pathname !== "/rest/") throw new ConfigError(`${where("address")}: router ${r.name}: address: give only the host (and port), not a path: ${u.pathname}`);
  if (s.port !== undefined) {
    if (u.port && Number(u.port) !== s.port) throw new ConfigError(`${where("port")}: router ${r.name}: port: ${s.port}, but its address says port ${u.port}`);
    u.port = String(s.port);
  }
  const urlUser = decodeURIComponent(u.username);
  if (urlUser && s.user && urlUser !== s.user) throw new ConfigError(`${where("user")}: router ${r.name}: user: ${s.user}, but its address says ${urlUser}`);
  const user = urlUser || s.user || env.ROUTEROS_USER || "admin";
  u.username = "";
  const rel = (p: string) => resolve(baseDir, p);
  let password: string | undefined;
  let passwordFile: string | undefined;
  const perRouter = passwordEnvName(r.name);
  if (s.password && "file" in s.password) passwordFile = rel(s.password.file);
  else if (s.password && "env" in s.password) {
    password = env[s.password.env];
    if (password === undefined) throw new CredentialsUsageError(`${where("password")}: router ${r.name}: password_env: ${s.password.env} is not set`);
  } else if (env[perRouter] !== undefined) password = env[perRouter];
  else if (d.passwordFile ?? env.ROUTEROS_PASSWORD_FILE) passwordFile = d.passwordFile ?? env.ROUTEROS_PASSWORD_FILE;
  else if (env.ROUTEROS_PASSWORD !== undefined) password = env.ROUTEROS_PASSWORD;
  else {
    throw new CredentialsUsageError(
      `${at(r.origin)}: router ${r.name}: no password: set ${perRouter}, give password_env or password_file for it or its group, or ROUTEROS_PASSWORD / ROUTEROS_PASSWORD_FILE (--password-file) for every router`,
    );
  }
  const caFile = s.caFile !== undefined ? rel(s.caFile) : d.caFile ?? env.ROUTEROS_CA_FILE;
  const isHttp = u.protocol === "http:";
  try {
    const { target, warnings } = resolveTarget({
      router: u.toString(),
      passwordFile,
      // Only this router's own TLS settings: a fleet-wide fingerprint could not fit more than one router.
      caFile: isHttp && s.caFile === undefined ? undefined : caFile,
      tlsFingerprint: s.tlsFingerprint,
      tlsServerName: s.tlsServerName,
      insecure: d.insecure && !isHttp,
      timeoutMs: d.timeoutMs,
      env: { ROUTEROS_USER: user, ...(password !== undefined ? { ROUTEROS_PASSWORD: password } : {}) },
    });
    target.user = user;
    target.connectTimeoutMs = d.connectTimeoutMs;
    return { name: r.name, groups: r.groups, address: u.origin, origin: r.origin, target, warnings: warnings.map((w) => `${r.name}: ${w}`), inventory: r };
  } catch (e) {
    if (e instanceof CredentialsUsageError || e instanceof ConfigError) {
      const msg = e.message.replace(/^--router: /, "address: ").replace(/^--tls-fingerprint: /, "tls_fingerprint: ");
      throw new (e.constructor as typeof ConfigError)(`${at(r.origin)}: router ${r.name}: ${msg}`);
    }
    throw e;
  }
}

/** The architecture a config setting names, as RouterOS names it (for the table). */
export function routerosArchName(name: string | undefined): string | undefined {
  return name === undefined ? undefined : routerArchitecture(name)?.routerosArch;
}
