import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Credentials } from "../../release/credentials.js";
import { deploy, upgrade, type RunOptions } from "../deploy.js";
import { InterruptedError } from "../errors.js";
import { RestClient } from "../rest.js";
import { upgradeIfChanged } from "../update-check.js";
import { atLeast, parseRouterOsVersion } from "../version.js";
import { planRollout, type Amount, type CanaryChoice, type Group } from "./plan.js";
import { errorKind, readRouter, Targets, type FleetRow, type Target } from "./read.js";
import { identify, routerConfig, type FleetRouter, type SharedConfig } from "./routers.js";
import { fmtSeconds, mapBounded } from "./runner.js";
import { loadState, newState, StateWriter, type Outcome, type RolloutState } from "./state.js";

/*
 * `fleet deploy` and `fleet upgrade`: every router is read first; those
 * already at the target are skipped, the rest go in groups: a canary, then
 * waves. Each router is changed by the same deploy() or upgrade() a single
 * `routeros` command runs, so a replaced container is the swap the router
 * carries out itself, and a link dropped mid-wave leaves that router
 * finishing or undoing on its own. After each group settles, its routers are
 * read again and must be healthy before the next group starts; failures
 * beyond the budget (or a failed canary) halt the rollout. A re-run resumes:
 * routers that reached the target are skipped (they say so), a canary that
 * passed for the same target is not repeated (the state file says so).
 */

export type FleetCommand = "deploy" | "upgrade";

export interface RouterResult {
  router: string;
  address: string;
  groups: string[];
  outcome: Outcome;
  /** The canary or wave it ran in. */
  group?: string;
  routeros?: string;
  arch?: string;
  /** Image version before and after. */
  before?: string;
  after?: string;
  detail?: string;
  ms?: number;
}

export type RolloutEvent =
  | { type: "probed"; rows: FleetRow[] }
  | { type: "group"; group: Group }
  | { type: "start"; router: string; group: string }
  | { type: "done"; result: RouterResult }
  | { type: "gate"; group: string; router: string; healthy: boolean; reason?: string }
  | { type: "halt"; reason: string };

export interface RolloutOptions {
  command: FleetCommand;
  routers: readonly FleetRouter[];
  shared: SharedConfig;
  /** --image: the image to roll out instead of the config's. */
  imageOverride?: string;
  canary: CanaryChoice;
  waveSize: Amount;
  maxFailures: Amount;
  /** After the canary (and each wave) changed: wait this long, then read its routers again. */
  canarySettleMs: number;
  waveSettleMs: number;
  /** Routers worked on at once (within a wave) and read at once. */
  concurrency: number;
  /** Per router, to read it (probe and gate). */
  readTimeoutMs: number;
  /** Per router, for its deploy or upgrade; 0: only the operation's own deadlines. */
  routerTimeoutMs?: number;
  statePath: string;
  /** Forget the state file: the canary runs again. */
  restart?: boolean;
  /** upgrade: replace routers that already run the target too (resumable: those this forced rollout replaced are not replaced twice). */
  force?: boolean;
  /** Only read and plan: print the canary and the waves, change nothing. */
  dryRun?: boolean;
  /** Passed to every deploy/upgrade (timeouts, settle time, serve address, polling). */
  run?: Partial<Omit<RunOptions, "client" | "config" | "planOptions" | "signal" | "log">>;
  /** The environment the auth key is read from. */
  env?: NodeJS.ProcessEnv;
  registry?: { credentials?: Credentials | null; plainHttp?: boolean };
  signal?: AbortSignal;
  /** Progress, one line at a time. */
  log?: (line: string) => void;
  /** Each router's own progress lines too. */
  verbose?: boolean;
  on?: (e: RolloutEvent) => void;
}

export interface RolloutResult {
  command: FleetCommand;
  targetText: string;
  results: RouterResult[];
  groups: Group[];
  budget: number;
  halted?: string;
  interrupted: boolean;
  /** Every router at the target. */
  ok: boolean;
  statePath: string;
}

/** Whether a RouterOS release names its containers (7.19+): a version it cannot parse is taken as new. */
function namesContainers(v: string | undefined): boolean {
  try {
    return atLeast(parseRouterOsVersion(v ?? ""), 19);
  } catch {
    return true;
  }
}

/** What a router runs, for the table: the image version, else (a registry image) the digest recorded on it. */
function imageOf(row: FleetRow | undefined): string | undefined {
  const c = row?.container;
  return c?.imageVersion ?? (c?.digest ? `${c.digest.slice(0, 19)}...` : undefined);
}

const DONE: ReadonlySet<Outcome> = new Set(["upgraded", "deployed", "unchanged", "at-target"]);

function targetIdentity(t: Target | undefined): string | undefined {
  if (!t || t.error) return undefined;
  // One version across architectures is one target; registry images differ per platform by digest.
  return t.kind === "remote" ? `${t.what}@${t.digest}` : `${t.kind}:${t.version ?? t.what}`;
}

/** Why a router is not healthy after its change; undefined when it is. */
export function unhealthy(before: FleetRow | undefined, now: FleetRow, target: Target | undefined, command: FleetCommand): string | undefined {
  if (!now.ok) return now.error;
  const c = now.container;
  if (!c) return `no container ${now.containerName}`;
  if (c.state !== "running") return `container ${now.containerName} is ${c.state}`;
  if (c.health?.startsWith("unhealthy")) return `RouterOS reports it ${c.health}`;
  if (command === "upgrade" && target?.version && target.kind !== "remote" && c.imageVersion && c.imageVersion !== target.version) return `it runs ${c.imageVersion}, not ${target.version}`;
  if (before?.node?.up === true && now.node?.up !== true) return `node ${now.node?.state ?? "state unknown"} (it was Running before)`;
  return undefined;
}

export async function rollout(o: RolloutOptions): Promise<RolloutResult> {
  const log = (l: string) => o.log?.(l);
  const byName = new Map(o.routers.map((r) => [r.name, r]));
  const targets = new Targets({ imageOverride: o.imageOverride, registry: o.registry });
  const ctx = { shared: o.shared, targets };
  const results = new Map<string, RouterResult>();
  const base = (r: FleetRouter, row?: FleetRow): RouterResult => ({
    router: r.name,
    address: r.address,
    groups: r.groups,
    outcome: "not-started",
    ...(row?.routeros ? { routeros: row.routeros } : {}),
    ...(row?.arch ? { arch: row.arch } : {}),
    ...(imageOf(row) ? { before: imageOf(row) } : {}),
  });

  // 1. Read every router: who is reachable, what runs there, what the target is.
  log(`reading ${o.routers.length} router${o.routers.length === 1 ? "" : "s"}`);
  const probe = await mapBounded(o.routers, { concurrency: o.concurrency, timeoutMs: o.readTimeoutMs, signal: o.signal }, async (r, signal) => {
    const row = await readRouter(r, ctx, signal);
    // deploy changes more than the image: its own dry run says whether this router differs from the config.
    if (o.command === "deploy" && row.ok && !row.note) row.upgrade = await deployNeed(o, r, signal);
    return row;
  });
  const rows = new Map<string, FleetRow>();
  probe.forEach((s, i) => {
    const r = o.routers[i]!;
    if (!s) return;
    if (s.ok) rows.set(r.name, s.value);
    else rows.set(r.name, { router: r.name, address: r.address, groups: r.groups, ok: false, error: s.error.message, errorKind: errorKind(s.error), containerName: "tailscale", ms: s.ms });
  });
  o.on?.({ type: "probed", rows: [...rows.values()] });
  const pending: string[] = [];
  // At the target, but holding an earlier swap's script: deploy()/upgrade() settle it and change nothing else.
  const tidy: string[] = [];
  for (const r of o.routers) {
    const row = rows.get(r.name);
    const res = base(r, row);
    results.set(r.name, res);
    if (!row) {
      res.outcome = "interrupted";
      continue;
    }
    if (!row.ok) {
      res.outcome = "not-reached";
      res.detail = row.error;
    } else if (row.note) {
      res.outcome = "failed";
      res.detail = row.note;
    } else if (o.command === "upgrade" && !row.container) {
      res.outcome = "failed";
      res.detail = `there is no container '${row.containerName}' on the router: run 'routeros fleet deploy' first`;
    } else if (o.command === "upgrade" && row.target?.kind === "remote" && !namesContainers(row.routeros)) {
      // The digest is recorded in the container's comment, which is how containers are found before 7.19.
      res.outcome = "failed";
      res.detail = `RouterOS ${row.routeros} has no container names, so a registry image's digest cannot be recorded there: upgrade it with a file image (--image dist/...-{arch}.tar)`;
    } else if (row.target?.error) {
      res.outcome = "failed";
      res.detail = row.target.error;
    } else if (row.upgrade?.needed === false && o.command === "upgrade" && row.container && row.container.state !== "running") {
      // At the target, but down: nothing for an upgrade to do, and nothing to call done.
      res.outcome = "failed";
      res.detail = `runs the target, but its container ${row.containerName} is ${row.container.state}: 'routeros fleet deploy' starts it`;
    } else if (row.upgrade?.needed === false) {
      res.outcome = "at-target";
      res.after = res.before;
      if (row.leftover) tidy.push(r.name);
    } else pending.push(r.name);
  }

  // 2. The target and the state of an earlier run for it.
  const forced = !!o.force && o.command === "upgrade";
  const ids = [...new Set([...rows.values()].map((row) => targetIdentity(row.target)).filter((x): x is string => !!x))].sort();
  const versions = [...new Set([...rows.values()].map((row) => row.target?.version ?? row.target?.what).filter((x): x is string => !!x))].sort();
  const targetText = versions.join(", ") || "the configured image";
  const key = createHash("sha256")
    .update(JSON.stringify({ command: o.command, image: o.imageOverride ?? null, ids, config: o.command === "deploy" ? o.shared.text : null, ...(forced ? { force: true } : {}) }))
    .digest("hex")
    .slice(0, 16);
  let state = o.restart ? undefined : loadState(o.statePath);
  if (state && (state.target !== key || state.command !== o.command)) {
    log(`${o.statePath} is about another rollout (${state.command} to ${state.targetText}): this one starts over, with a canary`);
    state = undefined;
  }
  // A forced rollout that ended with every router done is over: forcing again is a new round.
  if (state && forced && Object.values(state.routers).every((x) => DONE.has(x.outcome)) && !state.halted) state = undefined;
  const resumed = !!state;
  state ??= newState(o.command, key, targetText);
  state.targetText = targetText;
  state.halted = null;
  const writer = new StateWriter(o.statePath, state);
  const recorded = new Set<string>();
  const record = (res: RouterResult) => {
    recorded.add(res.router);
    state!.routers[res.router] = { outcome: res.outcome, at: new Date().toISOString(), ...(res.group ? { group: res.group } : {}), ...(res.before ? { from: res.before } : {}), ...(res.after ? { to: res.after } : {}), ...(res.detail ? { detail: res.detail } : {}) };
  };

  if (forced) {
    // At the target too, unless this forced rollout already replaced it (a resume).
    for (const r of o.routers) {
      const res = results.get(r.name)!;
      if (res.outcome !== "at-target") continue;
      if (state.routers[r.name]?.outcome === "upgraded") {
        res.detail = "replaced by this forced rollout already";
        continue;
      }
      res.outcome = "not-started";
      delete res.after;
      if (tidy.includes(r.name)) tidy.splice(tidy.indexOf(r.name), 1);
      pending.push(r.name);
    }
    const order = o.routers.map((r) => r.name).filter((n) => pending.includes(n));
    pending.splice(0, pending.length, ...order);
  }
  const plan = planRollout({ pending, canary: o.canary, waveSize: o.waveSize, maxFailures: o.maxFailures, canaryPassed: state.canaryPassed });
  // Named canary routers that need no change: if they run the target and are well, they have proved it already.
  let noCanary: string | undefined;
  if ("routers" in o.canary && !state.canaryPassed && pending.length && plan.groups[0]?.label !== "canary") {
    const named = o.canary.routers;
    const proven = named.filter((n) => {
      const row = rows.get(n);
      return results.get(n)?.outcome === "at-target" && row?.container?.state === "running" && !row.container.health?.startsWith("unhealthy");
    });
    if (proven.length) {
      state.canaryPassed = true;
      log(`canary ${o.canary.text}: ${proven.join(", ")} already ${proven.length === 1 ? "runs" : "run"} the target and ${proven.length === 1 ? "is" : "are"} healthy: the canary has passed`);
    } else {
      const why = named.map((n) => `${n}: ${describe(results.get(n)!)}`).join("; ");
      noCanary = `the canary (${o.canary.text}) has no router that can take the change or has proved it: ${why}`;
      if (o.dryRun) log(`would halt: ${noCanary}`);
    }
  }
  const count = (pred: (r: RouterResult) => boolean) => [...results.values()].filter(pred).length;
  const unreachable = count((r) => r.outcome === "not-reached");
  const atTarget = count((r) => r.outcome === "at-target");
  const notUsable = count((r) => r.outcome === "failed");
  log(
    `${o.routers.length} routers: ${pending.length} to ${o.command}${atTarget ? `, ${atTarget} already at ${o.command === "upgrade" ? targetText : "the config"}` : ""}${unreachable ? `, ${unreachable} not reachable` : ""}${notUsable ? `, ${notUsable} that cannot be ${o.command === "upgrade" ? "upgraded" : "deployed"} (see the table)` : ""}`,
  );
  if (resumed) log(`continuing the rollout to ${targetText} recorded in ${o.statePath}: ${state.canaryPassed ? "its canary passed, so none this time" : "its canary has not passed yet"}`);
  for (const g of plan.groups) log(`  ${g.label}: ${g.routers.join(", ")}`);
  if (pending.length) log(`  failure budget: ${plan.budget} (one more halts the rollout)`);

  if (tidy.length) log(`  ${o.dryRun ? "would settle" : "first settles"} what earlier swaps left on ${tidy.join(", ")} (already at the target)`);
  if (o.dryRun) return finish(o, results, plan.groups, plan.budget, targetText, undefined, false);

  // 3. Routers at the target with a swap's script left on them: settled first, outside the waves (no risk to them, nothing to prove).
  if (tidy.length) {
    log(`settling what earlier swaps left on ${tidy.length} router${tidy.length === 1 ? "" : "s"} already at the target`);
    await mapBounded(tidy, { concurrency: o.concurrency, timeoutMs: o.routerTimeoutMs, signal: o.signal }, (name, signal) => changeOne(o, byName.get(name)!, rows.get(name), signal)).then((done) =>
      done.forEach((s, i) => {
        const res = results.get(tidy[i]!)!;
        if (s && !s.ok) {
          res.outcome = "failed";
          res.detail = `settling an earlier swap: ${s.error.message}`;
        } else if (s?.ok) res.detail = "an earlier swap's script was settled and removed";
        log(`  ${res.router}: ${describe(res)}`);
        record(res);
      }),
    );
  }

  // 4. The canary, then the waves.
  let failures = 0;
  let halted: string | undefined = noCanary;
  if (halted) {
    log(`halted: ${halted}`);
    o.on?.({ type: "halt", reason: halted });
  }
  let interrupted = false;
  const failed = (res: RouterResult) => res.outcome === "failed" || res.outcome === "unhealthy";
  for (const g of plan.groups) {
    if (halted || interrupted) break;
    o.on?.({ type: "group", group: g });
    log(`${g.label}: ${g.routers.length} router${g.routers.length === 1 ? "" : "s"}: ${g.routers.join(", ")}`);
    const isCanary = g.index === 0;
    const ran = await mapBounded(
      g.routers,
      {
        concurrency: o.concurrency,
        timeoutMs: o.routerTimeoutMs,
        signal: o.signal,
        // A wave stops starting routers once the budget is spent; those already changing finish.
        canStart: () => failures <= plan.budget,
        onStart: (name) => {
          const res = results.get(name)!;
          log(`  ${name}: ${o.command === "upgrade" ? `upgrading ${res.before ?? "?"} -> ${rows.get(name)?.upgrade?.to ?? targetText}` : "deploying"}`);
          o.on?.({ type: "start", router: name, group: g.label });
        },
        onSettled: (name, s) => {
          const res = results.get(name)!;
          res.group = g.label;
          res.ms = s.ms;
          if (s.ok) Object.assign(res, s.value);
          else {
            res.outcome = s.error instanceof InterruptedError || o.signal?.aborted ? "interrupted" : "failed";
            res.detail = s.error.message;
          }
          if (failed(res)) failures++;
          if (res.outcome === "interrupted") interrupted = true;
          log(`  ${name}: ${describe(res)} (${fmtSeconds(s.ms)})`);
          record(res);
          void writer.save();
          o.on?.({ type: "done", result: { ...res } });
        },
      },
      (name, signal) => changeOne(o, byName.get(name)!, rows.get(name), signal),
    );
    if (o.signal?.aborted) interrupted = true;
    // 5. Gate: the group's changed routers, read again after they settle, must be healthy.
    // (Those that failed are read too, for what they run now.)
    const changed = g.routers.filter((n, i) => ran[i]?.ok && DONE.has(results.get(n)!.outcome));
    const touched = g.routers.filter((_, i) => ran[i] !== undefined);
    if (touched.length && !interrupted) {
      const settle = isCanary ? o.canarySettleMs : o.waveSettleMs;
      if (settle > 0 && changed.length) {
        log(`  ${g.label}: settling ${fmtSeconds(settle)}, then checking its routers`);
        await sleep(settle, undefined, { signal: o.signal }).catch(() => (interrupted = true));
      }
      if (!interrupted) {
        const gate = await mapBounded(touched, { concurrency: o.concurrency, timeoutMs: o.readTimeoutMs, signal: o.signal }, (n, signal) => readRouter(byName.get(n)!, ctx, signal));
        touched.forEach((n, i) => {
          const res = results.get(n)!;
          const s = gate[i];
          const now: FleetRow | undefined = s?.ok ? s.value : undefined;
          if (imageOf(now)) res.after = imageOf(now);
          if (!changed.includes(n)) {
            if (now) record(res);
            return;
          }
          const why = s === undefined ? "not read again (interrupted)" : !s.ok ? s.error.message : unhealthy(rows.get(n), s.value, rows.get(n)?.target, o.command);
          o.on?.({ type: "gate", group: g.label, router: n, healthy: !why, ...(why ? { reason: why } : {}) });
          if (why) {
            res.outcome = "unhealthy";
            res.detail = `not healthy after the ${o.command}: ${why}`;
            failures++;
            log(`  ${n}: ${res.detail}`);
            record(res);
          }
        });
        void writer.save();
        const bad = changed.filter((n) => results.get(n)!.outcome === "unhealthy").length;
        if (!bad && changed.length) log(`  ${g.label}: ${changed.length === 1 ? "healthy" : `all ${changed.length} healthy`}`);
      }
    }
    const groupFailed = g.routers.map((n) => results.get(n)!).filter(failed);
    if (interrupted) break;
    if (isCanary) {
      if (groupFailed.length) halted = `the canary failed: ${groupFailed.map((r) => `${r.router} (${r.detail})`).join("; ")}`;
      else {
        state.canaryPassed = true;
        await writer.save();
      }
    } else if (failures > plan.budget) {
      halted = `${failures} router${failures === 1 ? "" : "s"} failed, more than the failure budget of ${plan.budget}: ${[...results.values()].filter(failed).filter((r) => r.group).map((r) => `${r.router} (${r.detail})`).join("; ")}`;
    }
    if (halted) {
      log(`halted: ${halted}`);
      o.on?.({ type: "halt", reason: halted });
    }
  }
  if (halted) state.halted = { at: new Date().toISOString(), reason: halted };
  for (const res of results.values()) if (!recorded.has(res.router)) record(res);
  await writer.save();
  await writer.flush();
  return finish(o, results, plan.groups, plan.budget, targetText, halted, interrupted);
}

function finish(o: RolloutOptions, results: Map<string, RouterResult>, groups: Group[], budget: number, targetText: string, halted: string | undefined, interrupted: boolean): RolloutResult {
  const list = o.routers.map((r) => results.get(r.name)!);
  return { command: o.command, targetText, results: list, groups, budget, ...(halted ? { halted } : {}), interrupted, ok: !o.dryRun && list.every((r) => DONE.has(r.outcome)), statePath: o.statePath };
}

export function describe(r: RouterResult): string {
  switch (r.outcome) {
    case "upgraded":
      return `upgraded ${r.before ?? "?"} -> ${r.after ?? "?"}`;
    case "deployed":
      return `deployed${r.detail ? ` (${r.detail})` : ""}`;
    case "unchanged":
      return "deployed: nothing to change";
    case "at-target":
      return `already at the target${r.detail ? ` (${r.detail})` : ""}`;
    case "not-started":
      return "not started";
    default:
      return `${r.outcome}${r.detail ? `: ${r.detail}` : ""}`;
  }
}

/** deploy's own dry run: whether the router differs from its config. */
async function deployNeed(o: RolloutOptions, r: FleetRouter, signal: AbortSignal): Promise<FleetRow["upgrade"]> {
  const client = new RestClient(r.target);
  const stop = () => client.close();
  signal.addEventListener("abort", stop, { once: true });
  try {
    const config = routerConfig(o.shared, r.inventory, await identify(client));
    const res = await deploy({ ...o.run, client, config, planOptions: { resolveSecrets: true, env: o.env, imageOverride: o.imageOverride }, dryRun: true });
    const n = res.changes.length;
    return n === 0 && res.status === "running" ? { needed: false, text: "none" } : { needed: true, text: n ? `${n} change${n === 1 ? "" : "s"}` : `start ${config.container.name}` };
  } finally {
    signal.removeEventListener("abort", stop);
    client.close();
  }
}

const warningsSaid = new WeakMap<RolloutOptions, Set<string>>();

/** Deploys or upgrades one router with the single-router functions. */
async function changeOne(o: RolloutOptions, r: FleetRouter, row: FleetRow | undefined, signal: AbortSignal): Promise<Partial<RouterResult>> {
  const client = new RestClient(r.target);
  // Ctrl-C or the per-router deadline: what the router was told goes on there (a swap finishes or undoes itself); nothing here waits on it.
  const stop = () => client.close();
  signal.addEventListener("abort", stop, { once: true });
  try {
    const config = routerConfig(o.shared, r.inventory, await identify(client));
    // The same warning (a RouterOS newer than any tree, say) is said for the first router it concerns, not for each.
    const said = warningsSaid.get(o) ?? new Set<string>();
    warningsSaid.set(o, said);
    for (const w of config.warnings) {
      if (!said.has(w)) o.log?.(`  ${r.name}: warning: ${w}`);
      said.add(w);
    }
    const run: RunOptions = {
      ...o.run,
      client,
      config,
      planOptions: { resolveSecrets: true, env: o.env, imageOverride: o.imageOverride },
      signal,
      log: o.verbose ? (l) => o.log?.(`    ${r.name}: ${l}`) : undefined,
    };
    if (o.command === "deploy") {
      const res = await deploy(run);
      return res.changes.length ? { outcome: "deployed", detail: `${res.changes.length} change${res.changes.length === 1 ? "" : "s"}` } : { outcome: "unchanged" };
    }
    const forced = o.force ? { force: true } : {};
    const res = row?.target?.kind === "remote" ? await upgradeIfChanged({ ...run, ...o.registry, ...forced }) : await upgrade({ ...run, ...forced });
    // An upgrade that finds nothing to do (an earlier swap the router finished by itself) is at the target too.
    if (res.changes.length === 0) return { outcome: "at-target", after: res.from ?? row?.container?.imageVersion };
    return { outcome: "upgraded", after: res.to ?? row?.upgrade?.to };
  } finally {
    signal.removeEventListener("abort", stop);
    client.close();
  }
}
