import { InvalidInputError } from "../errors.js";

export interface BusyboxSelection {
  applets: { name: string; symbol: string }[];
  /** Options set directly: symbol (without CONFIG_) -> "y" | "n" | a value. */
  settings: Map<string, string>;
}

/** Options that must stay off: they break busybox once UPX-packed. */
export const FORBIDDEN_OPTIONS = ["FEATURE_SH_STANDALONE", "FEATURE_SH_NOFORK", "FEATURE_PREFER_APPLETS"] as const;

/** Parses a busybox selection in lines: `<applet> [SYMBOL]` or `CONFIG_X=value` (config/image.yaml's busybox section is checked through it). */
export function parseAppletList(text: string, source = "busybox-applets.txt"): BusyboxSelection {
  const applets: BusyboxSelection["applets"] = [];
  const settings = new Map<string, string>();
  const names = new Set<string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const where = `${source}:${i + 1}`;
    const opt = /^CONFIG_([A-Z0-9_]+)=(.*)$/.exec(line);
    if (opt) {
      settings.set(opt[1]!, opt[2]!);
      return;
    }
    const parts = line.split(/\s+/);
    if (parts.length > 2) throw new InvalidInputError(`${where}: expected '<applet> [SYMBOL]', got '${line}'`);
    const name = parts[0]!;
    if (!/^[a-z0-9_.\[\]-]+$/.test(name)) throw new InvalidInputError(`${where}: '${name}' is not an applet name`);
    if (names.has(name)) throw new InvalidInputError(`${where}: applet '${name}' listed twice`);
    const symbol = parts[1] ?? name.toUpperCase().replace(/-/g, "_");
    if (!/^[A-Z0-9_]+$/.test(symbol)) throw new InvalidInputError(`${where}: '${symbol}' is not a Kconfig symbol`);
    names.add(name);
    applets.push({ name, symbol });
  });
  for (const f of FORBIDDEN_OPTIONS) {
    const v = settings.get(f);
    if (v !== undefined && v !== "n") throw new InvalidInputError(`${source}: CONFIG_${f} must stay off (it breaks busybox under UPX)`);
  }
  if (applets.length === 0) throw new InvalidInputError(`${source}: no applets listed`);
  return { applets, settings };
}

function renderValue(sym: string, v: string): string {
  return v === "n" ? `# CONFIG_${sym} is not set` : `CONFIG_${sym}=${v}`;
}

/**
 * Sets the wanted symbols in a .config (as written by `make allnoconfig`).
 * Symbols not present yet are appended; oldconfig fills their dependants.
 */
export function applySelection(dotconfig: string, sel: BusyboxSelection, extra: Record<string, string>): string {
  const want = new Map<string, string>();
  for (const a of sel.applets) want.set(a.symbol, "y");
  for (const [k, v] of sel.settings) want.set(k, v);
  for (const [k, v] of Object.entries(extra)) want.set(k, v);
  const seen = new Set<string>();
  const lines = dotconfig.split("\n").map((line) => {
    const m = /^(?:# )?CONFIG_([A-Z0-9_]+)(?:=.*| is not set)$/.exec(line);
    if (!m || !want.has(m[1]!)) return line;
    seen.add(m[1]!);
    return renderValue(m[1]!, want.get(m[1]!)!);
  });
  for (const [k, v] of want) if (!seen.has(k)) lines.push(renderValue(k, v));
  return lines.join("\n");
}

/** Reads `CONFIG_X=...` values from a .config. */
export function readConfig(dotconfig: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of dotconfig.split("\n")) {
    const on = /^CONFIG_([A-Z0-9_]+)=(.*)$/.exec(line);
    if (on) m.set(on[1]!, on[2]!);
    const off = /^# CONFIG_([A-Z0-9_]+) is not set$/.exec(line);
    if (off) m.set(off[1]!, "n");
  }
  return m;
}

/**
 * After oldconfig, every applet we asked for must be on and the forbidden
 * options off. A symbol that Kconfig dropped means a typo or an applet this
 * BusyBox version does not have: name it rather than ship without it.
 */
export function verifyFinalConfig(dotconfig: string, sel: BusyboxSelection): void {
  const final = readConfig(dotconfig);
  const missing = sel.applets.filter((a) => final.get(a.symbol) !== "y").map((a) => `${a.name} (CONFIG_${a.symbol})`);
  if (missing.length) throw new InvalidInputError(`busybox: these applets are not available in the pinned BusyBox: ${missing.join(", ")}`);
  for (const [k, v] of sel.settings) {
    const got = final.get(k) ?? "n";
    if (got !== v) throw new InvalidInputError(`busybox: option CONFIG_${k} ended up '${got}', wanted '${v}'`);
  }
  for (const f of FORBIDDEN_OPTIONS) {
    if (final.get(f) === "y") throw new InvalidInputError(`busybox: CONFIG_${f} got switched on; it breaks busybox under UPX`);
  }
}
