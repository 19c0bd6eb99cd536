import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { RouterConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { loadGoModPins } from "../pins.js";
import { readReleaseRecordSync } from "../release/release.js";
import { formatImageVersion } from "../release/version.js";
import { projectRoot } from "../paths.js";
import { MAGIC_DNS, TAILNET_V4 } from "./net.js";
import type { RouterOsVersion } from "./version.js";
import { parseSize } from "./config.js";
import type { RouterOsModel, Syntax } from "./schema/model.js";
import { formatMissing, missingWrites } from "./schema/check.js";
import { scriptStateFormFor, type ScriptStateForm } from "./schema/state.js";

/*
 * The plan: every RouterOS object the config asks for, in the order they must
 * exist, described as data. The .rsc renderer and the REST reconciler both
 * read the same plan, so a script and a deploy cannot drift apart.
 */

export type Fields = Record<string, string>;

/** One object in a list menu (e.g. one veth), found by its `match` fields. */
export interface ItemStep {
  type: "item";
  /** Menu path as in the REST API, without /rest (e.g. "interface/veth"). */
  menu: string;
  /** Human label for reports, e.g. "veth veth-tailscale". */
  what: string;
  /** Fields that identify the object; also set when it is created. */
  match: Fields;
  /** Other fields it must have. */
  set: Fields;
  /** Fields in `set` whose values are secrets: never printed; undefined value means "not known here". */
  secret?: string[];
  /** Group of items this tool owns; owned objects matching no desired item are removed. */
  owner?: string;
}

/** Removes objects of `menu` selected by `select` that match none of the `keep` field sets. */
export interface PruneStep {
  type: "prune";
  menu: string;
  what: string;
  select: Fields;
  keep: Fields[];
}

/** A single-row menu such as /container/config, set with `set`. */
export interface SettingsStep {
  type: "settings";
  menu: string;
  what: string;
  set: Fields;
}

export type Step = ItemStep | PruneStep | SettingsStep;

export type PlannedImage =
  /** A local .tar the deploy command serves; it lands on the router at routerPath. */
  | { kind: "file"; localPath: string; fileName: string; routerPath: string }
  /** The router fetches url itself, to routerPath. */
  | { kind: "url"; url: string; routerPath: string }
  /** Already on the router. */
  | { kind: "routerFile"; routerPath: string }
  | { kind: "remote"; ref: string };

export interface ContainerPlan {
  name: string;
  /** How to find it again: name=<name>, or comment=<tag> where containers have no name (before 7.19). */
  key: { field: "name" | "comment"; value: string; previous: string };
  /** Base root-dir; upgrades alternate between it and rootDirAlt. */
  rootDir: string;
  rootDirAlt: string;
  /** Every container field except name, root-dir and the image source. */
  fields: Fields;
  image: PlannedImage;
  /** Remove the fetched .tar after extraction. */
  removeImageFile: boolean;
}

export interface Plan {
  version: RouterOsVersion;
  /** The menus the plan was made for; every property it writes exists there. */
  model: RouterOsModel;
  syntax: Syntax;
  /** Comment that marks objects this tool owns. */
  tag: string;
  /** Steps before the container exists. */
  before: Step[];
  container: ContainerPlan;
  /** Steps after the container (DNS forwarding needs the tailnet route). */
  after: Step[];
  /** Things a person must do or know (device-mode, warnings). */
  notes: string[];
  /** How generated scripts read a container's state on this release (status, flags, or both in turn). */
  stateForm: ScriptStateForm;
}

export interface PlanOptions {
  /** Read secrets (the auth key). Off: secret values are left undefined. */
  resolveSecrets: boolean;
  /** Environment to read `authKey: {env}` from. */
  env?: NodeJS.ProcessEnv;
  /** Override the image (upgrade --image): a local .tar path or a registry reference. */
  imageOverride?: string;
  /** How the router reports container state, when it said so itself (its /console/inspect). */
  stateForm?: ScriptStateForm;
  /** A secret that cannot be read is left unknown instead of an error (an upgrade keeps the router's own). */
  secretsOptional?: boolean;
}

export const STATE_DIR_IN_CONTAINER = "/var/lib/tailscale";

export function ownerTag(containerName: string): string {
  return `mikrotik-tailscale:${containerName}`;
}

function yn(b: boolean): string {
  return b ? "yes" : "no";
}

function joinUnder(dir: string, file: string): string {
  return dir ? `${dir}/${file}` : file;
}

/**
 * Resolves the placeholders and makes the path absolute: `{arch}` (amd64,
 * arm64, armv7, armv5) and `{version}`, the image version this checkout
 * builds (the `vX.Y.Z-mt.N` in the names `npm run images` writes).
 */
export function localImagePath(config: RouterConfig, path: string): string {
  return resolve(config.baseDir, withPlaceholders(config, path));
}

/** `{arch}` and `{version}` in an image's file name, path or URL: one file per architecture and build, as `npm run images` names them. */
export function withPlaceholders(config: RouterConfig, text: string): string {
  let t = text.replaceAll("{arch}", config.arch.name);
  if (t.includes("{version}")) t = t.replaceAll("{version}", formatImageVersion(loadGoModPins().tailscaleVersion, readReleaseRecordSync(projectRoot).revision));
  return t;
}

/** The image a run uses: `override` (upgrade --image: a .tar path or a registry reference), else the config's. */
export function planImage(config: RouterConfig, override?: string): PlannedImage {
  const dir = config.storage.imageDir;
  if (override !== undefined) {
    // A path ending in .tar is a local image file; anything else is a registry reference.
    if (/\.tar$/i.test(override)) {
      const localPath = localImagePath({ ...config, baseDir: process.cwd() }, override);
      const fileName = basename(localPath);
      return { kind: "file", localPath, fileName, routerPath: joinUnder(dir, fileName) };
    }
    return { kind: "remote", ref: override };
  }
  const s = config.image.source;
  switch (s.kind) {
    case "file": {
      const localPath = localImagePath(config, s.path);
      const fileName = basename(localPath);
      return { kind: "file", localPath, fileName, routerPath: joinUnder(dir, fileName) };
    }
    case "url":
      return { kind: "url", url: withPlaceholders(config, s.url), routerPath: joinUnder(dir, withPlaceholders(config, s.fileName)) };
    case "routerFile":
      return { kind: "routerFile", routerPath: withPlaceholders(config, s.path) };
    case "remote":
      return { kind: "remote", ref: s.ref };
  }
}

export function readAuthKey(config: RouterConfig, opts: PlanOptions): string | undefined {
  const a = config.tailscale.authKey;
  if (a.kind === "none") return undefined;
  if (a.kind === "containerFile") return `file:${a.path}`;
  if (!opts.resolveSecrets) return undefined;
  if (a.kind === "env") {
    const v = (opts.env ?? process.env)[a.name];
    if (v === undefined || v.trim() === "") {
      if (opts.secretsOptional) return undefined;
      throw new ConfigError(`${config.source}: tailscale.${config.tailscale.loginSecret}: environment variable ${a.name} is not set`);
    }
    return v.trim();
  }
  const path = resolve(config.baseDir, a.path);
  try {
    const v = readFileSync(path, "utf8").trim();
    if (!v) throw new ConfigError(`${config.source}: tailscale.${config.tailscale.loginSecret}: ${a.path} is empty`);
    return v;
  } catch (e) {
    if (opts.secretsOptional) return undefined;
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${config.source}: tailscale.${config.tailscale.loginSecret}: cannot read ${a.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The environment variables the image's entrypoint reads, in a stable order. */
export function containerEnv(config: RouterConfig, authKey: string | undefined): { key: string; value: string | undefined; secret: boolean }[] {
  const t = config.tailscale;
  const out: { key: string; value: string | undefined; secret: boolean }[] = [];
  const add = (key: string, value: string | undefined, secret = false) => out.push({ key, value, secret });
  // An OAuth client secret is as secret as an auth key, under containerboot's name.
  const secretVar = t.loginSecret === "clientSecret" ? "TS_CLIENT_SECRET" : "TS_AUTHKEY";
  if (t.authKey.kind === "containerFile") add(secretVar, `file:${t.authKey.path}`);
  else if (t.authKey.kind !== "none") add(secretVar, authKey, true);
  if (t.advertiseTags.length) add("TS_ADVERTISE_TAGS", t.advertiseTags.join(","));
  if (config.container.hostname) add("TS_HOSTNAME", config.container.hostname);
  if (t.advertiseRoutes.length) add("TS_ROUTES", t.advertiseRoutes.map((p) => p.text).join(","));
  add("TS_ADVERTISE_EXIT_NODE", String(t.exitNode));
  add("TS_ACCEPT_ROUTES", String(t.acceptRoutes.length > 0));
  if (t.useExitNode) add("TS_EXIT_NODE", t.useExitNode);
  if (t.loginServer) add("TS_LOGIN_SERVER", t.loginServer);
  add("TS_STATE_DIR", STATE_DIR_IN_CONTAINER);
  add("TS_ACCEPT_DNS", String(t.acceptDns));
  add("TS_AUTH_ONCE", String(t.authOnce));
  if (t.extraArgs) add("TS_EXTRA_ARGS", t.extraArgs);
  if (t.tailscaledExtraArgs) add("TS_TAILSCALED_EXTRA_ARGS", t.tailscaledExtraArgs);
  if (t.logVerbosity !== undefined) add("TS_LOG_VERBOSITY", String(t.logVerbosity));
  for (const [k, v] of Object.entries(t.env)) add(k, v);
  return out;
}

export function buildPlan(config: RouterConfig, opts: PlanOptions): Plan {
  const syntax = config.syntax;
  const versionNotes: string[] = [];
  const name = config.container.name;
  const tag = ownerTag(name);
  const before: Step[] = [];
  const after: Step[] = [];
  const net = config.network;
  const vethAddr = net.veth.address;
  const gatewayWithPrefix = `${net.veth.gateway}/${net.subnet.bits}`;
  const containerIp = vethAddr.text.split("/")[0]!;

  if (config.storage.ramDisk) {
    const r = config.storage.ramDisk;
    before.push({ type: "item", menu: "disk", what: `RAM disk ${r.slot}`, match: { slot: r.slot, type: "tmpfs" }, set: { "tmpfs-max-size": r.size } });
  }
  before.push({
    type: "item",
    menu: "interface/veth",
    what: `veth ${net.veth.name}`,
    match: { name: net.veth.name },
    set: { address: vethAddr.text, gateway: net.veth.gateway },
  });
  before.push({ type: "item", menu: "interface/bridge", what: `bridge ${net.bridge}`, match: { name: net.bridge }, set: {} });
  before.push({
    type: "item",
    menu: "interface/bridge/port",
    what: `bridge port ${net.veth.name} on ${net.bridge}`,
    match: { bridge: net.bridge, interface: net.veth.name },
    set: {},
  });
  before.push({
    type: "item",
    menu: "ip/address",
    what: `address ${gatewayWithPrefix} on ${net.bridge}`,
    match: { address: gatewayWithPrefix, interface: net.bridge },
    set: { comment: tag },
    owner: "address",
  });
  before.push({ type: "prune", menu: "ip/address", what: `old addresses on ${net.bridge}`, select: { comment: tag }, keep: [{ address: gatewayWithPrefix, interface: net.bridge }] });
  if (net.interfaceList) {
    before.push({
      type: "item",
      menu: "interface/list/member",
      what: `${net.bridge} in interface list ${net.interfaceList}`,
      match: { list: net.interfaceList, interface: net.bridge },
      set: {},
    });
  }
  const routeDsts = [TAILNET_V4, ...config.tailscale.acceptRoutes.map((p) => p.text)];
  for (const dst of routeDsts) {
    before.push({
      type: "item",
      menu: "ip/route",
      what: `route ${dst} via ${containerIp}`,
      match: { "dst-address": dst, gateway: containerIp },
      set: { comment: tag },
      owner: "route",
    });
  }
  before.push({ type: "prune", menu: "ip/route", what: "routes no longer wanted", select: { comment: tag }, keep: routeDsts.map((d) => ({ "dst-address": d, gateway: containerIp })) });

  const settings: Fields = {};
  if (config.storage.tmpDir) settings.tmpdir = config.storage.tmpDir;
  if (config.image.registryUrl) settings["registry-url"] = config.image.registryUrl;
  if (Object.keys(settings).length) before.push({ type: "settings", menu: "container/config", what: "container settings", set: settings });

  // Environment list: one list named after the container.
  const authKey = readAuthKey(config, opts);
  const env = containerEnv(config, authKey);
  const lk = syntax.envsListKey;
  for (const e of env) {
    before.push({
      type: "item",
      menu: "container/envs",
      what: `env ${e.key}`,
      match: { [lk]: name, key: e.key },
      set: { value: e.value as string },
      secret: e.secret ? ["value"] : undefined,
      owner: "envs",
    });
  }
  before.push({ type: "prune", menu: "container/envs", what: `envs no longer wanted in ${name}`, select: { [lk]: name }, keep: env.map((e) => ({ [lk]: name, key: e.key })) });

  // The state mount: the only thing that survives an upgrade.
  const mountName = `${name}-state`;
  const mk = syntax.mountsListKey;
  before.push({
    type: "item",
    menu: "container/mounts",
    what: `mount ${config.storage.stateDir} -> ${STATE_DIR_IN_CONTAINER}`,
    match: { [mk]: mountName, dst: STATE_DIR_IN_CONTAINER },
    set: { src: config.storage.stateDir, ...(syntax.mountAccess === "mode" ? { mode: "rw" } : {}) },
    owner: "mounts",
  });
  before.push({ type: "prune", menu: "container/mounts", what: `mounts no longer wanted in ${mountName}`, select: { [mk]: mountName }, keep: [{ [mk]: mountName, dst: STATE_DIR_IN_CONTAINER }] });

  const fields: Fields = { interface: net.veth.name, [syntax.containerEnvField]: name, [syntax.containerMountsField]: mountName };
  if (config.container.hostname) fields.hostname = config.container.hostname;
  if (config.container.dns.length) fields.dns = config.container.dns.join(",");
  if (config.container.entrypoint !== false && syntax.entrypointRequired) fields.entrypoint = config.container.entrypoint;
  if (config.container.tmpfs.length) {
    if (syntax.containerTmpfs) fields.tmpfs = config.container.tmpfs.map((t) => `${t.size}@${t.dir}`).join(",");
    else versionNotes.push(`container.tmpfs is left out: RouterOS ${config.version.text} has no per-container tmpfs (7.21.2 and later do)`);
  }
  planMemory(config, syntax, fields, before, versionNotes);
  planRestart(config, syntax, fields, versionNotes);
  planHealthcheck(config, syntax, fields, versionNotes);
  fields.logging = yn(config.container.logging);
  fields["start-on-boot"] = yn(config.container.startOnBoot);

  for (const domain of config.dns.forward) {
    after.push({
      type: "item",
      menu: "ip/dns/static",
      what: `DNS forward ${domain} -> ${MAGIC_DNS}`,
      match: { name: domain, type: "FWD" },
      set: { "forward-to": MAGIC_DNS, "match-subdomain": "yes", comment: tag },
      owner: "dns",
    });
  }
  after.push({ type: "prune", menu: "ip/dns/static", what: "DNS forwards no longer wanted", select: { comment: tag }, keep: config.dns.forward.map((d) => ({ name: d, type: "FWD" })) });

  const image = planImage(config, opts.imageOverride);
  const notes = [
    "Containers need the 'container' package and device-mode: /system/device-mode/update container=yes, then confirm with the reset button or a cold reboot within the activation timeout.",
    ...config.warnings,
    ...versionNotes,
  ];
  const key =
    syntax.containerKey === "name"
      ? { field: "name" as const, value: name, previous: `${name}-previous` }
      : { field: "comment" as const, value: tag, previous: `${tag}-previous` };
  const plan: Plan = {
    version: config.version,
    model: config.model,
    syntax,
    tag,
    before,
    container: {
      name,
      key,
      rootDir: config.storage.rootDir,
      rootDirAlt: `${config.storage.rootDir}-b`,
      fields,
      image,
      removeImageFile: !config.image.keepFile && (image.kind === "file" || image.kind === "url"),
    },
    after,
    notes,
    stateForm: opts.stateForm ?? scriptStateFormFor(config.version),
  };
  // Nothing may be written that this version's menus lack: a bug here, not the user's.
  const missing = missingWrites(plan, config.model);
  if (missing.length) throw new PlanError(`the plan for ${config.version.text} does not fit: ${formatMissing(missing, config.model)}`);
  return plan;
}

/** A plan that writes something its RouterOS menus lack. */
export class PlanError extends Error {}

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return `${Math.floor(bytes / MIB)}M`;
}

function planMemory(config: RouterConfig, syntax: Syntax, fields: Fields, before: Step[], notes: string[]): void {
  const { memoryLimit, memoryHigh } = config.container;
  if (memoryLimit === undefined && memoryHigh === undefined) return;
  const v = config.version.text;
  if (syntax.memoryMax) {
    if (memoryLimit !== undefined) fields["memory-max"] = memoryLimit;
    // The kernel reclaims from memory-high on, before memory-max would kill.
    const high = memoryHigh ?? (memoryLimit !== undefined ? mib((parseSize(memoryLimit)! * 7) / 8) : undefined);
    if (high !== undefined && syntax.memoryHigh) fields["memory-high"] = high;
    return;
  }
  const limit = memoryLimit ?? memoryHigh!;
  if (syntax.memoryHigh) {
    fields["memory-high"] = memoryHigh ?? limit;
    // MikroTik's manual: a container over memory-high "is never killed"; the hard cap, memory-max, came in 7.23.
    if (memoryLimit !== undefined) notes.push(`container.memoryLimit is not a hard cap on RouterOS ${v}: memory-high=${memoryHigh ?? limit} is a soft limit (the kernel reclaims above it, RouterOS never kills the container); a hard cap (memory-max) needs 7.23`);
    return;
  }
  if (syntax.configMemoryKey) {
    before.push({ type: "settings", menu: "container/config", what: "memory limit for all containers", set: { [syntax.configMemoryKey]: limit } });
    notes.push(`RouterOS ${v} has no per-container memory limit: ${syntax.configMemoryKey}=${limit} is set in /container/config and applies to every container on the router`);
    return;
  }
  notes.push(`container.memoryLimit is left out: RouterOS ${v} offers no container memory limit`);
}

function planRestart(config: RouterConfig, syntax: Syntax, fields: Fields, notes: string[]): void {
  const r = config.container.restart;
  if (r.policy === "no") {
    if (syntax.restart === "restart-policy") fields["restart-policy"] = "no";
    return;
  }
  if (syntax.restart === "restart-policy") {
    fields["restart-policy"] = r.policy;
    fields["restart-interval"] = r.interval;
    if (syntax.restartMaxCount) fields["restart-max-count"] = String(r.maxCount);
  } else if (syntax.restart === "auto-restart-interval") {
    // Restarts after any stop, not only a crash; 'no' turns it off.
    fields["auto-restart-interval"] = r.interval;
    if (r.policy === "on-failure") notes.push(`RouterOS ${config.version.text} restarts a container after any exit (auto-restart-interval=${r.interval}); a restart only after a crash (restart-policy on-failure) needs 7.23`);
  } else {
    notes.push(`RouterOS ${config.version.text} cannot restart a container that exits (auto-restart-interval needs 7.20, restart-policy 7.23): a crashed tailscaled stays down until started again`);
  }
}

/**
 * The image's checker (healthcheck/healthcheck.c): healthy only while
 * tailscaled answers and the node is Running; its one-line reason is what
 * RouterOS shows in healthcheck-status. Costs what a busybox applet does,
 * where `tailscale version --daemon` unpacked the whole UPX-packed binary.
 */
export const HEALTHCHECK_COMMAND = "/usr/local/bin/healthcheck";

function planHealthcheck(config: RouterConfig, syntax: Syntax, fields: Fields, notes: string[]): void {
  const h = config.container.healthcheck;
  if (!h.enabled) return;
  if (!syntax.healthcheck) return;
  fields["healthcheck-cmd"] = HEALTHCHECK_COMMAND;
  fields["healthcheck-interval"] = h.interval;
  fields["healthcheck-timeout"] = h.timeout;
  fields["healthcheck-retries"] = String(h.retries);
  fields["healthcheck-start-period"] = h.startPeriod;
  if (syntax.stopOnUnhealthy) fields["stop-on-unhealthy"] = yn(h.stopOnUnhealthy);
  else if (h.stopOnUnhealthy) notes.push(`container.healthcheck.stopOnUnhealthy is left out: RouterOS ${config.version.text} has no stop-on-unhealthy (7.23 and later do)`);
}
