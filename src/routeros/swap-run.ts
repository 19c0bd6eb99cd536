import { setTimeout as sleep } from "node:timers/promises";
import { FailureError } from "../errors.js";
import { RouterApiError, RouterReplyError, RouterUnreachableError, SwapInterruptedError, UpgradeRolledBackError } from "./errors.js";
import type { ImageInfo } from "./image.js";
import { findContainer } from "./lifecycle.js";
import type { Plan } from "./plan.js";
import type { Prepared } from "./preflight.js";
import type { RestClient, RosRecord } from "./rest.js";
import { localAddressFor, serveFile, type ServedFile } from "./serve.js";
import { say, type RunOptions } from "./session.js";
import {
  kickEntryName,
  parseSwapRecord,
  recoverEntryName,
  recoverOnEvent,
  renderSwapScript,
  SWAP_MARK,
  swapScriptName,
  TERMINAL_PHASES,
  type Flavour,
  type SwapEnv,
  type SwapImage,
  type SwapMount,
  type SwapPhase,
} from "./swap.js";
import { stateOf } from "./schema/state.js";

/*
 * The tool's side of a swap (swap.ts): install the transaction as a
 * /system/script, start it with a scheduler entry the script removes at
 * once, and watch its phase. Everything that matters happens on the router:
 * when the connection drops (the router is reached through the container
 * being replaced), or this process is stopped, the router finishes or undoes
 * the swap on its own; watching only reports it.
 */

const POLICY = "read,write,test";

export interface SwapRequest {
  image: SwapImage | { kind: "serve"; localPath: string; fileName: string; routerPath: string; keepFile: boolean };
  info?: ImageInfo;
  env: SwapEnv[];
  mounts: SwapMount[];
  digest?: string;
  /** One line for progress, e.g. "v1.98.5-mt.1 -> v1.98.6-mt.1". */
  what: string;
}

export interface SwapOutcome {
  phase: SwapPhase;
  /** What the router logged about it (why it rolled back). */
  detail?: string;
}

function isLink(e: unknown): boolean {
  return e instanceof RouterUnreachableError || e instanceof RouterReplyError || (e instanceof RouterApiError && e.status >= 500);
}

async function scriptRecord(client: RestClient, name: string): Promise<RosRecord | undefined> {
  return (await client.getList("system/script")).find((s) => s.name === name);
}

async function removeNamed(client: RestClient, menu: string, name: string): Promise<void> {
  for (const r of (await client.getList(menu)).filter((x) => x.name === name)) await client.delete(`${menu}/${r[".id"]}`);
}

/** The router's last words on the swap, from its log. */
async function lastWords(client: RestClient, me: string): Promise<string | undefined> {
  try {
    const log = await client.getList("log");
    const mine = log.filter((l) => (l.message ?? "").startsWith(`${me}: `));
    const words = mine.length ? mine[mine.length - 1]!.message!.slice(me.length + 2) : undefined;
    return words?.replace(/^(rolled back|not used): /, "");
  } catch {
    return undefined;
  }
}

/** Watches a swap script's phase until it ends, through lost connections; stops watching on Ctrl-C or at the deadline. */
async function watch(o: RunOptions, plan: Plan, flavour: Flavour, deadlineMs: number): Promise<SwapOutcome> {
  const me = swapScriptName(plan, flavour);
  const until = Date.now() + deadlineMs;
  const poll = o.pollMs ?? 1000;
  let last: SwapPhase | undefined;
  let lost = false;
  for (;;) {
    if (o.signal?.aborted) {
      throw new SwapInterruptedError(
        `stopped watching: the router finishes or undoes the swap of ${plan.container.name} on its own (phase ${last ?? "ready"}); see the result with 'routeros status'`,
      );
    }
    try {
      const rec = parseSwapRecord((await scriptRecord(o.client, me))?.comment);
      if (lost) say(o, "the router answers again");
      lost = false;
      if (rec && rec.phase !== last) {
        last = rec.phase;
        say(o, `router: ${describePhase(rec.phase)}`);
      }
      if (rec && TERMINAL_PHASES.has(rec.phase) && rec.phase !== "idle") return { phase: rec.phase, detail: await lastWords(o.client, me) };
      if (!rec && last) return { phase: "failed", detail: "the swap script disappeared from the router" };
    } catch (e) {
      if (!isLink(e)) throw e;
      if (!lost) say(o, `lost the connection to the router (expected when it is reached through ${plan.container.name}); the router goes on; waiting for it to answer again`);
      lost = true;
    }
    if (Date.now() >= until) {
      throw new FailureError(
        `no end to the swap of ${plan.container.name} within ${Math.round(deadlineMs / 1000)} s${lost ? " (the router did not answer again)" : ` (phase ${last ?? "ready"})`}; it finishes or undoes itself on the router, and after a reboot; see the result with 'routeros status'`,
      );
    }
    await sleep(poll, undefined, { signal: o.signal }).catch(() => undefined);
  }
}

/** How long to wait for a swap: its own timeouts on the router, and five minutes for a link to come back. */
function swapDeadline(o: RunOptions): number {
  return o.swapTimeoutMs ?? (o.extractTimeoutMs ?? 600_000) + (o.startTimeoutMs ?? 120_000) * 3 + (o.settleMs ?? 10_000) + 300_000;
}

function describePhase(p: SwapPhase): string {
  return (
    {
      ready: "swap installed, starting",
      preparing: "preparing the new container's environment and mounts",
      fetching: "fetching the image",
      extracting: "extracting the new container beside the old one",
      swapping: "stopping the old container, starting the new one",
      verifying: "checking that the new container keeps running",
      committing: "removing the previous container",
      "rolling-back": "the new container failed: putting the previous one back",
      committed: "done",
      "rolled-back": "the previous container is back",
      failed: "the new container was not used; the old one was not touched",
      idle: "idle",
    } as Record<SwapPhase, string>
  )[p];
}

/**
 * A swap left in flight by an earlier run (ours or the self-update's): let
 * the router finish or undo it before anything else. Containers an older
 * version of this tool left (`<name>-previous` without `<name>`) are put back.
 */
export async function settleLeftovers(o: RunOptions, plan: Plan): Promise<string[]> {
  const notes: string[] = [];
  const { client } = o;
  for (const flavour of ["once", "self-update"] as const) {
    const me = swapScriptName(plan, flavour);
    const rec = parseSwapRecord((await scriptRecord(client, me))?.comment);
    if (rec && flavour === "once" && (TERMINAL_PHASES.has(rec.phase) || rec.phase === "ready") && !o.dryRun) {
      // An earlier run's swap that ended (or never started) while we were cut off: its script may hold a changed secret.
      await cleanup(client, plan, flavour);
      notes.push(`removed the swap script an earlier run left (phase ${rec.phase})`);
      continue;
    }
    if (!rec || TERMINAL_PHASES.has(rec.phase) || rec.phase === "ready") continue;
    const running = (await client.getList("system/script/job")).some((j) => j.script === me);
    say(o, `a swap of ${plan.container.name} was left in phase ${rec.phase}: ${running ? "the router is on it" : "asking the router to finish or undo it"}`);
    if (o.dryRun) {
      notes.push(`a swap left in phase ${rec.phase} would be finished or undone first`);
      continue;
    }
    if (!running) {
      await removeNamed(client, "system/scheduler", kickEntryName(plan, flavour));
      await client.put("system/scheduler", { name: kickEntryName(plan, flavour), interval: "1s", policy: POLICY, "on-event": recoverOnEvent(plan, flavour) });
    }
    const out = await watch(o, plan, flavour, swapDeadline(o));
    notes.push(`a swap left in phase ${rec.phase} was ${out.phase === "committed" ? "finished" : "undone"} first${out.detail ? `: ${out.detail}` : ""}`);
    if (flavour === "once") await cleanup(client, plan, flavour);
  }
  // What this tool's REST upgrade of old left when cut: the previous container alone, perhaps with start-on-boot off.
  const cur = await findContainer(client, plan);
  const prev = await findContainer(client, plan, true);
  if (!cur && prev && !o.dryRun) {
    const k = plan.container.key;
    await client.patch(`container/${prev[".id"]}`, { [k.field]: k.value, "start-on-boot": plan.container.fields["start-on-boot"] ?? "yes" });
    notes.push(`container ${k.previous} (left by an interrupted upgrade) has its name back`);
  } else if (cur && prev && stateOf(cur) === "running" && !o.dryRun) {
    await client.delete(`container/${prev[".id"]}`).catch(() => undefined);
    notes.push(`removed ${plan.container.key.previous}, left by an earlier upgrade (${plan.container.name} runs)`);
  } else if (cur && prev) {
    throw new FailureError(
      `both ${plan.container.key.value} and ${plan.container.key.previous} exist and ${plan.container.key.value} is not running: an earlier upgrade was cut short; start the one that works and remove the other, then run this again`,
    );
  }
  return notes;
}

async function cleanup(client: RestClient, plan: Plan, flavour: Flavour): Promise<void> {
  // The one-off script holds the new environment (a secret too, when the run changes it): it goes when it is done.
  for (const [menu, name] of [
    ["system/scheduler", kickEntryName(plan, flavour)],
    ["system/scheduler", recoverEntryName(plan, flavour)],
    ["system/script", swapScriptName(plan, flavour)],
  ] as const) {
    await removeNamed(client, menu, name).catch(() => undefined);
  }
}

/** Installs the swap on the router, starts it, and watches it to its end. */
export async function runSwap(o: RunOptions, prepared: Prepared, req: SwapRequest): Promise<SwapOutcome> {
  const { client } = o;
  const { plan } = prepared;
  const flavour: Flavour = "once";
  const me = swapScriptName(plan, flavour);
  let served: ServedFile | undefined;
  let image: SwapImage;
  if (req.image.kind === "serve") {
    const host = new URL(client.origin).hostname;
    const bind = o.serveAddress ?? (await localAddressFor(host));
    served = await serveFile(req.image.localPath, req.image.fileName, bind, o.servePort ?? 0);
    say(o, `serving ${req.image.fileName} at ${served.url.replace(/\/[0-9a-f]{24}\//, "/<token>/")} for the router to fetch`);
    image = { kind: "fetch", url: served.url, path: req.image.routerPath, checkCertificate: false, keepFile: req.image.keepFile };
  } else image = req.image;
  try {
    const source = renderSwapScript(plan, {
      flavour,
      image,
      env: req.env,
      mounts: req.mounts,
      digest: req.digest,
      expect: req.info ? { arch: req.info.architecture, version: req.info.version } : undefined,
      settleSeconds: Math.round((o.settleMs ?? 10_000) / 1000),
      extractTimeoutSeconds: Math.round((o.extractTimeoutMs ?? 600_000) / 1000),
      startTimeoutSeconds: Math.round((o.startTimeoutMs ?? 120_000) / 1000),
      poll: o.swapPoll,
      healthFlags: plan.syntax.healthcheck,
    });
    const body = { source, comment: `${SWAP_MARK} phase=ready`, policy: POLICY };
    const have = await scriptRecord(client, me);
    if (have) await client.patch(`system/script/${have[".id"]}`, body);
    else await client.put("system/script", { name: me, ...body });
    await removeNamed(client, "system/scheduler", kickEntryName(plan, flavour));
    say(o, `starting the swap on the router (${req.what}); the router carries it through on its own`);
    await client.put("system/scheduler", { name: kickEntryName(plan, flavour), interval: "1s", policy: POLICY, "on-event": `/system/script/run ${me}` });
    const out = await watch(o, plan, flavour, swapDeadline(o));
    await cleanup(client, plan, flavour).catch(() => undefined);
    return out;
  } finally {
    await served?.close();
  }
}

/** A swap's outcome as the command reports it: success, or the rolled-back error with the router's reason. */
export function swapResult(out: SwapOutcome, what: string, from: string | undefined): void {
  if (out.phase === "committed") return;
  const reason = out.detail ?? `the swap ended ${out.phase}`;
  if (out.phase === "failed") throw new UpgradeRolledBackError(`${what} failed before the swap: ${reason}; the running container was not touched`);
  throw new UpgradeRolledBackError(`${what} failed: ${reason}; the previous image (${from ?? "unknown version"}) is back`);
}
