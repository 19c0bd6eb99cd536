import type { Plan } from "../plan.js";
import { describeSource, type RouterOsModel } from "./model.js";

/*
 * Every property the plan writes, per command, so it can be checked against
 * a model before anything is sent: the script generator, the REST client and
 * upgrades write nothing that the router's own menu lacks.
 */

export interface Write {
  command: string;
  args: string[];
  /** What asks for it, for the error message. */
  why: string;
}

/** The commands and arguments that the script and deploy/upgrade use for a plan. */
export function planWrites(plan: Plan): Write[] {
  const out: Write[] = [];
  for (const s of [...plan.before, ...plan.after]) {
    if (s.type === "item") {
      out.push({ command: `${s.menu}/add`, args: [...Object.keys(s.match), ...Object.keys(s.set)], why: s.what });
      if (Object.keys(s.set).length) out.push({ command: `${s.menu}/set`, args: Object.keys(s.set), why: s.what });
    } else if (s.type === "settings") {
      out.push({ command: `${s.menu}/set`, args: Object.keys(s.set), why: s.what });
    }
  }
  const c = plan.container;
  const key = plan.syntax.containerKey;
  const image = c.image.kind === "remote" ? "remote-image" : "file";
  const what = `container ${c.name}`;
  out.push({ command: "container/add", args: [key, image, "root-dir", ...Object.keys(c.fields)], why: what });
  // deploy changes fields in place; upgrade renames the old container and turns its start-on-boot off.
  out.push({ command: "container/set", args: [...Object.keys(c.fields), key, "start-on-boot"], why: what });
  if (c.image.kind === "file") out.push({ command: "tool/fetch", args: ["url", "dst-path", "mode"], why: `fetch of ${c.image.fileName}` });
  if (c.image.kind === "url") out.push({ command: "tool/fetch", args: ["url", "dst-path", "check-certificate"], why: `fetch of ${c.image.url}` });
  return out;
}

export interface Missing {
  command: string;
  arg?: string;
  why: string;
}

/** What the plan writes that the model lacks; empty when everything exists. */
export function missingWrites(plan: Plan, model: RouterOsModel, extra: Write[] = []): Missing[] {
  return missingArgs(model, [...planWrites(plan), ...extra]);
}

/** Which of these writes the model lacks. */
export function missingArgs(model: RouterOsModel, writes: Write[]): Missing[] {
  const out: Missing[] = [];
  const seen = new Set<string>();
  for (const w of writes) {
    const have = model.args(w.command);
    if (!have) {
      if (!seen.has(w.command)) out.push({ command: w.command, why: w.why });
      seen.add(w.command);
      continue;
    }
    for (const a of w.args) {
      const k = `${w.command} ${a}`;
      if (!have.has(a) && !seen.has(k)) {
        seen.add(k);
        out.push({ command: w.command, arg: a, why: w.why });
      }
    }
  }
  return out;
}

export function formatMissing(m: Missing[], model: RouterOsModel): string {
  const items = m.map((x) => (x.arg ? `/${x.command} ${x.arg} (for ${x.why})` : `/${x.command} (for ${x.why})`));
  return `${describeSource(model)} lacks ${items.join("; ")}`;
}
