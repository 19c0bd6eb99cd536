import type { RosRecord } from "../rest.js";
import { PROPS } from "./catalogue.js";
import type { RouterOsVersion } from "../version.js";
import { containerStateForms, hasOwnReadableData, type StateForm } from "./readable.js";

/*
 * A container's state, read the way each RouterOS release reports it: one
 * `status` property up to 7.19 ("extracting", "stopped", "running", ...), a
 * set of boolean flags from 7.20/7.21 on (`running`, `stopped`, `starting`,
 * `stopping`, `downloading/extracting`, `download/extract failed`, ...).
 *
 * Over REST every value is a string. What is known of the flags there: a
 * reply carries `running` as "true"/"false" and no `stopped` key
 * (tikoci/routeros-skills, routeros-container/SKILL.md, written against real
 * CHRs). So a flag a reply leaves out is unknown, not false: "stopped" is
 * read as "not running and none of the other flags set".
 */

export type ContainerState = "extracting" | "stopped" | "starting" | "running" | "stopping" | "error" | "deleting" | "unknown";

const C = PROPS.container;
const n = (x: { name: string }) => x.name;
export const FLAG = {
  running: n(C.running),
  stopped: n(C.stopped),
  starting: n(C.starting),
  stopping: n(C.stopping),
  extracting: n(C.extracting),
  extractFailed: n(C.extractFailed),
  deleting: n(C.deleting),
  healthy: n(C.healthy),
  unhealthy: n(C.unhealthy),
  startingWithHealthcheck: n(C.startingWithHealthcheck),
} as const;
export const STATUS_PROP = n(C.status);

const STATUS_VALUES: Record<string, ContainerState> = {
  extracting: "extracting",
  stopped: "stopped",
  starting: "starting",
  running: "running",
  stopping: "stopping",
  error: "error",
};

const isTrue = (v: string | undefined) => v === "true" || v === "yes";

/** The state of a container as a REST reply (or print as-value row) reports it, whichever form the release uses. */
export function stateOf(rec: RosRecord): ContainerState {
  const status = rec[STATUS_PROP];
  if (status !== undefined) return STATUS_VALUES[status] ?? "unknown";
  if (isTrue(rec[FLAG.extractFailed])) return "error";
  if (isTrue(rec[FLAG.deleting])) return "deleting";
  if (isTrue(rec[FLAG.extracting])) return "extracting";
  if (isTrue(rec[FLAG.stopping])) return "stopping";
  // starting-with-healthcheck (7.23+) is read as a health verdict not given yet: running wins over it.
  if (isTrue(rec[FLAG.running])) return "running";
  if (isTrue(rec[FLAG.starting]) || isTrue(rec[FLAG.startingWithHealthcheck])) return "starting";
  if (isTrue(rec[FLAG.stopped]) || rec[FLAG.running] === "false") return "stopped";
  return "unknown";
}

/** RouterOS's health verdict from the flags (7.23+), when it reports one. */
export function healthOf(rec: RosRecord): "healthy" | "unhealthy" | "starting" | undefined {
  if (isTrue(rec[FLAG.unhealthy])) return "unhealthy";
  if (isTrue(rec[FLAG.healthy])) return "healthy";
  if (isTrue(rec[FLAG.startingWithHealthcheck])) return "starting";
  return undefined;
}

/** Every state property a record may carry: what a REST client must not mistake for configuration. */
export const STATE_PROPS: ReadonlySet<string> = new Set([STATUS_PROP, ...Object.values(FLAG)]);

/** The script form a generated script uses: the release's own, or both tried in turn where the evidence cannot tell. */
export type ScriptStateForm = StateForm | "either";

export function scriptStateForm(forms: readonly StateForm[], exactData: boolean): ScriptStateForm {
  return exactData && forms.length === 1 ? forms[0]! : "either";
}

/** The name generated scripts give the state function. */
export const STATE_FUNCTION = "ctState";

/**
 * RouterOS script lines defining `:local ctState do={...}`: called as
 * `[$ctState $id]`, it returns one of extracting, stopped, starting, running,
 * stopping, error or unknown. A function body sees only its arguments, so it
 * works anywhere in the script.
 */
export function stateFunction(form: ScriptStateForm, indent = ""): string[] {
  const I = `${indent}    `;
  const q = (s: string) => `"${s}"`;
  const flagBody = (pad: string) => [
    `${pad}:if ([/container/get $1 ${FLAG.stopped}]) do={ :set s "stopped" }`,
    `${pad}:if ([/container/get $1 ${q(FLAG.extracting)}]) do={ :set s "extracting" }`,
    `${pad}:if ([/container/get $1 ${q(FLAG.extractFailed)}]) do={ :set s "error" }`,
    `${pad}:if ([/container/get $1 ${FLAG.starting}]) do={ :set s "starting" }`,
    `${pad}:if ([/container/get $1 ${FLAG.stopping}]) do={ :set s "stopping" }`,
    `${pad}:if ([/container/get $1 ${FLAG.running}]) do={ :set s "running" }`,
  ];
  const L = [`${indent}:local ${STATE_FUNCTION} do={`, `${I}:local s "unknown"`];
  if (form === "status") L.push(`${I}:set s [:tostr [/container/get $1 ${STATUS_PROP}]]`);
  else if (form === "flags") L.push(...flagBody(I));
  else {
    // Up to 7.19 `status` exists; where it does not, the get fails and the flags answer.
    L.push(`${I}:do { :set s [:tostr [/container/get $1 ${STATUS_PROP}]] } on-error={`);
    L.push(...flagBody(`${I}    `));
    L.push(`${I}}`);
  }
  L.push(`${I}:return $s`, `${indent}}`);
  return L;
}

/** The container properties a script of this form reads (for the checks against a release's data). */
export function stateReads(form: ScriptStateForm): string[] {
  const flags = [FLAG.stopped, FLAG.extracting, FLAG.extractFailed, FLAG.starting, FLAG.stopping, FLAG.running];
  return form === "status" ? [STATUS_PROP] : form === "flags" ? flags : [STATUS_PROP, ...flags];
}

/** The form scripts for a release use: its own where its data says, both tried in turn elsewhere. */
export function scriptStateFormFor(v: RouterOsVersion): ScriptStateForm {
  return scriptStateForm(containerStateForms(v).forms, hasOwnReadableData(v));
}
