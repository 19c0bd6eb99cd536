import { atLeast, type RouterOsVersion } from "../version.js";
import { chooseTree, childNames, loadTree, treeNode, type TreeNode } from "./tree.js";
import { nameIn, PROPS } from "./catalogue.js";

/*
 * What one RouterOS router (or release) offers: the arguments of each command
 * this tool writes with. It comes from the release's command tree, or from
 * the live router's own /console/inspect. Every version-dependent choice is
 * derived from it (see containerSyntax), never from a version table.
 */

/** The commands whose arguments the plan uses (REST PUT = add, PATCH = set, POST = the command). */
export const WRITTEN_COMMANDS = [
  "container/add",
  "container/set",
  "container/envs/add",
  "container/envs/set",
  "container/mounts/add",
  "container/mounts/set",
  "container/config/set",
  "disk/add",
  "disk/set",
  "interface/veth/add",
  "interface/veth/set",
  "interface/bridge/add",
  "interface/bridge/set",
  "interface/bridge/port/add",
  "interface/bridge/port/set",
  "interface/list/member/add",
  "interface/list/member/set",
  "ip/address/add",
  "ip/address/set",
  "ip/route/add",
  "ip/route/set",
  "ip/dns/static/add",
  "ip/dns/static/set",
  "system/scheduler/add",
  "system/scheduler/set",
  "system/script/add",
  "system/script/set",
  "tool/fetch",
] as const;

export type ModelSource = { kind: "tree"; name: string } | { kind: "router" };

export interface RouterOsModel {
  version: RouterOsVersion;
  source: ModelSource;
  /** One line for the user (e.g. "newer than the newest tree"), if any. */
  warning?: string;
  /** Arguments of a command ("container/add"); undefined when the command does not exist. */
  args(command: string): ReadonlySet<string> | undefined;
}

/** A model read from a release's command tree. */
export function treeModel(version: RouterOsVersion): RouterOsModel {
  const choice = chooseTree(version);
  const tree = loadTree(choice.name);
  return modelFromTree(version, tree, { kind: "tree", name: choice.name }, choice.warning);
}

export function modelFromTree(version: RouterOsVersion, tree: TreeNode, source: ModelSource, warning?: string): RouterOsModel {
  const cache = new Map<string, ReadonlySet<string> | undefined>();
  return {
    version,
    source,
    warning,
    args(command) {
      if (!cache.has(command)) {
        const node = treeNode(tree, command);
        cache.set(command, node && node._type === "cmd" ? new Set(childNames(node)) : undefined);
      }
      return cache.get(command);
    },
  };
}

/** A model from argument lists (what a router's /console/inspect said). */
export function modelFromArgs(version: RouterOsVersion, args: ReadonlyMap<string, ReadonlySet<string> | undefined>, warning?: string): RouterOsModel {
  return { version, source: { kind: "router" }, warning, args: (c) => args.get(c) };
}

export function describeSource(m: RouterOsModel): string {
  return m.source.kind === "tree" ? `RouterOS ${m.source.name}'s command tree` : `the router's own /console/inspect (RouterOS ${m.version.text})`;
}

/**
 * The container menus' shape for one model. Property names come from the
 * model; the only behaviour not visible in a tree is `entrypointRequired`
 * (users of 7.22+ report FROM-scratch images failing with "no command
 * specified" unless entrypoint= or cmd= is given).
 */
export interface Syntax {
  /** How the container is found again: by `name` (7.19+) or by its `comment` (no name before 7.19). */
  containerKey: "name" | "comment";
  /** Key of /container/envs that groups entries. */
  envsListKey: "name" | "list";
  /** Container field naming the env list(s). */
  containerEnvField: "envlist" | "envlists";
  /** Key of /container/mounts that names/groups a mount. */
  mountsListKey: "name" | "list";
  /** Container field naming the mount(s) or mount list(s). */
  containerMountsField: "mounts" | "mountlists";
  /** Per-container `tmpfs` (7.21.2+). */
  containerTmpfs: boolean;
  /** Per-container memory-high (7.20+). */
  memoryHigh: boolean;
  /** Per-container memory-max (7.23+). */
  memoryMax: boolean;
  /** The /container/config memory limit for all containers: ram-high (before 7.20) or memory-high. */
  configMemoryKey?: "ram-high" | "memory-high";
  /** Restart after a crash: restart-policy (7.23+), auto-restart-interval (7.20-7.22) or nothing. */
  restart?: "restart-policy" | "auto-restart-interval";
  restartMaxCount: boolean;
  /** healthcheck-* (7.23+: MikroTik's manual; 7.22's tree has the properties). */
  healthcheck: boolean;
  stopOnUnhealthy: boolean;
  /** How a mount says read/write: mode (7.23+) or read-only. */
  mountAccess?: "mode" | "read-only";
  /** Name the image's entrypoint explicitly. */
  entrypointRequired: boolean;
}

export class MissingPropertyError extends Error {}

function pick<T extends string>(have: ReadonlySet<string> | undefined, options: readonly T[]): T | undefined {
  return options.find((o) => have?.has(o));
}

/** `lenient` takes the newest name for what is missing instead of failing (the simulator's own bookkeeping). */
export function containerSyntax(m: RouterOsModel, lenient = false): Syntax {
  const add = m.args("container/add");
  const envs = m.args("container/envs/add");
  const mounts = m.args("container/mounts/add");
  const config = m.args("container/config/set");
  const need = <T extends string>(what: string, have: ReadonlySet<string> | undefined, options: readonly T[]): T => {
    const p = pick(have, options);
    if (!p && lenient) return options[0]!;
    if (!p) {
      throw new MissingPropertyError(
        have === undefined
          ? `${describeSource(m)} has no /${what} (is the container package installed?)`
          : `${describeSource(m)}: /${what} has none of ${options.map((o) => `'${o}'`).join(", ")}, which this tool needs`,
      );
    }
    return p;
  };
  const C = PROPS.container;
  const names = <T extends string>(x: { names: readonly string[] }) => x.names as readonly T[];
  return {
    containerKey: add?.has(C.name.name) ? "name" : "comment",
    envsListKey: need("container/envs/add", envs, names<"list" | "name">(PROPS["container/envs"].list)),
    containerEnvField: need("container/add", add, names<"envlists" | "envlist">(C.envList)),
    mountsListKey: need("container/mounts/add", mounts, names<"list" | "name">(PROPS["container/mounts"].list)),
    containerMountsField: need("container/add", add, names<"mountlists" | "mounts">(C.mountList)),
    containerTmpfs: !!nameIn(C.tmpfs, add),
    memoryHigh: !!nameIn(C.memoryHigh, add),
    memoryMax: !!nameIn(C.memoryMax, add),
    configMemoryKey: pick(config, names<"memory-high" | "ram-high">(PROPS["container/config"].memoryHigh)),
    restart: pick(add, names<"restart-policy" | "auto-restart-interval">({ names: [C.restartPolicy.name, C.autoRestartInterval.name] })),
    restartMaxCount: !!nameIn(C.restartMaxCount, add),
    // MikroTik's container manual starts health checks at 7.23; 7.22's tree already takes the
    // properties, but nothing shows 7.22 running them or reporting a verdict (its data has no completion).
    healthcheck: !!nameIn(C.healthcheckCmd, add) && atLeast(m.version, 23),
    stopOnUnhealthy: !!nameIn(C.stopOnUnhealthy, add),
    mountAccess: pick(mounts, names<"mode" | "read-only">({ names: [PROPS["container/mounts"].mode.name, PROPS["container/mounts"].readOnly.name] })),
    entrypointRequired: !!nameIn(C.entrypoint, add) && atLeast(m.version, 22),
  };
}
