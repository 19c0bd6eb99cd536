import { kindOf } from "../schema/catalogue.js";
import { treeNode } from "../schema/tree.js";
import { SimError } from "./menus.js";
import type { RouterSimulator } from "./router.js";
import type { MenuCall, ScriptHost } from "./script/run.js";
import { bool, id, idsOf, list, map, NOTHING, num, ScriptError, ScriptFatalError, str, toStr, type Value } from "./script/value.js";

/*
 * The simulated router as a script sees it: menu commands (find, get,
 * print, add, set, remove and the menus' own commands) on the same tables
 * the REST API serves. A command or argument the release's command tree
 * lacks stops the script before it runs (RouterOS refuses it as a syntax
 * error); a refused value, a missing item or a `get` of a property the
 * release does not report is a run-time error, which on-error catches.
 */

export interface ConsoleHooks {
  step?(line: number): void;
}

const FLAG_WORDS = new Set(["as-value", "detail", "without-paging", "once", "terse", "brief", "count-only"]);

/** A script value as RouterOS's menus take it: a string. */
function argString(v: Value): string {
  if (v.t === "arr") {
    const ids = idsOf(v);
    if (ids) return ids.join(",");
  }
  return toStr(v);
}

/** A stored value as `get` returns it, typed by the catalogue. */
function typed(prop: string, menu: string, v: string | boolean | undefined): Value | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "boolean") return bool(v);
  if (prop === ".id") return id(v);
  const kind = kindOf(prop, menu);
  if (kind === "bool" || kind === "flag") {
    if (v === "true" || v === "yes") return bool(true);
    if (v === "false" || v === "no") return bool(false);
  }
  if (kind === "integer" && /^\d+$/.test(v)) return num(Number(v));
  return str(v);
}

export class ConsoleHost implements ScriptHost {
  constructor(
    private readonly sim: RouterSimulator,
    private readonly hooks: ConsoleHooks = {},
  ) {}

  sleep(ms: number): Promise<void> {
    return this.sim.clock.sleep(ms);
  }

  log(topics: string, message: string): void {
    this.sim.log(topics, message);
  }

  step(line: number): void {
    this.hooks.step?.(line);
  }

  execute(source: string): Value {
    const run = this.sim.scripts.run(source, "");
    run.done.catch(() => undefined);
    return str(this.sim.scripts.jobs[this.sim.scripts.jobs.length - 1]?.rec[".id"] ?? "");
  }

  async menu(call: MenuCall): Promise<Value> {
    const { menu, verb } = call;
    const sim = this.sim;
    const node = treeNode(sim.tree, `${menu}/${verb}`);
    if (!node || node._type !== "cmd") throw new ScriptFatalError(`line ${call.line}: bad command name /${menu}/${verb} (RouterOS ${sim.version} has no such command)`);
    for (const k of call.named.keys()) {
      if (!(k in node)) throw new ScriptFatalError(`line ${call.line}: /${menu}/${verb} has no argument ${k}= on RouterOS ${sim.version}`);
    }
    try {
      return await this.dispatch(call);
    } catch (e) {
      if (e instanceof SimError) throw new ScriptError(e.detail ?? `failure (${e.status})`);
      throw e;
    }
  }

  private words(call: MenuCall): { words: Set<string>; values: Value[] } {
    const words = new Set<string>();
    const values: Value[] = [];
    for (const v of call.unnamed) {
      if (v.t === "str" && FLAG_WORDS.has(v.v)) words.add(v.v);
      else values.push(v);
    }
    return { words, values };
  }

  private body(call: MenuCall): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of call.named) out[k] = argString(v);
    return out;
  }

  /** The ids an argument names; a name works where RouterOS takes one (scripts, items with a name). */
  private targets(menu: string, v: Value | undefined, line: number): string[] {
    if (!v) throw new ScriptError("no item given");
    const ids = idsOf(v);
    if (ids) return ids;
    if (v.t === "str") {
      const hit = this.sim.items(menu).find((r) => r.script.name === v.v);
      if (hit) return [hit.id];
      throw new ScriptError(`no such item (${v.v})`);
    }
    throw new ScriptFatalError(`line ${line}: /${menu}: '${toStr(v)}' does not name an item`);
  }

  private async dispatch(call: MenuCall): Promise<Value> {
    const sim = this.sim;
    const { menu, verb } = call;
    const { words, values } = this.words(call);
    const single = sim.isSingleRow(menu);
    switch (verb) {
      case "find": {
        const rows = sim.items(menu);
        return list(rows.filter((r) => !call.where || call.where((p) => typed(p, menu, r.script[p]))).map((r) => id(r.id)));
      }
      case "print": {
        if (!words.has("as-value")) throw new ScriptFatalError(`line ${call.line}: print in a script needs as-value here`);
        const rows = single ? [{ id: "", script: sim.singleView(menu, "script") }] : sim.items(menu);
        return list(
          rows
            .filter((r) => !call.where || call.where((p) => typed(p, menu, r.script[p])))
            .map((r) => {
              const e: Record<string, Value> = {};
              for (const [k, v] of Object.entries(r.script)) e[k] = typed(k, menu, v)!;
              return map(e);
            }),
        );
      }
      case "get": {
        let view: Record<string, string | boolean>;
        let prop: Value | undefined;
        if (single) {
          view = sim.singleView(menu, "script");
          prop = values[0];
        } else {
          const ids = this.targets(menu, values[0], call.line);
          if (ids.length !== 1) throw new ScriptError(ids.length ? "invalid internal item number" : "no such item");
          view = sim.itemView(menu, ids[0]!, "script");
          prop = values[1] ?? call.named.get("value-name");
        }
        if (!prop) {
          const e: Record<string, Value> = {};
          for (const [k, v] of Object.entries(view)) if (k !== ".id") e[k] = typed(k, menu, v)!;
          return map(e);
        }
        const name = toStr(prop);
        const v = typed(name, menu, view[name]);
        if (v === undefined) {
          const readable = sim.readable(menu);
          // A property the release reports that this item simply has not set reads as nothing.
          if (readable?.props.has(name)) return NOTHING;
          throw new ScriptError(`input does not match any value of value-name (${name})`);
        }
        return v;
      }
      case "add": {
        const rec = await sim.addItem(menu, this.body(call));
        return id(rec);
      }
      case "set": {
        if (single) {
          await sim.setSingle(menu, this.body(call));
          return NOTHING;
        }
        const ids = this.targets(menu, values[0], call.line);
        for (const i of ids) await sim.setItem(menu, i, this.body(call));
        return NOTHING;
      }
      case "remove": {
        let ids: string[];
        if (call.where) {
          ids = sim.items(menu).filter((r) => call.where!((p) => typed(p, menu, r.script[p]))).map((r) => r.id);
        } else ids = this.targets(menu, values[0], call.line);
        for (const i of ids) await sim.removeItem(menu, i);
        return NOTHING;
      }
      default: {
        const args = this.body(call);
        if (values[0] && !single) {
          const ids = this.targets(menu, values[0], call.line);
          let out: unknown;
          for (const i of ids) out = await sim.command(menu, verb, { ...args, ".id": i }, { wait: true });
          return resultValue(out, words.has("as-value"));
        }
        const out = await sim.command(menu, verb, args, { wait: true });
        return resultValue(out, words.has("as-value"));
      }
    }
  }
}

function resultValue(out: unknown, asValue: boolean): Value {
  if (!asValue || out === undefined) return NOTHING;
  const row = Array.isArray(out) ? out[out.length - 1] : out;
  if (!row || typeof row !== "object") return NOTHING;
  const e: Record<string, Value> = {};
  for (const [k, v] of Object.entries(row as Record<string, unknown>)) e[k] = str(String(v));
  return map(e);
}
