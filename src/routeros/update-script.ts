import type { Architecture } from "../arch.js";
import { UsageError } from "../errors.js";
import { ConfigError } from "./errors.js";
import { formatMissing, missingWrites } from "./schema/check.js";
import { registryBaseUrl } from "../release/reference.js";
import type { RouterConfig } from "./config.js";
import type { Fields, Plan } from "./plan.js";
import { rosString, rosValue } from "./rsc.js";
import { DIGEST_MARK, remoteImageReference } from "./update-check.js";
import { STATE_FUNCTION, stateFunction } from "./schema/state.js";

/*
 * A RouterOS script that keeps the container on the newest image of a
 * registry tag (stable), and the .rsc that installs it with a scheduler.
 *
 * Each run: get an anonymous pull token if the registry wants one, read the
 * tag's image index, pick this router's platform, and compare its digest with
 * the one recorded in the container's comment (`mikrotik-tailscale
 * image-digest=...`, the same record `routeros upgrade --if-changed` keeps).
 * Equal: nothing happens, nothing is pulled. Different (or nothing
 * recorded): the container is stopped and renamed <name>-previous, a new one
 * is made from the tag with the same settings and state mount in the other
 * root-dir, extracted and started; if it does not keep running, it is removed
 * and the previous one is put back. Needs RouterOS 7.13+ (:deserialize).
 */

const IND = "    ";

export interface UpdateScriptOptions {
  /** The token URL for anonymous pulls (realm?service=...&scope=repository:<repo>:pull); none when the registry needs no token. */
  tokenUrl?: string;
  /** http instead of https for the registry (a LAN registry without TLS). */
  plainHttp?: boolean;
  /** Verify the registry's TLS certificate (default true). */
  checkCertificate?: boolean;
  /** Scheduler interval, RouterOS syntax (default 1d). */
  interval?: string;
}

export interface UpdateTarget {
  ref: string;
  registry: string;
  repository: string;
  tag: string;
  manifestUrl: string;
}

export function scriptName(plan: Plan): string {
  return `mikrotik-tailscale-update-${plan.container.name}`;
}

/** Where the script reads the image from. */
export function updateTarget(config: RouterConfig, plan: Plan, opts: Pick<UpdateScriptOptions, "plainHttp"> = {}): UpdateTarget {
  const img = plan.container.image;
  if (img.kind !== "remote") {
    throw new UsageError(
      "the update script follows a registry tag, but the config's image is a file: set image: { remote: registry.example.com/owner/mikrotik-tailscale:stable }",
    );
  }
  const r = remoteImageReference(img.ref, config.image.registryUrl);
  const base = registryBaseUrl(r.registry, opts.plainHttp ?? false);
  return { ref: img.ref, registry: r.registry, repository: r.repository, tag: r.tag, manifestUrl: `${base}/v2/${r.repository}/manifests/${r.tag}` };
}

/** A RouterOS string whose `&` is written as \26 (a bare & in a fetch URL has broken scripts). */
function urlString(u: string): string {
  return rosString(u).replace(/&/g, "\\26");
}

function platformCondition(arch: Architecture): string {
  const a = `($pl->"architecture") = ${rosString(arch.platform.architecture)}`;
  const v = `[:tostr ($pl->"variant")]`;
  const want = arch.platform.variant;
  if (!want) return a;
  if (arch.platform.architecture === "arm64") return `${a} && (${v} = ${rosString(want)} || ${v} = "")`;
  return `${a} && ${v} = ${rosString(want)}`;
}

function assignments(f: Fields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${rosValue(v)}`)
    .join(" ");
}

function waitWhile(idVar: string, cond: string, seconds: number, indent: string): string[] {
  return [
    `${indent}:local n 0`,
    `${indent}:while (${cond.replaceAll("$ID", idVar)} && $n < ${seconds}) do={ :delay 1s; :set n ($n + 1) }`,
  ];
}

/** What the update script and its installer write beyond the setup plan, checked against the version's menus. */
function checkUpdateWrites(plan: Plan): void {
  if (plan.container.key.field !== "name") {
    throw new ConfigError(
      `the update script finds the container by name and records the image digest in its comment; RouterOS ${plan.version.text} has no container names (they came in 7.19): use 'routeros upgrade' from this machine instead`,
    );
  }
  const extra = [
    { command: "container/add", args: ["name", "remote-image", "root-dir", "comment", ...Object.keys(plan.container.fields)], why: "the updated container" },
    { command: "container/set", args: ["name", "start-on-boot"], why: "the previous container" },
    { command: "tool/fetch", args: ["url", "http-header-field", "output", "as-value", "check-certificate"], why: "the registry lookup" },
    { command: "system/script/add", args: ["name", "policy", "comment", "source"], why: "the update script" },
    { command: "system/script/set", args: ["policy", "comment", "source"], why: "the update script" },
    { command: "system/scheduler/add", args: ["name", "interval", "policy", "comment", "on-event"], why: "its schedule" },
    { command: "system/scheduler/set", args: ["interval", "policy", "on-event"], why: "its schedule" },
  ];
  const missing = missingWrites(plan, plan.model, extra);
  if (missing.length) throw new ConfigError(`the update script cannot run on RouterOS ${plan.version.text}: ${formatMissing(missing, plan.model)}`);
}

/** The script itself: what /system/script runs. */
export function renderUpdateBody(config: RouterConfig, plan: Plan, opts: UpdateScriptOptions = {}): string {
  checkUpdateWrites(plan);
  const t = updateTarget(config, plan, opts);
  const c = plan.container;
  const name = c.name;
  const platform = `linux/${config.arch.platform.architecture}${config.arch.platform.variant ? `/${config.arch.platform.variant}` : ""}`;
  const check = opts.checkCertificate === false || t.manifestUrl.startsWith("http:") ? "" : " check-certificate=yes";
  const tokenCheck = opts.checkCertificate === false || (opts.tokenUrl ?? "").startsWith("http:") ? "" : " check-certificate=yes";
  const F = `$${STATE_FUNCTION}`;
  const stopped = `[${F} $ID] != "stopped" && [${F} $ID] != "error"`;
  const L: string[] = [];
  L.push(`# mikrotik-tailscale: keeps container "${name}" on the newest image of ${t.ref} (${platform})`);
  L.push("# Made by 'mikrotik-tailscale routeros update-script'; the digest of the image the container");
  L.push(`# was made from is in its comment (${DIGEST_MARK.trim()}...).`);
  L.push(`:local name ${rosString(name)}`);
  L.push(`:local prevName ${rosString(`${name}-previous`)}`);
  L.push(`:local ref ${rosString(t.ref)}`);
  L.push(`:local manifestUrl ${urlString(t.manifestUrl)}`);
  L.push(`:local tokenUrl ${urlString(opts.tokenUrl ?? "")}`);
  L.push(`:local mark ${rosString(DIGEST_MARK)}`);
  L.push(`:local me ${rosString(scriptName(plan))}`);
  L.push(...stateFunction(plan.stateForm));
  L.push(`:if ([:len [/system/script/job/find where script=$me]] > 1) do={ :log warning ($me . ": already running"); :error "already running" }`);
  L.push("# An interrupted run may have left only the previous container: put it back.");
  L.push(`:if ([:len [/container/find where name=$name]] = 0 && [:len [/container/find where name=$prevName]] > 0) do={ /container/set [/container/find where name=$prevName] name=$name }`);
  L.push(`:local c [/container/find where name=$name]`);
  L.push(`:if ([:len $c] = 0) do={ :log error ($me . ": there is no container " . $name . "; set it up first"); :error "no container" }`);
  L.push("");
  L.push("# The registry's image for this router");
  L.push(`:local headers "Accept: application/vnd.oci.image.index.v1+json"`);
  L.push(`:if ([:len $tokenUrl] > 0) do={`);
  L.push(`${IND}:local tok ""`);
  L.push(`${IND}:do {`);
  L.push(`${IND}${IND}:local tj [:deserialize from=json value=([/tool/fetch url=$tokenUrl output=user as-value${tokenCheck}]->"data")]`);
  L.push(`${IND}${IND}:set tok [:tostr ($tj->"token")]`);
  L.push(`${IND}${IND}:if ([:len $tok] = 0) do={ :set tok [:tostr ($tj->"access_token")] }`);
  L.push(`${IND}} on-error={ :log error ($me . ": no registry token from " . $tokenUrl); :error "no token" }`);
  L.push(`${IND}:if ([:len $tok] = 0) do={ :log error ($me . ": the token service gave no token"); :error "no token" }`);
  L.push(`${IND}:set headers ($headers . ",Authorization: Bearer " . $tok)`);
  L.push("}");
  L.push(`:local want ""`);
  L.push(":do {");
  L.push(`${IND}:local idx [:deserialize from=json value=([/tool/fetch url=$manifestUrl http-header-field=$headers output=user as-value${check}]->"data")]`);
  L.push(`${IND}:foreach p in=($idx->"manifests") do={`);
  L.push(`${IND}${IND}:local pl ($p->"platform")`);
  L.push(`${IND}${IND}:if (${platformCondition(config.arch)}) do={ :set want ($p->"digest") }`);
  L.push(`${IND}}`);
  L.push(`} on-error={ :log error ($me . ": cannot read " . $ref . " from the registry"); :error "registry" }`);
  L.push(`:if ([:len $want] = 0) do={ :log error ($me . ": " . $ref . " has no image for ${platform}"); :error "no image" }`);
  L.push(`:local have ""`);
  L.push(`:local comment [:tostr [/container/get $c comment]]`);
  L.push(`:local at [:find $comment $mark]`);
  L.push(`:if ([:typeof $at] = "num") do={ :set have [:pick $comment ($at + [:len $mark]) ($at + [:len $mark] + 71)] }`);
  L.push("");
  L.push(":if ($have = $want) do={");
  L.push(`${IND}:log info ($me . ": " . $name . " runs the current image of " . $ref . "; nothing to do")`);
  L.push("} else={");
  L.push(`${IND}:log info ($me . ": " . $ref . " changed (" . $have . " -> " . $want . "); recreating " . $name . ", keeping its state")`);
  L.push(`${IND}:local newRoot ${rosString(c.rootDir)}`);
  L.push(`${IND}:local oldRoot [:tostr [/container/get $c root-dir]]`);
  L.push(`${IND}:if ($oldRoot = $newRoot || $oldRoot = ("/" . $newRoot)) do={ :set newRoot ${rosString(c.rootDirAlt)} }`);
  L.push(`${IND}:local oldBoot [/container/get $c start-on-boot]`);
  L.push(`${IND}:local wasRunning ([${F} $c] = "running")`);
  L.push(`${IND}:foreach p in=[/container/find where name=$prevName] do={`);
  L.push(`${IND}${IND}:do { /container/stop $p } on-error={}`);
  L.push(...waitWhile("$p", stopped, 60, IND + IND));
  L.push(`${IND}${IND}/container/remove $p`);
  L.push(`${IND}}`);
  L.push(`${IND}:do { /container/stop $c } on-error={}`);
  L.push(...waitWhile("$c", stopped, 60, IND));
  L.push(`${IND}/container/set $c name=$prevName start-on-boot=no`);
  L.push(`${IND}:local ok true`);
  L.push(`${IND}:local why ""`);
  L.push(`${IND}:local nc ""`);
  L.push(`${IND}:do {`);
  L.push(`${IND}${IND}/container/add name=$name remote-image=$ref root-dir=$newRoot ${assignments(c.fields)} comment=($mark . $want)`);
  L.push(`${IND}${IND}:set nc [/container/find where name=$name]`);
  L.push(`${IND}} on-error={ :set ok false; :set why "the new container could not be added" }`);
  L.push(`${IND}:if ($ok) do={`);
  L.push(...waitWhile("$nc", `[${F} $ID] = "extracting"`, 600, IND + IND));
  L.push(`${IND}${IND}:if ([${F} $nc] != "stopped") do={ :set ok false; :set why ("its image did not extract (" . [${F} $nc] . ")") }`);
  L.push(`${IND}}`);
  L.push(`${IND}:if ($ok) do={ :do { /container/start $nc } on-error={ :set ok false; :set why "it did not start" } }`);
  L.push(`${IND}:if ($ok) do={`);
  L.push(...waitWhile("$nc", `[${F} $ID] != "running"`, 60, IND + IND));
  L.push(`${IND}${IND}:delay 10s`);
  L.push(`${IND}${IND}:if ([${F} $nc] != "running") do={ :set ok false; :set why ("it did not keep running (" . [${F} $nc] . ")") }`);
  L.push(`${IND}}`);
  L.push(`${IND}:if ($ok) do={`);
  L.push(`${IND}${IND}/container/remove $c`);
  L.push(`${IND}${IND}:log info ($me . ": " . $name . " now runs " . $want)`);
  L.push(`${IND}} else={`);
  L.push(`${IND}${IND}:log error ($me . ": the new " . $name . " failed: " . $why . "; putting the previous one back")`);
  L.push(`${IND}${IND}:foreach x in=[/container/find where name=$name] do={`);
  L.push(`${IND}${IND}${IND}:do { /container/stop $x } on-error={}`);
  L.push(...waitWhile("$x", stopped, 60, IND + IND + IND));
  L.push(`${IND}${IND}${IND}:do { /container/remove $x } on-error={}`);
  L.push(`${IND}${IND}}`);
  L.push(`${IND}${IND}/container/set $c name=$name start-on-boot=$oldBoot`);
  L.push(`${IND}${IND}:if ($wasRunning) do={ /container/start $c }`);
  L.push(`${IND}${IND}:error ($me . ": update failed: " . $why)`);
  L.push(`${IND}}`);
  L.push("}");
  return L.join("\n") + "\n";
}

/** The .rsc to /import on the router: adds (or replaces) the script and its scheduler entry. */
export function renderUpdateInstaller(config: RouterConfig, plan: Plan, opts: UpdateScriptOptions = {}): string {
  const t = updateTarget(config, plan, opts);
  const body = renderUpdateBody(config, plan, opts);
  const sname = scriptName(plan);
  const interval = opts.interval ?? "1d";
  if (!/^(\d+[wdhms])+$|^\d{1,2}:\d{2}:\d{2}$/.test(interval)) throw new UsageError(`--interval: '${interval}' is not a RouterOS interval such as 1d, 12h or 6h30m`);
  const policy = "read,write,test";
  const comment = `mikrotik-tailscale:${plan.container.name}`;
  const L: string[] = [];
  L.push(`# mikrotik-tailscale: installs the update check for container "${plan.container.name}"`);
  L.push(`# RouterOS ${plan.version.text}, architecture ${config.arch.routerosArch} (${config.arch.name} image).`);
  L.push(`# Every ${interval} the script ${sname} reads ${t.ref} from the registry;`);
  L.push("# when its image for this router differs from the one the container was made from, it");
  L.push(`# recreates the container from it, keeping the state in ${config.storage.stateDir}, and puts the`);
  L.push("# previous container back if the new one does not keep running. Otherwise nothing is");
  L.push("# pulled or changed. Needs RouterOS 7.13 or newer.");
  L.push("# Run it with: /import file-name=<this file>  (safe to run again: it replaces the script)");
  L.push(`# Check now with: /system/script/run ${sname}`);
  L.push("");
  L.push("{");
  L.push(`${IND}:local src ${rosString(body)}`);
  L.push(`${IND}:local s [/system/script/find where name=${rosString(sname)}]`);
  L.push(`${IND}:if ([:len $s] = 0) do={`);
  L.push(`${IND}${IND}/system/script/add name=${rosValue(sname)} policy=${policy} comment=${rosValue(comment)} source=$src`);
  L.push(`${IND}} else={`);
  L.push(`${IND}${IND}/system/script/set $s policy=${policy} comment=${rosValue(comment)} source=$src`);
  L.push(`${IND}}`);
  L.push("}");
  const onEvent = rosString(`/system/script/run ${sname}`);
  L.push(`:if ([:len [/system/scheduler/find where name=${rosString(sname)}]] = 0) do={`);
  L.push(`${IND}/system/scheduler/add name=${rosValue(sname)} interval=${interval} policy=${policy} comment=${rosValue(comment)} on-event=${onEvent}`);
  L.push("} else={");
  L.push(`${IND}/system/scheduler/set [/system/scheduler/find where name=${rosString(sname)}] interval=${interval} policy=${policy} on-event=${onEvent}`);
  L.push("}");
  L.push(`:put ${rosString(`${sname}: installed; it runs every ${interval}`)}`);
  return L.join("\n") + "\n";
}
