import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isScalar, parse as parseYaml, parseDocument } from "yaml";
import { z } from "zod";
import { ARCH_NAMES, allArchitectures, type Architecture } from "../arch.js";
import { ConfigError } from "./errors.js";
import {
  TAILNET_V4,
  contains,
  overlaps,
  parseInterfaceAddress,
  parseIp,
  parsePrefix,
  type InterfaceAddress,
  type Prefix,
} from "./net.js";
import { parseRouterOsVersion, type RouterOsVersion } from "./version.js";
import { containerSyntax, treeModel, type RouterOsModel, type Syntax } from "./schema/model.js";
import { ENTRYPOINT } from "../image/config.js";

/*
 * The router config: one small YAML or JSON file. The zod schema below checks
 * its shape; validateSemantics then checks what a schema cannot (addresses
 * inside subnets, overlapping prefixes, version-dependent features). Both run
 * before anything talks to a router.
 */

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const Name = z.string().regex(NAME_RE, "must be 1-63 letters, digits, '.', '_' or '-'");
const Size = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => parseSize(v) !== null, "must be a size such as 64M, 200MiB or 1G");
const RouterPath = z
  .string()
  .min(1)
  .refine((p) => !/[\s"'$\\]/.test(p) && !p.split("/").includes(".."), "must be a router file path without spaces, quotes or '..'")
  .transform((p) => p.replace(/^\/+/, "").replace(/\/+$/, ""));
/** A RouterOS time interval: 10s, 1m30s, 2h, 500ms. */
const Interval = z
  .union([z.string(), z.number()])
  .transform((v) => (typeof v === "number" ? `${v}s` : v.trim()))
  .refine((v) => parseInterval(v) !== null, "must be a time interval such as 10s, 1m30s or 2h");
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
// Values that reach the container's environment: the entrypoint stops on a
// control character (a line break could become a flag of its own), so a deploy
// must not get that far with one.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const EnvValue = z.string().refine((v) => !CONTROL_RE.test(v), "must not contain control characters (a line break?)");
/** tailscale up --login-server: one word, and a URL the node can log in at. */
const LoginServer = z.string().superRefine((v, ctx) => {
  if (/\s/.test(v) || CONTROL_RE.test(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must not contain spaces or control characters" });
    return;
  }
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be an http:// or https:// URL such as https://headscale.example.com" });
  }
});

const AuthKeySchema = z.union([
  z.literal("none"),
  z.object({ env: EnvName }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ containerFile: z.string().regex(/^\/\S+$/, "must be an absolute path inside the container") }).strict(),
]);

const ImageSchema = z
  .object({
    /** A local docker-archive .tar; deploy serves it to the router; `{arch}` is replaced by the arch name. */
    file: z.string().min(1).optional(),
    /** An http(s) URL the router can fetch the .tar from itself; `{arch}` and `{version}` as for `file`. */
    url: z.string().url().optional(),
    /** A .tar that is already on the router; `{arch}` and `{version}` as for `file`. */
    routerFile: RouterPath.optional(),
    /** A registry reference, e.g. registry.example.com/owner/mikrotik-tailscale:stable. */
    remote: z.string().regex(/^[a-z0-9][\w.\-/:@]*$/i, "must be a registry reference such as registry.example.com/owner/image:tag").optional(),
    /** /container/config registry-url, for `remote`. */
    registryUrl: z.string().url().optional(),
    /** Keep the fetched .tar on the router after extraction (default: remove it). */
    keepFile: z.boolean().default(false),
  })
  .strict()
  .refine((i) => [i.file, i.url, i.routerFile, i.remote].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of file, url, routerFile or remote",
  });

export const RouterConfigSchema = z
  .object({
    routeros: z
      .object({
        version: z.union([z.string(), z.number()]).transform((v) => String(v)),
        arch: z.string(),
      })
      .strict(),
    /** Default for --router, e.g. https://admin@192.168.88.1 (never a password). */
    router: z.string().url().optional(),
    container: z
      .object({
        name: Name.default("tailscale"),
        hostname: z
          .string()
          .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, "must be a DNS label (letters, digits, '-')")
          .optional(),
        /** Hard cap: memory-max (7.23+); before that only soft limits exist: memory-high (7.20+), /container/config ram-high. */
        memoryLimit: Size.optional(),
        /** Soft limit where the kernel starts reclaiming (memory-high); default 7/8 of memoryLimit where memory-max exists. */
        memoryHigh: Size.optional(),
        /** Restart after a crash: restart-policy (7.23+) or auto-restart-interval (7.20-7.22). */
        restart: z
          .object({
            policy: z.enum(["on-failure", "always", "no"]).default("on-failure"),
            interval: Interval.default("10s"),
            /** restart-max-count (7.23+): give up after this many restarts in a row; 0 never gives up. */
            maxCount: z.number().int().min(0).max(1000).default(10),
          })
          .strict()
          .default({}),
        /** healthcheck-* (7.23+, MikroTik's manual): is tailscaled answering on its socket? */
        healthcheck: z
          .object({
            enabled: z.boolean().default(true),
            interval: Interval.default("30s"),
            timeout: Interval.default("10s"),
            retries: z.number().int().min(1).max(100).default(3),
            startPeriod: Interval.default("30s"),
            /** stop-on-unhealthy (7.23+): stop the container (and let the restart policy start it) when unhealthy. */
            stopOnUnhealthy: z.boolean().default(false),
          })
          .strict()
          .default({}),
        /** Name the image's entrypoint where RouterOS needs it (7.22+); false never sets it. */
        entrypoint: z.union([z.string().regex(/^\/\S+$/, "must be an absolute path inside the image"), z.literal(false)]).default(ENTRYPOINT.join(" ")),
        startOnBoot: z.boolean().default(true),
        logging: z.boolean().default(true),
        /** Container dns= servers; empty leaves it to /ip/dns. */
        dns: z.array(z.string()).default([]),
        /** A per-container tmpfs (RouterOS 7.21.2+): directory -> size; one entry. */
        tmpfs: z.record(z.string().regex(/^\/[\w./-]+$/, "must be an absolute directory"), Size).optional(),
      })
      .strict()
      .default({}),
    image: ImageSchema,
    network: z
      .object({
        veth: z
          .object({
            name: Name.default("veth-tailscale"),
            address: z.string(),
            gateway: z.string(),
          })
          .strict(),
        bridge: Name.default("br-tailscale"),
        /** Add the bridge to this interface list (e.g. LAN) so the default firewall lets the container in. */
        interfaceList: Name.optional(),
      })
      .strict(),
    storage: z
      .object({
        /** A tmpfs RAM disk (/disk add type=tmpfs) for devices with 16 MB of flash. */
        ramDisk: z.object({ slot: Name.default("ramdisk"), size: Size.default("200M") }).strict().optional(),
        rootDir: RouterPath,
        stateDir: RouterPath,
        tmpDir: RouterPath.optional(),
        /** Where deploy puts a fetched .tar; default: the RAM disk, else the parent of tmpDir, else next to rootDir. */
        imageDir: RouterPath.optional(),
      })
      .strict(),
    tailscale: z
      .object({
        advertiseRoutes: z.array(z.string()).default([]),
        exitNode: z.boolean().default(false),
        /** Subnets other nodes advertise that this router should reach through the container. */
        acceptRoutes: z.array(z.string()).default([]),
        /** Use this exit node (IP or name) for the container's own traffic. */
        useExitNode: z.string().optional(),
        loginServer: LoginServer.optional(),
        authKey: AuthKeySchema.default("none"),
        /** An OAuth client secret (tskey-client-...), in place of authKey: logins that never expire. Needs advertiseTags. */
        clientSecret: AuthKeySchema.optional(),
        /** ACL tags for the node (TS_ADVERTISE_TAGS); required with clientSecret. */
        advertiseTags: z.array(z.string().regex(/^(tag:)?[A-Za-z0-9][A-Za-z0-9-]*$/, "is not a tag (e.g. tag:router)")).default([]),
        /** Default: true when dns.forward sends names to MagicDNS (it answers tailnet names only then). */
        acceptDns: z.boolean().optional(),
        authOnce: z.boolean().default(true),
        extraArgs: EnvValue.optional(),
        tailscaledExtraArgs: EnvValue.optional(),
        logVerbosity: z.number().int().min(0).max(9).optional(),
        /** More environment variables for the container. */
        env: z.record(EnvName, EnvValue).default({}),
      })
      .strict()
      .default({}),
    dns: z
      .object({
        /** Domains the router forwards to MagicDNS (100.100.100.100). */
        forward: z.array(z.string().regex(/^[a-z0-9.-]+$/i, "must be a domain name")).default(["ts.net"]),
      })
      .strict()
      .default({}),
  })
  .strict();

export type RawRouterConfig = z.infer<typeof RouterConfigSchema>;

export type AuthKeySource =
  | { kind: "none" }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string }
  | { kind: "containerFile"; path: string };

export type ImageSource =
  | { kind: "file"; path: string }
  | { kind: "url"; url: string; fileName: string }
  | { kind: "routerFile"; path: string }
  | { kind: "remote"; ref: string };

/** A validated, normalized router config. */
export interface RouterConfig {
  source: string;
  /** Directory relative file paths are resolved against. */
  baseDir: string;
  version: RouterOsVersion;
  /** The RouterOS menus of that version (its command tree). */
  model: RouterOsModel;
  syntax: Syntax;
  arch: Architecture;
  router?: string;
  container: {
    name: string;
    hostname?: string;
    memoryLimit?: string;
    memoryHigh?: string;
    restart: { policy: "on-failure" | "always" | "no"; interval: string; maxCount: number };
    healthcheck: { enabled: boolean; interval: string; timeout: string; retries: number; startPeriod: string; stopOnUnhealthy: boolean };
    entrypoint: string | false;
    startOnBoot: boolean;
    logging: boolean;
    dns: string[];
    tmpfs: { dir: string; size: string }[];
  };
  image: { source: ImageSource; registryUrl?: string; keepFile: boolean };
  network: {
    veth: { name: string; address: InterfaceAddress; gateway: string };
    bridge: string;
    interfaceList?: string;
    /** The container subnet (from the veth address). */
    subnet: Prefix;
  };
  storage: {
    ramDisk?: { slot: string; size: string };
    rootDir: string;
    stateDir: string;
    tmpDir?: string;
    imageDir: string;
  };
  tailscale: {
    advertiseRoutes: Prefix[];
    exitNode: boolean;
    acceptRoutes: Prefix[];
    useExitNode?: string;
    loginServer?: string;
    /** The login secret's source: an auth key, or an OAuth client secret (loginSecret says which). */
    authKey: AuthKeySource;
    /** The config field authKey came from: TS_AUTHKEY or TS_CLIENT_SECRET. */
    loginSecret: "authKey" | "clientSecret";
    advertiseTags: string[];
    acceptDns: boolean;
    authOnce: boolean;
    extraArgs?: string;
    tailscaledExtraArgs?: string;
    logVerbosity?: number;
    env: Record<string, string>;
  };
  dns: { forward: string[] };
  /** Things that are allowed but probably not what the user wants. */
  warnings: string[];
}

const INTERVAL_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses a RouterOS time interval (10s, 1m30s, 1h, 500ms, 00:01:30) into seconds. */
export function parseInterval(s: string): number | null {
  const t = s.trim();
  const hms = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(t);
  if (hms) return Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3]);
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(t)) return null;
  let total = 0;
  for (const m of t.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * INTERVAL_UNITS[m[2]!]!;
  return total;
}

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses 64M, 64MiB, 64MB, 67108864, 1.5G into bytes (RouterOS treats M as MiB). */
export function parseSize(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** Accepts RouterOS names (x86, arm64, arm, arm32v5) and this project's (amd64, arm64, armv7, armv5). */
export function routerArchitecture(name: string): Architecture | undefined {
  const n = name.trim().toLowerCase();
  const all = allArchitectures();
  return all.find((a) => a.name === n) ?? all.find((a) => a.routerosArch === n) ?? (n === "x86_64" ? all.find((a) => a.name === "amd64") : undefined);
}

function fail(source: string, path: string, message: string): never {
  throw new ConfigError(`${source}: ${path}: ${message}`);
}

/** DNS names of at most 253 characters, labels of 1-63 letters, digits and inner hyphens; a trailing dot is fine. */
const DNS_NAME_RE = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** What `tailscale up --exit-node` takes: an IP address, a node's name or FQDN, or auto:any. */
export function isExitNode(v: string): boolean {
  return v === "auto:any" || parseIp(v) !== null || DNS_NAME_RE.test(v);
}

function describePrefixError(s: string): string {
  const loose = parsePrefix(s, false);
  if (loose) return `'${s}' has host bits set (did you mean ${loose.text}?)`;
  return `'${s}' is not a valid CIDR prefix (expected e.g. 192.168.88.0/24)`;
}

function parsePrefixList(source: string, path: string, list: string[]): Prefix[] {
  const out: Prefix[] = [];
  list.forEach((s, i) => {
    const p = parsePrefix(s);
    if (!p) fail(source, `${path}[${i}]`, describePrefixError(s));
    out.push(p);
  });
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      if (overlaps(out[i]!, out[j]!)) fail(source, path, `${out[i]!.text} and ${out[j]!.text} overlap`);
    }
  }
  return out;
}

function imageSource(raw: RawRouterConfig["image"]): ImageSource {
  if (raw.file !== undefined) return { kind: "file", path: raw.file };
  if (raw.url !== undefined) {
    const name = decodeURIComponent(new URL(raw.url).pathname.split("/").pop() ?? "");
    return { kind: "url", url: raw.url, fileName: name || "mikrotik-tailscale.tar" };
  }
  if (raw.routerFile !== undefined) return { kind: "routerFile", path: raw.routerFile };
  return { kind: "remote", ref: raw.remote! };
}

function parentDir(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

/**
 * routeros.version as typed, when YAML read it as a number: `7.20` unquoted
 * is the number 7.2, which names another (too old) release.
 */
function numericVersionText(raw: unknown, text: string): { typed: string; read: string } | undefined {
  const v = (raw as { routeros?: { version?: unknown } }).routeros?.version;
  if (typeof v !== "number") return undefined;
  const node = parseDocument(text).getIn(["routeros", "version"], true);
  const typed = isScalar(node) && node.range ? text.slice(node.range[0], node.range[1]).trim() : String(v);
  return { typed, read: String(v) };
}

/** Parses and validates config text (YAML is a superset of JSON, so both work). */
export function parseRouterConfig(text: string, source = "router config", baseDir = process.cwd()): RouterConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return routerConfigFromObject(raw, text, source, baseDir);
}

/**
 * A config already read from YAML (`text` is what it was read from, for the
 * unquoted-version hint): the fleet commands merge an inventory's per-router
 * settings into it before this one check.
 */
export function routerConfigFromObject(raw: unknown, text: string, source: string, baseDir: string): RouterConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${source}: expected a mapping at the top level`);
  const r = RouterConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const path = i.path.length ? i.path.join(".") : "(top level)";
    throw new ConfigError(`${source}: ${path}: ${i.message}`);
  }
  return validateSemantics(r.data, source, baseDir, numericVersionText(raw, text));
}

export function loadRouterConfig(path: string): RouterConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read router config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseRouterConfig(text, path, dirname(resolve(path)));
}

function validateSemantics(c: RawRouterConfig, source: string, baseDir: string, numeric?: { typed: string; read: string }): RouterConfig {
  const warnings: string[] = [];
  let version: RouterOsVersion;
  try {
    version = parseRouterOsVersion(c.routeros.version);
  } catch (e) {
    if (numeric) fail(source, "routeros.version", `YAML reads the unquoted ${numeric.typed} as the number ${numeric.read}; quote it: version: "${numeric.typed}"`);
    fail(source, "routeros.version", (e as Error).message);
  }
  // Right by luck this time (no trailing zero to lose): the next edit may not be.
  if (numeric) warnings.push(`routeros.version: the unquoted ${numeric.typed} is a number to YAML (an unquoted 7.20 reads as 7.2); quote it: version: "${numeric.typed}"`);
  const model = treeModel(version);
  if (model.warning) warnings.push(model.warning);
  const syntax = containerSyntax(model);
  const arch = routerArchitecture(c.routeros.arch);
  if (!arch) {
    fail(source, "routeros.arch", `unknown architecture '${c.routeros.arch}' (expected one of: arm64, arm, x86, arm32v5, or ${ARCH_NAMES.join(", ")})`);
  }

  // Container network.
  const vethAddr = parseInterfaceAddress(c.network.veth.address);
  if (!vethAddr || vethAddr.family !== 4) {
    fail(source, "network.veth.address", `'${c.network.veth.address}' is not an IPv4 address with a prefix length (expected e.g. 172.17.0.2/24)`);
  }
  if (vethAddr.prefix.bits > 30) fail(source, "network.veth.address", `/${vethAddr.prefix.bits} leaves no room for a gateway; use /30 or shorter`);
  const gw = parseIp(c.network.veth.gateway);
  if (!gw || gw.family !== 4) fail(source, "network.veth.gateway", `'${c.network.veth.gateway}' is not an IPv4 address`);
  if (!contains(vethAddr.prefix, 4, gw.value)) {
    fail(source, "network.veth.gateway", `${c.network.veth.gateway} is not inside the container subnet ${vethAddr.prefix.text}`);
  }
  if (gw.value === vethAddr.address) fail(source, "network.veth.gateway", "must differ from the veth address");
  const subnet = vethAddr.prefix;
  const tailnet = parsePrefix(TAILNET_V4)!;
  if (overlaps(subnet, tailnet)) fail(source, "network.veth.address", `container subnet ${subnet.text} overlaps the tailnet range ${TAILNET_V4}`);
  if (c.tailscale.acceptDns === false && c.dns.forward.length > 0) {
    // Seen in the end-to-end tests: with accept-dns off, 100.100.100.100 does not answer tailnet names.
    fail(source, "tailscale.acceptDns", `is false, but dns.forward sends ${c.dns.forward.join(", ")} to MagicDNS, which answers tailnet names only when tailscaled accepts DNS; set acceptDns: true or dns.forward: []`);
  }
  for (const [i, d] of c.container.dns.entries()) {
    if (!parseIp(d)) fail(source, `container.dns[${i}]`, `'${d}' is not an IP address`);
  }

  // Routes.
  const advertise = parsePrefixList(source, "tailscale.advertiseRoutes", c.tailscale.advertiseRoutes);
  const accept = parsePrefixList(source, "tailscale.acceptRoutes", c.tailscale.acceptRoutes);
  for (const p of advertise) {
    if (p.bits === 0) fail(source, "tailscale.advertiseRoutes", `${p.text} is a default route; set exitNode: true instead`);
    if (overlaps(p, tailnet)) fail(source, "tailscale.advertiseRoutes", `${p.text} overlaps the tailnet range ${TAILNET_V4}`);
    if (overlaps(p, subnet)) {
      fail(source, "network.veth.address", `container subnet ${subnet.text} overlaps advertised route ${p.text}; give the container a subnet of its own`);
    }
  }
  for (const p of accept) {
    if (p.bits === 0) fail(source, "tailscale.acceptRoutes", `${p.text} is a default route; use useExitNode for that`);
    if (overlaps(p, tailnet)) fail(source, "tailscale.acceptRoutes", `${p.text} overlaps the tailnet range ${TAILNET_V4}, which is routed to the container already`);
    if (overlaps(p, subnet)) fail(source, "tailscale.acceptRoutes", `${p.text} overlaps the container subnet ${subnet.text}`);
    const a = advertise.find((x) => overlaps(x, p));
    if (a) fail(source, "tailscale.acceptRoutes", `${p.text} overlaps advertised route ${a.text}`);
  }

  // Storage.
  const ram = c.storage.ramDisk;
  const onRam = (p: string | undefined) => ram !== undefined && p !== undefined && (p === ram.slot || p.startsWith(`${ram.slot}/`));
  if (onRam(c.storage.stateDir)) warnings.push(`storage.stateDir is on the RAM disk '${ram!.slot}': the node's identity is lost at every reboot`);
  if (onRam(c.storage.rootDir)) warnings.push(`storage.rootDir is on the RAM disk '${ram!.slot}': the container must be deployed again after every reboot`);
  const dirs = [c.storage.rootDir, c.storage.stateDir, c.storage.tmpDir].filter((d): d is string => d !== undefined);
  for (let i = 0; i < dirs.length; i++) {
    for (let j = 0; j < dirs.length; j++) {
      if (i !== j && (dirs[i] === dirs[j] || dirs[j]!.startsWith(`${dirs[i]}/`))) {
        fail(source, "storage", `'${dirs[j]}' is inside (or equal to) '${dirs[i]}'; rootDir, stateDir and tmpDir must be separate`);
      }
    }
  }
  const imageDir = c.storage.imageDir ?? (ram ? ram.slot : c.storage.tmpDir ? parentDir(c.storage.tmpDir) : parentDir(c.storage.rootDir));

  // Container extras.
  const tmpfs = Object.entries(c.container.tmpfs ?? {}).map(([dir, size]) => ({ dir, size }));
  // MikroTik documents tmpfs as one size@dir; nothing shows RouterOS taking several in one value.
  if (tmpfs.length > 1) {
    fail(source, "container.tmpfs", `RouterOS documents one tmpfs per container (tmpfs=<size>@<dir>); several in one value are unproven: keep one, e.g. { /var/run/tailscale: 1M }`);
  }
  const MIB = 1024 * 1024;
  const limit = c.container.memoryLimit === undefined ? undefined : parseSize(c.container.memoryLimit)!;
  const high = c.container.memoryHigh === undefined ? undefined : parseSize(c.container.memoryHigh)!;
  // The entrypoint's GOMEMLIMIT floor (docs/entrypoint.md): 1.102's packet buffers alone took ~32 MiB.
  const floor = 40 * MIB;
  if (limit !== undefined && limit < floor) fail(source, "container.memoryLimit", `${c.container.memoryLimit} is too little for tailscaled; give it at least 40M`);
  if (high !== undefined && high < floor) fail(source, "container.memoryHigh", `${c.container.memoryHigh} is too little for tailscaled; give it at least 40M`);
  // The largest MikroTik hardware has 16 GiB (CCR2216) and tailscaled runs in
  // 64-256 MiB; a CHR may have more RAM, but a cap above 64 GiB is a slipped
  // unit (a byte count taken for KiB, G for M), not a plan.
  const ceiling = 64 * 1024 * MIB;
  for (const [key, v, raw] of [["memoryLimit", limit, c.container.memoryLimit], ["memoryHigh", high, c.container.memoryHigh]] as const) {
    if (v !== undefined && v > ceiling) fail(source, `container.${key}`, `${raw} is more than any MikroTik device has (at most 64G; tailscaled runs in 64M-256M)`);
  }
  // Measured (bench/REPORT.md, cap 48 MiB): the container ended while starting, before it joined.
  const roomy = 64 * MIB;
  for (const [key, v, raw] of [["memoryLimit", limit, c.container.memoryLimit], ["memoryHigh", high, c.container.memoryHigh]] as const) {
    if (v !== undefined && v >= floor && v < roomy) {
      warnings.push(`container.${key} ${raw} is below 64M: under a 48 MiB cap the benchmark's containers ended while starting (the UPX stub unpacks the binary into memory); give it 64M or more`);
    }
  }
  if (high !== undefined && limit !== undefined && high > limit) {
    fail(source, "container.memoryHigh", `${c.container.memoryHigh} is above memoryLimit ${c.container.memoryLimit}; the soft limit must be at or below the hard one`);
  }
  if (c.container.restart.policy !== "no" && parseInterval(c.container.restart.interval)! < 1) {
    fail(source, "container.restart.interval", `${c.container.restart.interval} is shorter than RouterOS allows (1s at least)`);
  }
  const hc = c.container.healthcheck;
  for (const k of ["interval", "timeout"] as const) {
    if (parseInterval(hc[k])! < 1) fail(source, `container.healthcheck.${k}`, `${hc[k]} is shorter than RouterOS allows (1s at least)`);
  }
  if (parseInterval(hc.timeout)! >= parseInterval(hc.interval)!) {
    fail(source, "container.healthcheck.timeout", `${hc.timeout} must be shorter than the interval ${hc.interval}`);
  }
  const image = imageSource(c.image);
  if (image.kind === "remote" && c.image.keepFile) warnings.push("image.keepFile has no effect with image.remote");
  const exitNode = c.tailscale.useExitNode;
  if (exitNode !== undefined && !isExitNode(exitNode)) {
    // JSON quoting keeps a line break in the value on the error's one line.
    fail(source, "tailscale.useExitNode", `${JSON.stringify(exitNode)} is not an exit node: give its IP address, its name (e.g. exit-1 or exit-1.tailnet.ts.net) or auto:any`);
  }
  if (c.tailscale.useExitNode && c.tailscale.exitNode) fail(source, "tailscale.useExitNode", "a node cannot advertise itself as an exit node and use another one");
  const cs = c.tailscale.clientSecret;
  if (cs !== undefined && cs !== "none") {
    if (c.tailscale.authKey !== "none") fail(source, "tailscale.clientSecret", "cannot be used together with authKey (one login secret)");
    if (c.tailscale.advertiseTags.length === 0) fail(source, "tailscale.advertiseTags", "is required with clientSecret: an OAuth client logs in only tagged nodes (e.g. [tag:router])");
  }
  const generated = new Set(Object.keys(ENV_NAMES_GENERATED));
  for (const k of Object.keys(c.tailscale.env)) {
    if (generated.has(k)) fail(source, `tailscale.env.${k}`, `is set from the config's own fields (${ENV_NAMES_GENERATED[k]})`);
  }

  return {
    source,
    baseDir,
    version,
    model,
    syntax,
    arch,
    router: c.router,
    container: {
      name: c.container.name,
      hostname: c.container.hostname,
      memoryLimit: c.container.memoryLimit,
      memoryHigh: c.container.memoryHigh,
      restart: c.container.restart,
      healthcheck: c.container.healthcheck,
      entrypoint: c.container.entrypoint,
      startOnBoot: c.container.startOnBoot,
      logging: c.container.logging,
      dns: c.container.dns,
      tmpfs,
    },
    image: { source: image, registryUrl: c.image.registryUrl, keepFile: c.image.keepFile },
    network: {
      veth: { name: c.network.veth.name, address: vethAddr, gateway: c.network.veth.gateway },
      bridge: c.network.bridge,
      interfaceList: c.network.interfaceList,
      subnet,
    },
    storage: { ramDisk: ram, rootDir: c.storage.rootDir, stateDir: c.storage.stateDir, tmpDir: c.storage.tmpDir, imageDir },
    tailscale: {
      advertiseRoutes: advertise,
      exitNode: c.tailscale.exitNode,
      acceptRoutes: accept,
      useExitNode: c.tailscale.useExitNode,
      loginServer: c.tailscale.loginServer,
      ...(cs !== undefined && cs !== "none"
        ? { authKey: authKeySource(cs), loginSecret: "clientSecret" as const }
        : { authKey: authKeySource(c.tailscale.authKey), loginSecret: "authKey" as const }),
      advertiseTags: c.tailscale.advertiseTags,
      acceptDns: c.tailscale.acceptDns ?? c.dns.forward.length > 0,
      authOnce: c.tailscale.authOnce,
      extraArgs: c.tailscale.extraArgs,
      tailscaledExtraArgs: c.tailscale.tailscaledExtraArgs,
      logVerbosity: c.tailscale.logVerbosity,
      env: c.tailscale.env,
    },
    dns: { forward: c.dns.forward },
    warnings,
  };
}

function authKeySource(a: RawRouterConfig["tailscale"]["authKey"]): AuthKeySource {
  if (a === "none") return { kind: "none" };
  if ("env" in a) return { kind: "env", name: a.env };
  if ("file" in a) return { kind: "file", path: a.file };
  return { kind: "containerFile", path: a.containerFile };
}

/** Environment variables the plan sets from config fields, and which field. */
export const ENV_NAMES_GENERATED: Record<string, string> = {
  TS_AUTHKEY: "tailscale.authKey",
  TS_CLIENT_SECRET: "tailscale.clientSecret",
  TS_ADVERTISE_TAGS: "tailscale.advertiseTags",
  TS_HOSTNAME: "container.hostname",
  TS_ROUTES: "tailscale.advertiseRoutes",
  TS_ADVERTISE_EXIT_NODE: "tailscale.exitNode",
  TS_ACCEPT_ROUTES: "tailscale.acceptRoutes",
  TS_EXIT_NODE: "tailscale.useExitNode",
  TS_LOGIN_SERVER: "tailscale.loginServer",
  TS_STATE_DIR: "storage.stateDir",
  TS_ACCEPT_DNS: "tailscale.acceptDns",
  TS_AUTH_ONCE: "tailscale.authOnce",
  TS_EXTRA_ARGS: "tailscale.extraArgs",
  TS_TAILSCALED_EXTRA_ARGS: "tailscale.tailscaledExtraArgs",
  TS_LOG_VERBOSITY: "tailscale.logVerbosity",
};

/**
 * The same config for other RouterOS menus: another version (--routeros-version)
 * or what a live router said about itself.
 */
export function withModel(config: RouterConfig, model: RouterOsModel): RouterConfig {
  const warnings = config.warnings.filter((w) => w !== config.model.warning);
  if (model.warning) warnings.push(model.warning);
  return { ...config, version: model.version, model, syntax: containerSyntax(model), warnings };
}

/** The same config for another RouterOS version, from that version's command tree. */
export function forVersion(config: RouterConfig, version: string): RouterConfig {
  let v: RouterOsVersion;
  try {
    v = parseRouterOsVersion(version);
  } catch (e) {
    throw new ConfigError(`--routeros-version: ${(e as Error).message}`);
  }
  return withModel(config, treeModel(v));
}
