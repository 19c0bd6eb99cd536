import { parseInterval, parseSize } from "./config.js";
import type { Fields, ItemStep, PruneStep, SettingsStep, Step } from "./plan.js";
import type { RestClient, RosRecord } from "./rest.js";

/*
 * Brings list and single-row menus to the plan: creates what is missing,
 * changes only fields that differ, removes owned objects no longer wanted.
 * Values are compared after normalizing the ways RouterOS may print them
 * (yes/true, 96M/100663296, leading slashes on paths).
 */

export interface Change {
  action: "create" | "update" | "remove" | "set" | "container";
  what: string;
  detail?: string;
}

export interface ReconcileContext {
  client: RestClient;
  dryRun: boolean;
  /** Overwrite secret values (the auth key) that already exist. */
  updateSecrets: boolean;
  changes: Change[];
  notes: string[];
  /** Called for each change as it happens. */
  onChange?: (c: Change) => void;
}

const SIZE_FIELDS = new Set(["memory-high", "memory-max", "tmpfs-max-size", "ram-high", "shm-size", "swap-max"]);
const TIME_FIELDS = new Set(["auto-restart-interval", "restart-interval", "healthcheck-interval", "healthcheck-timeout", "healthcheck-start-period", "stop-time"]);
const PATH_FIELDS = new Set(["root-dir", "src", "tmpdir", "file", "layer-dir"]);

export function normalizeValue(field: string, v: string | undefined): string {
  if (v === undefined) return "";
  let s = String(v).trim();
  if (s === "yes" || s === "true") return "true";
  if (s === "no" || s === "false") return "false";
  if (SIZE_FIELDS.has(field)) {
    if (s === "" || s === "0" || s === "unlimited") return "unlimited";
    const n = parseSize(s);
    return n === null ? s : String(n);
  }
  if (TIME_FIELDS.has(field)) {
    // RouterOS may print 10s as 00:00:10.
    const n = parseInterval(s);
    return n === null ? s : String(n);
  }
  if (PATH_FIELDS.has(field)) s = s.replace(/^\/+/, "").replace(/\/+$/, "");
  if (field === "dns" || field === "tmpfs") s = s.split(",").map((x) => x.trim()).join(",");
  return s;
}

export function sameValue(field: string, a: string | undefined, b: string | undefined): boolean {
  return normalizeValue(field, a) === normalizeValue(field, b);
}

export function matches(r: RosRecord, f: Fields): boolean {
  return Object.entries(f).every(([k, v]) => sameValue(k, v, r[k]));
}

function describe(f: Fields, secret: Set<string> = new Set()): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${secret.has(k) ? "********" : v}`)
    .join(" ");
}

function record(ctx: ReconcileContext, c: Change): void {
  ctx.changes.push(c);
  ctx.onChange?.(c);
}

/** Which fields of `want` differ on `have`. */
export function differingFields(want: Fields, have: RosRecord, skip: Set<string> = new Set()): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(want)) {
    if (skip.has(k) || v === undefined) continue;
    if (!sameValue(k, v, have[k])) out[k] = v;
  }
  return out;
}

async function applyItem(ctx: ReconcileContext, s: ItemStep): Promise<void> {
  const items = await ctx.client.getList(s.menu);
  const found = items.filter((r) => matches(r, s.match));
  const secret = new Set(s.secret ?? []);
  if (found.length === 0) {
    const body: Fields = { ...s.match };
    for (const [k, v] of Object.entries(s.set)) {
      if (v === undefined) continue;
      body[k] = v;
    }
    const missingSecret = [...secret].some((k) => s.set[k] === undefined);
    if (missingSecret) {
      ctx.notes.push(`${s.what}: no value available, left unset`);
      return;
    }
    if (!ctx.dryRun) await ctx.client.put(s.menu, body);
    record(ctx, { action: "create", what: s.what, detail: describe(body, secret) });
    return;
  }
  if (found.length > 1) ctx.notes.push(`${s.what}: ${found.length} matching objects on the router; only ${found[0]![".id"]} is managed`);
  const have = found[0]!;
  const skip = ctx.updateSecrets ? new Set<string>() : secret;
  const diff = differingFields(s.set, have, skip);
  if (Object.keys(diff).length === 0) return;
  if (!ctx.dryRun) await ctx.client.patch(`${s.menu}/${have[".id"]}`, diff);
  const detail = Object.entries(diff)
    .map(([k, v]) => (secret.has(k) ? `${k}: changed` : `${k}: ${have[k] ?? "(unset)"} -> ${v}`))
    .join(", ");
  record(ctx, { action: "update", what: s.what, detail });
}

async function applyPrune(ctx: ReconcileContext, s: PruneStep): Promise<void> {
  const items = await ctx.client.getList(s.menu);
  for (const r of items) {
    if (!matches(r, s.select)) continue;
    if (s.keep.some((k) => matches(r, k))) continue;
    if (!ctx.dryRun) await ctx.client.delete(`${s.menu}/${r[".id"]}`);
    const label = Object.keys(s.keep[0] ?? {})
      .filter((k) => !(k in s.select))
      .map((k) => `${k}=${r[k]}`)
      .join(" ");
    record(ctx, { action: "remove", what: `${s.menu} ${label || r[".id"]}`, detail: s.what });
  }
}

async function applySettings(ctx: ReconcileContext, s: SettingsStep): Promise<void> {
  const have = await ctx.client.getRecord(s.menu);
  const diff = differingFields(s.set, have);
  if (Object.keys(diff).length === 0) return;
  if (!ctx.dryRun) await ctx.client.post(`${s.menu}/set`, diff);
  record(ctx, {
    action: "set",
    what: s.what,
    detail: Object.entries(diff)
      .map(([k, v]) => `${k}: ${have[k] || "(unset)"} -> ${v}`)
      .join(", "),
  });
}

export async function applyStep(ctx: ReconcileContext, s: Step): Promise<void> {
  switch (s.type) {
    case "item":
      return applyItem(ctx, s);
    case "prune":
      return applyPrune(ctx, s);
    case "settings":
      return applySettings(ctx, s);
  }
}

export async function applySteps(ctx: ReconcileContext, steps: Step[]): Promise<void> {
  for (const s of steps) await applyStep(ctx, s);
}
