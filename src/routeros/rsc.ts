import type { RouterConfig } from "./config.js";
import type { Fields, ItemStep, Plan, PruneStep, SettingsStep, Step } from "./plan.js";
import { describeSource } from "./schema/model.js";
import { STATE_FUNCTION, stateFunction } from "./schema/state.js";

/*
 * Renders a plan as a RouterOS script. Every step first looks at what exists
 * (find where ...) and only adds what is missing or sets what may differ, so
 * running the script twice leaves the router as running it once did.
 */

const IND = "    ";

/** Quotes a value for RouterOS script when it needs it. */
export function rosValue(v: string): string {
  if (v !== "" && /^[A-Za-z0-9_.:/@,+-]+$/.test(v)) return v;
  return rosString(v);
}

/** Always a double-quoted RouterOS string. */
export function rosString(v: string): string {
  let out = '"';
  for (const ch of v) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === '"' || ch === "$" || ch === "?") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

function menuPath(menu: string): string {
  return `/${menu}`;
}

function whereClause(f: Fields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${rosString(v)}`)
    .join(" ");
}

function assignments(f: Fields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${rosValue(v)}`)
    .join(" ");
}

function find(menu: string, f: Fields): string {
  return `[${menuPath(menu)}/find where ${whereClause(f)}]`;
}

export interface RenderOptions {
  /** Print secret values (the auth key). Off by default. */
  showSecrets?: boolean;
}

function renderItem(s: ItemStep, opts: RenderOptions): string[] {
  const out = [`# ${s.what}`];
  const secretKeys = new Set(s.secret ?? []);
  if (secretKeys.size) {
    // Secrets are set only when missing, from a local variable the user fills in.
    const [field] = [...secretKeys];
    const value = s.set[field!];
    const shown = opts.showSecrets && value !== undefined ? value : "";
    const others: Fields = {};
    for (const [k, v] of Object.entries(s.set)) if (!secretKeys.has(k)) others[k] = v;
    out.push("{");
    out.push(`${IND}:local secret ${rosString(shown)}`);
    if (!opts.showSecrets || value === undefined) {
      out.push(`${IND}# Not printed: paste the value between the quotes above, or generate this script with --show-secrets.`);
    }
    out.push(`${IND}:if ([:len ${find(s.menu, s.match)}] = 0) do={`);
    out.push(`${IND}${IND}:if ([:len $secret] > 0) do={`);
    out.push(`${IND}${IND}${IND}${menuPath(s.menu)}/add ${assignments({ ...s.match, ...others })} ${field}=$secret`);
    out.push(`${IND}${IND}} else={`);
    out.push(`${IND}${IND}${IND}:put ${rosString(`${s.what}: left unset (no value given)`)}`);
    out.push(`${IND}${IND}}`);
    out.push(`${IND}}`);
    out.push("}");
    return out;
  }
  const set = Object.keys(s.set).length ? assignments(s.set) : "";
  out.push(`:if ([:len ${find(s.menu, s.match)}] = 0) do={`);
  out.push(`${IND}${menuPath(s.menu)}/add ${assignments({ ...s.match, ...s.set })}`);
  if (set) {
    out.push("} else={");
    out.push(`${IND}${menuPath(s.menu)}/set ${find(s.menu, s.match)} ${set}`);
  }
  out.push("}");
  return out;
}

function renderPrune(s: PruneStep): string[] {
  const out = [`# remove ${s.what}`];
  const m = menuPath(s.menu);
  if (s.keep.length === 0) {
    out.push(`${m}/remove ${find(s.menu, s.select)}`);
    return out;
  }
  const fieldsOf = (k: Fields) => Object.entries(k).filter(([f]) => !(f in s.select));
  const varying = [...new Set(s.keep.flatMap((k) => fieldsOf(k).map(([f]) => f)))];
  out.push(`:foreach i in=${find(s.menu, s.select)} do={`);
  // One local per field that tells wanted from unwanted objects.
  const local = (f: string) => `$cur${f.replace(/[^A-Za-z0-9]/g, "")}`;
  for (const f of varying) out.push(`${IND}:local ${local(f).slice(1)} [:tostr [${m}/get $i ${f}]]`);
  const conds = s.keep.map((k) => {
    const parts = fieldsOf(k).map(([f, v]) => `(${local(f)} = ${rosString(v)})`);
    return parts.length === 1 ? parts[0]! : `(${parts.join(" && ")})`;
  });
  out.push(`${IND}:if (!(${conds.join(" || ")})) do={ ${m}/remove $i }`);
  out.push("}");
  return out;
}

function renderSettings(s: SettingsStep): string[] {
  return [`# ${s.what}`, `${menuPath(s.menu)}/set ${assignments(s.set)}`];
}

function renderStep(s: Step, opts: RenderOptions): string[] {
  switch (s.type) {
    case "item":
      return renderItem(s, opts);
    case "prune":
      return renderPrune(s);
    case "settings":
      return renderSettings(s);
  }
}

function wrapComment(text: string, width = 76): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = "#";
  for (const w of words) {
    if (cur.length + 1 + w.length > width && cur !== "#") {
      lines.push(cur);
      cur = "#  ";
    }
    cur += (cur.endsWith(" ") ? "" : " ") + w;
  }
  lines.push(cur);
  return lines;
}

/** Renders the whole setup script. */
export function renderScript(config: RouterConfig, plan: Plan, opts: RenderOptions = {}): string {
  const c = plan.container;
  const name = c.name;
  const cFind = `[/container/find where ${c.key.field}=${rosString(c.key.value)}]`;
  const L: string[] = [];
  const section = (title: string) => L.push("", `# --- ${title} ---`);

  L.push(`# mikrotik-tailscale: RouterOS setup for the Tailscale container "${name}"`);
  L.push(`# RouterOS ${plan.version.text} (menus from ${describeSource(plan.model)}), architecture ${config.arch.routerosArch} (${config.arch.name} image).`);
  L.push("# Safe to run more than once: each step looks at what exists first and only");
  L.push("# adds what is missing or sets what may differ.");
  L.push("# Run it with: /import file-name=<this file>");
  L.push("#");
  for (const n of plan.notes) L.push(...wrapComment(`NOTE: ${n}`));

  section("checks (nothing has been changed if one of these fails)");
  L.push(`:if ([:len [/system/package/find where name="container"]] = 0) do={ :error "install the container package first (see the note above)" }`);
  L.push("{");
  L.push(`${IND}:local mode [:tostr [/system/device-mode/get container]]`);
  L.push(`${IND}:if ($mode != "true" && $mode != "yes") do={ :error "containers are not enabled: /system/device-mode/update container=yes, then press the reset button or cold-reboot" }`);
  L.push("}");

  const before = [...plan.before];
  // The RAM disk must exist before an image can be uploaded to it.
  const disk = before.findIndex((s) => s.type === "item" && s.menu === "disk");
  if (disk >= 0) {
    section("RAM disk");
    L.push(...renderStep(before.splice(disk, 1)[0]!, opts));
  }
  const img = c.image;
  if (img.kind === "file" || img.kind === "routerFile") {
    section("image file");
    const what = img.kind === "file" ? `upload ${img.fileName} to ${img.routerPath} (scp, WinBox Files or /tool/fetch), then run this script again` : `${img.routerPath} is missing`;
    L.push(`:if ([:len ${cFind}] = 0 && [:len [/file/find where name=${rosString(img.routerPath)}]] = 0) do={ :error ${rosString(what)} }`);
  }

  section("network, routes, container settings, environment, mounts");
  for (const s of before) {
    L.push(...renderStep(s, opts));
  }

  section("container, MagicDNS forwarding, start");
  const addFields: Fields = { [c.key.field]: c.key.value };
  if (img.kind === "remote") addFields["remote-image"] = img.ref;
  else addFields.file = img.routerPath;
  addFields["root-dir"] = c.rootDir;
  Object.assign(addFields, c.fields);
  const F = `$${STATE_FUNCTION}`;
  const I2 = IND + IND;
  // One block: /import forgets a top-level :local (the state function) on the next line.
  L.push("{");
  L.push(...stateFunction(plan.stateForm, IND));
  L.push(`${IND}:if ([:len ${cFind}] = 0) do={`);
  if (img.kind === "url") {
    L.push(`${I2}:if ([:len [/file/find where name=${rosString(img.routerPath)}]] = 0) do={`);
    L.push(`${I2}${IND}/tool/fetch url=${rosString(img.url)} dst-path=${rosString(img.routerPath)}`);
    L.push(`${I2}}`);
  }
  L.push(`${I2}/container/add ${assignments(addFields)}`);
  L.push(`${I2}:put ${rosString(`${name}: waiting for the image to be extracted...`)}`);
  L.push(`${I2}:local n 0`);
  L.push(`${I2}:while ([${F} ${cFind}] = "extracting") do={`);
  L.push(`${I2}${IND}:if ($n >= 600) do={ :error ${rosString(`${name}: still extracting after 600 s`)} }`);
  L.push(`${I2}${IND}:delay 1s`);
  L.push(`${I2}${IND}:set n ($n + 1)`);
  L.push(`${I2}}`);
  L.push(`${I2}:if ([${F} ${cFind}] != "stopped") do={ :error ${rosString(`${name}: extraction failed; see /log/print where topics~"container"`)} }`);
  if (c.removeImageFile) {
    L.push(`${I2}/file/remove [/file/find where name=${rosString(img.kind === "remote" ? "" : img.routerPath)}]`);
  }
  L.push(`${IND}} else={`);
  // RouterOS changes a container only while it is stopped; a running one is left as it is.
  L.push(`${I2}:if ([${F} ${cFind}] = "stopped") do={`);
  L.push(`${I2}${IND}/container/set ${cFind} ${assignments(c.fields)}`);
  L.push(`${I2}} else={`);
  L.push(`${I2}${IND}:put ${rosString(`${name}: exists and is not stopped; its own settings are left as they are (stop it and run this script again to apply changes)`)}`);
  L.push(`${I2}}`);
  L.push(`${IND}}`);
  if (plan.after.length) {
    L.push(`${IND}# DNS: forward tailnet names to MagicDNS`);
    for (const st of plan.after) L.push(...renderStep(st, opts).map((l) => `${IND}${l}`));
  }
  L.push(`${IND}# start`);
  L.push(`${IND}:local c ${cFind}`);
  L.push(`${IND}:if ([${F} $c] = "stopped") do={`);
  L.push(`${I2}/container/start $c`);
  L.push(`${I2}:local n 0`);
  L.push(`${I2}:while ([${F} $c] != "running" && $n < 60) do={ :delay 1s; :set n ($n + 1) }`);
  L.push(`${IND}}`);
  L.push(`${IND}:put (${rosString(`${name}: `)} . [${F} $c])`);
  L.push("}");
  L.push("");
  return L.join("\n");
}
