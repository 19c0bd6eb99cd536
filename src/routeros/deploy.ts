import { FailureError } from "../errors.js";
import { matchNamedVersion, versionFromText, versionInName, type ImageInfo } from "./image.js";
import { RouterMismatchError } from "./errors.js";
import { findContainer, getContainer, startContainer, waitExtracted, removeContainer } from "./lifecycle.js";
import type { Fields, ItemStep, Plan, PlannedImage, Step } from "./plan.js";
import { checkLocalImage, prepare, type Prepared } from "./preflight.js";
import { applySteps, differingFields, type Change, type ReconcileContext } from "./reconcile.js";
import type { RosRecord } from "./rest.js";
import { stateOf } from "./schema/state.js";
import { RUNNING, say, type RunOptions, type RunResult } from "./session.js";
import { runSwap, settleLeftovers, swapResult, type SwapRequest } from "./swap-run.js";
import { recordedDigest, type SwapEnv, type SwapMount } from "./swap.js";
import { provideImage, sweepStaleImages } from "./transport.js";

export { preflight, prepare, detectRouterArch, checkLocalImage, type RouterFacts, type Prepared } from "./preflight.js";
export { status, formatStatus, type StatusReport } from "./status.js";
export { hasKey } from "./lifecycle.js";
export type { RunOptions, RunResult } from "./session.js";

/*
 * deploy and upgrade over the RouterOS REST API. What is plain configuration
 * (network, routes, DNS, container settings) is reconciled over REST. A
 * container is created over REST only when there is none; replacing one, for
 * a new image or for changed settings, is a swap the router runs itself
 * (swap.ts), so a dropped connection cannot leave the router without it.
 */

function containerBody(plan: Plan, rootDir: string, image: Fields): Fields {
  const k = plan.container.key;
  return { [k.field]: k.value, ...image, "root-dir": rootDir, ...plan.container.fields };
}

function newContext(o: RunOptions): ReconcileContext {
  return {
    client: o.client,
    dryRun: !!o.dryRun,
    updateSecrets: !!o.updateSecrets,
    changes: [],
    notes: [],
    onChange: (c) => say(o, formatChange(c)),
  };
}

export function formatChange(c: Change): string {
  const sign = { create: "+", update: "~", remove: "-", set: "~", container: "*" }[c.action];
  return `${sign} ${c.what}${c.detail ? `: ${c.detail}` : ""}`;
}

function record(ctx: ReconcileContext, c: Change): void {
  ctx.changes.push(c);
  ctx.onChange?.(c);
}

/** The env and mount list steps: a running container's lists change only through a swap (the other slot). */
function isSlotStep(s: Step): boolean {
  return s.menu === "container/envs" || s.menu === "container/mounts";
}

/** The environment and mounts the config asks for, as a swap writes them into the new slot. */
function wantedLists(plan: Plan): { env: SwapEnv[]; mounts: SwapMount[] } {
  const env: SwapEnv[] = [];
  const mounts: SwapMount[] = [];
  for (const s of plan.before) {
    if (s.type !== "item") continue;
    if (s.menu === "container/envs") env.push({ key: s.match.key!, value: s.set.value });
    if (s.menu === "container/mounts") mounts.push({ src: s.set.src!, dst: s.match.dst! });
  }
  return { env, mounts };
}

/** The environment of a container on the router: the rows of its env list. */
async function routerEnv(o: RunOptions, plan: Plan, c: RosRecord): Promise<RosRecord[]> {
  const syn = plan.syntax;
  const list = c[syn.containerEnvField] ?? "";
  return (await o.client.getList("container/envs")).filter((e) => e[syn.envsListKey] === list);
}

/** The env keys whose values are secrets (the auth key, the client secret). */
function secretEnvKeys(plan: Plan): Set<string> {
  return new Set(plan.before.filter((s): s is ItemStep => s.type === "item" && s.menu === "container/envs" && !!s.secret?.length).map((s) => s.match.key!));
}

/**
 * The environment a swap writes into the new slot. A secret the router
 * already holds is copied there by the router itself (kept unless
 * --update-secrets, as deploy keeps it), so the swap script, which lives on
 * the router while the swap runs, carries a secret only when it changes.
 */
function swapEnv(o: RunOptions, plan: Plan, have: RosRecord[]): SwapEnv[] {
  const secret = secretEnvKeys(plan);
  return wantedLists(plan).env.map((e) => {
    if (!secret.has(e.key)) return e;
    const h = have.find((x) => x.key === e.key);
    if (h && (!o.updateSecrets || e.value === undefined || h.value === e.value)) return { key: e.key, value: undefined };
    return e;
  });
}

/** What differs between the running container and the config: its fields, its environment, its mounts. */
async function containerDrift(o: RunOptions, plan: Plan, c: RosRecord, have: RosRecord[]): Promise<string[]> {
  const syn = plan.syntax;
  const why: string[] = [];
  const fields: Fields = { ...plan.container.fields };
  delete fields[syn.containerEnvField];
  delete fields[syn.containerMountsField];
  const diff = differingFields(fields, c);
  for (const [k, v] of Object.entries(diff)) why.push(`${k}: ${c[k] || "(unset)"} -> ${v}`);
  const root = (c["root-dir"] ?? "").replace(/^\/+/, "");
  if (![plan.container.rootDir, plan.container.rootDirAlt].includes(root)) why.push(`root-dir: ${root} -> ${plan.container.rootDir}`);
  const secret = secretEnvKeys(plan);
  const want = wantedLists(plan);
  for (const e of want.env) {
    const h = have.find((x) => x.key === e.key);
    if (!h) why.push(`env ${e.key}: added`);
    else if (secret.has(e.key)) {
      if (o.updateSecrets && e.value !== undefined && h.value !== e.value) why.push(`env ${e.key}: changed`);
    } else if ((h.value ?? "") !== (e.value ?? "")) why.push(`env ${e.key}: ${h.value} -> ${e.value}`);
  }
  for (const h of have) if (!want.env.some((e) => e.key === h.key)) why.push(`env ${h.key}: removed`);
  const mountList = c[syn.containerMountsField] ?? "";
  const mounts = (await o.client.getList("container/mounts")).filter((m) => m[syn.mountsListKey] === mountList);
  const mountText = (m: { src?: string; dst?: string }) => `${(m.src ?? "").replace(/^\/+/, "")}:${m.dst}`;
  const a = mounts.map(mountText).sort().join(",");
  const b = want.mounts.map(mountText).sort().join(",");
  if (a !== b) why.push(`mounts: ${a || "(none)"} -> ${b}`);
  return why;
}

/** The image a swap uses: the planned one, served from here when it is a local file. */
function swapImage(plan: Plan, image: PlannedImage): SwapRequest["image"] {
  const keepFile = !plan.container.removeImageFile;
  switch (image.kind) {
    case "remote":
      return { kind: "remote", ref: image.ref };
    case "routerFile":
      return { kind: "routerFile", path: image.routerPath };
    case "url":
      return { kind: "fetch", url: image.url, path: image.routerPath, checkCertificate: true, keepFile };
    case "file":
      return { kind: "serve", localPath: image.localPath, fileName: image.fileName, routerPath: image.routerPath, keepFile };
  }
}

/** The router's reading of an extracted image against the local file: its architecture, and the version in its tag. */
function checkExtracted(c: RosRecord, info: ImageInfo): void {
  const arch = c.arch ?? "";
  if (arch && !arch.includes(info.architecture)) {
    throw new RouterMismatchError(`the router extracted an image for ${arch}, but ${info.fileName} is for ${info.architecture}: the file on the router is not the one sent`);
  }
  const tag = c.tag ?? "";
  if (tag && info.version && !tag.includes(info.version)) {
    throw new RouterMismatchError(`the router extracted ${tag}, but ${info.fileName} is ${info.version}: the file on the router is not the one sent`);
  }
}

/** deploy: create or update everything; start the container; wait until it runs. */
export async function deploy(o: RunOptions): Promise<RunResult> {
  const { client } = o;
  const prepared = await prepare(o);
  const { facts, config, plan } = prepared;
  const name = plan.container.name;
  const ctx = newContext(o);
  ctx.notes.push(...facts.notes, ...(await settleLeftovers(o, plan)));
  for (const f of await sweepStaleImages(o, plan.container.image)) ctx.notes.push(`removed ${f}: an image file an earlier run left on the router`);
  let existing = await findContainer(client, plan);
  if (existing && stateOf(existing) === "error" && !o.dryRun) {
    // A failed extraction leaves a container that can never start: replace it.
    await client.delete(`container/${existing[".id"]}`);
    say(o, `- container ${name}: removed (its image had failed to extract)`);
    existing = undefined;
  }

  let status: string;
  if (!existing) {
    const info = await checkLocalImage(config, plan.container.image);
    await applySteps(ctx, plan.before);
    if (o.dryRun) {
      record(ctx, { action: "container", what: `container ${name}`, detail: "would be created, extracted and started" });
      status = "absent";
    } else {
      const img = await provideImage(o, plan.container.image, info, plan.container.removeImageFile);
      let created: RosRecord | undefined;
      try {
        created = await client.put("container", containerBody(plan, plan.container.rootDir, img.field));
        record(ctx, { action: "create", what: `container ${name}`, detail: `root-dir=${plan.container.rootDir} ${Object.entries(img.field).map(([k, v]) => `${k}=${v}`).join(" ")}` });
        say(o, `waiting for ${name} to be extracted`);
        const extracted = await waitExtracted(o, created);
        // More than the size: what the router read from the file must be the image this machine sent.
        if (info) checkExtracted(extracted, info);
      } catch (e) {
        // Nothing to go back to: leave no half-made container or tar behind.
        if (created) await removeContainer(o, created).catch(() => undefined);
        await img.discard().catch(() => undefined);
        throw e;
      }
      await img.cleanup();
      say(o, `starting ${name}`);
      await startContainer(o, created);
      record(ctx, { action: "container", what: `container ${name}`, detail: "started; running" });
      status = RUNNING;
    }
  } else {
    await applySteps(ctx, plan.before.filter((s) => !isSlotStep(s)));
    const have = await routerEnv(o, plan, existing);
    const drift = await containerDrift(o, plan, existing, have);
    const img = plan.container.image;
    const running = versionFromText(existing.tag);
    if (drift.length) {
      const want = img.kind === "file" ? versionFromText(img.fileName) : undefined;
      const detail = `${drift.join(", ")}; recreated from ${img.kind === "remote" ? img.ref : img.kind === "url" ? img.url : img.kind === "file" ? img.fileName : img.routerPath}${want && running && !running.startsWith(want) ? ` (${running} -> ${want})` : ""}`;
      if (o.dryRun) {
        record(ctx, { action: "container", what: `container ${name}`, detail: `would be ${detail}` });
        status = stateOf(existing);
      } else {
        const info = await checkLocalImage(config, img);
        const out = await runSwap(o, prepared, { image: swapImage(plan, img), info, env: swapEnv(o, plan, have), mounts: wantedLists(plan).mounts, what: `container ${name}: ${drift.join(", ")}` });
        swapResult(out, `changing container ${name}`, running);
        record(ctx, { action: "container", what: `container ${name}`, detail });
        status = RUNNING;
      }
    } else {
      let c = existing;
      if (!o.dryRun && stateOf(c) !== RUNNING) {
        if (stateOf(c) === "extracting") c = await waitExtracted(o, c);
        say(o, `starting ${name}`);
        await startContainer(o, await getContainer(client, c[".id"]!));
        record(ctx, { action: "container", what: `container ${name}`, detail: "started; running" });
      }
      status = o.dryRun ? stateOf(c) : RUNNING;
      if (img.kind === "file") {
        const want = versionFromText(img.fileName);
        if (want && running && !running.startsWith(want)) ctx.notes.push(`container ${name} runs ${running}; the config names ${img.fileName}: run 'routeros upgrade' to replace the image`);
      }
    }
  }
  await applySteps(ctx, plan.after);
  return { changes: ctx.changes, notes: [...plan.notes.slice(1), ...ctx.notes], status, facts };
}

/**
 * Why the container already runs the image an upgrade would put in, or
 * undefined: a local file's own tag, the registry digest the container
 * recorded when it proved itself, or the version a URL's or router file's
 * name gives (without its -mt build, taken as the same, and said so).
 */
function alreadyRunning(
  name: string,
  cur: RosRecord,
  from: string | undefined,
  t: { info?: ImageInfo; img: PlannedImage; source?: string; named?: string; digest?: string },
): string | undefined {
  if (t.info?.version && from && t.info.version === from) return `container ${name} already runs ${from}`;
  if (t.img.kind === "remote" && t.digest && recordedDigest(cur.comment) === t.digest) {
    return `container ${name} already runs ${t.img.ref} as the registry has it now (${t.digest.slice(0, 19)}...)`;
  }
  switch (matchNamedVersion(from, t.named)) {
    case "same":
      return `container ${name} already runs ${from}, the version ${t.source} names`;
    case "same-version":
      return `container ${name} runs ${from}; ${t.source} names ${t.named} but not its -mt build, so it is taken as the same image (a file named with its build, ...-${t.named}-mt.N-<arch>.tar, is compared exactly)`;
    default:
      return undefined;
  }
}

export type UpgradeResult = RunResult & { from?: string; to?: string; rolledBack?: boolean };

/**
 * upgrade: replace the image, keep the state mount, as a swap the router
 * carries out (and undoes if the new container does not keep running).
 * `digest`: the registry digest to record on the new container once it runs.
 */
export async function upgrade(o: RunOptions, prepared?: Prepared, extra: { digest?: string } = {}): Promise<UpgradeResult> {
  const { client } = o;
  const p = prepared ?? (await prepare({ ...o, planOptions: { secretsOptional: true, ...o.planOptions } }));
  const { facts, config, plan } = p;
  const name = plan.container.name;
  const ctx = newContext(o);
  // A swap left in flight first: the version check must see what the router really runs.
  ctx.notes.push(...facts.notes, ...(await settleLeftovers(o, plan)));
  for (const f of await sweepStaleImages(o, plan.container.image)) ctx.notes.push(`removed ${f}: an image file an earlier run left on the router`);
  const cur = await findContainer(client, plan);
  if (!cur) throw new FailureError(`there is no container '${name}' on the router: run 'routeros deploy' first`);
  const info = await checkLocalImage(config, plan.container.image);
  const img = plan.container.image;
  const source = img.kind === "url" ? img.url : img.kind === "routerFile" ? img.routerPath : undefined;
  const named = source ? versionInName(source) : undefined;
  const to = info?.version ?? named ?? versionFromText(img.kind === "remote" ? img.ref : "") ?? undefined;
  const from = versionFromText(cur.tag) ?? (cur.tag || undefined);
  const already = alreadyRunning(name, cur, from, { info, img, source, named, digest: extra.digest });
  if (already && !o.force) {
    return { changes: [], notes: [...ctx.notes, `${already}; nothing to do (--force replaces it anyway)`], status: stateOf(cur), facts, from, to };
  }
  if (o.dryRun) {
    await applySteps(ctx, plan.before.filter((s) => !isSlotStep(s)));
    record(ctx, { action: "container", what: `container ${name}`, detail: `would be replaced (${from ?? "?"} -> ${to ?? "?"}), keeping ${config.storage.stateDir}` });
    await applySteps(ctx, plan.after);
    return { changes: ctx.changes, notes: ctx.notes, status: stateOf(cur), facts, from, to };
  }
  await applySteps(ctx, plan.before.filter((s) => !isSlotStep(s)));
  const what = `upgrade ${from ?? "?"} -> ${to ?? "?"}`;
  const env = swapEnv(o, plan, await routerEnv(o, plan, cur));
  const out = await runSwap(o, p, { image: swapImage(plan, plan.container.image), info, env, mounts: wantedLists(plan).mounts, digest: extra.digest, what });
  swapResult(out, what, from);
  await applySteps(ctx, plan.after);
  record(ctx, { action: "container", what: `container ${name}`, detail: `upgraded ${from ?? "?"} -> ${to ?? "?"}; state kept in ${config.storage.stateDir}` });
  return { changes: ctx.changes, notes: ctx.notes, status: RUNNING, facts, from, to, rolledBack: false };
}
