import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compareVersions, parseRouterOsVersion, type RouterOsVersion } from "../version.js";
import { PROPS } from "./catalogue.js";
import { childNames, SCHEMA_DIR, treeNode, type TreeNode } from "./tree.js";

/*
 * What a RouterOS release reports back (data/routeros-schema/readable/): the
 * properties `get`, `print` and a REST GET can return per menu, and the
 * allowed values of enum arguments. They exist for a few releases only
 * (7.21.5, 7.23.3, 7.24, 7.26beta1; 7.20.8 and 7.22.3 have argument names but
 * no completion). For any other release the list is inferred from the
 * nearest release with data and the release's own command tree, and says so.
 */

export interface ArgInfo {
  enum?: string[];
  desc?: string;
  completion?: string;
}

export interface ReadableMenu {
  readable: string[] | null;
  args?: Record<string, ArgInfo>;
}

export interface ReadableFile {
  version: string;
  source: string;
  menus: Record<string, ReadableMenu>;
}

const READABLE_DIR = join(SCHEMA_DIR, "readable");
let files: Map<string, ReadableFile> | undefined;

function allFiles(): Map<string, ReadableFile> {
  if (!files) {
    files = new Map();
    const names = existsSync(READABLE_DIR) ? readdirSync(READABLE_DIR).filter((n) => n.endsWith(".json")) : [];
    for (const n of names) {
      const doc = JSON.parse(readFileSync(join(READABLE_DIR, n), "utf8")) as ReadableFile;
      files.set(doc.version, doc);
    }
  }
  return files;
}

/** Releases whose data lists what `menu` reports (not null), oldest first. */
export function releasesWithReadable(menu = "container"): string[] {
  return [...allFiles().values()]
    .filter((f) => Array.isArray(f.menus[menu]?.readable))
    .map((f) => f.version)
    .sort((a, b) => compareVersions(parseRouterOsVersion(a), parseRouterOsVersion(b)));
}

/** Every release with a readable file (with or without completion data). */
export function readableFiles(): ReadableFile[] {
  return [...allFiles().values()].sort((a, b) => compareVersions(parseRouterOsVersion(a.version), parseRouterOsVersion(b.version)));
}

export function readableFile(version: string): ReadableFile | undefined {
  return allFiles().get(version);
}

/** Whether a release's own data lists what its containers report. */
export function hasOwnReadableData(v: RouterOsVersion): boolean {
  return Array.isArray(readableFile(v.text)?.menus.container?.readable);
}

export type ReadableBasis =
  /** The release's own completion data. */
  | { kind: "data"; version: string; source: string }
  /** Inferred from another release's data and this release's command tree. */
  | { kind: "inferred"; from: string; why: string }
  /** The live router's own /console/inspect completion. */
  | { kind: "router" };

export interface Readable {
  props: ReadonlySet<string>;
  basis: ReadableBasis;
}

/** How far apart two releases are, in (minor, patch) steps: enough to pick a neighbour. */
function distance(a: RouterOsVersion, b: RouterOsVersion): number {
  return Math.abs((a.minor - b.minor) * 1000 + (a.patch - b.patch));
}

/** The release with data for `menu` nearest to `v` (the older one on a tie). */
function nearestWithData(v: RouterOsVersion, menu: string): string | undefined {
  let best: string | undefined;
  for (const r of releasesWithReadable(menu)) if (best === undefined || distance(parseRouterOsVersion(r), v) < distance(parseRouterOsVersion(best), v)) best = r;
  return best;
}

/** The arguments `add` and `set` of a menu accept in a tree, without the ones that only steer the command. */
export function writableArgs(tree: TreeNode, menu: string): Set<string> {
  const out = new Set<string>();
  for (const cmd of ["add", "set"]) for (const a of childNames(treeNode(tree, `${menu}/${cmd}`))) out.add(a);
  for (const a of ["copy-from", "place-before", "numbers", "number", ".id"]) out.delete(a);
  return out;
}

/** Every argument of every command of a menu (add, set, update, ...). */
function commandArgs(tree: TreeNode, menu: string): Set<string> {
  const out = new Set<string>();
  const node = treeNode(tree, menu);
  for (const cmd of childNames(node, "cmd")) for (const a of childNames(treeNode(tree, `${menu}/${cmd}`))) out.add(a);
  return out;
}

const C = PROPS.container;
const STATUS = C.status.name;
const FLAGS = [C.running, C.stopped, C.starting, C.stopping, C.extracting, C.extractFailed, C.deleting].map((x) => x.name);
const HEALTH_READS = [C.healthy, C.unhealthy, C.startingWithHealthcheck, C.healthcheckStatus].map((x) => x.name);

export type StateForm = "status" | "flags";

export interface StateForms {
  /** The forms this release may use: one when known, both when the evidence cannot tell. */
  forms: StateForm[];
  /** Where that comes from, for the docs and notes. */
  basis: string;
}

/**
 * How a release reports a container's state: `status` (up to 7.19) or a set
 * of flags (7.21 on, in every release with data). 7.20 is in between: a
 * public report dates the change "after 7.20", its fix says "as of 7.21".
 */
export function containerStateForms(v: RouterOsVersion): StateForms {
  const data = readableFile(v.text)?.menus.container?.readable;
  if (data) {
    if (data.includes(STATUS)) return { forms: ["status"], basis: `RouterOS ${v.text}'s own data` };
    return { forms: ["flags"], basis: `RouterOS ${v.text}'s own data` };
  }
  if (v.major === 7 && v.minor < 20) {
    return { forms: ["status"], basis: "inferred: no completion data before 7.20; prints from 7.19 and earlier show status=running/stopped" };
  }
  if (v.major === 7 && v.minor === 20) {
    return { forms: ["status", "flags"], basis: "unknown: no completion data for 7.20; users report status gone 'after 7.20', a fix says 'as of 7.21'" };
  }
  return { forms: ["flags"], basis: `inferred: every release with data from 7.21.5 on (${releasesWithReadable().join(", ")}) reports flags and no status` };
}

/**
 * What `get`/`print`/REST GET of `menu` report on release `v`, whose
 * command tree is `tree`. `form` picks the state form where the release's
 * evidence allows both (7.20); by default its first.
 */
export function readableFor(v: RouterOsVersion, menu: string, tree: TreeNode, form?: StateForm): Readable | undefined {
  const own = readableFile(v.text);
  const list = own?.menus[menu]?.readable;
  if (list) return { props: new Set(list), basis: { kind: "data", version: own!.version, source: own!.source } };
  const near = nearestWithData(v, menu);
  if (!near) return undefined;
  const nearFile = readableFile(near)!;
  const nearMenu = nearFile.menus[menu]!;
  const nearArgs = new Set(Object.keys(nearMenu.args ?? {}));
  const ownArgs = commandArgs(tree, menu);
  // What the neighbour reports carries over, except arguments this release's commands lack; what it writes is reported too.
  const props = new Set<string>([...nearMenu.readable!.filter((x) => !nearArgs.has(x) || ownArgs.has(x)), ...writableArgs(tree, menu)]);
  let why = `RouterOS ${v.text} has no completion data; read-only properties from ${near}'s, writable ones from its own command tree`;
  if (menu === "container") {
    const forms = containerStateForms(v);
    const chosen = form ?? forms.forms[0]!;
    if (!forms.forms.includes(chosen)) throw new Error(`RouterOS ${v.text} reports container state as ${forms.forms.join(" or ")}, not ${chosen}`);
    props.delete(STATUS);
    for (const f of FLAGS) props.delete(f);
    if (chosen === "status") props.add(STATUS);
    else for (const f of FLAGS) props.add(f);
    // Health read-outs and the restart counter came with stop-on-unhealthy and restart-policy (7.23.3's data vs 7.21.5's).
    const add = writableArgs(tree, "container");
    if (!add.has(C.stopOnUnhealthy.name)) for (const h of HEALTH_READS) if (!add.has(h)) props.delete(h);
    if (!add.has(C.restartPolicy.name)) props.delete(C.restartCount.name);
    why += `; container state as ${chosen} (${forms.basis})`;
  }
  return { props, basis: { kind: "inferred", from: near, why } };
}

/**
 * The values an enum argument of a menu takes on release `v`: from its own
 * data, else from the nearest release whose data lists that argument's values.
 */
export function enumValues(v: RouterOsVersion, menu: string, arg: string): { values: string[]; from: string } | undefined {
  const own = readableFile(v.text)?.menus[menu]?.args?.[arg]?.enum;
  if (own) return { values: own, from: v.text };
  const best = readableFiles()
    .filter((f) => f.menus[menu]?.args?.[arg]?.enum)
    .sort((a, b) => distance(parseRouterOsVersion(a.version), v) - distance(parseRouterOsVersion(b.version), v))[0];
  return best ? { values: best.menus[menu]!.args![arg]!.enum!, from: best.version } : undefined;
}
