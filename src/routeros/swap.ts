import type { Fields, Plan } from "./plan.js";
import { rosString, rosValue } from "./rsc.js";
import { STATE_FUNCTION, stateFunction } from "./schema/state.js";

/*
 * The swap: replacing the container (a new image, new settings, or both) as
 * one transaction that the ROUTER runs, so that losing the connection to it,
 * a reboot or a power cut halfway can never leave it without Tailscale:
 *
 *   1. prepare: the new container `<name>-next` is made beside the old one
 *      (fetched or pulled and extracted while the old one still runs), with
 *      its own root-dir, env list and mount list (the other "slot");
 *   2. swap: the old container is stopped and renamed `<name>-previous`; the
 *      new one takes the name and the old one's start-on-boot, and starts;
 *   3. verify: it must keep running for the settle time (and, where RouterOS
 *      checks health, not turn unhealthy);
 *   4. commit: the old container, its lists and the fetched file go, and the
 *      image digest (when known) is recorded on the new container; or
 *      roll back: the new container and its lists go, the old one gets its
 *      name, start-on-boot and running state back.
 *
 * The phase is kept in the script's own comment (`mikrotik-tailscale-swap
 * phase=... boot=... run=...`). An on-startup scheduler entry runs the script
 * after every boot: a transaction cut short is finished (commit) or undone
 * (anything before it). Each step is written so that running it again after
 * a cut is harmless. The old container keeps its start-on-boot until it is
 * removed, so at no point is the only container left unable to start.
 *
 * Two flavours share the body: "once" (`routeros upgrade`/`deploy`, started
 * by the tool through a scheduler entry it removes at once) and
 * "self-update" (the scheduler runs it every interval; it first asks the
 * registry whether the tag's image for this router changed).
 */

export const SWAP_MARK = "mikrotik-tailscale-swap";
export const DIGEST_MARK = "mikrotik-tailscale image-digest=";

/** The digest recorded in a container comment, if any. */
export function recordedDigest(comment: string | undefined): string | undefined {
  if (!comment) return undefined;
  const i = comment.indexOf(DIGEST_MARK);
  if (i < 0) return undefined;
  const d = comment.slice(i + DIGEST_MARK.length, i + DIGEST_MARK.length + 71);
  return /^sha256:[0-9a-f]{64}$/.test(d) ? d : undefined;
}

export type SwapPhase = "ready" | "preparing" | "fetching" | "extracting" | "swapping" | "verifying" | "committing" | "rolling-back" | "committed" | "rolled-back" | "failed" | "idle";
export const TERMINAL_PHASES: ReadonlySet<SwapPhase> = new Set(["committed", "rolled-back", "failed", "idle"]);

export type SwapImage =
  | { kind: "remote"; ref: string }
  /** Fetched by the router's /tool/fetch into path (the tool's short-lived server, or a URL in the config). */
  | { kind: "fetch"; url: string; path: string; checkCertificate: boolean; keepFile: boolean }
  | { kind: "routerFile"; path: string };

export interface SwapEnv {
  key: string;
  /** undefined: copy the value from the old container's list (a secret the router holds already, or one this machine does not have). */
  value?: string;
}

export interface SwapMount {
  src: string;
  dst: string;
}

export interface SwapRegistryCheck {
  /** The registry's index URL for the tag, and the token URL for anonymous pulls ("" if none). */
  manifestUrl: string;
  tokenUrl: string;
  checkCertificate: boolean;
  tokenCheckCertificate: boolean;
  /** RouterOS condition on $pl (a platform object of the index) that picks this router's image. */
  platformCondition: string;
  platform: string;
  ref: string;
}

export interface SwapOptions {
  flavour: "once" | "self-update";
  /** once: the image to swap to; self-update: always the registry reference. */
  image: SwapImage;
  /** once: the new slot's environment; undefined copies the old container's (self-update). */
  env?: SwapEnv[];
  /** once: the new slot's mounts; undefined copies the old container's. */
  mounts?: SwapMount[];
  /** What the extracted image must say (checked before anything stops): its architecture, and a version in its tag. */
  expect?: { arch: string; version?: string };
  /** once: the registry digest to record on the new container (upgrade --if-changed). */
  digest?: string;
  self?: SwapRegistryCheck;
  /** How long the new container must keep running. */
  settleSeconds: number;
  extractTimeoutSeconds?: number;
  startTimeoutSeconds?: number;
  /** The wait between two looks (RouterOS :delay syntax), e.g. 1s; tests use less. */
  poll?: string;
  /** Whether RouterOS reports health here (healthcheck on 7.23+): an unhealthy new container fails. */
  healthFlags: boolean;
}

export type Flavour = SwapOptions["flavour"];

/** The script's name: the tool's one-off swap, or the self-update (the name its installer always used). */
export function swapScriptName(plan: Plan, flavour: Flavour): string {
  return flavour === "once" ? onceScriptName(plan.container.name) : `mikrotik-tailscale-update-${plan.container.name}`;
}

/** The one-off swap script of a container: it holds the new environment (a secret only when the run changes it) until the tool removes it. */
export function onceScriptName(container: string): string {
  return `mikrotik-tailscale-${container}-swap`;
}

/** The scheduler entry that runs the script after every boot, to finish or undo. */
export function recoverEntryName(plan: Plan, flavour: Flavour): string {
  return `${swapScriptName(plan, flavour)}-recover`;
}

/** The scheduler entry the tool adds to start a one-off swap; the script removes it at once. */
export function kickEntryName(plan: Plan, flavour: Flavour): string {
  return `${swapScriptName(plan, flavour)}-start`;
}

/** The :global a recovery run sets so that the script only finishes or undoes. */
export function recoverFlag(plan: Plan, flavour: Flavour): string {
  return `mtRecover${swapScriptName(plan, flavour).replace(/[^A-Za-z0-9]/g, "")}`;
}

/** The scheduler's on-event that runs the script to finish or undo only (after a boot, or when the tool asks). */
export function recoverOnEvent(plan: Plan, flavour: Flavour): string {
  return `:global ${recoverFlag(plan, flavour)} true; /system/script/run ${swapScriptName(plan, flavour)}`;
}

export interface SwapRecord {
  phase: SwapPhase;
  boot?: string;
  run?: string;
}

/** Reads a script comment written by the swap. */
export function parseSwapRecord(comment: string | undefined): SwapRecord | undefined {
  if (!comment?.startsWith(SWAP_MARK)) return undefined;
  const f = (k: string) => new RegExp(`(?:^| )${k}=(\\S*)`).exec(comment)?.[1];
  const phase = (f("phase") ?? "idle") as SwapPhase;
  return { phase, boot: f("boot"), run: f("run") };
}

function assignments(f: Fields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${rosValue(v)}`)
    .join(" ");
}

function urlString(u: string): string {
  // A bare & in a fetch URL has broken scripts; \26 is the same byte.
  return rosString(u).replace(/&/g, "\\26");
}

/** The slot names: the state mount list was `<name>-state` before slots, so slot A keeps it. */
export function slotNames(name: string): { envA: string; envB: string; mountA: string; mountB: string } {
  return { envA: name, envB: `${name}-b`, mountA: `${name}-state`, mountB: `${name}-b-state` };
}

/** The script that runs the swap on the router. */
export function renderSwapScript(plan: Plan, o: SwapOptions): string {
  const c = plan.container;
  const syn = plan.syntax;
  const kf = c.key.field;
  const name = c.key.value;
  const I = "    ";
  const poll = o.poll ?? "1s";
  const pollMs = parsePoll(poll);
  const ticks = (s: number) => Math.max(1, Math.ceil((s * 1000) / pollMs));
  const extractTicks = ticks(o.extractTimeoutSeconds ?? 600);
  const startTicks = ticks(o.startTimeoutSeconds ?? 120);
  const settleTicks = ticks(o.settleSeconds);
  const F = `$${STATE_FUNCTION}`;
  const slots = slotNames(c.name);
  const lk = syn.envsListKey;
  const mk = syn.mountsListKey;
  const envField = syn.containerEnvField;
  const mountField = syn.containerMountsField;
  const fields: Fields = { ...c.fields };
  delete fields[envField];
  delete fields[mountField];
  delete fields["start-on-boot"];
  const img = o.image;
  const filePath = img.kind === "fetch" ? img.path : "";
  const L: string[] = [];
  const find = (v: string) => `[/container/find where ${kf}=${v}]`;

  L.push(`# mikrotik-tailscale: the swap transaction for container "${c.name}" (${o.flavour}); made by mikrotik-tailscale, do not edit.`);
  L.push(`# Its phase is in this script's comment (${SWAP_MARK} phase=...); the scheduler entry`);
  L.push(`# ${kf === "name" ? "" : "(containers are found by comment: RouterOS before 7.19 has no names) "}after a boot finishes or undoes a transaction cut short.`);
  const other: Flavour = o.flavour === "once" ? "self-update" : "once";
  L.push(`:local me ${rosString(swapScriptName(plan, o.flavour))}`);
  L.push(`:local other ${rosString(swapScriptName(plan, other))}`);
  L.push(`:local name ${rosString(name)}`);
  L.push(`:local nextName ${rosString(kf === "name" ? `${c.name}-next` : `${name}-next`)}`);
  L.push(`:local prevName ${rosString(c.key.previous)}`);
  L.push(`:local recoverEntry ${rosString(recoverEntryName(plan, o.flavour))}`);
  L.push(`:local kickEntry ${rosString(kickEntryName(plan, o.flavour))}`);
  L.push(`:local filePath ${rosString(filePath)}`);
  L.push(`:local mark ${rosString(DIGEST_MARK)}`);
  L.push(...stateFunction(plan.stateForm));
  L.push(`:local save do={ /system/script/set [/system/script/find where name=$1] comment=(${rosString(`${SWAP_MARK} phase=`)} . $2 . " boot=" . $3 . " run=" . $4 . " want=" . $5) }`);
  L.push(`:local field do={ :local i [:find $1 (" " . $2 . "=")]; :if ([:typeof $i] != "num") do={ :return "" }; :local rest [:pick $1 ($i + [:len $2] + 2) [:len $1]]; :local e [:find $rest " "]; :if ([:typeof $e] = "num") do={ :return [:pick $rest 0 $e] }; :return $rest }`);
  // One swap at a time: a second run of this script, or one of the other kind, leaves.
  L.push(`:if ([:len [/system/script/job/find where script=$me]] > 1 || [:len [/system/script/job/find where script=$other]] > 0) do={ :log info ($me . ": another swap of " . $name . " is running"); :error "already running" }`);
  const flag = recoverFlag(plan, o.flavour);
  L.push(`:global ${flag}`);
  L.push(`:local recoverOnly ($${flag} = true)`);
  L.push(`:set ${flag} false`);
  // The entry that finishes or undoes after a boot exists before the one that started us goes.
  L.push(`:if ([:len [/system/scheduler/find where name=$recoverEntry]] = 0) do={ /system/scheduler/add name=$recoverEntry start-time=startup policy=read,write,test comment=${rosValue(`mikrotik-tailscale:${c.name}`)} on-event=${rosString(recoverOnEvent(plan, o.flavour))} }`);
  L.push(":foreach k in=[/system/scheduler/find where name=$kickEntry] do={ /system/scheduler/remove $k }");
  L.push(":local rec [:tostr [/system/script/get [/system/script/find where name=$me] comment]]");
  L.push(`:local phase [$field $rec "phase"]`);
  L.push(`:local boot [$field $rec "boot"]`);
  L.push(`:local run [$field $rec "run"]`);
  // The digest to record: the tool's, or (self-update) the registry's, kept in the record for a recovery.
  L.push(`:local want [$field $rec "want"]`);
  L.push(`:if ([:len $want] = 0) do={ :set want ${rosString(o.digest ?? "")} }`);
  L.push(':local action ""');
  L.push(':local why ""');
  L.push("");
  L.push("# A transaction cut short (a reboot, a power cut): finish it or undo it first.");
  L.push(':if ($phase = "preparing" || $phase = "fetching" || $phase = "extracting") do={ :set action "undo"; :set why "cut short before the swap" }');
  L.push(':if ($phase = "swapping" || $phase = "verifying" || $phase = "rolling-back") do={ :set action "rollback"; :set why "cut short during the swap" }');
  L.push(':if ($phase = "committing") do={ :set action "commit" }');
  L.push(':if ([:len $action] > 0) do={ :log warning ($me . ": finishing a transaction cut short in phase " . $phase) }');
  L.push("");
  L.push(":local go ([:len $action] = 0 && !$recoverOnly)");
  if (o.flavour === "once") {
    L.push('# Run once, when the tool asks (phase=ready).');
    L.push(':if ($go && $phase != "ready") do={ :set go false }');
  } else {
    renderRegistryCheck(L, plan, o.self!, I);
  }
  L.push("");
  L.push("# 1. prepare: the new container beside the old one, which keeps running.");
  L.push(":if ($go) do={");
  L.push(`${I}:local old ${find("$name")}`);
  L.push(`${I}:if ([:len $old] = 0) do={ :log error ($me . ": there is no container " . $name); :set go false; :set action "none" }`);
  L.push("}");
  L.push(":if ($go) do={");
  L.push(`${I}:local old ${find("$name")}`);
  // From here until the swap, a cut is undone: the new slot's lists and container go.
  L.push(`${I}$save $me "preparing" "" "" $want`);
  // Leftovers of an earlier failed run would collide: clear them.
  L.push(`${I}:foreach x in=${find("$nextName")} do={ :do { /container/stop $x } on-error={}; :local n 0; :while ([${F} $x] != "stopped" && [${F} $x] != "error" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }; /container/remove $x }`);
  L.push(`${I}:local curEnv [:tostr [/container/get $old ${envField}]]`);
  L.push(`${I}:local curMount [:tostr [/container/get $old ${mountField}]]`);
  L.push(`${I}:local newEnv ${rosString(slots.envB)}`);
  L.push(`${I}:if ($curEnv = ${rosString(slots.envB)}) do={ :set newEnv ${rosString(slots.envA)} }`);
  L.push(`${I}:local newMount ${rosString(slots.mountB)}`);
  L.push(`${I}:if ($curMount = ${rosString(slots.mountB)}) do={ :set newMount ${rosString(slots.mountA)} }`);
  L.push(`${I}:local newRoot ${rosString(c.rootDir)}`);
  L.push(`${I}:local oldRoot [:tostr [/container/get $old root-dir]]`);
  L.push(`${I}:if ($oldRoot = $newRoot || $oldRoot = ("/" . $newRoot)) do={ :set newRoot ${rosString(c.rootDirAlt)} }`);
  L.push(`${I}/container/envs/remove [/container/envs/find where ${lk}=$newEnv]`);
  L.push(`${I}/container/mounts/remove [/container/mounts/find where ${mk}=$newMount]`);
  if (o.env) {
    for (const e of o.env) {
      if (e.value === undefined) {
        L.push(`${I}:foreach x in=[/container/envs/find where ${lk}=$curEnv key=${rosString(e.key)}] do={ /container/envs/add ${lk}=$newEnv key=${rosValue(e.key)} value=[/container/envs/get $x value] }`);
      } else {
        L.push(`${I}/container/envs/add ${lk}=$newEnv key=${rosValue(e.key)} value=${rosString(e.value)}`);
      }
    }
  } else {
    L.push(`${I}:foreach x in=[/container/envs/find where ${lk}=$curEnv] do={ /container/envs/add ${lk}=$newEnv key=[/container/envs/get $x key] value=[/container/envs/get $x value] }`);
  }
  const access = syn.mountAccess === "mode" ? " mode=rw" : "";
  if (o.mounts) {
    for (const m of o.mounts) L.push(`${I}/container/mounts/add ${mk}=$newMount src=${rosValue(m.src)} dst=${rosValue(m.dst)}${access}`);
  } else {
    const copyAccess = syn.mountAccess === "mode" ? " mode=[/container/mounts/get $x mode]" : syn.mountAccess === "read-only" ? " read-only=[/container/mounts/get $x read-only]" : "";
    L.push(`${I}:foreach x in=[/container/mounts/find where ${mk}=$curMount] do={ /container/mounts/add ${mk}=$newMount src=[/container/mounts/get $x src] dst=[/container/mounts/get $x dst]${copyAccess} }`);
  }
  if (img.kind === "fetch") {
    L.push(`${I}$save $me "fetching" "" "" $want`);
    L.push(`${I}:do {`);
    L.push(`${I}${I}/tool/fetch url=${urlString(img.url)} dst-path=$filePath${img.checkCertificate ? " check-certificate=yes" : ""}`);
    L.push(`${I}} on-error={ :set go false; :set action "undo"; :set why ("the router could not fetch the image (" . ${urlString(redact(img.url))} . ")") }`);
  }
  // (Still inside the prepare block: its locals, the new slot's names, stay in scope.)
  L.push(`${I}:if ($go) do={`);
  const nestFrom = L.length;
  L.push(`${I}$save $me "extracting" "" "" $want`);
  const source = img.kind === "remote" ? `remote-image=${rosValue(img.ref)}` : img.kind === "fetch" ? "file=$filePath" : `file=${rosValue(img.path)}`;
  const newEnvMount = `${envField}=$newEnv ${mountField}=$newMount`;
  L.push(`${I}:local keepComment [:tostr [/container/get $old comment]]`);
  if (kf === "name") {
    L.push(`${I}:local at [:find $keepComment $mark]`);
    L.push(`${I}:if ([:typeof $at] = "num") do={ :set keepComment [:pick $keepComment 0 $at] }`);
  }
  L.push(`${I}:do {`);
  if (kf === "name") {
    L.push(`${I}${I}/container/add name=$nextName ${source} root-dir=$newRoot ${newEnvMount} ${assignments(fields)} start-on-boot=no comment=$keepComment`);
  } else {
    L.push(`${I}${I}/container/add comment=$nextName ${source} root-dir=$newRoot ${newEnvMount} ${assignments(fields)} start-on-boot=no`);
  }
  L.push(`${I}} on-error={ :set go false; :set action "undo"; :set why "the new container could not be added" }`);
  L.push(`${I}:if ($go) do={`);
  L.push(`${I}${I}:local nc ${find("$nextName")}`);
  L.push(`${I}${I}:local n 0`);
  L.push(`${I}${I}:while ([${F} $nc] = "extracting" && $n < ${extractTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}${I}:if ([${F} $nc] != "stopped") do={ :set go false; :set action "undo"; :set why ("its image did not download or extract (" . [${F} $nc] . ")") }`);
  if (o.expect) {
    L.push(`${I}${I}:if ($go && [:typeof [:find [:tostr [/container/get $nc arch]] ${rosString(o.expect.arch)}]] != "num") do={ :set go false; :set action "undo"; :set why ("the extracted image is for " . [:tostr [/container/get $nc arch]] . ", not ${o.expect.arch}") }`);
    if (o.expect.version) {
      L.push(`${I}${I}:local tag [:tostr [/container/get $nc tag]]`);
      L.push(`${I}${I}:if ($go && [:len $tag] > 0 && [:typeof [:find $tag ${rosString(o.expect.version)}]] != "num") do={ :set go false; :set action "undo"; :set why ("the extracted image is " . $tag . ", not ${o.expect.version}") }`);
    }
  }
  if (img.kind === "fetch" && !img.keepFile) L.push(`${I}${I}:if ($go) do={ /file/remove [/file/find where name=$filePath] }`);
  L.push(`${I}}`);
  for (let i = nestFrom; i < L.length; i++) L[i] = `${I}${L[i]}`;
  L.push(`${I}}`);
  L.push("}");
  L.push("");
  L.push("# 2. swap: the old container stops and steps aside; the new one takes its name and start-on-boot.");
  L.push(":if ($go) do={");
  L.push(`${I}:local old ${find("$name")}`);
  L.push(`${I}:set boot "no"`);
  L.push(`${I}:if ([/container/get $old start-on-boot]) do={ :set boot "yes" }`);
  L.push(`${I}:set run "no"`);
  L.push(`${I}:if ([${F} $old] = "running" || [${F} $old] = "starting") do={ :set run "yes" }`);
  L.push(`${I}$save $me "swapping" $boot $run $want`);
  L.push(`${I}:do { /container/stop $old } on-error={}`);
  L.push(`${I}:local n 0`);
  L.push(`${I}:while ([${F} $old] != "stopped" && [${F} $old] != "error" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}:do {`);
  L.push(`${I}${I}/container/set $old ${kf}=$prevName`);
  L.push(`${I}${I}/container/set ${find("$nextName")} ${kf}=$name start-on-boot=$boot`);
  L.push(`${I}${I}/container/start ${find("$name")}`);
  L.push(`${I}} on-error={ :set go false; :set action "rollback"; :set why "the new container could not take the old one's place" }`);
  L.push("}");
  L.push("");
  L.push("# 3. verify: it must reach running and stay there for the settle time.");
  L.push(":if ($go) do={");
  L.push(`${I}$save $me "verifying" $boot $run $want`);
  L.push(`${I}:local nc ${find("$name")}`);
  L.push(`${I}:local n 0`);
  L.push(`${I}:while ([${F} $nc] != "running" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}:if ([${F} $nc] != "running") do={ :set go false; :set action "rollback"; :set why ("it did not start (" . [${F} $nc] . ")") }`);
  L.push(`${I}:set n 0`);
  L.push(`${I}:while ($go && $n < ${settleTicks}) do={`);
  L.push(`${I}${I}:delay ${poll}`);
  L.push(`${I}${I}:set n ($n + 1)`);
  L.push(`${I}${I}:if ([${F} $nc] != "running") do={ :set go false; :set action "rollback"; :set why ("it did not keep running (" . [${F} $nc] . ")") }`);
  if (o.healthFlags && c.fields["healthcheck-cmd"]) {
    L.push(`${I}${I}:if ($go && [/container/get $nc unhealthy]) do={ :set go false; :set action "rollback"; :set why ("RouterOS reports it unhealthy: " . [:tostr [/container/get $nc healthcheck-status]]) }`);
  }
  L.push(`${I}}`);
  L.push(`${I}:if ($go) do={ :set action "commit" }`);
  L.push("}");
  L.push("");
  renderActions(L, plan, o, { F, find, kf, lk, mk, envField, mountField, slots, startTicks, poll, I });
  return L.join("\n") + "\n";
}

function redact(url: string): string {
  // The served URL carries a one-time token: the log shows where, not the token.
  return url.replace(/\/[0-9a-f]{24}\//, "/<token>/");
}

function parsePoll(p: string): number {
  const m = /^(\d+)(ms|s)$/.exec(p);
  if (!m) throw new Error(`swap poll '${p}' is not like 1s or 200ms`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

interface Ctx {
  F: string;
  find: (v: string) => string;
  kf: string;
  lk: string;
  mk: string;
  envField: string;
  mountField: string;
  slots: ReturnType<typeof slotNames>;
  startTicks: number;
  poll: string;
  I: string;
}

/** undo, rollback and commit: each step guarded, so a second run after a cut does no harm. */
function renderActions(L: string[], plan: Plan, o: SwapOptions, x: Ctx): void {
  const { F, find, lk, mk, envField, mountField, slots, startTicks, poll, I } = x;
  const stopAndRemove = (v: string, pad: string) =>
    `${pad}:foreach x in=${find(v)} do={ :do { /container/stop $x } on-error={}; :local n 0; :while ([${F} $x] != "stopped" && [${F} $x] != "error" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }; :do { /container/remove $x } on-error={ :log error ("could not remove a container: " . $x) } }`;
  // The lists a container does not use, of the two slots: the other container's, to remove.
  const dropOtherLists = (keepVar: string, pad: string) => [
    `${pad}:local keepEnv ""`,
    `${pad}:local keepMount ""`,
    `${pad}:foreach k in=${find(keepVar)} do={ :set keepEnv [:tostr [/container/get $k ${envField}]]; :set keepMount [:tostr [/container/get $k ${mountField}]] }`,
    `${pad}:if ([:len $keepEnv] > 0) do={`,
    ...[slots.envA, slots.envB].map((l) => `${pad}${I}:if ($keepEnv != ${rosString(l)}) do={ /container/envs/remove [/container/envs/find where ${lk}=${rosString(l)}] }`),
    ...[slots.mountA, slots.mountB].map((l) => `${pad}${I}:if ($keepMount != ${rosString(l)}) do={ /container/mounts/remove [/container/mounts/find where ${mk}=${rosString(l)}] }`),
    `${pad}}`,
  ];
  L.push("# 4. finish: undo (the old container was never touched), roll back, or commit.");
  L.push(':if ($action = "undo") do={');
  L.push(...dropOtherLists("$name", I));
  L.push(stopAndRemove("$nextName", I));
  L.push(`${I}:if ([:len $filePath] > 0) do={ /file/remove [/file/find where name=$filePath] }`);
  L.push(`${I}$save $me "failed" "" "" $want`);
  L.push(`${I}:log error ($me . ": not used: " . $why . "; the running container was not touched")`);
  L.push("}");
  L.push(':if ($action = "rollback") do={');
  L.push(`${I}$save $me "rolling-back" $boot $run $want`);
  L.push(`${I}:if ([:len ${find("$prevName")}] > 0) do={`);
  L.push(stopAndRemove("$name", I + I));
  // After a boot the old container may run already (under its step-aside name): it changes only stopped.
  L.push(`${I}${I}:local p ${find("$prevName")}`);
  L.push(`${I}${I}:do { /container/stop $p } on-error={}`);
  L.push(`${I}${I}:local n 0`);
  L.push(`${I}${I}:while ([${F} $p] != "stopped" && [${F} $p] != "error" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}${I}:if ([:len $boot] = 0) do={ :set boot "yes" }`);
  L.push(`${I}${I}/container/set $p ${x.kf}=$name start-on-boot=$boot`);
  L.push(`${I}}`);
  L.push(stopAndRemove("$nextName", I));
  L.push(`${I}:local old ${find("$name")}`);
  L.push(`${I}:if ($run != "no" && [:len $old] > 0 && [${F} $old] != "running") do={`);
  L.push(`${I}${I}:do { /container/start $old } on-error={}`);
  L.push(`${I}${I}:local n 0`);
  L.push(`${I}${I}:while ([${F} $old] != "running" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}}`);
  L.push(...dropOtherLists("$name", I));
  L.push(`${I}:if ([:len $filePath] > 0) do={ /file/remove [/file/find where name=$filePath] }`);
  L.push(`${I}$save $me "rolled-back" $boot $run $want`);
  L.push(`${I}:log error ($me . ": rolled back: " . $why)`);
  L.push("}");
  L.push(':if ($action = "commit") do={');
  L.push(`${I}$save $me "committing" $boot $run $want`);
  L.push(stopAndRemove("$prevName", I));
  // After a boot the old container may have taken the interface first: the new one runs again.
  L.push(`${I}:foreach nc in=${find("$name")} do={`);
  L.push(`${I}${I}:if ([${F} $nc] = "stopped") do={ :do { /container/start $nc } on-error={} }`);
  L.push(`${I}${I}:local n 0`);
  L.push(`${I}${I}:while ([${F} $nc] != "running" && $n < ${startTicks}) do={ :delay ${poll}; :set n ($n + 1) }`);
  L.push(`${I}}`);
  L.push(...dropOtherLists("$name", I));
  L.push(`${I}:if ([:len $filePath] > 0) do={ /file/remove [/file/find where name=$filePath] }`);
  if (x.kf === "name") {
    // The digest is recorded only now that the new container has proven itself.
    L.push(`${I}:local nc ${find("$name")}`);
    L.push(`${I}:if ([:len $want] > 0 && [:len $nc] > 0) do={`);
    L.push(`${I}${I}:local cm [:tostr [/container/get $nc comment]]`);
    L.push(`${I}${I}:local at [:find $cm $mark]`);
    L.push(`${I}${I}:if ([:typeof $at] = "num") do={ :set cm [:pick $cm 0 $at] }`);
    L.push(`${I}${I}:if ([:len $cm] > 0 && [:pick $cm ([:len $cm] - 1)] != " ") do={ :set cm ($cm . " ") }`);
    L.push(`${I}${I}/container/set $nc comment=($cm . $mark . $want)`);
    L.push(`${I}}`);
  }
  L.push(`${I}$save $me "committed" $boot $run $want`);
  L.push(`${I}:log info ($me . ": " . $name . " now runs the new image; the previous one is gone")`);
  L.push("}");
}

/** The self-update's question to the registry: sets $want to the digest for this router, or stops. */
function renderRegistryCheck(L: string[], plan: Plan, r: SwapRegistryCheck, I: string): void {
  const tokenCheck = r.tokenCheckCertificate ? " check-certificate=yes" : "";
  const check = r.checkCertificate ? " check-certificate=yes" : "";
  L.push(`# Ask the registry for ${r.ref}'s image for ${r.platform}; swap only when it differs from the recorded one.`);
  L.push(":if ($go) do={");
  L.push(`${I}:local tokenUrl ${urlString(r.tokenUrl)}`);
  L.push(`${I}:local manifestUrl ${urlString(r.manifestUrl)}`);
  L.push(`${I}:local headers "Accept: application/vnd.oci.image.index.v1+json"`);
  L.push(`${I}:if ([:len $tokenUrl] > 0) do={`);
  L.push(`${I}${I}:local tok ""`);
  L.push(`${I}${I}:do {`);
  L.push(`${I}${I}${I}:local tj [:deserialize from=json value=([/tool/fetch url=$tokenUrl output=user as-value${tokenCheck}]->"data")]`);
  L.push(`${I}${I}${I}:set tok [:tostr ($tj->"token")]`);
  L.push(`${I}${I}${I}:if ([:len $tok] = 0) do={ :set tok [:tostr ($tj->"access_token")] }`);
  L.push(`${I}${I}} on-error={ :log error ($me . ": no registry token from " . $tokenUrl) }`);
  L.push(`${I}${I}:if ([:len $tok] = 0) do={ :set go false } else={ :set headers ($headers . ",Authorization: Bearer " . $tok) }`);
  L.push(`${I}}`);
  L.push(`${I}:if ($go) do={`);
  L.push(`${I}${I}:do {`);
  L.push(`${I}${I}${I}:local idx [:deserialize from=json value=([/tool/fetch url=$manifestUrl http-header-field=$headers output=user as-value${check}]->"data")]`);
  L.push(`${I}${I}${I}:foreach p in=($idx->"manifests") do={`);
  L.push(`${I}${I}${I}${I}:local pl ($p->"platform")`);
  L.push(`${I}${I}${I}${I}:if (${r.platformCondition}) do={ :set want ($p->"digest") }`);
  L.push(`${I}${I}${I}}`);
  L.push(`${I}${I}} on-error={ :log error ($me . ": cannot read " . ${rosString(r.ref)} . " from the registry"); :set go false }`);
  L.push(`${I}}`);
  L.push(`${I}:if ($go && [:len $want] = 0) do={ :log error ($me . ": " . ${rosString(r.ref)} . " has no image for ${r.platform}"); :set go false }`);
  L.push(`${I}:if ($go) do={`);
  L.push(`${I}${I}:local have ""`);
  L.push(`${I}${I}:foreach x in=[/container/find where name=$name] do={`);
  L.push(`${I}${I}${I}:local cm [:tostr [/container/get $x comment]]`);
  L.push(`${I}${I}${I}:local at [:find $cm $mark]`);
  L.push(`${I}${I}${I}:if ([:typeof $at] = "num") do={ :set have [:pick $cm ($at + [:len $mark]) ($at + [:len $mark] + 71)] }`);
  L.push(`${I}${I}}`);
  L.push(`${I}${I}:if ($have = $want) do={ :log info ($me . ": " . $name . " runs the current image of " . ${rosString(r.ref)} . "; nothing to do"); :set go false }`);
  L.push(`${I}${I}:if ($go) do={ :log info ($me . ": " . ${rosString(r.ref)} . " changed (" . $have . " -> " . $want . "); replacing " . $name . ", keeping its state") }`);
  L.push(`${I}}`);
  L.push("}");
  void plan;
}
