import { readFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { ConfigError } from "../errors.js";
import { readAnsibleIni, readAnsibleYaml } from "./ansible.js";
import { at, mergeSettings, PASSWORD_KEYS, refusePassword, SETTING_KEYS, type Entry, type Origin, type RouterSettings, type SettingKey } from "./settings.js";
import { isPlainObject, Vault, YamlSource, type YamlPath } from "./yaml-source.js";

/*
 * An inventory: the routers of a fleet, their groups, and per router how to
 * reach it and what differs from the shared config. Three formats:
 *
 * - this tool's own YAML (a top-level `routers:` mapping), strict: every key
 *   is known, every value checked, errors name file, line and key;
 * - an Ansible YAML inventory (groups with hosts, vars and children), and
 * - an Ansible INI inventory, as they are: `ansible_host` and `ansible_user`
 *   are read, this tool's settings are `mikrotik_tailscale_<key>` variables,
 *   other variables belong to other playbooks and are left alone, and
 *   group_vars/ and host_vars/ beside the inventory are read as Ansible does.
 *
 * A password is never read from an inventory: a key that holds one in clear
 * text is refused with a line saying how to give it instead.
 */

export type InventoryFormat = "yaml" | "ansible-yaml" | "ansible-ini";

export interface InventoryRouter {
  name: string;
  /** Groups it belongs to (Ansible: with their parents), in the order they apply. */
  groups: string[];
  settings: RouterSettings;
  /** Where the router is named. */
  origin: Origin;
}

export interface Inventory {
  file: string;
  /** Directory that relative paths in the inventory are taken from. */
  baseDir: string;
  format: InventoryFormat;
  /** The shared router config the inventory names (own format: `config:`), as an absolute path. */
  config?: string;
  routers: InventoryRouter[];
  /** Every group and its routers, in inventory order. */
  groups: Map<string, string[]>;
  /** Things read but not used (vault-encrypted files and values, ...). */
  warnings: string[];
}

const TOP_KEYS = ["config", "defaults", "groups", "routers"];
const GROUP_KEYS: readonly string[] = SETTING_KEYS.filter((k) => k !== "address");
const ROUTER_KEYS: readonly string[] = [...SETTING_KEYS, "groups"];

/** Which format a file is in: by its extension, else by its first meaningful line. */
export function detectFormat(file: string, text: string): InventoryFormat {
  const ext = extname(file).toLowerCase();
  if (ext === ".ini" || ext === ".cfg") return "ansible-ini";
  if (ext !== ".yaml" && ext !== ".yml" && ext !== ".json") {
    // Ansible's `hosts` file has no extension: INI starts with a [section] or a host line, YAML with "key:".
    const first = text.split("\n").map((l) => l.trim()).find((l) => l && !l.startsWith("#") && !l.startsWith(";") && l !== "---");
    if (first === undefined || /^\[[^\]]+\]$/.test(first) || !/^[^\s]+:(\s|$)/.test(first)) return "ansible-ini";
  }
  return /^routers\s*:/m.test(text) ? "yaml" : "ansible-yaml";
}

export function loadInventory(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read inventory ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseInventory(text, path);
}

export function parseInventory(text: string, file: string): Inventory {
  const baseDir = dirname(resolve(file));
  const format = detectFormat(file, text);
  const inv =
    format === "ansible-ini"
      ? readAnsibleIni(text, file, baseDir)
      : format === "ansible-yaml"
        ? readAnsibleYaml(new YamlSource(file, text), baseDir)
        : readOwnYaml(new YamlSource(file, text), baseDir);
  if (inv.routers.length === 0) throw new ConfigError(`${file}: no routers in the inventory`);
  return inv;
}

/** The entries of one settings mapping of the own format, checked for unknown and password keys. */
function entriesOf(src: YamlSource, path: YamlPath, obj: Record<string, unknown>, allowed: readonly string[], owner: string): Entry[] {
  const out: Entry[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const origin = { file: src.file, line: src.keyLine(path, k) };
    if (PASSWORD_KEYS.has(k)) refusePassword(origin, owner, k);
    if (!allowed.includes(k)) {
      const hint = k === "address" ? " (an address belongs to one router)" : "";
      throw new ConfigError(`${at(origin)}: ${owner}: unknown key '${k}'${hint} (expected one of: ${allowed.join(", ")})`);
    }
    if (k === "groups") continue;
    if (v instanceof Vault) throw new ConfigError(`${at(origin)}: ${owner}: ${k}: an ansible-vault value cannot be read here`);
    out.push({ key: k as SettingKey, value: v, origin: { file: src.file, line: src.lineOf([...path, k]) }, typed: src.typedAt([...path, k]), owner });
  }
  return out;
}

function readOwnYaml(src: YamlSource, baseDir: string): Inventory {
  const file = src.file;
  const top = src.data;
  if (!isPlainObject(top)) throw new ConfigError(`${file}:1: expected a mapping with routers: at the top level`);
  for (const k of Object.keys(top)) {
    if (PASSWORD_KEYS.has(k)) refusePassword({ file, line: src.keyLine([], k) }, "inventory", k);
    if (!TOP_KEYS.includes(k)) throw new ConfigError(`${file}:${src.keyLine([], k)}: unknown key '${k}' (expected one of: ${TOP_KEYS.join(", ")})`);
  }
  let config: string | undefined;
  if (top.config !== undefined) {
    if (typeof top.config !== "string" || !top.config) throw new ConfigError(`${file}:${src.lineOf(["config"])}: config: expected the path of the shared router config (e.g. router.yaml)`);
    config = resolve(baseDir, top.config);
  }
  const mapping = (path: string, v: unknown): Record<string, unknown> => {
    if (v === null || v === undefined) return {};
    if (!isPlainObject(v)) throw new ConfigError(`${file}:${src.lineOf([path])}: ${path}: expected a mapping`);
    return v;
  };
  const defaults = entriesOf(src, ["defaults"], mapping("defaults", top.defaults), GROUP_KEYS, "defaults");
  mergeSettings([defaults], "defaults");
  const groupDefs = mapping("groups", top.groups);
  const groupEntries = new Map<string, Entry[]>();
  for (const [g, v] of Object.entries(groupDefs)) {
    const line = src.keyLine(["groups"], g);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(g)) throw new ConfigError(`${file}:${line}: groups: '${g}' is not a group name (letters, digits, '.', '_', '-')`);
    if (v !== null && !isPlainObject(v)) throw new ConfigError(`${file}:${line}: group ${g}: expected a mapping of settings (or nothing)`);
    groupEntries.set(g, entriesOf(src, ["groups", g], v ?? {}, GROUP_KEYS, `group ${g}`));
    // Checked on its own too: a group no router uses yet is still named in its errors.
    mergeSettings([groupEntries.get(g)!], `group ${g}`);
  }
  const routersRaw = top.routers;
  if (!isPlainObject(routersRaw)) throw new ConfigError(`${file}:${src.lineOf(["routers"])}: routers: expected a mapping of router names to their settings`);
  const routers: InventoryRouter[] = [];
  const groups = new Map<string, string[]>([...groupEntries.keys()].map((g) => [g, []]));
  for (const [name, v] of Object.entries(routersRaw)) {
    const origin = { file, line: src.keyLine(["routers"], name) };
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ConfigError(`${at(origin)}: routers: '${name}' is not a router name (letters, digits, '.', '_', '-')`);
    if (groups.has(name)) throw new ConfigError(`${at(origin)}: router ${name}: a group has the same name (--limit could not tell them apart)`);
    if (!isPlainObject(v)) throw new ConfigError(`${at(origin)}: router ${name}: expected a mapping with at least address:`);
    const owner = `router ${name}`;
    const own = entriesOf(src, ["routers", name], v, ROUTER_KEYS, owner);
    const member: string[] = [];
    if (v.groups !== undefined) {
      const list = typeof v.groups === "string" ? [v.groups] : v.groups;
      if (!Array.isArray(list) || list.some((x) => typeof x !== "string")) throw new ConfigError(`${file}:${src.lineOf(["routers", name, "groups"])}: ${owner}: groups: expected a list of group names`);
      list.forEach((g: string, i) => {
        if (!groupEntries.has(g)) throw new ConfigError(`${file}:${src.lineOf(["routers", name, "groups", typeof v.groups === "string" ? "" : i])}: ${owner}: groups: no group '${g}' under groups:`);
        if (!member.includes(g)) member.push(g);
      });
    }
    if (!own.some((e) => e.key === "address")) throw new ConfigError(`${at(origin)}: ${owner}: address: missing (the router's host name, address or https:// URL)`);
    // Later layers win: defaults, then the groups in the order the router lists them, then the router.
    const settings = mergeSettings([defaults, ...member.map((g) => groupEntries.get(g)!), own], owner);
    for (const g of member) groups.get(g)!.push(name);
    routers.push({ name, groups: member, settings, origin });
  }
  return { file, baseDir, format: "yaml", config, routers, groups, warnings: [] };
}

/**
 * The routers `limit` names (comma-separated router and group names, `all`),
 * in inventory order; every router without one.
 */
export function selectRouters(inv: Inventory, limit: string | undefined, flag = "--limit"): InventoryRouter[] {
  if (limit === undefined || limit.trim() === "") return inv.routers;
  const want = new Set<string>();
  for (const raw of limit.split(",")) {
    const n = raw.trim();
    if (!n) continue;
    if (n === "all") inv.routers.forEach((r) => want.add(r.name));
    else if (inv.groups.has(n)) inv.groups.get(n)!.forEach((r) => want.add(r));
    else if (inv.routers.some((r) => r.name === n)) want.add(n);
    else throw new UsageError(`${flag}: ${inv.file} has no router or group named '${n}'`);
  }
  const out = inv.routers.filter((r) => want.has(r.name));
  if (out.length === 0) throw new UsageError(`${flag}: '${limit}' selects no router`);
  return out;
}
