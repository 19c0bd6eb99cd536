import { parseScript, type Cmd, type Cond, type Expr, type Stmt } from "../../src/routeros/simulator/script/parse.js";
import { VirtualClock } from "../../src/routeros/simulator/clock.js";
import { RouterSimulator, type SimulatorOptions } from "../../src/routeros/simulator/router.js";
import type { RunResult } from "../../src/routeros/simulator/script/run.js";

/*
 * Generated scripts run for real: a simulated router on a virtual clock (a
 * script's :delay costs no time), and what a script reads, found by parsing
 * it, to hold against what the release reports.
 */

export interface ScriptBed {
  sim: RouterSimulator;
  clock: VirtualClock;
  /** Runs a .rsc as /import does; fails the test on a script error unless allowed. */
  importScript(text: string): Promise<RunResult>;
  /** Runs text as a /system/script would (one scope). */
  runScript(text: string): Promise<RunResult>;
  close(): void;
}

export function scriptBed(opts: SimulatorOptions): ScriptBed {
  const clock = new VirtualClock();
  const sim = new RouterSimulator({ extractMs: 3000, startMs: 2000, stopMs: 1000, ...opts, clock });
  return {
    sim,
    clock,
    importScript: (text) => sim.scripts.run(text, "", "import").done,
    runScript: (text) => sim.scripts.run(text, "").done,
    close: () => sim.close(),
  };
}

export interface ScriptRead {
  menu: string;
  prop: string;
  line: number;
  how: "get" | "where";
}

/** Every property a script reads from a menu: the value names of `get` and the properties of `where` conditions, nested scripts included. */
export function scriptReads(text: string): ScriptRead[] {
  const out: ScriptRead[] = [];
  const conds = (menu: string, c: Cond, line: number): void => {
    switch (c.k) {
      case "and":
      case "or":
        conds(menu, c.a, line);
        conds(menu, c.b, line);
        return;
      case "not":
        conds(menu, c.a, line);
        return;
      default:
        out.push({ menu, prop: c.prop, line, how: "where" });
    }
  };
  const expr = (e: Expr) => {
    if (e.k === "sub") cmd(e.cmd);
    else if (e.k === "code") stmts(e.body);
    else if (e.k === "bin") {
      expr(e.a);
      expr(e.b);
    } else if (e.k === "not" || e.k === "neg") expr(e.a);
    else if (e.k === "str") for (const p of e.parts) if (typeof p !== "string") expr(p);
  };
  const literal = (e: Expr | undefined): string | undefined =>
    !e ? undefined : e.k === "word" ? e.text : e.k === "str" && e.parts.every((p) => typeof p === "string") ? e.parts.join("") : undefined;
  const cmd = (c: Cmd) => {
    if (c.head.kind === "menu") {
      if (c.where) conds(c.head.menu, c.where, c.line);
      if (c.head.verb === "get") {
        const unnamed = c.args.filter((a) => a.name === undefined).map((a) => a.value);
        const single = ["system/resource", "system/device-mode", "container/config", "ip/dns", "app/settings"].includes(c.head.menu);
        const prop = literal(single ? unnamed[0] : unnamed[1]) ?? literal(c.args.find((a) => a.name === "value-name")?.value);
        if (prop) out.push({ menu: c.head.menu, prop, line: c.line, how: "get" });
      }
    }
    for (const a of c.args) {
      expr(a.value);
      // Script sources handed to /system/script are scripts too.
      if (a.name === "source" || a.name === "on-event") {
        const src = literal(a.value);
        if (src) for (const r of scriptReads(src)) out.push(r);
      }
    }
  };
  const stmts = (body: Stmt[]) => {
    for (const s of body) {
      if (s.k === "block") stmts(s.body);
      else cmd(s);
    }
  };
  stmts(parseScript(text));
  return out;
}

/** Local variables holding script text (`:local src "..."`) are scripts too. */
export function embeddedSources(text: string): string[] {
  const out: string[] = [];
  const walk = (body: Stmt[]) => {
    for (const s of body) {
      if (s.k === "block") walk(s.body);
      else {
        if (s.head.kind === "builtin" && s.head.name === "local") {
          const v = s.args.filter((a) => a.name === undefined)[1]?.value;
          if (v?.k === "str" && v.parts.every((p) => typeof p === "string")) {
            const t = v.parts.join("");
            if (t.includes("\n") && /^[:/#{]/m.test(t)) out.push(t);
          }
        }
        for (const a of s.args) if (a.value.k === "code") walk(a.value.body);
      }
    }
  };
  walk(parseScript(text));
  return out;
}
