import { parseScript, type Cmd, type Cond, type Expr, type Stmt } from "./parse.js";
import {
  bool,
  equal,
  fromJson,
  idsOf,
  list,
  NIL,
  NOTHING,
  num,
  parseTime,
  ScriptError,
  ScriptFatalError,
  sortedKeys,
  str,
  toJson,
  toStr,
  typeOf,
  wordValue,
  type Value,
} from "./value.js";

/*
 * Runs parsed RouterOS scripts against a host: the simulated router, which
 * answers menu commands (/container/add, /container/get, ...), keeps time
 * and the log. The language side follows MikroTik's scripting manual:
 * - a `:local` lives in its block and the blocks inside it; a function body
 *   (`:local f do={...}`) sees only its arguments ($1, $2, named ones) and
 *   globals it declares;
 * - `/import` runs each top-level command on its own, so a top-level
 *   `:local` is gone on the next line (inferred from the console's
 *   behaviour; generated .rsc files wrap what belongs together in { });
 * - `:do { } on-error={ }` catches run-time errors (:error, a refused menu
 *   command, a get of a property the release does not have); it never
 *   catches what this interpreter does not implement (ScriptFatalError).
 */

export interface WhereTest {
  /** The item's value of a property, as `get` returns it; undefined when the menu has no such property. */
  (get: (prop: string) => Value | undefined): boolean;
}

export interface MenuCall {
  menu: string;
  verb: string;
  /** Unnamed arguments, in order (ids, value names, ...). */
  unnamed: Value[];
  /** Named arguments; a bare flag such as as-value is an unnamed word. */
  named: Map<string, Value>;
  where?: WhereTest;
  line: number;
}

export interface ScriptHost {
  menu(call: MenuCall): Promise<Value>;
  sleep(ms: number): Promise<void>;
  log(topics: string, message: string): void;
  /** `:execute`: starts a script in the background. */
  execute?(source: string): Value;
  /** Called before each command; may throw to cut the script there (a reboot, a power cut). */
  step?(line: number): void;
}

export interface RunResult {
  /** What :put printed, a line each. */
  output: string[];
  /** The error that ended the script, if one did (RouterOS prints it and stops). */
  error?: string;
  /** The value of a final :return, if any. */
  returned?: Value;
}

class ReturnSignal {
  constructor(readonly value: Value) {}
}

class Scope {
  readonly vars = new Map<string, Value>();
  readonly globalNames = new Set<string>();
  constructor(
    readonly parent: Scope | undefined,
    readonly fn: boolean,
  ) {}
}

export class Interpreter {
  readonly output: string[] = [];
  constructor(
    private readonly host: ScriptHost,
    /** :global variables, shared by every script on the router. */
    readonly globals: Map<string, Value> = new Map(),
  ) {}

  /** Runs a script as /system/script runs it: one scope for the whole text. */
  async runScript(source: string, params: Record<string, Value> = {}): Promise<RunResult> {
    const body = parseScript(source);
    const scope = new Scope(undefined, true);
    for (const [k, v] of Object.entries(params)) scope.vars.set(k, v);
    return this.top(async () => {
      try {
        await this.block(body, scope, false);
      } catch (e) {
        if (e instanceof ReturnSignal) return e.value;
        throw e;
      }
      return undefined;
    });
  }

  /** Runs a file as /import does: each top-level command on its own. */
  async runImport(source: string): Promise<RunResult> {
    const body = parseScript(source);
    return this.top(async () => {
      for (const s of body) await this.block([s], new Scope(undefined, true), false);
      return undefined;
    });
  }

  private async top(fn: () => Promise<Value | undefined>): Promise<RunResult> {
    const start = this.output.length;
    try {
      const returned = await fn();
      return { output: this.output.slice(start), ...(returned ? { returned } : {}) };
    } catch (e) {
      if (e instanceof ScriptError) return { output: this.output.slice(start), error: e.message };
      throw e;
    }
  }

  // ---- statements -------------------------------------------------------------

  private async block(body: Stmt[], parent: Scope, newScope = true): Promise<void> {
    const scope = newScope ? new Scope(parent, false) : parent;
    for (const s of body) {
      if (s.k === "block") await this.block(s.body, scope);
      else await this.command(s, scope);
    }
  }

  private lookup(name: string, scope: Scope): { scope: Scope | "global" } | undefined {
    for (let s: Scope | undefined = scope; s; s = s.fn ? undefined : s.parent) {
      if (s.vars.has(name)) return { scope: s };
      if (s.globalNames.has(name)) return { scope: "global" };
    }
    return undefined;
  }

  private read(name: string, scope: Scope, line: number): Value {
    const at = this.lookup(name, scope);
    if (!at) throw new ScriptFatalError(`line ${line}: $${name} is not declared here (RouterOS refuses the script)`);
    return at.scope === "global" ? (this.globals.get(name) ?? NOTHING) : at.scope.vars.get(name)!;
  }

  private async command(c: Cmd, scope: Scope): Promise<Value> {
    this.host.step?.(c.line);
    switch (c.head.kind) {
      case "builtin":
        return this.builtin(c.head.name, c, scope);
      case "call":
        return this.call(c, scope);
      case "menu":
        return this.menu(c, scope);
    }
  }

  private named(c: Cmd, name: string): Expr | undefined {
    return c.args.find((a) => a.name === name)?.value;
  }

  private unnamed(c: Cmd): Expr[] {
    return c.args.filter((a) => a.name === undefined).map((a) => a.value);
  }

  private only(c: Cmd, allowed: string[], maxUnnamed: number): void {
    for (const a of c.args) {
      if (a.name !== undefined && !allowed.includes(a.name)) throw new ScriptFatalError(`line ${c.line}: :${(c.head as { name: string }).name} has no argument ${a.name}=`);
    }
    if (this.unnamed(c).length > maxUnnamed) throw new ScriptFatalError(`line ${c.line}: too many arguments to :${(c.head as { name: string }).name}`);
  }

  private word(e: Expr | undefined, c: Cmd, what: string): string {
    if (!e || e.k !== "word") throw new ScriptFatalError(`line ${c.line}: expected ${what}`);
    return e.text;
  }

  private async cond(e: Expr, scope: Scope, line: number): Promise<boolean> {
    const v = await this.eval(e, scope, line);
    if (v.t !== "bool") throw new ScriptFatalError(`line ${line}: a condition must be true or false, got ${typeOf(v)} '${toStr(v)}'`);
    return v.v;
  }

  private body(e: Expr | undefined, c: Cmd, what: string): Stmt[] {
    if (!e || e.k !== "code") throw new ScriptFatalError(`line ${c.line}: expected ${what}={ ... }`);
    return e.body;
  }

  private async builtin(name: string, c: Cmd, scope: Scope): Promise<Value> {
    const L = c.line;
    const u = this.unnamed(c);
    const val = async (e: Expr | undefined) => (e ? this.eval(e, scope, L) : NOTHING);
    switch (name) {
      case "local":
      case "global": {
        this.only(c, ["do"], 2);
        const v = this.word(u[0], c, "a variable name");
        const doBody = this.named(c, "do");
        const value = doBody ? { t: "code" as const, body: this.body(doBody, c, "do") } : u[1] ? await val(u[1]) : NOTHING;
        if (name === "local") scope.vars.set(v, value);
        else {
          scope.globalNames.add(v);
          if (u[1] || doBody || !this.globals.has(v)) this.globals.set(v, value);
        }
        return NOTHING;
      }
      case "set": {
        this.only(c, [], 2);
        const v = this.word(u[0], c, "a variable name");
        const at = this.lookup(v, scope);
        if (!at) throw new ScriptFatalError(`line ${L}: :set ${v}: the variable is not declared here`);
        const value = u[1] ? await val(u[1]) : NOTHING;
        if (at.scope === "global") this.globals.set(v, value);
        else at.scope.vars.set(v, value);
        return NOTHING;
      }
      case "if": {
        this.only(c, ["do", "else"], 1);
        if (!u[0]) throw new ScriptFatalError(`line ${L}: :if needs a condition`);
        if (await this.cond(u[0], scope, L)) await this.block(this.body(this.named(c, "do"), c, "do"), scope);
        else if (this.named(c, "else")) await this.block(this.body(this.named(c, "else"), c, "else"), scope);
        return NOTHING;
      }
      case "while": {
        this.only(c, ["do"], 1);
        const b = this.body(this.named(c, "do"), c, "do");
        for (let guard = 0; await this.cond(u[0]!, scope, L); guard++) {
          if (guard > 1_000_000) throw new ScriptFatalError(`line ${L}: a :while loop ran a million times`);
          await this.block(b, scope);
        }
        return NOTHING;
      }
      case "for": {
        this.only(c, ["from", "to", "step", "do"], 1);
        const v = this.word(u[0], c, "a loop variable");
        const from = await this.number(this.named(c, "from"), scope, L);
        const to = await this.number(this.named(c, "to"), scope, L);
        const step = this.named(c, "step") ? await this.number(this.named(c, "step"), scope, L) : from <= to ? 1 : -1;
        const b = this.body(this.named(c, "do"), c, "do");
        for (let i = from; step > 0 ? i <= to : i >= to; i += step) {
          const s = new Scope(scope, false);
          s.vars.set(v, num(i));
          await this.block(b, s, false);
        }
        return NOTHING;
      }
      case "foreach": {
        this.only(c, ["in", "do"], 1);
        const names = this.word(u[0], c, "a loop variable").split(",");
        const inExpr = this.named(c, "in");
        if (!inExpr) throw new ScriptFatalError(`line ${L}: :foreach needs in=`);
        const over = await this.eval(inExpr, scope, L);
        const b = this.body(this.named(c, "do"), c, "do");
        const pairs: [Value, Value][] = [];
        if (over.t === "arr") {
          over.items.forEach((x, i) => pairs.push([num(i), x]));
          for (const k of sortedKeys(over)) pairs.push([str(k), over.keys.get(k)!]);
        } else if (over.t !== "nil" && over.t !== "nothing") pairs.push([num(0), over]);
        for (const [k, v] of pairs) {
          const s = new Scope(scope, false);
          if (names.length === 2) {
            s.vars.set(names[0]!, k);
            s.vars.set(names[1]!, v);
          } else s.vars.set(names[0]!, v);
          await this.block(b, s, false);
        }
        return NOTHING;
      }
      case "do": {
        this.only(c, ["on-error", "while"], 1);
        const b = u[0];
        if (!b || b.k !== "code") throw new ScriptFatalError(`line ${L}: :do needs a { } block`);
        const onError = this.named(c, "on-error");
        const whileCond = this.named(c, "while");
        do {
          try {
            await this.block(b.body, scope);
          } catch (e) {
            if (!(e instanceof ScriptError) || !onError) throw e;
            await this.block(this.body(onError, c, "on-error"), scope);
            break;
          }
        } while (whileCond && (await this.cond(whileCond, scope, L)));
        return NOTHING;
      }
      case "delay": {
        this.only(c, [], 1);
        const v = u[0] ? await val(u[0]) : NOTHING;
        const ms = v.t === "time" ? v.ms : v.t === "num" ? v.v * 1000 : v.t === "str" ? parseTime(v.v) : undefined;
        if (ms === undefined) throw new ScriptError(`:delay: '${toStr(v)}' is not a time`);
        await this.host.sleep(ms);
        return NOTHING;
      }
      case "error":
        this.only(c, [], 1);
        throw new ScriptError(toStr(await val(u[0])));
      case "put":
        this.only(c, [], 1);
        this.output.push(toStr(await val(u[0])));
        return NOTHING;
      case "log": {
        this.only(c, [], 2);
        const topic = this.word(u[0], c, "a log topic");
        if (!["info", "warning", "error", "debug"].includes(topic)) throw new ScriptFatalError(`line ${L}: :log ${topic}: no such topic`);
        this.host.log(`script,${topic}`, toStr(await val(u[1])));
        return NOTHING;
      }
      case "len": {
        this.only(c, [], 1);
        const v = await val(u[0]);
        return num(v.t === "arr" ? v.items.length + v.keys.size : v.t === "nil" || v.t === "nothing" ? 0 : toStr(v).length);
      }
      case "tostr":
        this.only(c, [], 1);
        return str(toStr(await val(u[0])));
      case "tonum": {
        this.only(c, [], 1);
        const v = await val(u[0]);
        if (v.t === "num") return v;
        const s = toStr(v).trim();
        return /^-?\d+$/.test(s) ? num(Number(s)) : NIL;
      }
      case "tobool": {
        this.only(c, [], 1);
        const v = await val(u[0]);
        if (v.t === "bool") return v;
        const s = toStr(v);
        return s === "true" || s === "yes" ? bool(true) : s === "false" || s === "no" ? bool(false) : NIL;
      }
      case "typeof":
        this.only(c, [], 1);
        return str(typeOf(await val(u[0])));
      case "toarray": {
        this.only(c, [], 1);
        const v = await val(u[0]);
        if (v.t === "arr") return v;
        const s = toStr(v);
        return list(s === "" ? [] : s.split(",").map(str));
      }
      case "pick": {
        this.only(c, [], 3);
        const v = await val(u[0]);
        const a = u[1] ? await this.number(u[1], scope, L) : 0;
        const b = u[2] ? await this.number(u[2], scope, L) : undefined;
        if (v.t === "arr") {
          const all = [...v.items, ...sortedKeys(v).map((k) => v.keys.get(k)!)];
          return b === undefined ? (all[a] ?? NIL) : list(all.slice(a, b));
        }
        const s = toStr(v);
        return str(b === undefined ? s.slice(a, a + 1) : s.slice(a, b));
      }
      case "find": {
        this.only(c, [], 3);
        const v = await val(u[0]);
        const needle = await val(u[1]);
        const from = u[2] ? await this.number(u[2], scope, L) + 1 : 0;
        if (v.t === "arr") {
          const i = v.items.findIndex((x, j) => j >= from && equal(x, needle));
          return i < 0 ? NIL : num(i);
        }
        const i = toStr(v).indexOf(toStr(needle), from);
        return i < 0 ? NIL : num(i);
      }
      case "return":
        this.only(c, [], 1);
        throw new ReturnSignal(await val(u[0]));
      case "deserialize": {
        this.only(c, ["from", "value", "options"], 1);
        const from = this.named(c, "from");
        if (!from || from.k !== "word" || from.text !== "json") throw new ScriptFatalError(`line ${L}: only :deserialize from=json is supported`);
        const text = toStr(await val(this.named(c, "value") ?? u[0]));
        try {
          return fromJson(JSON.parse(text));
        } catch {
          throw new ScriptError("failure: invalid JSON");
        }
      }
      case "serialize": {
        this.only(c, ["to", "value", "options"], 1);
        const to = this.named(c, "to");
        if (!to || to.k !== "word" || to.text !== "json") throw new ScriptFatalError(`line ${L}: only :serialize to=json is supported`);
        return str(JSON.stringify(toJson(await val(this.named(c, "value") ?? u[0]))));
      }
      case "execute": {
        this.only(c, ["script"], 1);
        if (!this.host.execute) throw new ScriptFatalError(`line ${L}: :execute is not available here`);
        const src = await val(this.named(c, "script") ?? u[0]);
        if (src.t === "code") throw new ScriptFatalError(`line ${L}: :execute script={...} is not supported; give the script as a string`);
        return this.host.execute(toStr(src));
      }
      case "nothing":
        return NOTHING;
    }
    throw new ScriptFatalError(`line ${L}: :${name} is not implemented`);
  }

  private async number(e: Expr | undefined, scope: Scope, line: number): Promise<number> {
    if (!e) throw new ScriptFatalError(`line ${line}: a number is missing`);
    const v = await this.eval(e, scope, line);
    if (v.t === "num") return v.v;
    if (v.t === "str" && /^-?\d+$/.test(v.v)) return Number(v.v);
    throw new ScriptError(`'${toStr(v)}' is not a number`);
  }

  private async call(c: Cmd, scope: Scope): Promise<Value> {
    const name = (c.head as { name: string }).name;
    const f = this.read(name, scope, c.line);
    if (f.t !== "code") throw new ScriptError(`$${name} is not a function (${typeOf(f)})`);
    const s = new Scope(undefined, true);
    let n = 1;
    for (const a of c.args) {
      const v = await this.eval(a.value, scope, c.line);
      s.vars.set(a.name ?? String(n++), v);
    }
    s.vars.set("0", str(name));
    try {
      await this.block(f.body, s, false);
    } catch (e) {
      if (e instanceof ReturnSignal) return e.value;
      throw e;
    }
    return NOTHING;
  }

  private async menu(c: Cmd, scope: Scope): Promise<Value> {
    const head = c.head as { menu: string; verb: string };
    const unnamed: Value[] = [];
    const named = new Map<string, Value>();
    for (const a of c.args) {
      // A bare word is passed as written: the command decides what it means.
      const v = a.value.k === "word" ? str(a.value.text) : await this.eval(a.value, scope, c.line);
      if (a.name === undefined) unnamed.push(v);
      else named.set(a.name, v);
    }
    let where: WhereTest | undefined;
    if (c.where) {
      const compiled = await this.compileWhere(c.where, scope, c.line);
      where = (get) => compiled(get);
    }
    return this.host.menu({ menu: head.menu, verb: head.verb, unnamed, named, where, line: c.line });
  }

  /** Evaluates a condition's values once; the test then runs per item. */
  private async compileWhere(w: Cond, scope: Scope, line: number): Promise<WhereTest> {
    switch (w.k) {
      case "and":
      case "or": {
        const a = await this.compileWhere(w.a, scope, line);
        const b = await this.compileWhere(w.b, scope, line);
        return w.k === "and" ? (g) => a(g) && b(g) : (g) => a(g) || b(g);
      }
      case "not": {
        const a = await this.compileWhere(w.a, scope, line);
        return (g) => !a(g);
      }
      case "has":
        return (g) => {
          const v = prop(g, w.prop);
          return v.t === "bool" ? v.v : v.t !== "nil" && v.t !== "nothing" && toStr(v) !== "";
        };
      case "cmp": {
        const want = w.value.k === "word" ? str(w.value.text) : await this.eval(w.value, scope, line);
        const op = w.op;
        return (g) => {
          const have = prop(g, w.prop);
          if (op === "~") return new RegExp(toStr(want)).test(toStr(have));
          const same = looseEqual(have, want);
          if (op === "=") return same;
          if (op === "!=") return !same;
          const [x, y] = [Number(toStr(have)), Number(toStr(want))];
          return op === "<" ? x < y : op === ">" ? x > y : op === "<=" ? x <= y : x >= y;
        };
      }
    }
  }

  // ---- expressions ------------------------------------------------------------

  async eval(e: Expr, scope: Scope, line: number): Promise<Value> {
    switch (e.k) {
      case "word":
        return wordValue(e.text);
      case "str": {
        let out = "";
        for (const p of e.parts) out += typeof p === "string" ? p : toStr(await this.eval(p, scope, line));
        return str(out);
      }
      case "var":
        return this.read(e.name, scope, line);
      case "sub":
        return this.command(e.cmd, scope);
      case "code":
        return { t: "code", body: e.body };
      case "not": {
        const v = await this.eval(e.a, scope, line);
        if (v.t !== "bool") throw new ScriptFatalError(`line ${line}: ! needs true or false, got ${typeOf(v)}`);
        return bool(!v.v);
      }
      case "neg": {
        const v = await this.eval(e.a, scope, line);
        if (v.t !== "num") throw new ScriptFatalError(`line ${line}: - needs a number`);
        return num(-v.v);
      }
      case "bin":
        return this.binary(e.op, e.a, e.b, scope, line);
    }
  }

  private async binary(op: string, ae: Expr, be: Expr, scope: Scope, line: number): Promise<Value> {
    if (op === "&&" || op === "||") {
      const a = await this.cond(ae, scope, line);
      if (op === "&&" && !a) return bool(false);
      if (op === "||" && a) return bool(true);
      return bool(await this.cond(be, scope, line));
    }
    const a = await this.eval(ae, scope, line);
    if (op === "->") {
      const k = be.k === "word" ? wordValue(be.text) : await this.eval(be, scope, line);
      if (a.t !== "arr") return NIL;
      if (k.t === "num") return a.items[k.v] ?? NIL;
      return a.keys.get(toStr(k)) ?? NIL;
    }
    const b = await this.eval(be, scope, line);
    switch (op) {
      case ".":
        if (a.t === "arr" || b.t === "arr") throw new ScriptFatalError(`line ${line}: '.' with an array repeats the string per element; convert with :tostr first`);
        return str(toStr(a) + toStr(b));
      case "+":
      case "-":
      case "*":
      case "/": {
        if (a.t === "time" && b.t === "time" && (op === "+" || op === "-")) return { t: "time", ms: op === "+" ? a.ms + b.ms : a.ms - b.ms };
        if (a.t !== "num" || b.t !== "num") throw new ScriptFatalError(`line ${line}: ${op} needs numbers, got ${typeOf(a)} and ${typeOf(b)}`);
        if (op === "/" && b.v === 0) throw new ScriptError("division by zero");
        return num(op === "+" ? a.v + b.v : op === "-" ? a.v - b.v : op === "*" ? a.v * b.v : Math.trunc(a.v / b.v));
      }
      case "=":
        return bool(equal(a, b));
      case "!=":
        return bool(!equal(a, b));
      case "<":
      case ">":
      case "<=":
      case ">=": {
        const x = a.t === "time" ? a.ms : a.t === "num" ? a.v : undefined;
        const y = b.t === "time" ? b.ms : b.t === "num" ? b.v : undefined;
        if (x === undefined || y === undefined) throw new ScriptFatalError(`line ${line}: ${op} compares numbers or times, got ${typeOf(a)} and ${typeOf(b)}`);
        return bool(op === "<" ? x < y : op === ">" ? x > y : op === "<=" ? x <= y : x >= y);
      }
      case "~":
        return bool(new RegExp(toStr(b)).test(toStr(a)));
    }
    throw new ScriptFatalError(`line ${line}: operator ${op} is not implemented`);
  }
}

function prop(get: (p: string) => Value | undefined, name: string): Value {
  const v = get(name);
  if (v === undefined) throw new ScriptError(`no such property: ${name}`);
  return v;
}

/** where name=x compares what the item holds with what was written: yes/true and numbers in either form. */
function looseEqual(have: Value, want: Value): boolean {
  if (have.t === "bool") {
    const w = toStr(want);
    return have.v ? w === "true" || w === "yes" : w === "false" || w === "no";
  }
  const ids = idsOf(want);
  if (have.t === "id" && ids) return ids.length === 1 && ids[0] === have.v;
  return toStr(have) === toStr(want);
}

/** Runs a script with a fresh interpreter: convenience for tests. */
export async function runScript(host: ScriptHost, source: string, mode: "import" | "script" = "script"): Promise<RunResult> {
  const it = new Interpreter(host);
  return mode === "import" ? it.runImport(source) : it.runScript(source);
}

export { ScriptError, ScriptFatalError, NOTHING, NIL };
