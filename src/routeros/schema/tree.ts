import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../paths.js";
import { compareVersionText, compareVersions, parseTreeFileName, releaseOf, type RouterOsVersion } from "../version.js";

/*
 * RouterOS's own command trees (data/routeros-schema/, dumped from real
 * routers by /console/inspect), and the choice of tree for a version. A tree
 * node is `{"_type": "dir"|"path"|"cmd"|"arg", ...children}`.
 */

export interface TreeNode {
  _type?: string;
  desc?: string;
  [child: string]: TreeNode | string | undefined;
}

export const SCHEMA_DIR = join(projectRoot, "data", "routeros-schema");

interface SchemaIndex {
  stable: Record<string, string>;
  nightly: Record<string, string>;
}

let indexCache: SchemaIndex | undefined;
const treeCache = new Map<string, TreeNode>();

function schemaIndex(): SchemaIndex {
  if (!indexCache) indexCache = JSON.parse(readFileSync(join(SCHEMA_DIR, "index.json"), "utf8")) as SchemaIndex;
  return indexCache;
}

/** Every stable release with a tree, oldest first. */
export function knownReleases(): string[] {
  return Object.keys(schemaIndex().stable).sort(compareVersionText);
}

/** Nightly builds with a tree (for tests of routers newer than any release). */
export function knownNightlies(): string[] {
  return Object.keys(schemaIndex().nightly).sort(compareVersionText);
}

/** Loads the tree of a release (or nightly) by its name in index.json. */
export function loadTree(name: string): TreeNode {
  const idx = schemaIndex();
  const file = idx.stable[name] ?? idx.nightly[name];
  if (!file) throw new Error(`no RouterOS command tree for '${name}' in data/routeros-schema`);
  let t = treeCache.get(file);
  if (!t) {
    t = JSON.parse(readFileSync(join(SCHEMA_DIR, "trees", file), "utf8")) as TreeNode;
    treeCache.set(file, t);
  }
  return t;
}

export interface TreeChoice {
  /** Name of the tree in index.json. */
  name: string;
  /** One line for the user when the tree is not exactly this version's; undefined when it is. */
  warning?: string;
  /** The version is newer than every tree. */
  newer: boolean;
}

/**
 * Chooses the tree for a version: its own, else the newest older point
 * release of the same line (7.19.5 -> 7.19.4), a beta/rc its release's
 * (7.23rc2 -> 7.23), anything newer than every tree the newest one.
 */
export function chooseTree(v: RouterOsVersion): TreeChoice {
  const releases = knownReleases();
  const parsed = releases.map((name) => ({ name, v: parseTreeFileName(name)!.version }));
  const newest = parsed[parsed.length - 1]!;
  const target = v.pre ? releaseOf(v) : v;
  const exact = parsed.find((p) => compareVersions(p.v, target) === 0);
  if (exact && !v.pre) return { name: exact.name, newer: false };
  if (exact && v.pre) {
    return { name: exact.name, newer: false, warning: `RouterOS ${v.text} is a pre-release: using the command tree of ${exact.name}` };
  }
  if (compareVersions(target, newest.v) > 0) {
    return {
      name: newest.name,
      newer: true,
      warning: `RouterOS ${v.text} is newer than the newest release this tool has a command tree for (${newest.name}): using ${newest.name}'s`,
    };
  }
  const older = parsed.filter((p) => compareVersions(p.v, target) < 0);
  const pick = older[older.length - 1]!;
  const sameLine = pick.v.major === target.major && pick.v.minor === target.minor;
  return sameLine
    ? { name: pick.name, newer: false }
    : { name: pick.name, newer: false, warning: `no command tree for RouterOS ${v.text}: using the one of ${pick.name}` };
}

/** Walks a slash path ("container/envs/add", "ip/dns/static/add") through a tree. */
export function treeNode(tree: TreeNode, path: string): TreeNode | undefined {
  const segs = path.split("/").filter(Boolean);
  // Top-level keys may join segments ("interface/veth"): take the longest that exists.
  for (let n = segs.length; n >= 1; n--) {
    const head = tree[segs.slice(0, n).join("/")];
    if (head && typeof head === "object") {
      let node: TreeNode | undefined = head;
      for (const s of segs.slice(n)) {
        const next: TreeNode | string | undefined = node[s];
        if (!next || typeof next !== "object") return undefined;
        node = next;
      }
      return node;
    }
  }
  return undefined;
}

/** The children of a node (arguments of a command, entries of a menu), without the `_` keys. */
export function childNames(node: TreeNode | undefined, type?: string): string[] {
  if (!node) return [];
  return Object.entries(node)
    .filter(([k, v]) => !k.startsWith("_") && typeof v === "object" && (type === undefined || v._type === type))
    .map(([k]) => k);
}
