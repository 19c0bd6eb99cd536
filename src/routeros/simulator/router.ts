import http from "node:http";
import https from "node:https";
import { randomBytes } from "node:crypto";
import { parseDockerArchive, imageMatchesArch, imagePlatform, type ImageInfo } from "../image.js";
import { parseInterfaceAddress, parsePrefix, parseIp, contains } from "../net.js";
import { routerArchitecture, parseSize, parseInterval } from "../config.js";
import { compareVersions, parseRouterOsVersion, parseTreeFileName } from "../version.js";
import { containerSyntax, modelFromTree, type RouterOsModel, type Syntax } from "../schema/model.js";
import { chooseTree, childNames, knownNightlies, loadTree, treeNode, type TreeNode } from "../schema/tree.js";

/*
 * A RouterOS REST API simulator. Its menus and the properties each command
 * accepts are RouterOS's own, from the command tree of the version it
 * imitates (data/routeros-schema, dumped from real routers): a property that
 * version lacks gets "unknown parameter", and /console/inspect answers from
 * the same tree. What a tree cannot say (string-valued JSON, `*N` ids,
 * error bodies, containers going extracting -> stopped -> running, a
 * /tool/fetch that really downloads) is written from MikroTik's documented
 * behaviour (FIELD-NOTES section 4). It is test infrastructure and a dry-run
 * target, not RouterOS: where a real router behaves differently, it wins.
 */

export type Rec = Record<string, string>;

export interface SimulatorOptions {
  /** RouterOS version to imitate, e.g. "7.21.2". */
  version?: string;
  /** Command tree to use (a name in data/routeros-schema/index.json); default: the version's. */
  tree?: string;
  /** Changes the tree before use: a router of the future with menus no release has. */
  editTree?: (tree: TreeNode) => void;
  /** /console/inspect is refused (a user without the api policy, say). */
  noInspect?: boolean;
  /** Fault injection: the health check of a running container fails. */
  failHealth?: (container: Rec) => boolean;
  /** Fault injection: this REST request fails with 400 and this detail (method + menu path, e.g. "PUT container"). */
  failRequest?: (method: string, menu: string, body: Record<string, unknown>) => string | undefined;
  /** RouterOS architecture name: arm64, arm, x86, arm32v5. */
  arch?: string;
  boardName?: string;
  user?: string;
  password?: string;
  /** The container package is installed (default true). */
  containerPackage?: boolean;
  /** device-mode allows containers (default true). */
  deviceModeContainer?: boolean;
  /** How long extraction, start and stop take. */
  extractMs?: number;
  startMs?: number;
  stopMs?: number;
  /** Images a `remote-image=` can pull: reference -> docker-archive bytes. */
  registry?: Record<string, Buffer>;
  /** Fault injection: return a reason to make a starting container exit instead of running. */
  failStart?: (container: Rec, image: ImageInfo | undefined) => string | undefined;
  /** /ip/dns servers (a string, as RouterOS shows it). */
  dnsServers?: string;
}

export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
  ) {
    super(detail ?? String(status));
  }
}

const bad = (detail: string) => new SimError(400, detail);

interface MenuDef {
  required?: string[];
  defaults?: Rec;
  booleans?: string[];
  sizes?: string[];
  intervals?: string[];
  integers?: string[];
  enums?: Record<string, string[]>;
  /** Field sets that must be unique together. */
  unique?: string[][];
  validate?(item: Rec, sim: RouterSimulator, existing?: Rec): void;
  computed?(item: Rec, sim: RouterSimulator): Rec;
}

const BOOL_TRUE = new Set(["yes", "true"]);
const BOOL_FALSE = new Set(["no", "false"]);

function menus(syntax: Syntax): Record<string, MenuDef> {
  const iface = (name: string, sim: RouterSimulator) =>
    sim.list("interface/veth").some((i) => i.name === name) ||
    sim.list("interface/bridge").some((i) => i.name === name) ||
    sim.list("interface/ethernet").some((i) => i.name === name);
  const m: Record<string, MenuDef> = {
    "interface/ethernet": { required: ["name"], unique: [["name"]], booleans: ["disabled"], defaults: { disabled: "false", running: "true" } },
    "interface/veth": {
      required: ["name"],
      unique: [["name"]],
      booleans: ["disabled"],
      defaults: { disabled: "false", running: "true", gateway: "", gateway6: "" },
      validate(i) {
        for (const a of (i.address ?? "").split(",").filter(Boolean)) {
          if (!parseInterfaceAddress(a)) throw bad(`invalid value for argument address: ${a}`);
        }
        if (i.gateway && !parseIp(i.gateway)) throw bad(`invalid value for argument gateway: ${i.gateway}`);
      },
    },
    "interface/bridge": {
      required: ["name"],
      unique: [["name"]],
      booleans: ["disabled", "vlan-filtering"],
      defaults: { disabled: "false", "protocol-mode": "rstp", "vlan-filtering": "false", running: "true" },
    },
    "interface/bridge/port": {
      required: ["bridge", "interface"],
      unique: [["interface"]],
      booleans: ["disabled"],
      defaults: { disabled: "false", pvid: "1" },
      validate(i, sim) {
        if (!sim.list("interface/bridge").some((b) => b.name === i.bridge)) throw bad(`input does not match any value of bridge`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
      },
    },
    "interface/list": { required: ["name"], unique: [["name"]] },
    "interface/list/member": {
      required: ["list", "interface"],
      unique: [["list", "interface"]],
      booleans: ["disabled"],
      defaults: { disabled: "false" },
      validate(i, sim) {
        if (!sim.list("interface/list").some((l) => l.name === i.list)) throw bad(`input does not match any value of list`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
      },
    },
    "ip/address": {
      required: ["address", "interface"],
      booleans: ["disabled"],
      defaults: { disabled: "false", dynamic: "false", invalid: "false" },
      validate(i, sim) {
        const a = parseInterfaceAddress(i.address ?? "");
        if (!a || a.family !== 4) throw bad(`invalid value for argument address: ${i.address}`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
        i.network = a.prefix.text.split("/")[0]!;
        i["actual-interface"] = i.interface!;
      },
    },
    "ip/route": {
      required: ["gateway"],
      booleans: ["disabled"],
      defaults: { "dst-address": "0.0.0.0/0", distance: "1", disabled: "false", "routing-table": "main", dynamic: "false", static: "true" },
      validate(i) {
        if (!parsePrefix(i["dst-address"] ?? "")) throw bad(`invalid value for argument dst-address: ${i["dst-address"]}`);
      },
      computed(i, sim) {
        const gw = parseIp(i.gateway ?? "");
        const reachable =
          !!gw &&
          sim.list("ip/address").some((a) => {
            const p = parseInterfaceAddress(a.address ?? "");
            return !!p && contains(p.prefix, gw.family, gw.value);
          });
        return { active: String(reachable && i.disabled !== "true"), "immediate-gw": reachable ? `${i.gateway}%${sim.ifaceFor(i.gateway!)}` : "" };
      },
    },
    "ip/dns/static": {
      required: ["name"],
      booleans: ["disabled", "match-subdomain"],
      defaults: { type: "A", disabled: "false", "match-subdomain": "false", ttl: "1d" },
      validate(i) {
        if (!["A", "AAAA", "CNAME", "FWD", "MX", "NS", "NXDOMAIN", "SRV", "TXT"].includes(i.type ?? "A")) throw bad(`invalid value of type`);
        if (i.type === "FWD" && !i["forward-to"]) throw bad("missing forward-to for type FWD");
      },
    },
    disk: {
      required: ["type"],
      unique: [["slot"]],
      sizes: ["tmpfs-max-size"],
      validate(i, sim, existing) {
        if (existing && existing.type !== i.type) throw bad("failure: cannot change disk type");
        if (i.type !== "tmpfs") throw bad("only type=tmpfs disks can be added");
        if (!i.slot) i.slot = `tmpfs${sim.list("disk").length + 1}`;
        i.size = i["tmpfs-max-size"] ?? "0";
        i.fs = "tmpfs";
      },
    },
    "container/envs": {
      required: [syntax.envsListKey, "key"],
      booleans: ["disabled"],
      unique: [[syntax.envsListKey, "key"]],
      defaults: { value: "" },
    },
    "container/mounts": {
      required: [syntax.mountsListKey, "src", "dst"],
      unique: syntax.mountsListKey === "name" ? [["name"]] : [["list", "dst"]],
      booleans: ["read-only", "disabled"],
      enums: { mode: ["ro", "rw", "rshared", "rslave", "rprivate"] },
      defaults: syntax.mountAccess === "mode" ? { mode: "rw" } : { "read-only": "false" },
      validate(i) {
        if (!i.dst!.startsWith("/")) throw bad("dst must be an absolute path");
      },
    },
  };
  return m;
}

/** Arguments of add that describe how to add, not the object. */
const ADD_ONLY = new Set(["copy-from", "place-before"]);
/** Arguments of set that select the object. */
const SELECTORS = new Set(["numbers", "number", ".id"]);

interface Container {
  rec: Rec;
  image?: ImageInfo;
  timer?: NodeJS.Timeout;
}

export interface SimFile {
  rec: Rec;
  data?: Buffer;
}

export interface LogLine {
  time: string;
  topics: string;
  message: string;
}

export class RouterSimulator {
  readonly version: string;
  /** The command tree this simulator's menus come from. */
  readonly treeName: string;
  readonly tree: TreeNode;
  readonly model: RouterOsModel;
  readonly syntax: Syntax;
  readonly arch: string;
  readonly opts: SimulatorOptions;
  /** Successful writes: lets tests assert that a failed command changed nothing. */
  mutations = 0;
  /** Every request, in order. */
  readonly requests: { method: string; path: string }[] = [];
  private readonly defs: Record<string, MenuDef>;
  private readonly tables = new Map<string, Rec[]>();
  private readonly nextId = new Map<string, number>();
  private readonly containers: Container[] = [];
  private readonly files: SimFile[] = [];
  private readonly logs: (LogLine & { id: string })[] = [];
  private logSeq = 1;
  private containerConfig: Rec = {};
  private dns: Rec;
  private deviceMode: Rec;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: SimulatorOptions = {}) {
    this.opts = opts;
    const v = parseRouterOsVersion(opts.version ?? "7.21.2");
    this.version = v.text;
    this.treeName = opts.tree ?? simulatorTree(v);
    // A private copy: editTree must not change the cached tree others use.
    this.tree = JSON.parse(JSON.stringify(loadTree(this.treeName))) as TreeNode;
    opts.editTree?.(this.tree);
    this.model = modelFromTree(v, this.tree, { kind: "tree", name: this.treeName });
    this.syntax = containerSyntax(this.model, true);
    this.arch = opts.arch ?? "arm64";
    if (!routerArchitecture(this.arch)) throw new Error(`simulator: unknown arch ${this.arch}`);
    this.defs = menus(this.syntax);
    this.dns = { servers: opts.dnsServers ?? "192.0.2.53", "dynamic-servers": "", "allow-remote-requests": "false", "cache-size": "2048KiB" };
    this.deviceMode = { mode: "advanced", container: String(opts.deviceModeContainer ?? true) };
    for (const n of ["ether1", "ether2"]) this.insert("interface/ethernet", { name: n });
    this.insert("interface/bridge", { name: "bridge" });
    for (const n of ["all", "none", "dynamic", "LAN", "WAN"]) this.insert("interface/list", { name: n, builtin: String(["all", "none", "dynamic"].includes(n)) });
    this.insert("ip/address", { address: "192.168.88.1/24", interface: "bridge", comment: "defconf" });
    for (const k of this.accepted("container/config/set")) this.containerConfig[k] = /ram-high|memory-|swap-max/.test(k) ? "unlimited" : "";
    this.log("system,info", "router simulator started");
  }

  /** The properties a command of this version accepts ("container/add"), from its command tree. */
  accepted(command: string): string[] {
    const have = this.model.args(command);
    if (!have) return [];
    return [...have].filter((a) => !ADD_ONLY.has(a) && !SELECTORS.has(a));
  }

  /** The writable fields of a menu in this version (undefined for menus the simulator lacks). */
  writableFields(menu: string): string[] | undefined {
    if (menu === "container/config" || menu === "ip/dns") return this.accepted(`${menu}/set`);
    if (menu !== "container" && !this.defs[menu]) return undefined;
    return this.accepted(`${menu}/add`);
  }

  // ---- tables ------------------------------------------------------------

  list(menu: string): Rec[] {
    let t = this.tables.get(menu);
    if (!t) this.tables.set(menu, (t = []));
    return t;
  }

  private newId(menu: string): string {
    const n = this.nextId.get(menu) ?? 1;
    this.nextId.set(menu, n + 1);
    return `*${n.toString(16).toUpperCase()}`;
  }

  private insert(menu: string, rec: Rec): Rec {
    const def = this.defs[menu]!;
    const item: Rec = { ".id": this.newId(menu), ...(def.defaults ?? {}), ...rec };
    this.list(menu).push(item);
    return item;
  }

  ifaceFor(ip: string): string {
    const gw = parseIp(ip);
    for (const a of this.list("ip/address")) {
      const p = parseInterfaceAddress(a.address ?? "");
      if (p && gw && contains(p.prefix, gw.family, gw.value)) return a.interface!;
    }
    return "";
  }

  log(topics: string, message: string): void {
    const d = new Date();
    const time = d.toISOString().slice(11, 19);
    this.logs.push({ id: `*${(this.logSeq++).toString(16).toUpperCase()}`, time, topics, message });
    if (this.logs.length > 1000) this.logs.shift();
  }

  logLines(): LogLine[] {
    return this.logs.map(({ time, topics, message }) => ({ time, topics, message }));
  }

  /** Files on the simulated router (for tests). */
  fileList(): SimFile[] {
    return this.files;
  }

  /** The containers as REST shows them (for tests). */
  containerList(): Rec[] {
    return this.containers.map((c) => ({ ...c.rec }));
  }

  /** Everything a test may compare before and after a command. */
  snapshot(): unknown {
    const t: Record<string, Rec[]> = {};
    for (const [k, v] of this.tables) t[k] = v.map((r) => ({ ...r }));
    return {
      tables: t,
      containers: this.containerList(),
      files: this.files.map((f) => ({ ...f.rec })),
      containerConfig: { ...this.containerConfig },
    };
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- values ------------------------------------------------------------

  private normalize(def: Pick<MenuDef, "booleans" | "sizes" | "intervals" | "integers" | "enums">, field: string, value: unknown): string {
    if (typeof value !== "string") {
      // RouterOS wants strings; numbers and booleans in JSON are accepted loosely.
      if (typeof value === "number" || typeof value === "boolean") value = String(value);
      else throw bad(`value of ${field} must be a string`);
    }
    const v = value as string;
    if (def.booleans?.includes(field)) {
      if (BOOL_TRUE.has(v)) return "true";
      if (BOOL_FALSE.has(v)) return "false";
      throw bad(`value of ${field} must be yes or no`);
    }
    if (def.sizes?.includes(field)) {
      if (v === "" || v === "unlimited") return v;
      const n = parseSize(v);
      if (n === null) throw bad(`invalid value for argument ${field}: ${v}`);
      return String(n);
    }
    if (def.intervals?.includes(field)) {
      const n = parseInterval(v);
      if (n === null || (n < 1 && v !== "0s" && v !== "0")) throw bad(`invalid value for argument ${field}: ${v}`);
      return v;
    }
    if (def.integers?.includes(field) && !/^\d+$/.test(v)) throw bad(`invalid value for argument ${field}: ${v}`);
    const allowed = def.enums?.[field];
    if (allowed && !allowed.includes(v)) throw bad(`invalid value ${v} for argument ${field} (expected one of ${allowed.join(", ")})`);
    return v;
  }

  /** Rejects what the command's tree lacks, as RouterOS does: "unknown parameter". */
  private checkFields(command: string, body: Record<string, unknown>): void {
    const have = this.model.args(command);
    if (!have) throw bad(`no such command or directory (${command.split("/").pop()})`);
    for (const k of Object.keys(body)) {
      if (k === ".id") continue;
      if (!have.has(k) || ADD_ONLY.has(k)) throw bad(`unknown parameter ${k}`);
    }
  }

  // ---- request handling --------------------------------------------------

  /** Handles one REST request; returns the HTTP status and JSON body. */
  async handle(method: string, rawPath: string, body: unknown, authorization: string | undefined): Promise<{ status: number; body: unknown }> {
    this.requests.push({ method, path: rawPath });
    const want = `Basic ${Buffer.from(`${this.opts.user ?? "admin"}:${this.opts.password ?? ""}`).toString("base64")}`;
    if (authorization !== want) return { status: 401, body: { error: 401, message: "Unauthorized" } };
    try {
      const url = new URL(rawPath, "http://x");
      if (!url.pathname.startsWith("/rest/") && url.pathname !== "/rest") throw new SimError(404);
      const segs = url.pathname.slice(6).split("/").filter(Boolean).map(decodeURIComponent);
      const injected = this.opts.failRequest?.(method, segs.filter((x) => !x.startsWith("*")).join("/"), (body ?? {}) as Record<string, unknown>);
      if (injected) throw bad(injected);
      const result = await this.route(method, segs, (body ?? {}) as Record<string, unknown>, url.searchParams);
      return result === undefined ? { status: 204, body: undefined } : { status: 200, body: result };
    } catch (e) {
      if (e instanceof SimError) {
        if (e.status === 404) return { status: 404, body: { error: 404, message: "Not Found" } };
        return { status: e.status, body: { error: e.status, message: e.status === 400 ? "Bad Request" : "Error", detail: e.detail } };
      }
      return { status: 500, body: { error: 500, message: "Internal Server Error", detail: (e as Error).message } };
    }
  }

  private requireContainerPackage(menu: string): void {
    if (menu.startsWith("container") && this.opts.containerPackage === false) throw bad(`no such command or directory (container)`);
  }

  private async route(method: string, segs: string[], body: Record<string, unknown>, query: URLSearchParams): Promise<unknown> {
    const last = segs[segs.length - 1] ?? "";
    const id = last.startsWith("*") ? last : undefined;
    const menu = (id ? segs.slice(0, -1) : segs).join("/");
    this.requireContainerPackage(menu);

    // Single-row menus.
    const singles: Record<string, () => Rec> = {
      "system/resource": () => this.resource(),
      "system/device-mode": () => ({ ...this.deviceMode }),
      "system/identity": () => ({ name: "MikroTik" }),
      "container/config": () => ({ ...this.containerConfig }),
      "ip/dns": () => ({ ...this.dns }),
    };
    if (method === "GET" && !id && singles[menu]) return singles[menu]!();

    if (method === "POST") return this.command(segs, body);

    if (menu === "system/package" && method === "GET") {
      const pk = [{ ".id": "*1", name: "routeros", version: this.version, disabled: "false" }];
      if (this.opts.containerPackage !== false) pk.push({ ".id": "*2", name: "container", version: this.version, disabled: "false" });
      return filter(pk, query);
    }
    if (menu === "log" && method === "GET") return this.logs.map((l) => ({ ".id": l.id, time: l.time, topics: l.topics, message: l.message }));
    if (menu === "file") return this.fileRequest(method, id);
    if (menu === "container") return this.containerRequest(method, id, body, query);

    const def = this.defs[menu];
    if (!def) throw bad(`no such command or directory (${menu})`);
    const table = this.list(menu);
    const view = (r: Rec) => ({ ...r, ...(def.computed?.(r, this) ?? {}) });
    switch (method) {
      case "GET": {
        if (id) {
          const r = table.find((x) => x[".id"] === id);
          if (!r) throw new SimError(404);
          return view(r);
        }
        return filter(table.map(view), query);
      }
      case "PUT": {
        if (id) throw bad("no such command");
        this.checkFields(`${menu}/add`, body);
        const rec: Rec = {};
        for (const [k, v] of Object.entries(body)) rec[k] = this.normalize(def, k, v);
        for (const r of def.required ?? []) if (rec[r] === undefined || rec[r] === "") throw bad(`missing value(s) of argument(s) ${r}`);
        const item: Rec = { ...(def.defaults ?? {}), ...rec };
        def.validate?.(item, this);
        this.checkUnique(menu, def, item);
        item[".id"] = this.newId(menu);
        const ordered: Rec = { ".id": item[".id"]!, ...item };
        table.push(ordered);
        this.mutations++;
        return view(ordered);
      }
      case "PATCH": {
        if (!id) throw bad("no such command");
        const r = table.find((x) => x[".id"] === id);
        if (!r) throw new SimError(404);
        this.checkFields(`${menu}/set`, body);
        const next: Rec = { ...r };
        for (const [k, v] of Object.entries(body)) if (k !== ".id") next[k] = this.normalize(def, k, v);
        def.validate?.(next, this, r);
        this.checkUnique(menu, def, next, id);
        Object.assign(r, next);
        this.mutations++;
        return view(r);
      }
      case "DELETE": {
        if (!id) throw bad("no such command");
        const i = table.findIndex((x) => x[".id"] === id);
        if (i < 0) throw new SimError(404);
        table.splice(i, 1);
        this.mutations++;
        return undefined;
      }
    }
    throw bad(`unsupported method ${method}`);
  }

  private checkUnique(menu: string, def: MenuDef, item: Rec, selfId?: string): void {
    for (const keys of def.unique ?? []) {
      const clash = this.list(menu).find((x) => x[".id"] !== selfId && keys.every((k) => x[k] === item[k]));
      if (clash) throw bad(`failure: already have such ${keys.join("+")} (${keys.map((k) => item[k]).join(", ")})`);
    }
  }

  private resource(): Rec {
    const arch = this.arch;
    return {
      uptime: "1d2h3m4s",
      version: `${this.version} (stable)`,
      "build-time": "2026-01-01 00:00:00",
      "free-memory": String(700 * 1024 * 1024),
      "total-memory": String(1024 * 1024 * 1024),
      cpu: arch === "x86" ? "Intel(R)" : arch === "arm32v5" ? "EN7562CT" : "ARM",
      "cpu-count": "4",
      "architecture-name": arch === "x86" ? "x86_64" : arch === "arm32v5" ? "arm" : arch,
      "board-name": this.opts.boardName ?? (arch === "x86" ? "CHR" : arch === "arm32v5" ? "hEX refresh" : "RB5009UG+S+"),
      platform: "MikroTik",
    };
  }

  // ---- commands (POST) ---------------------------------------------------

  private async command(segs: string[], body: Record<string, unknown>): Promise<unknown> {
    const path = segs.join("/");
    const str = (k: string) => (body[k] === undefined ? undefined : String(body[k]));
    switch (path) {
      case "container/start":
      case "container/stop": {
        const c = this.containerById(str(".id") ?? str("numbers"));
        if (path.endsWith("start")) this.start(c);
        else this.stop(c);
        this.mutations++;
        return [];
      }
      case "container/config/set": {
        this.checkFields("container/config/set", body);
        const def = { sizes: ["ram-high", "memory-high", "memory-max", "swap-max"] };
        for (const [k, v] of Object.entries(body)) {
          const n = this.normalize(def, k, v);
          this.containerConfig[k] = def.sizes.includes(k) ? n : n.replace(/^\/+/, "");
        }
        this.mutations++;
        return [];
      }
      case "ip/dns/set": {
        this.checkFields("ip/dns/set", body);
        for (const [k, v] of Object.entries(body)) this.dns[k] = String(v);
        this.mutations++;
        return [];
      }
      case "console/inspect":
        return this.inspect(body);
      case "system/device-mode/update":
        throw bad("failure: device-mode changes need physical confirmation (press the reset button or cold-reboot)");
      case "tool/fetch":
        this.checkFields("tool/fetch", body);
        return this.fetch(body);
    }
    throw bad(`no such command or directory (${segs[segs.length - 1] ?? ""})`);
  }

  /** /console/inspect request=child: one "self" row, then a row per child of the path, from the tree. */
  private inspect(body: Record<string, unknown>): unknown {
    if (this.opts.noInspect) throw new SimError(403, "not enough permissions (api)");
    const request = String(body.request ?? "");
    if (request !== "child") throw bad(`unsupported request ${request}`);
    const segs = String(body.path ?? "").split(",").filter(Boolean);
    if (this.opts.containerPackage === false && segs[0] === "container") return [];
    const node = segs.length ? treeNode(this.tree, segs.join("/")) : this.tree;
    if (!node) return [];
    const rows: Rec[] = [{ name: segs[segs.length - 1] ?? "", "node-type": node._type ?? "dir", type: "self" }];
    for (const k of childNames(node)) rows.push({ name: k, "node-type": String((node[k] as TreeNode)._type ?? "arg"), type: "child" });
    return rows;
  }

  private async fetch(body: Record<string, unknown>): Promise<unknown> {
    const url = String(body.url ?? "");
    if (!url) throw bad("missing value(s) of argument(s) url");
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw bad(`failure: invalid URL ${url}`);
    }
    const dst = String(body["dst-path"] ?? decodeURIComponent(u.pathname.split("/").pop() ?? "") ?? "").replace(/^\/+/, "");
    if (!dst) throw bad("failure: no dst-path");
    const check = BOOL_TRUE.has(String(body["check-certificate"] ?? "no"));
    const t0 = Date.now();
    const data = await new Promise<Buffer>((resolve, reject) => {
      const lib = u.protocol === "https:" ? https : http;
      const req = lib.get(u, { rejectUnauthorized: check, timeout: 60_000 }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          reject(bad(`failure: closing connection: <${res.statusCode} ${res.statusMessage}> ${u.host}`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
        res.on("error", (e) => reject(bad(`failure: ${e.message}`)));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) =>
        reject(bad(`failure: ${e.code === "ECONNREFUSED" ? "connection refused" : e.message}`)),
      );
    });
    const existing = this.files.find((f) => f.rec.name === dst);
    const rec: Rec = { name: dst, type: dst.endsWith(".tar") ? ".tar file" : "file", size: String(data.length), "creation-time": new Date().toISOString() };
    if (existing) {
      Object.assign(existing.rec, rec);
      existing.data = data;
    } else {
      this.files.push({ rec: { ".id": this.newId("file"), ...rec }, data });
    }
    this.mutations++;
    this.log("fetch,info", `Download from ${u.host} to ${dst} FINISHED`);
    const kib = String(Math.ceil(data.length / 1024));
    return [{ status: "finished", downloaded: kib, total: kib, duration: `${Math.max(1, Math.round((Date.now() - t0) / 1000))}s` }];
  }

  // ---- files -------------------------------------------------------------

  private fileRequest(method: string, id?: string): unknown {
    if (method === "GET") {
      if (id) {
        const f = this.files.find((x) => x.rec[".id"] === id);
        if (!f) throw new SimError(404);
        return { ...f.rec };
      }
      return this.files.map((f) => ({ ...f.rec }));
    }
    if (method === "DELETE" && id) {
      const i = this.files.findIndex((x) => x.rec[".id"] === id);
      if (i < 0) throw new SimError(404);
      this.files.splice(i, 1);
      this.mutations++;
      return undefined;
    }
    throw bad("files can only be listed and removed here; upload with /tool/fetch");
  }

  private addDir(name: string): void {
    if (!name || this.files.some((f) => f.rec.name === name)) return;
    this.files.push({ rec: { ".id": this.newId("file"), name, type: "directory", size: "0", "creation-time": new Date().toISOString() } });
  }

  // ---- containers --------------------------------------------------------

  private containerDef(): MenuDef {
    return {
      booleans: ["logging", "start-on-boot", "stop-on-unhealthy", "privileged", "check-certificate", "ignore-remote-image-change"],
      sizes: ["memory-high", "memory-max", "shm-size", "swap-max"],
      intervals: ["auto-restart-interval", "restart-interval", "healthcheck-interval", "healthcheck-timeout", "healthcheck-start-period", "healthcheck-start-interval", "stop-time"],
      integers: ["restart-max-count", "healthcheck-retries"],
      enums: { "restart-policy": ["always", "no", "on-failure", "unless-stopped"] },
    };
  }

  /** Empty values a fresh container shows for what this version has. */
  private containerDefaults(): Rec {
    const out: Rec = {};
    const sizes = new Set(this.containerDef().sizes);
    for (const k of this.accepted("container/add")) {
      if (k === "file" || k === "remote-image") continue;
      out[k] = sizes.has(k) ? "unlimited" : k === "restart-policy" ? "no" : "";
    }
    for (const k of ["logging", "start-on-boot"]) if (k in out) out[k] = "false";
    return out;
  }

  private containerById(id: string | undefined): Container {
    const c = this.containers.find((x) => x.rec[".id"] === id || x.rec.name === id);
    if (!c) throw bad(`no such item (${id ?? "missing .id"})`);
    return c;
  }

  private containerRequest(method: string, id: string | undefined, body: Record<string, unknown>, query: URLSearchParams): unknown {
    const def = this.containerDef();
    switch (method) {
      case "GET":
        if (id) return { ...this.containerById(id).rec };
        return filter(this.containerList(), query);
      case "PUT": {
        if (this.deviceMode.container !== "true") throw bad("failure: not allowed by device-mode");
        this.checkFields("container/add", body);
        const rec: Rec = {};
        for (const [k, v] of Object.entries(body)) rec[k] = this.normalize(def, k, v);
        if ((rec.file ? 1 : 0) + (rec["remote-image"] ? 1 : 0) !== 1) throw bad("give exactly one of file or remote-image");
        if (!rec.interface || !this.list("interface/veth").some((v) => v.name === rec.interface)) throw bad("input does not match any value of interface");
        if (rec.file) {
          rec.file = rec.file.replace(/^\/+/, "");
          if (!this.files.some((f) => f.rec.name === rec.file)) throw bad(`failure: file ${rec.file} does not exist`);
        }
        // Before 7.19 a container cannot be named: RouterOS makes its name up.
        rec.name ||= this.syntax.containerKey === "name" ? `container${this.containers.length + 1}` : randomBytes(8).toString("hex");
        rec["root-dir"] = (rec["root-dir"] || `containers/${rec.name}`).replace(/^\/+/, "");
        if (this.containers.some((c) => c.rec.name === rec.name)) throw bad(`failure: container with name ${rec.name} already exists`);
        if (this.containers.some((c) => c.rec["root-dir"] === rec["root-dir"])) throw bad(`failure: root-dir ${rec["root-dir"]} is used by another container`);
        const full: Rec = {
          ".id": this.newId("container"),
          name: rec.name,
          tag: "",
          os: "",
          arch: "",
          ...this.containerDefaults(),
          ...rec,
          status: "extracting",
        };
        const c: Container = { rec: full };
        this.containers.push(c);
        this.mutations++;
        this.log("container,info", `${full.name}: import started`);
        this.later(this.opts.extractMs ?? 300, () => this.finishExtract(c));
        return { ...full };
      }
      case "PATCH": {
        const c = this.containerById(id);
        this.checkFields("container/set", body);
        const keys = Object.keys(body).filter((k) => k !== ".id");
        if (c.rec.status !== "stopped" && c.rec.status !== "error" && keys.some((k) => k !== "comment")) {
          throw bad(`failure: container ${c.rec.name} is ${c.rec.status}; stop it first`);
        }
        for (const k of keys) {
          if (k === "file" || k === "remote-image" || k === "root-dir") throw bad(`failure: ${k} cannot be changed; remove and add the container again`);
          const v = this.normalize(def, k, body[k]);
          if (k === "name" && this.containers.some((x) => x !== c && x.rec.name === v)) throw bad(`failure: container with name ${v} already exists`);
          if (k === "interface" && !this.list("interface/veth").some((x) => x.name === v)) throw bad("input does not match any value of interface");
          c.rec[k] = v;
        }
        this.mutations++;
        return { ...c.rec };
      }
      case "DELETE": {
        const c = this.containerById(id);
        if (["running", "starting", "stopping"].includes(c.rec.status!)) throw bad(`failure: container ${c.rec.name} is ${c.rec.status}; stop it first`);
        if (c.timer) clearTimeout(c.timer);
        this.containers.splice(this.containers.indexOf(c), 1);
        const root = c.rec["root-dir"]!;
        for (let i = this.files.length - 1; i >= 0; i--) {
          const n = this.files[i]!.rec.name!;
          if (n === root || n.startsWith(`${root}/`)) this.files.splice(i, 1);
        }
        this.mutations++;
        return undefined;
      }
    }
    throw bad(`unsupported method ${method}`);
  }

  private finishExtract(c: Container): void {
    if (!this.containers.includes(c)) return;
    let buf: Buffer | undefined;
    if (c.rec.file) buf = this.files.find((f) => f.rec.name === c.rec.file)?.data;
    else buf = this.opts.registry?.[c.rec["remote-image"]!];
    if (!buf) {
      c.rec.status = "error";
      this.log("container,error", `${c.rec.name}: ${c.rec.file ? `could not read ${c.rec.file}` : `could not pull ${c.rec["remote-image"]}`}`);
      return;
    }
    try {
      c.image = parseDockerArchive(buf, c.rec.file ?? c.rec["remote-image"]);
    } catch (e) {
      c.rec.status = "error";
      this.log("container,error", `${c.rec.name}: import failed: ${(e as Error).message}`);
      return;
    }
    c.rec.tag = c.rec["remote-image"] ?? c.image.repoTags[0] ?? "";
    c.rec.os = c.image.os;
    c.rec.arch = c.image.architecture + (c.image.variant ? `/${c.image.variant}` : "");
    c.rec.status = "stopped";
    this.addDir(c.rec["root-dir"]!);
    this.log("container,info", `${c.rec.name}: import successful`);
  }

  private envFor(c: Container): Rec {
    const lists = (c.rec[this.syntax.containerEnvField] ?? "").split(",").filter(Boolean);
    const env: Rec = {};
    for (const e of this.list("container/envs")) if (lists.includes(e[this.syntax.envsListKey]!)) env[e.key!] = e.value ?? "";
    return env;
  }

  private start(c: Container): void {
    if (c.rec.status === "running" || c.rec.status === "starting") return;
    if (c.rec.status !== "stopped") throw bad(`failure: container ${c.rec.name} is ${c.rec.status}`);
    if (this.dns.servers === "" && this.dns["dynamic-servers"] === "" && !c.rec.dns) {
      throw bad("failure: no DNS servers: set /ip/dns servers or the container's dns");
    }
    const busy = this.containers.find((x) => x !== c && x.rec.interface === c.rec.interface && ["running", "starting"].includes(x.rec.status!));
    if (busy) throw bad(`failure: interface ${c.rec.interface} is in use by container ${busy.rec.name}`);
    for (const m of this.list("container/mounts")) {
      const lists = (c.rec[this.syntax.containerMountsField] ?? "").split(",");
      if (lists.includes(m[this.syntax.mountsListKey]!)) this.addDir(m.src!.replace(/^\/+/, ""));
    }
    c.rec.status = "starting";
    c.timer = this.later(this.opts.startMs ?? 200, () => {
      if (c.rec.status !== "starting") return;
      const archOk = !c.image || imageMatchesArch(c.image, routerArchitecture(this.arch)!);
      const reason = !archOk ? `exec format error (image is ${imagePlatform(c.image!)})` : this.opts.failStart?.(c.rec, c.image);
      if (reason) {
        c.rec.status = "stopped";
        if (c.rec.logging === "true") this.log("container,info,debug", `${c.rec.name}: ${reason}`);
        this.log("container,info", `${c.rec.name}: exited with status 1`);
        return;
      }
      c.rec.status = "running";
      this.log("container,info", `${c.rec.name}: started`);
      if (c.rec.logging === "true") this.tailscaleLogs(c);
      if (c.rec["healthcheck-cmd"]) {
        c.rec["healthcheck-status"] = "starting";
        this.later(this.opts.startMs ?? 200, () => {
          if (c.rec.status === "running") c.rec["healthcheck-status"] = this.opts.failHealth?.(c.rec) ? "unhealthy" : "healthy";
        });
      }
    });
  }

  private tailscaleLogs(c: Container): void {
    const env = this.envFor(c);
    const v = /^v?(\d+\.\d+\.\d+)/.exec(c.image?.version ?? "")?.[1] ?? "0.0.0";
    const say = (m: string) => this.log("container,info,debug", m);
    say(`Program starting: v${v}, Go 1.26.0: ["tailscaled" "--state=/var/lib/tailscale/tailscaled.state"]`);
    if (env.TS_AUTHKEY) {
      say("Switching ipn state NoState -> Starting (WantRunning=true, nm=true)");
      say("Switching ipn state Starting -> Running (WantRunning=true, nm=true)");
    } else {
      say("Switching ipn state NoState -> NeedsLogin (WantRunning=false, nm=false)");
      say(`To authenticate, visit: https://login.example.invalid/a/${randomBytes(6).toString("hex")}`);
    }
  }

  private stop(c: Container): void {
    if (c.rec.status === "stopped") return;
    if (c.rec.status !== "running" && c.rec.status !== "starting") throw bad(`failure: container ${c.rec.name} is ${c.rec.status}`);
    if (c.timer) clearTimeout(c.timer);
    c.rec.status = "stopping";
    c.timer = this.later(this.opts.stopMs ?? 100, () => {
      c.rec.status = "stopped";
      this.log("container,info", `${c.rec.name}: stopped`);
    });
  }
}

function filter(list: Rec[], query: URLSearchParams): Rec[] {
  const conds = [...query.entries()].filter(([k]) => !k.startsWith("."));
  return conds.length ? list.filter((r) => conds.every(([k, v]) => r[k] === v)) : list;
}

/** The tree a simulated version uses: its release's, or for a version past every release the newest nightly at or below it. */
function simulatorTree(v: ReturnType<typeof parseRouterOsVersion>): string {
  const choice = chooseTree(v);
  if (!choice.newer) return choice.name;
  const nightly = knownNightlies()
    .filter((n) => compareVersions(parseTreeFileName(n)!.version, v) <= 0 || parseTreeFileName(n)!.version.minor === v.minor)
    .pop();
  return nightly ?? choice.name;
}
