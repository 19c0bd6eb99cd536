import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ConfigError } from "../errors.js";
import type { Inventory, InventoryFormat, InventoryRouter } from "./inventory.js";
import { at, mergeSettings, PASSWORD_KEYS, refusePassword, SETTING_KEYS, type Entry, type Origin, type SettingKey } from "./settings.js";
import { isPlainObject, Vault, YamlSource, type YamlPath } from "./yaml-source.js";

/*
 * Ansible inventories, YAML and INI, read as Ansible reads them (the parts a
 * router list needs): groups with hosts, vars and children; host patterns
 * such as gw[01:20]; group_vars/ and host_vars/ beside the inventory. Vars
 * apply from the least specific group to the most (depth, then name, as
 * Ansible orders groups of one level), then the host's own.
 *
 * The mapping: ansible_host is the router's address (else the inventory
 * name), ansible_user its user; this tool's settings are
 * mikrotik_tailscale_<key> (winning over ansible_host/ansible_user set at
 * the same place). ansible_port is SSH's port, not the REST API's, so it is
 * not read: mikrotik_tailscale_port is.
 */

export const PREFIX = "mikrotik_tailscale_";

interface RawVar {
  key: string;
  value: unknown;
  origin: Origin;
  typed?: string;
}

interface Group {
  name: string;
  vars: RawVar[];
  children: string[];
  hosts: string[];
}

interface Host {
  name: string;
  vars: RawVar[];
  origin: Origin;
}

/** Expands Ansible host patterns: gw[01:20], db-[a:f], node[0:10:2]. */
export function expandHostPattern(pattern: string, where: Origin): string[] {
  const m = /^(.*?)\[([^\]]*)\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, range, tail] = m as unknown as [string, string, string, string];
  const parts = range.split(":");
  if (parts.length < 2 || parts.length > 3) throw new ConfigError(`${at(where)}: host pattern '${pattern}': expected [start:end] or [start:end:step]`);
  const [a, b, stepText] = parts as [string, string, string | undefined];
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1) throw new ConfigError(`${at(where)}: host pattern '${pattern}': the step must be a whole number of 1 or more`);
  const out: string[] = [];
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const width = a.length > 1 && a.startsWith("0") ? a.length : 0;
    const lo = Number(a);
    const hi = Number(b);
    if (hi < lo || hi - lo > 10_000) throw new ConfigError(`${at(where)}: host pattern '${pattern}': bad range`);
    for (let i = lo; i <= hi; i += step) out.push(`${head}${String(i).padStart(width, "0")}`);
  } else if (/^[a-z]$/i.test(a) && /^[a-z]$/i.test(b) && a <= b) {
    for (let c = a.charCodeAt(0); c <= b.charCodeAt(0); c += step) out.push(`${head}${String.fromCharCode(c)}`);
  } else {
    throw new ConfigError(`${at(where)}: host pattern '${pattern}': expected a numeric ([01:20]) or alphabetic ([a:f]) range`);
  }
  return out.flatMap((p) => expandHostPattern(`${p}${tail}`, where));
}

class Builder {
  readonly groups = new Map<string, Group>();
  readonly hosts = new Map<string, Host>();
  readonly warnings: string[] = [];

  constructor(
    readonly file: string,
    readonly baseDir: string,
    readonly format: InventoryFormat,
  ) {
    this.group("all");
  }

  group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = { name, vars: [], children: [], hosts: [] }));
    return g;
  }

  host(name: string, origin: Origin, vars: RawVar[], group: string): void {
    let h = this.hosts.get(name);
    if (!h) this.hosts.set(name, (h = { name, vars: [], origin }));
    h.vars.push(...vars);
    const g = this.group(group);
    if (!g.hosts.includes(name)) g.hosts.push(name);
  }

  child(parent: string, child: string): void {
    const p = this.group(parent);
    this.group(child);
    if (!p.children.includes(child)) p.children.push(child);
  }

  /** group_vars/<name>[.yml|.yaml|.json] or group_vars/<name>/* beside the inventory. */
  private varsFiles(kind: "group_vars" | "host_vars", name: string): RawVar[] {
    const dir = join(this.baseDir, kind);
    if (!existsSync(dir)) return [];
    const files: string[] = [];
    for (const ext of ["", ".yml", ".yaml", ".json"]) {
      const p = join(dir, name + ext);
      if (existsSync(p) && statSync(p).isFile()) files.push(p);
    }
    const sub = join(dir, name);
    if (existsSync(sub) && statSync(sub).isDirectory()) {
      for (const f of readdirSync(sub).sort()) if (/\.(ya?ml|json)$/.test(f) || !f.includes(".")) files.push(join(sub, f));
    }
    const out: RawVar[] = [];
    for (const p of files) {
      const shown = relative(process.cwd(), p) || p;
      const text = readFileSync(p, "utf8");
      if (text.startsWith("$ANSIBLE_VAULT")) {
        this.warnings.push(`${shown}: encrypted with ansible-vault: not read (passwords come from the environment or a password file)`);
        continue;
      }
      const src = new YamlSource(shown, text);
      if (src.data === null || src.data === undefined) continue;
      if (!isPlainObject(src.data)) throw new ConfigError(`${shown}:1: expected a mapping of variables`);
      out.push(...varsOf(src, [], src.data));
    }
    return out;
  }

  finish(): Inventory {
    const parents = new Map<string, string[]>();
    for (const g of this.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
    // Every group but all is (also) a child of all.
    for (const g of this.groups.keys()) if (g !== "all" && !parents.has(g)) this.child("all", g), parents.set(g, ["all"]);
    const depth = new Map<string, number>();
    const depthOf = (g: string, seen: string[]): number => {
      if (g === "all") return 0;
      if (seen.includes(g)) throw new ConfigError(`${this.file}: group ${g} is its own child (${[...seen, g].join(" -> ")})`);
      if (!depth.has(g)) depth.set(g, Math.max(...(parents.get(g) ?? ["all"]).map((p) => depthOf(p, [...seen, g]))) + 1);
      return depth.get(g)!;
    };
    const ancestors = (g: string, acc: Set<string>) => {
      if (acc.has(g)) return;
      acc.add(g);
      for (const p of parents.get(g) ?? []) ancestors(p, acc);
    };
    const groupVarFiles = new Map<string, RawVar[]>();
    const routers: InventoryRouter[] = [];
    const members = new Map<string, string[]>();
    for (const h of this.hosts.values()) {
      const direct = [...this.groups.values()].filter((g) => g.hosts.includes(h.name)).map((g) => g.name);
      const all = new Set<string>();
      for (const g of direct) ancestors(g, all);
      all.add("all");
      const ordered = [...all].sort((a, b) => depthOf(a, []) - depthOf(b, []) || a.localeCompare(b));
      const owner = `router ${h.name}`;
      const layers: Entry[][] = [[{ key: "address", value: h.name, origin: h.origin }]];
      for (const g of ordered) {
        if (!groupVarFiles.has(g)) groupVarFiles.set(g, this.varsFiles("group_vars", g));
        layers.push(this.entries(this.groups.get(g)!.vars, `group ${g}`), this.entries(groupVarFiles.get(g)!, `group ${g}`));
      }
      layers.push(this.entries(h.vars, owner), this.entries(this.varsFiles("host_vars", h.name), owner));
      const groups = ordered.filter((g) => g !== "all");
      for (const g of all) members.set(g, [...(members.get(g) ?? []), h.name]);
      routers.push({ name: h.name, groups, settings: mergeSettings(layers, owner), origin: h.origin });
    }
    const groups = new Map<string, string[]>();
    for (const g of this.groups.keys()) groups.set(g, members.get(g) ?? []);
    return { file: this.file, baseDir: this.baseDir, format: this.format, routers, groups, warnings: this.warnings };
  }

  /** One place's variables as settings: ours, ansible_host and ansible_user; others left to their playbooks. */
  private entries(vars: RawVar[], owner: string): Entry[] {
    const out: Entry[] = [];
    const has = (k: string) => vars.some((v) => v.key === PREFIX + k);
    for (const v of vars) {
      if (PASSWORD_KEYS.has(v.key) || v.key === `${PREFIX}password`) {
        if (v.value instanceof Vault) {
          this.warnings.push(`${at(v.origin)}: ${owner}: ${v.key} is vault-encrypted and not read: the password comes from the environment or a password file`);
          continue;
        }
        refusePassword(v.origin, owner, v.key);
      }
      let key: string | undefined;
      if (v.key === "ansible_host" && !has("address")) key = "address";
      else if (v.key === "ansible_user" && !has("user")) key = "user";
      else if (v.key.startsWith(PREFIX)) {
        key = v.key.slice(PREFIX.length);
        if (!(SETTING_KEYS as readonly string[]).includes(key)) {
          throw new ConfigError(`${at(v.origin)}: ${owner}: unknown variable ${v.key} (this tool reads ${SETTING_KEYS.map((k) => PREFIX + k).join(", ")})`);
        }
      }
      if (key === undefined) continue;
      if (v.value instanceof Vault) throw new ConfigError(`${at(v.origin)}: ${owner}: ${v.key}: an ansible-vault value cannot be read here`);
      out.push({ key: key as SettingKey, value: v.value, origin: v.origin, typed: v.typed, owner });
    }
    return out;
  }
}

function varsOf(src: YamlSource, path: YamlPath, obj: Record<string, unknown>): RawVar[] {
  return Object.entries(obj).map(([key, value]) => ({ key, value, origin: { file: src.file, line: src.lineOf([...path, key]) }, typed: src.typedAt([...path, key]) }));
}

export function readAnsibleYaml(src: YamlSource, baseDir: string): Inventory {
  const b = new Builder(src.file, baseDir, "ansible-yaml");
  const top = src.data;
  if (!isPlainObject(top)) throw new ConfigError(`${src.file}:1: expected an Ansible inventory: a mapping of groups (all:, with hosts:, vars:, children:)`);
  const walk = (name: string, def: unknown, path: YamlPath) => {
    const line = path.length > 1 ? src.keyLine(path.slice(0, -1), name) : src.keyLine([], name);
    b.group(name);
    if (def === null || def === undefined) return;
    if (!isPlainObject(def)) throw new ConfigError(`${src.file}:${line}: group ${name}: expected a mapping with hosts:, vars: or children:`);
    for (const k of Object.keys(def)) {
      if (!["hosts", "vars", "children"].includes(k)) throw new ConfigError(`${src.file}:${src.keyLine(path, k)}: group ${name}: unknown key '${k}' (expected hosts, vars or children)`);
    }
    if (def.vars !== undefined && def.vars !== null) {
      if (!isPlainObject(def.vars)) throw new ConfigError(`${src.file}:${src.lineOf([...path, "vars"])}: group ${name}: vars: expected a mapping`);
      b.group(name).vars.push(...varsOf(src, [...path, "vars"], def.vars));
    }
    if (def.hosts !== undefined && def.hosts !== null) {
      if (!isPlainObject(def.hosts)) throw new ConfigError(`${src.file}:${src.lineOf([...path, "hosts"])}: group ${name}: hosts: expected a mapping of host names (a list is not Ansible's format)`);
      for (const [pattern, hv] of Object.entries(def.hosts)) {
        const origin = { file: src.file, line: src.keyLine([...path, "hosts"], pattern) };
        if (hv !== null && !isPlainObject(hv)) throw new ConfigError(`${at(origin)}: host ${pattern}: expected a mapping of variables (or nothing)`);
        const vars = hv ? varsOf(src, [...path, "hosts", pattern], hv) : [];
        for (const h of expandHostPattern(pattern, origin)) b.host(h, origin, vars, name);
      }
    }
    if (def.children !== undefined && def.children !== null) {
      if (!isPlainObject(def.children)) throw new ConfigError(`${src.file}:${src.lineOf([...path, "children"])}: group ${name}: children: expected a mapping of groups`);
      for (const [c, cd] of Object.entries(def.children)) {
        b.child(name, c);
        walk(c, cd, [...path, "children", c]);
      }
    }
  };
  for (const [g, def] of Object.entries(top)) walk(g, def, [g]);
  return b.finish();
}

/** Splits a line into words, honouring quotes; a # or ; after a space starts a comment. */
function words(line: string, where: Origin): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (started) out.push(cur), (cur = ""), (started = false);
      continue;
    }
    if ((ch === "#" || ch === ";") && !started) break;
    cur += ch;
    started = true;
  }
  if (quote) throw new ConfigError(`${at(where)}: unterminated ${quote} quote`);
  if (started) out.push(cur);
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t;
}

export function readAnsibleIni(text: string, file: string, baseDir: string): Inventory {
  const b = new Builder(file, baseDir, "ansible-ini");
  let section: { group: string; kind: "hosts" | "vars" | "children" } = { group: "ungrouped", kind: "hosts" };
  text.split(/\r?\n/).forEach((raw, i) => {
    const origin = { file, line: i + 1 };
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      const [name, kind, extra] = sec[1]!.split(":");
      if (!name || extra !== undefined || (kind !== undefined && kind !== "vars" && kind !== "children")) {
        throw new ConfigError(`${at(origin)}: [${sec[1]}]: expected [group], [group:vars] or [group:children]`);
      }
      section = { group: name, kind: (kind as "vars" | "children" | undefined) ?? "hosts" };
      b.group(name);
      return;
    }
    if (section.kind === "vars") {
      const eq = line.indexOf("=");
      if (eq <= 0) throw new ConfigError(`${at(origin)}: [${section.group}:vars]: expected key=value`);
      const key = line.slice(0, eq).trim();
      // In :vars every value is a string (Ansible's rule): 7.20 stays 7.20.
      b.group(section.group).vars.push({ key, value: unquote(line.slice(eq + 1)), origin });
      return;
    }
    if (section.kind === "children") {
      const w = words(line, origin);
      if (w.length !== 1) throw new ConfigError(`${at(origin)}: [${section.group}:children]: expected one group name per line`);
      b.child(section.group, w[0]!);
      return;
    }
    const [pattern, ...rest] = words(line, origin);
    if (!pattern) return;
    const vars: RawVar[] = rest.map((w) => {
      const eq = w.indexOf("=");
      if (eq <= 0) throw new ConfigError(`${at(origin)}: host ${pattern}: '${w}' is not key=value`);
      return { key: w.slice(0, eq), value: w.slice(eq + 1), origin };
    });
    // host:port names SSH's port: not the REST API's, so it is dropped.
    const name = /^[^:]+:\d+$/.test(pattern) ? pattern.slice(0, pattern.lastIndexOf(":")) : pattern;
    for (const h of expandHostPattern(name, origin)) b.host(h, origin, vars, section.group);
  });
  return b.finish();
}
