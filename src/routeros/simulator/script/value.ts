import type { Stmt } from "./parse.js";

/*
 * RouterOS script values: strings, numbers, booleans, item ids (*1A), time
 * intervals, arrays (list items and named keys in one value), code (a
 * function), nil (a missing value: an absent array key, :find without a
 * match) and nothing.
 */

export type Value =
  | { t: "str"; v: string }
  | { t: "num"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "id"; v: string }
  | { t: "time"; ms: number }
  | { t: "arr"; items: Value[]; keys: Map<string, Value> }
  | { t: "code"; body: Stmt[] }
  | { t: "nil" }
  | { t: "nothing" };

export const NIL: Value = { t: "nil" };
export const NOTHING: Value = { t: "nothing" };
export const str = (v: string): Value => ({ t: "str", v });
export const num = (v: number): Value => ({ t: "num", v });
export const bool = (v: boolean): Value => ({ t: "bool", v });
export const id = (v: string): Value => ({ t: "id", v });
export const list = (items: Value[]): Value => ({ t: "arr", items, keys: new Map() });
export const map = (entries: Record<string, Value>): Value => ({ t: "arr", items: [], keys: new Map(Object.entries(entries)) });

/** A run-time error: what `:do { } on-error={ }` catches and what stops a script on a router. */
export class ScriptError extends Error {}

/**
 * Something the interpreter does not implement, or a script that RouterOS
 * would refuse before running it: never caught by on-error, so a test fails.
 */
export class ScriptFatalError extends Error {}

const TIME_UNITS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** 1s, 500ms, 1h30m, 00:00:10 -> milliseconds; undefined if it is not a time. */
export function parseTime(text: string): number | undefined {
  const hms = /^(\d+):(\d{2}):(\d{2})$/.exec(text);
  if (hms) return (Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3])) * 1000;
  if (!/^(\d+(ms|w|d|h|m|s))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|w|d|h|m|s)/g)) ms += Number(m[1]) * TIME_UNITS[m[2]!]!;
  return ms;
}

/** A bare word as RouterOS reads it in an expression: number, time, boolean, else a string. */
export function wordValue(text: string): Value {
  if (/^-?\d+$/.test(text)) return num(Number(text));
  if (text === "true") return bool(true);
  if (text === "false") return bool(false);
  const t = parseTime(text);
  if (t !== undefined) return { t: "time", ms: t };
  return str(text);
}

function formatTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const d = Math.floor(s / 86400);
  const rest = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return d ? `${d}d${rest}` : rest;
}

export function toStr(v: Value): string {
  switch (v.t) {
    case "str":
    case "id":
      return v.v;
    case "num":
      return String(v.v);
    case "bool":
      return v.v ? "true" : "false";
    case "time":
      return formatTime(v.ms);
    case "arr":
      return [...v.items, ...sortedKeys(v).map((k) => v.keys.get(k)!)].map(toStr).join(";");
    case "code":
      return "(code)";
    case "nil":
    case "nothing":
      return "";
  }
}

export function sortedKeys(v: Value & { t: "arr" }): string[] {
  return [...v.keys.keys()].sort();
}

export function typeOf(v: Value): string {
  return v.t === "arr" ? "array" : v.t;
}

export function equal(a: Value, b: Value): boolean {
  if (a.t === "nil" || a.t === "nothing") return b.t === "nil" || b.t === "nothing";
  if (a.t !== b.t) return false;
  if (a.t === "arr" && b.t === "arr") {
    return a.items.length === b.items.length && a.items.every((x, i) => equal(x, b.items[i]!)) && toStr(a) === toStr(b);
  }
  if (a.t === "time" && b.t === "time") return a.ms === b.ms;
  return toStr(a) === toStr(b);
}

export function fromJson(j: unknown): Value {
  if (j === null || j === undefined) return NIL;
  if (typeof j === "string") return str(j);
  if (typeof j === "number") return num(j);
  if (typeof j === "boolean") return bool(j);
  if (Array.isArray(j)) return list(j.map(fromJson));
  const keys = new Map<string, Value>();
  for (const [k, v] of Object.entries(j as Record<string, unknown>)) keys.set(k, fromJson(v));
  return { t: "arr", items: [], keys };
}

export function toJson(v: Value): unknown {
  switch (v.t) {
    case "arr":
      if (v.keys.size === 0) return v.items.map(toJson);
      return Object.fromEntries(sortedKeys(v).map((k) => [k, toJson(v.keys.get(k)!)]));
    case "num":
      return v.v;
    case "bool":
      return v.v;
    case "nil":
    case "nothing":
      return null;
    default:
      return toStr(v);
  }
}

/** Item ids a command argument names: one id, an array of them (a find), or nothing. */
export function idsOf(v: Value): string[] | undefined {
  if (v.t === "id") return [v.v];
  if (v.t === "arr" && v.keys.size === 0 && v.items.every((x) => x.t === "id")) return v.items.map((x) => (x as { v: string }).v);
  if (v.t === "str" && /^\*[0-9A-F]+$/.test(v.v)) return [v.v];
  return undefined;
}
