import { parseInterval, parseSize, routerArchitecture } from "../config.js";
import type { ImageInfo } from "../image.js";
import { contains, parseInterfaceAddress, parseIp } from "../net.js";
import { kindOf } from "../schema/catalogue.js";
import { containerSyntax, modelFromTree, type RouterOsModel, type Syntax } from "../schema/model.js";
import { containerStateForms, enumValues, readableFor, type Readable, type StateForm } from "../schema/readable.js";
import { chooseTree, childNames, knownNightlies, loadTree, treeNode, type TreeNode } from "../schema/tree.js";
import { compareVersions, parseRouterOsVersion, parseTreeFileName, type RouterOsVersion } from "../version.js";
import { RealClock, type Clock } from "./clock.js";
import { Containers, type Container } from "./containers.js";
import { Files, type SimFile } from "./files.js";
import { bad, listMenus, SimError, type MenuDef, type Rec } from "./menus.js";
import { Scripts, type ScriptRun } from "./scripts.js";
import { Apps } from "./apps.js";

export { SimError, type Rec } from "./menus.js";
export type { SimFile } from "./files.js";

/*
 * A RouterOS simulator, reached over its REST API (server.ts) or by the
 * scripts it runs (script/, console.ts). It is test infrastructure and a
 * dry-run target, not RouterOS; where a real router behaves differently,
 * the router wins. What it rests on, per behaviour:
 * - menus, commands and the properties each accepts: the release's command
 *   tree (data/routeros-schema/trees): anything else is "unknown parameter";
 * - the properties a GET or a script's `get` reports, and the values of enum
 *   arguments: the release's readable data (data/routeros-schema/readable),
 *   inferred from the nearest release with data where it has none (see
 *   schema/readable.ts), so no reply carries what the release cannot report;
 * - container state as `status` (up to 7.19) or flags (7.20/7.21 on):
 *   schema/state.ts and containers.ts name their sources;
 * - string-valued JSON, `*N` ids, error bodies, PUT/PATCH/DELETE/POST:
 *   MikroTik's REST documentation (FIELD-NOTES section 4);
 * - everything else (timings, log texts, /app's naming) is inferred and
 *   listed in docs/routeros.md, "Assumptions not verified on a real router".
 */

export interface SimulatorOptions {
  /** RouterOS version to imitate, e.g. "7.21.2". */
  version?: string;
  /** Command tree to use (a name in data/routeros-schema/index.json); default: the version's. */
  tree?: string;
  /** Changes the tree before use: a router of the future with menus no release has. */
  editTree?: (tree: TreeNode) => void;
  /** How containers report their state where the evidence allows both (7.20): default the first the evidence names. */
  stateForm?: StateForm;
  /** Time for timers and scripts; default the real clock. */
  clock?: Clock;
  /** /console/inspect is refused (a user without the api policy, say). */
  noInspect?: boolean;
  /** Fault injection: the health check of a running container fails (a string: the checker's line). */
  failHealth?: (container: Rec, image: ImageInfo | undefined) => boolean | string;
  /** Fault injection: this REST request fails with 400 and this detail (method + menu path, e.g. "PUT container"). */
  failRequest?: (method: string, menu: string, body: Record<string, unknown>) => string | undefined;
  /** Fault injection: /tool/fetch of this URL fails with this detail. */
  fetchFault?: (url: string) => string | undefined;
  /** Fault injection: what /tool/fetch stores instead of what it downloaded (a middlebox, a corrupted transfer). */
  fetchRewrite?: (url: string, data: Buffer) => Buffer;
  /** Bytes the router's disk holds for files (a full disk refuses a fetch); default unlimited. */
  diskBytes?: number;
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

/** Arguments of add that describe how to add, not the object. */
const ADD_ONLY = new Set(["copy-from", "place-before"]);
/** Arguments of set that select the object. */
const SELECTORS = new Set(["numbers", "number", ".id"]);

/** Menus with one row, read with GET and changed with set. */
const SINGLE_ROW = new Set(["system/resource", "system/device-mode", "system/identity", "container/config", "ip/dns", "app/settings"]);

export interface LogLine {
  time: string;
  topics: string;
  message: string;
}


export interface ItemViews {
  id: string;
  rest: Rec;
  script: Record<string, string | boolean>;
}

export class RouterSimulator {
  readonly version: string;
  readonly parsedVersion: RouterOsVersion;
  /** The command tree this simulator's menus come from. */
  readonly treeName: string;
  readonly tree: TreeNode;
  readonly model: RouterOsModel;
  readonly syntax: Syntax;
  readonly arch: string;
  readonly opts: SimulatorOptions;
  readonly clock: Clock;
  /** How containers report their state on this router. */
  readonly stateForm: StateForm;
  /** Successful writes: lets tests assert that a failed command changed nothing. */
  mutations = 0;
  /**
   * The REST link, for tests: requests beyond `cutAfter` find the connection
   * dropped; with `through`, the router answers only while a container of
   * that name runs (a router reached over the tailnet of the container).
   */
  link: { cutAfter?: number; through?: string } = {};
  /** Every request, in order. */
  readonly requests: { method: string; path: string }[] = [];
  readonly containers: Containers;
  readonly files: Files;
  readonly scripts: Scripts;
  private readonly defs: Record<string, MenuDef>;
  private readonly tables = new Map<string, Rec[]>();
  private readonly nextId = new Map<string, number>();
  readonly apps: Apps;
  private readonly logs: (LogLine & { id: string })[] = [];
  private readonly readableCache = new Map<string, Readable | undefined>();
  private logSeq = 1;
  private readonly singles: Record<string, Rec>;

  constructor(opts: SimulatorOptions = {}) {
    this.opts = opts;
    const v = parseRouterOsVersion(opts.version ?? "7.21.2");
    this.parsedVersion = v;
    this.version = v.text;
    this.treeName = opts.tree ?? simulatorTree(v);
    // A private copy only to edit: editTree must not change the cached tree others use.
    this.tree = opts.editTree ? (JSON.parse(JSON.stringify(loadTree(this.treeName))) as TreeNode) : loadTree(this.treeName);
    opts.editTree?.(this.tree);
    this.model = modelFromTree(v, this.tree, { kind: "tree", name: this.treeName });
    this.syntax = containerSyntax(this.model, true);
    const forms = containerStateForms(v).forms;
    this.stateForm = opts.stateForm ?? forms[0]!;
    if (!forms.includes(this.stateForm)) throw new Error(`simulator: RouterOS ${v.text} reports container state as ${forms.join(" or ")}, not ${this.stateForm}`);
    this.arch = opts.arch ?? "arm64";
    if (!routerArchitecture(this.arch)) throw new Error(`simulator: unknown arch ${this.arch}`);
    this.clock = opts.clock ?? new RealClock();
    this.defs = listMenus(this.syntax);
    this.containers = new Containers(this);
    this.files = new Files(this);
    this.scripts = new Scripts(this);
    this.apps = new Apps(this);
    const configDefaults: Rec = {};
    for (const k of this.accepted("container/config/set")) configDefaults[k] = /ram-high|memory-|swap-max/.test(k) ? "unlimited" : "";
    this.singles = {
      "system/device-mode": { mode: "advanced", container: String(opts.deviceModeContainer ?? true) },
      "system/identity": { name: "MikroTik" },
      "container/config": configDefaults,
      "ip/dns": { servers: opts.dnsServers ?? "192.0.2.53", "dynamic-servers": "", "allow-remote-requests": "false", "cache-size": "2048KiB" },
      "app/settings": { disk: "", "lan-bridge": "", "router-ip": "" },
    };
    for (const n of ["ether1", "ether2"]) this.insert("interface/ethernet", { name: n });
    this.insert("interface/bridge", { name: "bridge" });
    for (const n of ["all", "none", "dynamic", "LAN", "WAN"]) this.insert("interface/list", { name: n, builtin: String(["all", "none", "dynamic"].includes(n)) });
    this.insert("ip/address", { address: "192.168.88.1/24", interface: "bridge", comment: "defconf" });
    this.log("system,info", "router simulator started");
  }

  // ---- what this release has ------------------------------------------------

  /** The properties a command of this version accepts ("container/add"), from its command tree. */
  accepted(command: string): string[] {
    const have = this.model.args(command);
    if (!have) return [];
    return [...have].filter((a) => !ADD_ONLY.has(a) && !SELECTORS.has(a));
  }

  /** What a GET or `get` of a menu reports on this release; undefined for menus without data or inference. */
  readable(menu: string): Readable | undefined {
    if (!this.readableCache.has(menu)) this.readableCache.set(menu, readableFor(this.parsedVersion, menu, this.tree, this.stateForm));
    return this.readableCache.get(menu);
  }

  /** A record cut down to what the release reports. */
  readableView(menu: string, rec: Rec): Rec {
    const r = this.readable(menu);
    if (!r) return rec;
    const out: Rec = {};
    for (const [k, v] of Object.entries(rec)) if (k === ".id" || r.props.has(k)) out[k] = v;
    return out;
  }

  /** The writable fields of a menu in this version (undefined for menus the simulator lacks). */
  writableFields(menu: string): string[] | undefined {
    if (SINGLE_ROW.has(menu)) return this.accepted(`${menu}/set`);
    if (menu !== "container" && !this.defs[menu] && !["system/script", "system/scheduler", "app"].includes(menu)) return undefined;
    return this.accepted(`${menu}/add`);
  }

  // ---- tables ------------------------------------------------------------

  list(menu: string): Rec[] {
    let t = this.tables.get(menu);
    if (!t) this.tables.set(menu, (t = []));
    return t;
  }

  newId(menu: string): string {
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

  hasDns(): boolean {
    const d = this.singles["ip/dns"]!;
    return d.servers !== "" || d["dynamic-servers"] !== "";
  }

  timestamp(): string {
    return new Date(Date.UTC(2026, 0, 1) + this.clock.now()).toISOString().replace("T", " ").slice(0, 19);
  }

  log(topics: string, message: string): void {
    const time = this.timestamp().slice(11);
    this.logs.push({ id: `*${(this.logSeq++).toString(16).toUpperCase()}`, time, topics, message });
    if (this.logs.length > 1000) this.logs.shift();
  }

  logLines(): LogLine[] {
    return this.logs.map(({ time, topics, message }) => ({ time, topics, message }));
  }

  /** Files on the simulated router (for tests). */
  fileList(): SimFile[] {
    return this.files.all;
  }

  /** The containers as REST shows them (for tests). */
  containerList(): Rec[] {
    return this.containers.all.map((c) => this.containers.restView(c));
  }

  /** Everything a test may compare before and after a command. */
  snapshot(): unknown {
    const t: Record<string, Rec[]> = {};
    // (A menu only looked at has an empty table: that is no change.)
    for (const [k, v] of this.tables) if (v.length) t[k] = v.map((r) => ({ ...r }));
    return {
      tables: t,
      containers: this.containers.all.map((c) => ({ ...c.rec, state: c.state })),
      files: this.files.all.map((f) => ({ ...f.rec })),
      singles: JSON.parse(JSON.stringify(this.singles)) as unknown,
    };
  }

  close(): void {
    this.clock.close();
  }

  /** Reboots: running scripts stop where they are, containers stop, then those with start-on-boot start and startup scheduler entries run. */
  reboot(): ScriptRun[] {
    this.log("system,info", "router rebooted");
    for (const c of this.containers.all) {
      if (c.timer) this.clock.clearTimer(c.timer);
      if (c.state === "extracting") c.state = "error";
      else if (c.state !== "error") c.state = "stopped";
      c.health = undefined;
    }
    // Fetched files outside a RAM disk survive; a RAM disk's content does not.
    for (const d of this.list("disk")) if (d.type === "tmpfs") this.files.removeTree(d.slot!);
    const runs = this.scripts.reboot();
    for (const c of this.containers.all) {
      if (c.rec["start-on-boot"] === "true" && c.state === "stopped") {
        try {
          this.containers.start(c);
        } catch (e) {
          this.log("container,error", `${c.rec.name}: not started at boot: ${(e as Error).message}`);
        }
      }
    }
    return runs;
  }

  // ---- values ------------------------------------------------------------

  /** A value as RouterOS stores it, checked against its kind and, for enums, the release's values. */
  normalize(menu: string, field: string, value: unknown): string {
    if (typeof value !== "string") {
      // RouterOS wants strings; numbers and booleans in JSON are accepted loosely.
      if (typeof value === "number" || typeof value === "boolean") value = String(value);
      else throw bad(`value of ${field} must be a string`);
    }
    const v = value as string;
    const kind = kindOf(field, menu);
    switch (kind) {
      case "bool":
        if (v === "yes" || v === "true") return "true";
        if (v === "no" || v === "false") return "false";
        throw bad(`value of ${field} must be yes or no`);
      case "size": {
        if (v === "" || v === "unlimited") return v;
        const n = parseSize(v);
        if (n === null) throw bad(`invalid value for argument ${field}: ${v}`);
        return String(n);
      }
      case "interval": {
        const n = parseInterval(v);
        if (n === null || (n < 1 && v !== "0s" && v !== "0")) throw bad(`invalid value for argument ${field}: ${v}`);
        return v;
      }
      case "integer":
        if (!/^\d+$/.test(v)) throw bad(`invalid value for argument ${field}: ${v}`);
        return v;
      case "path":
        return v;
      case "enum": {
        const allowed = enumValues(this.parsedVersion, menu, field);
        if (allowed && !allowed.values.includes(v)) throw bad(`input does not match any value of ${field} (${v}; expected one of ${allowed.values.join(", ")})`);
        return v;
      }
      default:
        return v;
    }
  }

  /** Rejects what the command's tree lacks, as RouterOS does: "unknown parameter". */
  checkFields(command: string, body: Record<string, unknown>): void {
    const have = this.model.args(command);
    if (!have) throw bad(`no such command or directory (${command.split("/").pop()})`);
    for (const k of Object.keys(body)) {
      if (k === ".id") continue;
      if (!have.has(k) || ADD_ONLY.has(k)) throw bad(`unknown parameter ${k}`);
    }
  }

  private normalized(menu: string, body: Record<string, unknown>): Rec {
    const rec: Rec = {};
    for (const [k, v] of Object.entries(body)) if (k !== ".id") rec[k] = this.normalize(menu, k, v);
    return rec;
  }

  // ---- one set of operations for REST and scripts ------------------------

  isSingleRow(menu: string): boolean {
    return SINGLE_ROW.has(menu);
  }

  private requireMenu(menu: string): void {
    if (menu.startsWith("container") && this.opts.containerPackage === false) throw bad(`no such command or directory (container)`);
    if (menu.startsWith("app") && (this.opts.containerPackage === false || !treeNode(this.tree, "app"))) throw bad(`no such command or directory (app)`);
  }

  private listView(menu: string, r: Rec): Rec {
    const def = this.defs[menu];
    return { ...r, ...(def?.computed?.(r, this) ?? {}) };
  }

  /** Every item of a list menu, as REST and as a script see it. */
  items(menu: string): ItemViews[] {
    this.requireMenu(menu);
    const both = (id: string, raw: Record<string, string | boolean>, scriptRaw = raw): ItemViews => {
      const restRaw: Rec = {};
      for (const [k, v] of Object.entries(raw)) restRaw[k] = String(v);
      const script = this.readable(menu) ? this.scriptFilter(menu, scriptRaw) : scriptRaw;
      return { id, rest: this.readableView(menu, restRaw), script };
    };
    switch (menu) {
      case "container":
        return this.containers.all.map((c) => ({ id: c.rec[".id"]!, rest: this.containers.restView(c), script: this.containers.scriptView(c) }));
      case "file":
        return this.files.all.map((f) => both(f.rec[".id"]!, f.rec));
      case "system/script/job":
        return this.scripts.jobs.map((j) => both(j.rec[".id"]!, j.rec));
      case "system/package": {
        const pk: Rec[] = [{ ".id": "*1", name: "routeros", version: this.version, disabled: "false" }];
        if (this.opts.containerPackage !== false) pk.push({ ".id": "*2", name: "container", version: this.version, disabled: "false" });
        return pk.map((p) => both(p[".id"]!, p));
      }
      case "app":
        return this.apps.all.map((a) => both(a.rec[".id"]!, this.apps.view(a)));
      case "system/script":
      case "system/scheduler":
        return this.list(menu).map((r) => both(r[".id"]!, r));
    }
    if (!this.defs[menu]) throw bad(`no such command or directory (${menu})`);
    return this.list(menu).map((r) => both(r[".id"]!, this.listView(menu, r)));
  }

  private scriptFilter(menu: string, raw: Record<string, string | boolean>): Record<string, string | boolean> {
    const r = this.readable(menu)!;
    const out: Record<string, string | boolean> = {};
    for (const [k, v] of Object.entries(raw)) if (k === ".id" || r.props.has(k)) out[k] = v;
    return out;
  }

  itemView(menu: string, id: string, mode: "rest" | "script"): Record<string, string | boolean> {
    if (menu === "container") {
      // (The hot path of every script's state function: one container, not all of them.)
      const c = this.containers.all.find((x) => x.rec[".id"] === id);
      if (!c) throw bad(`no such item (${id})`);
      return mode === "rest" ? this.containers.restView(c) : this.containers.scriptView(c);
    }
    const hit = this.items(menu).find((x) => x.id === id);
    if (!hit) throw bad(`no such item (${id})`);
    return mode === "rest" ? hit.rest : hit.script;
  }

  /** A one-row menu as it reads (REST and scripts see the same strings; scripts type them). */
  singleView(menu: string, _mode: "rest" | "script"): Rec {
    this.requireMenu(menu);
    const raw = menu === "system/resource" ? this.resource() : { ...(this.singles[menu] ?? {}) };
    return this.readableView(menu, raw);
  }

  async setSingle(menu: string, body: Record<string, unknown>): Promise<void> {
    this.requireMenu(menu);
    if (menu === "system/device-mode") throw bad("failure: device-mode changes need physical confirmation (press the reset button or cold-reboot)");
    if (!this.singles[menu] || menu === "system/identity") throw bad(`no such command or directory (${menu})`);
    this.checkFields(`${menu}/set`, body);
    const rec = this.normalized(menu, body);
    for (const [k, v] of Object.entries(rec)) this.singles[menu]![k] = kindOf(k, menu) === "path" ? v.replace(/^\/+/, "") : v;
    this.mutations++;
  }

  /** add: returns the new item's id. */
  async addItem(menu: string, body: Record<string, unknown>): Promise<string> {
    this.requireMenu(menu);
    if (this.isSingleRow(menu)) throw bad("no such command");
    this.checkFields(`${menu}/add`, body);
    const rec = this.normalized(menu, body);
    let id: string;
    switch (menu) {
      case "container":
        if (this.singles["system/device-mode"]!.container !== "true") throw bad("failure: not allowed by device-mode");
        id = this.containers.add(rec).rec[".id"]!;
        break;
      case "system/script":
        if (!rec.name) throw bad("missing value(s) of argument(s) name");
        if (this.list(menu).some((s) => s.name === rec.name)) throw bad(`failure: script with the same name already exists`);
        id = this.newId(menu);
        this.list(menu).push({ ".id": id, owner: "admin", policy: "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon", "run-count": "0", source: "", comment: "", ...rec });
        break;
      case "system/scheduler": {
        if (!rec.name) throw bad("missing value(s) of argument(s) name");
        if (this.list(menu).some((s) => s.name === rec.name)) throw bad(`failure: item with such name already exists`);
        id = this.newId(menu);
        const e: Rec = { ".id": id, owner: "admin", interval: "0s", "start-time": "", disabled: "false", "run-count": "0", "on-event": "", comment: "", ...rec };
        this.list(menu).push(e);
        this.scripts.schedule(e);
        break;
      }
      case "app":
        id = this.apps.add(rec);
        break;
      default: {
        const def = this.defs[menu];
        if (!def) throw bad(`no such command or directory (${menu})`);
        for (const r of def.required ?? []) if (rec[r] === undefined || rec[r] === "") throw bad(`missing value(s) of argument(s) ${r}`);
        const item: Rec = { ...(def.defaults ?? {}), ...rec };
        def.validate?.(item, this);
        this.checkUnique(menu, def, item);
        id = this.newId(menu);
        this.list(menu).push({ ".id": id, ...item });
      }
    }
    this.mutations++;
    return id;
  }

  async setItem(menu: string, id: string, body: Record<string, unknown>): Promise<void> {
    this.requireMenu(menu);
    this.checkFields(`${menu}/set`, body);
    const rec = this.normalized(menu, body);
    switch (menu) {
      case "container":
        this.containers.set(this.containers.byId(id), rec);
        break;
      case "system/script":
      case "system/scheduler": {
        const r = this.list(menu).find((x) => x[".id"] === id || x.name === id);
        if (!r) throw bad(`no such item (${id})`);
        if (rec.name && this.list(menu).some((x) => x !== r && x.name === rec.name)) throw bad("failure: item with such name already exists");
        Object.assign(r, rec);
        if (menu === "system/scheduler") this.scripts.schedule(r);
        break;
      }
      case "app": {
        const a = this.apps.byId(id);
        if (rec.yaml) this.apps.replace(a, rec.yaml);
        break;
      }
      default: {
        const def = this.defs[menu];
        if (!def) throw bad(`no such command or directory (${menu})`);
        const r = this.list(menu).find((x) => x[".id"] === id);
        if (!r) throw new SimError(404);
        const next: Rec = { ...r, ...rec };
        def.validate?.(next, this, r);
        this.checkUnique(menu, def, next, id);
        Object.assign(r, next);
      }
    }
    this.mutations++;
  }

  async removeItem(menu: string, id: string): Promise<void> {
    this.requireMenu(menu);
    switch (menu) {
      case "container":
        this.containers.remove(this.containers.byId(id));
        break;
      case "file": {
        const f = this.files.byId(id);
        if (!f) throw new SimError(404);
        this.files.remove(f);
        break;
      }
      case "system/script/job":
        throw bad("failure: stopping scripts is not simulated");
      case "app":
        this.apps.remove(this.apps.byId(id));
        break;
      default: {
        if (!this.defs[menu] && menu !== "system/script" && menu !== "system/scheduler") throw bad(`no such command or directory (${menu})`);
        const t = this.list(menu);
        const i = t.findIndex((x) => x[".id"] === id);
        if (i < 0) throw new SimError(404);
        if (menu === "system/scheduler") this.scripts.unschedule(id);
        t.splice(i, 1);
      }
    }
    this.mutations++;
  }

  /** A menu's own command (start, stop, run, fetch, ...). `wait`: a script waits for what it starts. */
  async command(menu: string, verb: string, body: Record<string, unknown>, opts: { wait?: boolean } = {}): Promise<unknown> {
    this.requireMenu(menu);
    const path = `${menu}/${verb}`;
    const s = (k: string) => (body[k] === undefined ? undefined : String(body[k]));
    switch (path) {
      case "container/start":
      case "container/stop": {
        const c = this.containers.byId(s(".id") ?? s("numbers"));
        if (verb === "start") this.containers.start(c);
        else this.containers.stop(c);
        this.mutations++;
        return [];
      }
      case "console/inspect":
        return this.inspect(body);
      case "system/device-mode/update":
        throw bad("failure: device-mode changes need physical confirmation (press the reset button or cold-reboot)");
      case "tool/fetch": {
        this.checkFields("tool/fetch", body);
        const r = await this.files.fetch(Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)])));
        if (body.output !== "user") this.mutations++;
        return [r];
      }
      case "system/script/run": {
        const run = this.scripts.runNamed(s(".id") ?? s("number") ?? "");
        this.mutations++;
        if (opts.wait) {
          const r = await run.done;
          if (r.error) throw bad(r.error);
        } else run.done.catch(() => undefined);
        return [];
      }
    }
    if (verb === "set" && this.isSingleRow(menu)) {
      await this.setSingle(menu, body);
      return [];
    }
    throw bad(`no such command or directory (${verb})`);
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

  /**
   * /console/inspect: request=child lists a path's children from the tree;
   * request=completion of `<menu>,get,value-name` lists what the release
   * reports, of an enum argument its values (rows as tikoci/restraml's
   * deep-inspect reads them: completion, show, style, preference, text).
   */
  private inspect(body: Record<string, unknown>): unknown {
    if (this.opts.noInspect) throw new SimError(403, "not enough permissions (api)");
    const request = String(body.request ?? "");
    const segs = String(body.path ?? "").split(",").filter(Boolean);
    if (this.opts.containerPackage === false && (segs[0] === "container" || segs[0] === "app")) return [];
    if (request === "completion") {
      const row = (c: string) => ({ completion: c, show: "true", style: "none", preference: "96", text: "" });
      const arg = segs[segs.length - 1] ?? "";
      const cmd = segs.slice(0, -1).join("/");
      if (!treeNode(this.tree, cmd)) return [];
      if (segs[segs.length - 2] === "get" && arg === "value-name") {
        const menu = segs.slice(0, -2).join("/");
        const r = this.readable(menu);
        return r ? [...r.props].sort().map(row) : [];
      }
      const menu = segs.slice(0, -2).join("/");
      if (kindOf(arg, menu) === "enum") return (enumValues(this.parsedVersion, menu, arg)?.values ?? []).map(row);
      return [];
    }
    if (request !== "child") throw bad(`unsupported request ${request}`);
    const node = segs.length ? treeNode(this.tree, segs.join("/")) : this.tree;
    if (!node) return [];
    const rows: Rec[] = [{ name: segs[segs.length - 1] ?? "", "node-type": node._type ?? "dir", type: "self" }];
    for (const k of childNames(node)) rows.push({ name: k, "node-type": String((node[k] as TreeNode)._type ?? "arg"), type: "child" });
    return rows;
  }

  // ---- REST ------------------------------------------------------------------

  /** Whether a REST request reaches the router now (see link). */
  linkUp(): boolean {
    if (this.link.cutAfter !== undefined && this.requests.length >= this.link.cutAfter) return false;
    if (this.link.through !== undefined) return this.containers.all.some((c) => c.rec.name === this.link.through && c.state === "running");
    return true;
  }

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

  private async route(method: string, segs: string[], body: Record<string, unknown>, query: URLSearchParams): Promise<unknown> {
    const last = segs[segs.length - 1] ?? "";
    const id = last.startsWith("*") ? last : undefined;
    const menu = (id ? segs.slice(0, -1) : segs).join("/");
    if (method === "POST") {
      const verb = segs[segs.length - 1] ?? "";
      const m = segs.slice(0, -1).join("/");
      if (m === "system/script" && verb === "run") return this.command(m, verb, body);
      return this.command(m, verb, body);
    }
    if (method === "GET" && !id && this.isSingleRow(menu)) return this.singleView(menu, "rest");
    if (menu === "log" && method === "GET") return this.logs.map((l) => ({ ".id": l.id, time: l.time, topics: l.topics, message: l.message }));
    switch (method) {
      case "GET": {
        const all = this.items(menu);
        if (id) {
          const r = all.find((x) => x.id === id);
          if (!r) throw new SimError(404);
          return r.rest;
        }
        return filter(all.map((x) => x.rest), query);
      }
      case "PUT": {
        if (id) throw bad("no such command");
        if (menu === "file") throw bad("files can only be listed and removed here; upload with /tool/fetch");
        const newId = await this.addItem(menu, body);
        return this.itemView(menu, newId, "rest");
      }
      case "PATCH": {
        if (!id) throw bad("no such command");
        if (menu === "file") throw bad("files can only be listed and removed here; upload with /tool/fetch");
        if (menu === "container" || this.defs[menu] || ["system/script", "system/scheduler", "app"].includes(menu)) {
          if (!this.items(menu).some((x) => x.id === id)) throw menu === "container" ? bad(`no such item (${id})`) : new SimError(404);
        }
        await this.setItem(menu, id, body);
        return this.itemView(menu, id, "rest");
      }
      case "DELETE": {
        if (!id) throw bad("no such command");
        await this.removeItem(menu, id);
        return undefined;
      }
    }
    throw bad(`unsupported method ${method}`);
  }
}

function filter(list: Rec[], query: URLSearchParams): Rec[] {
  const conds = [...query.entries()].filter(([k]) => !k.startsWith("."));
  return conds.length ? list.filter((r) => conds.every(([k, v]) => r[k] === v)) : list;
}

/** The tree a simulated version uses: its release's, or for a version past every release the newest nightly at or below it. */
function simulatorTree(v: RouterOsVersion): string {
  const choice = chooseTree(v);
  if (!choice.newer) return choice.name;
  const nightly = knownNightlies()
    .filter((n) => compareVersions(parseTreeFileName(n)!.version, v) <= 0 || parseTreeFileName(n)!.version.minor === v.minor)
    .pop();
  return nightly ?? choice.name;
}

export type { ScriptRun };
