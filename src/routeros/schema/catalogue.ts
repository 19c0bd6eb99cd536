/*
 * The catalogue: every RouterOS property this tool writes or reads, with its
 * kind and its names across releases (newest first). The plan, the script
 * writers, the REST client, `status` and the simulator all read it, so a new
 * RouterOS release means refreshed data (data/routeros-schema/) plus at most
 * one line here.
 *
 * Which of the names a release has comes from its command tree (what `add`
 * and `set` accept) and its readable-property data (what `get`, `print` and a
 * REST GET report); this file never says which version has what.
 */

/**
 * How a value is written and read back:
 * - `bool`: yes/no when written, true/false when read;
 * - `flag`: a read-only state flag (`running`, `stopped`, ...): a boolean in
 *   a script, "true"/"false" (or absent) in a REST reply;
 * - `size`: 96M, 100663296 or unlimited;
 * - `interval`: 10s, 00:00:10, 1d2h;
 * - `integer`, `path` (leading and trailing slashes are not significant),
 *   `list` (comma-separated), `enum` (values from the release's data),
 *   `string`.
 */
export type PropertyKind = "string" | "bool" | "flag" | "size" | "interval" | "integer" | "path" | "list" | "enum";

export type Use = "write" | "read" | "state";

export interface Property {
  menu: string;
  /** The newest name. */
  name: string;
  /** Names across releases, newest first; a release uses the first one its menu has. */
  names: readonly string[];
  kind: PropertyKind;
  /** write: the tool sets it; read: the tool reads it back; state: it says what a container is doing. */
  use: readonly Use[];
}

const p = (menu: string, names: string | readonly [string, ...string[]], kind: PropertyKind, ...use: Use[]): Property => ({
  menu,
  name: typeof names === "string" ? names : names[0],
  names: typeof names === "string" ? [names] : names,
  kind,
  use: use.length ? use : ["write"],
});

/** Logical names the code uses, e.g. PROPS.container.envList. */
export const PROPS = {
  container: {
    name: p("container", "name", "string", "write", "read"),
    comment: p("container", "comment", "string", "write", "read"),
    file: p("container", "file", "path", "write"),
    remoteImage: p("container", "remote-image", "string", "write", "read"),
    rootDir: p("container", "root-dir", "path", "write", "read"),
    interface: p("container", "interface", "string", "write", "read"),
    envList: p("container", ["envlists", "envlist"], "list", "write", "read"),
    mountList: p("container", ["mountlists", "mounts"], "list", "write", "read"),
    hostname: p("container", "hostname", "string"),
    dns: p("container", "dns", "list"),
    entrypoint: p("container", "entrypoint", "string"),
    tmpfs: p("container", "tmpfs", "string"),
    memoryHigh: p("container", "memory-high", "size"),
    memoryMax: p("container", "memory-max", "size"),
    shmSize: p("container", "shm-size", "size"),
    swapMax: p("container", "swap-max", "size"),
    restartPolicy: p("container", "restart-policy", "enum", "write", "read"),
    restartInterval: p("container", "restart-interval", "interval", "write", "read"),
    restartMaxCount: p("container", "restart-max-count", "integer", "write", "read"),
    autoRestartInterval: p("container", "auto-restart-interval", "interval", "write", "read"),
    healthcheckCmd: p("container", "healthcheck-cmd", "string", "write", "read"),
    healthcheckInterval: p("container", "healthcheck-interval", "interval"),
    healthcheckTimeout: p("container", "healthcheck-timeout", "interval"),
    healthcheckRetries: p("container", "healthcheck-retries", "integer"),
    healthcheckStartPeriod: p("container", "healthcheck-start-period", "interval"),
    healthcheckStartInterval: p("container", "healthcheck-start-interval", "interval"),
    stopOnUnhealthy: p("container", "stop-on-unhealthy", "bool"),
    stopTime: p("container", "stop-time", "interval"),
    logging: p("container", "logging", "bool", "write", "read"),
    startOnBoot: p("container", "start-on-boot", "bool", "write", "read"),
    privileged: p("container", "privileged", "bool"),
    checkCertificate: p("container", "check-certificate", "bool"),
    ignoreRemoteImageChange: p("container", "ignore-remote-image-change", "bool"),
    // What the router reports about the image and the running container.
    tag: p("container", "tag", "string", "read"),
    imageId: p("container", "image-id", "string", "read"),
    os: p("container", "os", "string", "read"),
    arch: p("container", "arch", "string", "read"),
    memoryCurrent: p("container", "memory-current", "size", "read"),
    restartCount: p("container", "restart-count", "integer", "read"),
    healthcheckStatus: p("container", "healthcheck-status", "string", "read"),
    // State: one `status` up to 7.19, a set of flags from 7.20/7.21 on.
    status: p("container", "status", "enum", "state"),
    running: p("container", "running", "flag", "state"),
    stopped: p("container", "stopped", "flag", "state"),
    starting: p("container", "starting", "flag", "state"),
    stopping: p("container", "stopping", "flag", "state"),
    extracting: p("container", "downloading/extracting", "flag", "state"),
    extractFailed: p("container", "download/extract failed", "flag", "state"),
    deleting: p("container", "deleting", "flag", "state"),
    healthy: p("container", "healthy", "flag", "state"),
    unhealthy: p("container", "unhealthy", "flag", "state"),
    startingWithHealthcheck: p("container", "starting-with-healthcheck", "flag", "state"),
  },
  "container/envs": {
    list: p("container/envs", ["list", "name"], "string", "write", "read"),
    key: p("container/envs", "key", "string", "write", "read"),
    value: p("container/envs", "value", "string", "write", "read"),
    disabled: p("container/envs", "disabled", "bool"),
  },
  "container/mounts": {
    list: p("container/mounts", ["list", "name"], "string", "write", "read"),
    src: p("container/mounts", "src", "path", "write", "read"),
    dst: p("container/mounts", "dst", "string", "write", "read"),
    mode: p("container/mounts", "mode", "enum", "write", "read"),
    readOnly: p("container/mounts", "read-only", "bool", "write", "read"),
    disabled: p("container/mounts", "disabled", "bool"),
  },
  "container/config": {
    tmpdir: p("container/config", "tmpdir", "path", "write", "read"),
    layerDir: p("container/config", "layer-dir", "path"),
    registryUrl: p("container/config", "registry-url", "string", "write", "read"),
    memoryHigh: p("container/config", ["memory-high", "ram-high"], "size", "write", "read"),
    memoryMax: p("container/config", "memory-max", "size"),
    swapMax: p("container/config", "swap-max", "size"),
  },
  disk: {
    slot: p("disk", "slot", "string", "write", "read"),
    type: p("disk", "type", "string", "write", "read"),
    tmpfsMaxSize: p("disk", "tmpfs-max-size", "size", "write", "read"),
  },
  file: {
    name: p("file", "name", "path", "read"),
    size: p("file", "size", "integer", "read"),
    type: p("file", "type", "string", "read"),
  },
  "interface/veth": {
    name: p("interface/veth", "name", "string", "write", "read"),
    address: p("interface/veth", "address", "list", "write", "read"),
    gateway: p("interface/veth", "gateway", "string", "write", "read"),
    disabled: p("interface/veth", "disabled", "bool"),
  },
  "interface/bridge": {
    name: p("interface/bridge", "name", "string", "write", "read"),
    disabled: p("interface/bridge", "disabled", "bool"),
    vlanFiltering: p("interface/bridge", "vlan-filtering", "bool"),
  },
  "interface/bridge/port": {
    bridge: p("interface/bridge/port", "bridge", "string", "write", "read"),
    interface: p("interface/bridge/port", "interface", "string", "write", "read"),
    disabled: p("interface/bridge/port", "disabled", "bool"),
  },
  "interface/list/member": {
    list: p("interface/list/member", "list", "string", "write", "read"),
    interface: p("interface/list/member", "interface", "string", "write", "read"),
    disabled: p("interface/list/member", "disabled", "bool"),
  },
  "ip/address": {
    address: p("ip/address", "address", "string", "write", "read"),
    interface: p("ip/address", "interface", "string", "write", "read"),
    comment: p("ip/address", "comment", "string", "write", "read"),
    disabled: p("ip/address", "disabled", "bool"),
  },
  "ip/route": {
    dstAddress: p("ip/route", "dst-address", "string", "write", "read"),
    gateway: p("ip/route", "gateway", "string", "write", "read"),
    comment: p("ip/route", "comment", "string", "write", "read"),
    active: p("ip/route", "active", "flag", "read"),
    disabled: p("ip/route", "disabled", "bool"),
  },
  "ip/dns/static": {
    name: p("ip/dns/static", "name", "string", "write", "read"),
    type: p("ip/dns/static", "type", "enum", "write", "read"),
    forwardTo: p("ip/dns/static", "forward-to", "string", "write", "read"),
    matchSubdomain: p("ip/dns/static", "match-subdomain", "bool", "write", "read"),
    comment: p("ip/dns/static", "comment", "string", "write", "read"),
    disabled: p("ip/dns/static", "disabled", "bool"),
  },
  "system/script": {
    name: p("system/script", "name", "string", "write", "read"),
    source: p("system/script", "source", "string", "write", "read"),
    policy: p("system/script", "policy", "list", "write"),
    comment: p("system/script", "comment", "string", "write", "read"),
  },
  "system/scheduler": {
    name: p("system/scheduler", "name", "string", "write", "read"),
    interval: p("system/scheduler", "interval", "interval", "write", "read"),
    startTime: p("system/scheduler", "start-time", "string", "write", "read"),
    onEvent: p("system/scheduler", "on-event", "string", "write", "read"),
    policy: p("system/scheduler", "policy", "list", "write"),
    comment: p("system/scheduler", "comment", "string", "write", "read"),
    disabled: p("system/scheduler", "disabled", "bool"),
  },
} as const satisfies Record<string, Record<string, Property>>;

export type CatalogueMenu = keyof typeof PROPS;

const byName = new Map<string, Property>();
const byMenuName = new Map<string, Property>();
for (const menu of Object.values(PROPS)) {
  for (const prop of Object.values(menu) as Property[]) {
    for (const n of prop.names) {
      byMenuName.set(`${prop.menu} ${n}`, prop);
      // A name means the same kind in every menu that has it (disabled, comment, name, ...).
      const seen = byName.get(n);
      if (!seen || seen.kind === prop.kind) byName.set(n, prop);
    }
  }
}

/** The catalogue entry of a property name, in its menu when given. */
export function propertyOf(name: string, menu?: string): Property | undefined {
  return (menu !== undefined ? byMenuName.get(`${menu} ${name}`) : undefined) ?? byName.get(name);
}

/** How a property's values are written and compared; names the catalogue lacks are strings. */
export function kindOf(name: string, menu?: string): PropertyKind {
  return propertyOf(name, menu)?.kind ?? "string";
}

/** The first of a property's names that `have` contains (what a release calls it), if any. */
export function nameIn(prop: Property, have: ReadonlySet<string> | undefined): string | undefined {
  return prop.names.find((n) => have?.has(n));
}

/** Every catalogue property of a menu that the tool reads. */
export function readProperties(menu: string): Property[] {
  const m = (PROPS as Record<string, Record<string, Property>>)[menu];
  return m ? Object.values(m).filter((x) => x.use.includes("read") || x.use.includes("state")) : [];
}
