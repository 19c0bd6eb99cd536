/*
 * A parser for the part of the RouterOS scripting language this project
 * writes (and the simulator runs): statements separated by newlines or `;`,
 * `{ }` blocks, builtins (`:local`, `:if`, `:while`, `:foreach`, `:do`, ...),
 * absolute menu commands (`/container/add name=x`), `[ ]` command
 * substitution, `( )` expressions, `$variables`, strings with escapes,
 * `where` conditions and `do={ }` code blocks.
 *
 * Anything outside that subset is a ScriptSyntaxError, never skipped: a
 * generator that starts writing something new fails its tests until the
 * interpreter learns it. Written from MikroTik's scripting manual and the
 * scripts this project generates; no RouterOS parser is published that a
 * test could use instead.
 */

export type Expr =
  | { k: "str"; parts: (string | Expr)[] }
  | { k: "word"; text: string }
  | { k: "var"; name: string }
  | { k: "sub"; cmd: Cmd }
  | { k: "code"; body: Stmt[] }
  | { k: "bin"; op: string; a: Expr; b: Expr }
  | { k: "not"; a: Expr }
  | { k: "neg"; a: Expr };

export interface Arg {
  name?: string;
  value: Expr;
}

export type Cond =
  | { k: "and" | "or"; a: Cond; b: Cond }
  | { k: "not"; a: Cond }
  | { k: "cmp"; prop: string; op: string; value: Expr }
  | { k: "has"; prop: string };

export type Head = { kind: "builtin"; name: string } | { kind: "menu"; menu: string; verb: string } | { kind: "call"; name: string };

export interface Cmd {
  k: "cmd";
  head: Head;
  args: Arg[];
  where?: Cond;
  line: number;
}

export type Stmt = Cmd | { k: "block"; body: Stmt[]; line: number };

export class ScriptSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`syntax error (line ${line} column ${column}): ${message}`);
  }
}

/** Builtins the interpreter knows; any other `:name` is a syntax error. */
export const BUILTINS = new Set([
  "local", "global", "set", "if", "while", "for", "foreach", "do", "delay", "error", "put", "log",
  "len", "tostr", "tonum", "tobool", "typeof", "pick", "find", "return", "deserialize", "serialize", "toarray", "execute", "nothing",
]);

const WORD_CHARS = /[A-Za-z0-9_.:/@,+*%-]/;
const NAME_RE = /^[A-Za-z0-9.][A-Za-z0-9._-]*=/;

export function parseScript(src: string): Stmt[] {
  return new Parser(src).program();
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  private cur(): string {
    return this.s[this.i] ?? "";
  }

  /** Offsets where lines start: positions are found by a binary search, not a scan. */
  private lineStarts: number[] | undefined;

  private pos(): { line: number; column: number } {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let j = 0; j < this.s.length; j++) if (this.s[j] === "\n") this.lineStarts.push(j + 1);
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= this.i) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: this.i - starts[lo]! + 1 };
  }

  private fail(msg: string): never {
    const p = this.pos();
    throw new ScriptSyntaxError(msg, p.line, p.column);
  }

  /** Skips spaces, tabs and line continuations (a backslash at the end of a line). */
  private spaces(newlines = false): void {
    for (;;) {
      const c = this.cur();
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) this.i++;
      else if (c === "\\" && this.s[this.i + 1] === "\n") this.i += 2;
      else if (c === "\\" && this.s[this.i + 1] === "\r" && this.s[this.i + 2] === "\n") this.i += 3;
      else break;
    }
  }

  program(): Stmt[] {
    const body = this.statements("");
    if (this.i < this.s.length) this.fail(`unexpected '${this.cur()}'`);
    return body;
  }

  /** Statements until `end` ("}" or "" for the end of input). */
  private statements(end: string): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      this.spaces(true);
      while (this.cur() === ";") {
        this.i++;
        this.spaces(true);
      }
      if (this.i >= this.s.length) {
        if (end) this.fail(`missing '${end}'`);
        return out;
      }
      if (end && this.cur() === end) return out;
      if (this.cur() === "#") {
        // A comment runs to the end of its line.
        while (this.i < this.s.length && this.cur() !== "\n") this.i++;
        continue;
      }
      out.push(this.statement());
      this.spaces();
      const c = this.cur();
      if (c === ";" || c === "\n") this.i++;
      else if (c === "" || c === end) continue;
      else this.fail(`expected the end of the command, found '${c}'`);
    }
  }

  private statement(): Stmt {
    const line = this.pos().line;
    if (this.cur() === "{") {
      this.i++;
      const body = this.statements("}");
      this.i++;
      return { k: "block", body, line };
    }
    return this.command();
  }

  /** One command: `:builtin args`, `/menu/verb args` or `$function args`. */
  private command(): Cmd {
    const line = this.pos().line;
    let head: Head;
    if (this.cur() === ":") {
      this.i++;
      const name = this.take(/[a-z]/);
      if (!BUILTINS.has(name)) this.fail(`unknown command ':${name}'`);
      head = { kind: "builtin", name };
    } else if (this.cur() === "/") {
      const path = this.take(/[a-z0-9/-]/);
      const segs = path.split("/").filter(Boolean);
      if (segs.length < 2 || path.endsWith("/")) this.fail(`'${path}' is not a menu command (expected /menu/command)`);
      head = { kind: "menu", menu: segs.slice(0, -1).join("/"), verb: segs[segs.length - 1]! };
    } else if (this.cur() === "$") {
      const v = this.variable();
      head = { kind: "call", name: v };
    } else {
      this.fail(`expected a command (':name', '/menu/command' or '$function'), found '${this.cur()}' (relative menu commands are not supported)`);
    }
    const cmd: Cmd = { k: "cmd", head, args: [], line };
    for (;;) {
      this.spaces();
      const c = this.cur();
      if (c === "" || c === ";" || c === "\n" || c === "}" || c === "]") break;
      if (head.kind === "menu" && this.s.startsWith("where", this.i) && /[\s]/.test(this.s[this.i + 5] ?? "")) {
        if (!["find", "print", "remove"].includes(head.verb)) this.fail(`'where' after /${head.menu}/${head.verb}`);
        this.i += 5;
        cmd.where = this.condOr();
        continue;
      }
      const named = NAME_RE.exec(this.s.slice(this.i, this.i + 80));
      if (named && this.s[this.i] !== "=") {
        const name = named[0].slice(0, -1);
        this.i += named[0].length;
        cmd.args.push({ name, value: this.value() });
      } else {
        cmd.args.push({ value: this.value() });
      }
    }
    return cmd;
  }

  private take(re: RegExp): string {
    const start = this.i;
    while (this.i < this.s.length && re.test(this.cur())) this.i++;
    return this.s.slice(start, this.i);
  }

  private variable(): string {
    this.i++; // $
    if (this.cur() === '"') {
      const e = this.string();
      if (e.parts.some((p) => typeof p !== "string")) this.fail("a variable name cannot hold a variable");
      return e.parts.join("");
    }
    const name = this.take(/[A-Za-z0-9_]/);
    if (!name) this.fail("expected a variable name after '$'");
    return name;
  }

  /** An argument value: string, variable, [command], (expression), {code} or a bare word. */
  private value(): Expr {
    const c = this.cur();
    if (c === '"') return this.string();
    if (c === "$") return this.postfix({ k: "var", name: this.variable() });
    if (c === "[") return this.substitution();
    if (c === "(") return this.paren();
    if (c === "{") return this.code();
    const start = this.i;
    while (this.i < this.s.length && WORD_CHARS.test(this.cur())) this.i++;
    if (this.i === start) this.fail(`unexpected '${c}'`);
    return { k: "word", text: this.s.slice(start, this.i) };
  }

  private code(): Expr {
    this.i++; // {
    const body = this.statements("}");
    this.i++;
    return { k: "code", body };
  }

  private substitution(): Expr {
    this.i++; // [
    this.spaces(true);
    if (this.cur() === "]") this.fail("an empty [ ]");
    const cmd = this.command();
    this.spaces(true);
    if (this.cur() !== "]") this.fail(`expected ']', found '${this.cur()}'`);
    this.i++;
    return { k: "sub", cmd };
  }

  private paren(): Expr {
    this.i++; // (
    const e = this.exprOr();
    this.spaces(true);
    if (this.cur() !== ")") this.fail(`expected ')', found '${this.cur() || "the end"}'`);
    this.i++;
    return e;
  }

  private string(): Expr & { k: "str" } {
    this.i++; // "
    const parts: (string | Expr)[] = [];
    let buf = "";
    for (;;) {
      const c = this.cur();
      if (c === "") this.fail("unterminated string");
      if (c === '"') {
        this.i++;
        break;
      }
      if (c === "\\") {
        const n = this.s[this.i + 1] ?? "";
        const esc: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$", "?": "?", _: " ", a: "\x07", b: "\b", f: "\f", v: "\v" };
        if (n === "\n") {
          this.i += 2;
        } else if (n in esc) {
          buf += esc[n];
          this.i += 2;
        } else if (/[0-9A-Fa-f]/.test(n) && /[0-9A-Fa-f]/.test(this.s[this.i + 2] ?? "")) {
          buf += String.fromCharCode(parseInt(this.s.slice(this.i + 1, this.i + 3), 16));
          this.i += 3;
        } else this.fail(`unknown escape '\\${n}' in a string`);
        continue;
      }
      if (c === "$") {
        // "$name" in a string is the variable's value.
        if (buf) parts.push(buf);
        buf = "";
        if (this.s[this.i + 1] === "(") {
          this.i++;
          parts.push(this.paren());
        } else parts.push({ k: "var", name: this.variable() });
        continue;
      }
      buf += c;
      this.i++;
    }
    if (buf || parts.length === 0) parts.push(buf);
    return { k: "str", parts };
  }

  // ---- expressions ----------------------------------------------------------

  private op(ops: string[]): string | undefined {
    this.spaces(true);
    for (const o of ops) {
      if (this.s.startsWith(o, this.i)) {
        // Word operators need a boundary.
        if (/^[a-z]+$/.test(o) && /[A-Za-z0-9_-]/.test(this.s[this.i + o.length] ?? "")) continue;
        this.i += o.length;
        return o;
      }
    }
    return undefined;
  }

  private exprOr(): Expr {
    let a = this.exprAnd();
    while (this.op(["||", "or"])) a = { k: "bin", op: "||", a, b: this.exprAnd() };
    return a;
  }

  private exprAnd(): Expr {
    let a = this.exprCmp();
    while (this.op(["&&", "and"])) a = { k: "bin", op: "&&", a, b: this.exprCmp() };
    return a;
  }

  private exprCmp(): Expr {
    const a = this.exprAdd();
    const o = this.op(["!=", "<=", ">=", "=", "<", ">", "~"]);
    return o ? { k: "bin", op: o, a, b: this.exprAdd() } : a;
  }

  private exprAdd(): Expr {
    let a = this.exprMul();
    for (;;) {
      this.spaces(true);
      // "." concatenates only as an operator between spaces or operands, never inside a word.
      const o = this.op(["+", "- ", "."]);
      if (!o) return a;
      a = { k: "bin", op: o.trim(), a, b: this.exprMul() };
    }
  }

  private exprMul(): Expr {
    let a = this.unary();
    for (let o; (o = this.op(["*", "/"])); ) a = { k: "bin", op: o, a, b: this.unary() };
    return a;
  }

  private unary(): Expr {
    this.spaces(true);
    if (this.cur() === "!") {
      this.i++;
      return { k: "not", a: this.unary() };
    }
    if (this.cur() === "-" && /[$(\[]/.test(this.s[this.i + 1] ?? "")) {
      this.i++;
      return { k: "neg", a: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (!this.s.startsWith("->", this.i)) return e;
      this.i += 2;
      const key = this.primary();
      e = { k: "bin", op: "->", a: e, b: key };
    }
  }

  private primary(): Expr {
    this.spaces(true);
    const c = this.cur();
    if (c === '"') return this.string();
    if (c === "$") return { k: "var", name: this.variable() };
    if (c === "[") return this.substitution();
    if (c === "(") return this.paren();
    const w = this.take(/[A-Za-z0-9_:-]/);
    if (!w) this.fail(`expected a value, found '${c || "the end"}'`);
    // Numbers may carry a fraction or be an address: 1.5, 10.0.0.1
    let text = w;
    while (this.cur() === "." && /[0-9]/.test(this.s[this.i + 1] ?? "") && /[0-9]$/.test(text)) {
      this.i++;
      text += "." + this.take(/[0-9/]/);
    }
    return { k: "word", text };
  }

  // ---- where conditions -----------------------------------------------------

  private condOr(): Cond {
    let a = this.condAnd();
    while (this.condOp(["||", "or"])) a = { k: "or", a, b: this.condAnd() };
    return a;
  }

  private condAnd(): Cond {
    let a = this.condNot();
    for (;;) {
      if (this.condOp(["&&", "and"])) {
        a = { k: "and", a, b: this.condNot() };
        continue;
      }
      // Conditions side by side are all required.
      this.spaces();
      const c = this.cur();
      if (c === "" || c === ";" || c === "\n" || c === "]" || c === "}" || c === ")" || this.s.startsWith("||", this.i) || /^or\b/.test(this.s.slice(this.i, this.i + 3))) return a;
      a = { k: "and", a, b: this.condNot() };
    }
  }

  private condOp(ops: string[]): string | undefined {
    this.spaces();
    for (const o of ops) {
      if (this.s.startsWith(o, this.i) && (!/^[a-z]+$/.test(o) || /\s/.test(this.s[this.i + o.length] ?? ""))) {
        this.i += o.length;
        return o;
      }
    }
    return undefined;
  }

  private condNot(): Cond {
    this.spaces();
    if (this.cur() === "!") {
      this.i++;
      return { k: "not", a: this.condNot() };
    }
    if (this.cur() === "(") {
      this.i++;
      const c = this.condOr();
      this.spaces();
      if (this.cur() !== ")") this.fail("expected ')' in a where condition");
      this.i++;
      return c;
    }
    let prop: string;
    if (this.cur() === '"') {
      const e = this.string();
      prop = e.parts.join("");
    } else prop = this.take(/[A-Za-z0-9._/-]/);
    if (!prop) this.fail(`expected a property name in the where condition, found '${this.cur()}'`);
    const op = ["!=", "<=", ">=", "=", "<", ">", "~", "in"].find((o) => this.s.startsWith(o, this.i));
    if (!op) return { k: "has", prop };
    if (op === "in") this.fail("'in' conditions are not supported");
    this.i += op.length;
    return { k: "cmp", prop, op, value: this.value() };
  }
}
