import type { Architecture } from "../arch.js";
import { UsageError } from "../errors.js";
import { ConfigError } from "./errors.js";
import { formatMissing, missingWrites } from "./schema/check.js";
import { registryBaseUrl } from "../release/reference.js";
import type { RouterConfig } from "./config.js";
import type { Plan } from "./plan.js";
import { rosString, rosValue } from "./rsc.js";
import { remoteImageReference } from "./update-check.js";
import { DIGEST_MARK, recoverEntryName, recoverOnEvent, renderSwapScript, SWAP_MARK, swapScriptName } from "./swap.js";

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
  /** How long a new container must keep running before the old one goes (default 30 s). */
  settleSeconds?: number;
  /** The script's wait between looks (default 1s; tests use less). */
  poll?: string;
}

export interface UpdateTarget {
  ref: string;
  registry: string;
  repository: string;
  tag: string;
  manifestUrl: string;
}

export function scriptName(plan: Plan): string {
  return swapScriptName(plan, "self-update");
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


function platformCondition(arch: Architecture): string {
  const a = `($pl->"architecture") = ${rosString(arch.platform.architecture)}`;
  const v = `[:tostr ($pl->"variant")]`;
  const want = arch.platform.variant;
  if (!want) return a;
  if (arch.platform.architecture === "arm64") return `${a} && (${v} = ${rosString(want)} || ${v} = "")`;
  return `${a} && ${v} = ${rosString(want)}`;
}

/** What the update script and its installer write beyond the setup plan, checked against the version's menus. */
function checkUpdateWrites(plan: Plan): void {
  if (plan.container.key.field !== "name") {
    throw new ConfigError(
      `the update script finds the container by name and records the image digest in its comment; RouterOS ${plan.version.text} has no container names (they came in 7.19): use 'routeros upgrade' from this machine instead`,
    );
  }
  const syn = plan.syntax;
  const access = syn.mountAccess ? [syn.mountAccess] : [];
  const extra = [
    { command: "container/add", args: ["name", "remote-image", "root-dir", "comment", "start-on-boot", ...Object.keys(plan.container.fields)], why: "the updated container" },
    { command: "container/set", args: ["name", "start-on-boot", "comment"], why: "the swap" },
    { command: "container/envs/add", args: [syn.envsListKey, "key", "value"], why: "the new container's environment" },
    { command: "container/mounts/add", args: [syn.mountsListKey, "src", "dst", ...access], why: "the new container's mounts" },
    { command: "tool/fetch", args: ["url", "http-header-field", "output", "as-value", "check-certificate"], why: "the registry lookup" },
    { command: "system/script/add", args: ["name", "policy", "comment", "source"], why: "the update script" },
    { command: "system/script/set", args: ["policy", "comment", "source"], why: "the update script" },
    { command: "system/scheduler/add", args: ["name", "interval", "start-time", "policy", "comment", "on-event"], why: "its schedule and the recovery after a boot" },
    { command: "system/scheduler/set", args: ["interval", "policy", "on-event"], why: "its schedule" },
  ];
  const missing = missingWrites(plan, plan.model, extra);
  if (missing.length) throw new ConfigError(`the update script cannot run on RouterOS ${plan.version.text}: ${formatMissing(missing, plan.model)}`);
}

/** The script itself: what /system/script runs (the swap transaction, self-update flavour). */
export function renderUpdateBody(config: RouterConfig, plan: Plan, opts: UpdateScriptOptions = {}): string {
  checkUpdateWrites(plan);
  const t = updateTarget(config, plan, opts);
  const platform = `linux/${config.arch.platform.architecture}${config.arch.platform.variant ? `/${config.arch.platform.variant}` : ""}`;
  const header = [
    `# mikrotik-tailscale: keeps container "${plan.container.name}" on the newest image of ${t.ref} (${platform})`,
    "# Made by 'mikrotik-tailscale routeros update-script'; the digest of the image the container",
    `# was made from is in its comment (${DIGEST_MARK.trim()}...), written once the new container has proven itself.`,
  ];
  const body = renderSwapScript(plan, {
    flavour: "self-update",
    image: { kind: "remote", ref: t.ref },
    self: {
      ref: t.ref,
      platform,
      manifestUrl: t.manifestUrl,
      tokenUrl: opts.tokenUrl ?? "",
      checkCertificate: !(opts.checkCertificate === false || t.manifestUrl.startsWith("http:")),
      tokenCheckCertificate: !(opts.checkCertificate === false || (opts.tokenUrl ?? "").startsWith("http:")),
      platformCondition: platformCondition(config.arch),
    },
    settleSeconds: opts.settleSeconds ?? 30,
    poll: opts.poll,
    healthFlags: plan.syntax.healthcheck,
  });
  return [...header, body].join("\n");
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
  L.push(`${IND}${IND}/system/script/add name=${rosValue(sname)} policy=${policy} comment=${rosValue(`${SWAP_MARK} phase=idle`)} source=$src`);
  L.push(`${IND}} else={`);
  // The comment holds the swap's phase: a transaction in flight keeps it.
  L.push(`${IND}${IND}/system/script/set $s policy=${policy} source=$src`);
  L.push(`${IND}}`);
  L.push("}");
  const recover = recoverEntryName(plan, "self-update");
  L.push(`:if ([:len [/system/scheduler/find where name=${rosString(recover)}]] = 0) do={`);
  L.push(`${IND}/system/scheduler/add name=${rosValue(recover)} start-time=startup policy=${policy} comment=${rosValue(comment)} on-event=${rosString(recoverOnEvent(plan, "self-update"))}`);
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
