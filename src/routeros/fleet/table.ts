import type { FleetRow } from "./read.js";
import { describe, type RolloutResult } from "./rollout.js";

/*
 * The fleet as a table on the terminal (plain text, one line per router, the
 * widest column last) and as JSON for automation.
 */

export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function health(h: string | undefined): string {
  if (!h) return "-";
  return h.split(/[:\s]/)[0]!;
}

export function statusCells(r: FleetRow): string[] {
  if (!r.ok) return [r.router, "-", "-", "-", "-", "-", "-", "-", `${r.errorKind}: ${r.error}`];
  const c = r.container;
  const node = r.node?.state ?? (r.node?.up === false ? "down" : "?");
  const notes = [
    r.note,
    r.leftover ? `an earlier swap's script is still on the router (phase ${r.leftover}); the next fleet deploy or upgrade settles and removes it` : undefined,
    r.node?.loginUrl ? `login: ${r.node.loginUrl}` : undefined,
  ]
    .filter(Boolean)
    .join("; ");
  return [r.router, r.routeros ?? "?", r.arch ?? "?", c ? (c.imageVersion ?? (c.tag || "?")) : "-", c ? c.state : "none", c ? health(c.health) : "-", c ? node : "-", r.upgrade?.text ?? "-", notes];
}

export const STATUS_HEADER = ["router", "RouterOS", "arch", "image", "container", "health", "node", "upgrade", "note"] as const;

export function formatFleetStatus(rows: readonly FleetRow[]): string {
  const read = rows.filter((r) => r.ok);
  const byKind = new Map<string, number>();
  for (const r of rows) if (!r.ok) byKind.set(r.errorKind ?? "error", (byKind.get(r.errorKind ?? "error") ?? 0) + 1);
  const running = read.filter((r) => r.container?.state === "running").length;
  const up = read.filter((r) => r.node?.up === true).length;
  const would = read.filter((r) => r.upgrade?.needed === true).length;
  const at = read.filter((r) => r.upgrade?.needed === false).length;
  const parts = [`${rows.length} router${rows.length === 1 ? "" : "s"}`, `${read.length} read`];
  if (byKind.size) parts.push(`${rows.length - read.length} not (${[...byKind].map(([k, n]) => `${n} ${k}`).join(", ")})`);
  const tail = [`${running} container${running === 1 ? "" : "s"} running`, `${up} node${up === 1 ? "" : "s"} up`];
  if (read.some((r) => r.upgrade)) tail.push(`upgrade would change ${would}, ${at} at the target`);
  return `${textTable(STATUS_HEADER, rows.map(statusCells))}\n\n${parts.join(", ")}; ${tail.join(", ")}`;
}

export function formatRollout(r: RolloutResult): string {
  const rows = r.results.map((x) => [x.router, x.routeros ?? "-", x.arch ?? "-", x.group ?? "-", x.before ?? "-", x.after ?? "-", describe(x)]);
  const counts = new Map<string, number>();
  for (const x of r.results) counts.set(x.outcome, (counts.get(x.outcome) ?? 0) + 1);
  const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(", ");
  return `${textTable(["router", "RouterOS", "arch", "group", "before", "after", "result"], rows)}\n\n${r.results.length} routers: ${summary}`;
}

/** What a halted or unfinished rollout leaves the operator: what ran, what failed, how to go on. */
export function rolloutAdvice(r: RolloutResult, command: string): string[] {
  const out: string[] = [];
  const by = (o: string) => r.results.filter((x) => x.outcome === o);
  const ran = r.groups.filter((g) => g.routers.some((n) => r.results.find((x) => x.router === n)?.group === g.label));
  if (r.halted || r.interrupted) {
    out.push(`${r.interrupted ? "interrupted" : "halted"}${r.halted ? `: ${r.halted}` : ""}`);
    if (ran.length) out.push(`ran: ${ran.map((g) => `${g.label} (${g.routers.filter((n) => r.results.find((x) => x.router === n)?.group === g.label).length} of ${g.routers.length})`).join(", ")}`);
    const ns = by("not-started");
    if (ns.length) out.push(`not started: ${ns.length} router${ns.length === 1 ? "" : "s"} (${ns.map((x) => x.router).join(", ")})`);
  }
  const failed = [...by("failed"), ...by("unhealthy")];
  if (failed.length) out.push(`failed: ${failed.map((x) => x.router).join(", ")}`);
  const unreachable = by("not-reached");
  if (unreachable.length) out.push(`not reachable: ${unreachable.map((x) => x.router).join(", ")}`);
  if (!r.ok) {
    out.push(
      `to resume, fix the cause and run the same command again (${command}): routers already at the target are skipped${r.halted?.startsWith("the canary") ? "" : ", and a canary that passed is not repeated"}; progress is kept in ${r.statePath}`,
    );
  }
  return out;
}
