import { setTimeout as sleep } from "node:timers/promises";
import type { Architecture } from "../arch.js";
import { FailureError } from "../errors.js";
import { routerArchitecture, withModel, type RouterConfig } from "./config.js";
import { ContainerStateError, RouterApiError, RouterMismatchError, UpgradeRolledBackError } from "./errors.js";
import { imageMatchesArch, imagePlatform, readImageInfo, versionFromText, type ImageInfo } from "./image.js";
import { buildPlan, HEALTHCHECK_COMMAND, ownerTag, PlanError, type Fields, type Plan, type PlanOptions, type PlannedImage } from "./plan.js";
import { applySteps, differingFields, type Change, type ReconcileContext } from "./reconcile.js";
import type { RestClient, RosRecord } from "./rest.js";
import { localAddressFor, serveFile } from "./serve.js";
import { parseRouterOsVersion, type RouterOsVersion } from "./version.js";
import { inspectRouter } from "./schema/inspect.js";
import { describeSource, MissingPropertyError, treeModel, type RouterOsModel } from "./schema/model.js";

/*
 * deploy, upgrade and status over the RouterOS REST API. Everything that can
 * be checked is checked before the first change: the router's version and
 * architecture, the container package, device-mode, and the image file.
 */

export interface RouterFacts {
  version: RouterOsVersion;
  arch: Architecture | undefined;
  archName: string;
  board: string;
  /** The router's menus: from its own /console/inspect, else its release's command tree. */
  model: RouterOsModel;
  /** What the user should know about how the model was found. */
  notes: string[];
}

export interface RunOptions {
  client: RestClient;
  /** The config as written; deploy re-plans it for the menus the router itself reports. */
  config: RouterConfig;
  planOptions: PlanOptions;
  dryRun?: boolean;
  updateSecrets?: boolean;
  /** Address the router can reach this machine on, for serving the image. */
  serveAddress?: string;
  servePort?: number;
  pollMs?: number;
  extractTimeoutMs?: number;
  startTimeoutMs?: number;
  /** How long a started container must stay running to count as started. */
  settleMs?: number;
  /** upgrade: replace the image even when the versions look equal. */
  force?: boolean;
  /** Progress and changes, one line at a time. */
  log?: (line: string) => void;
}

export interface RunResult {
  changes: Change[];
  notes: string[];
  status: string;
  facts: RouterFacts;
}

const RUNNING = "running";

function say(o: RunOptions, line: string): void {
  o.log?.(line);
}

/** Maps what /system/resource says to an architecture. */
export function detectRouterArch(res: RosRecord): Architecture | undefined {
  const name = (res["architecture-name"] ?? "").toLowerCase();
  if (name === "arm" && /en7562/i.test(res.cpu ?? "")) return routerArchitecture("arm32v5");
  return routerArchitecture(name);
}

/**
 * Reads the router's version, architecture and menus and checks them, the
 * package and device-mode. Changes nothing.
 */
export async function preflight(client: RestClient, config: RouterConfig): Promise<RouterFacts> {
  const res = await client.get<RosRecord>("system/resource");
  let version: RouterOsVersion;
  try {
    version = parseRouterOsVersion(res.version ?? "");
  } catch (e) {
    throw new RouterMismatchError(`the router reports RouterOS '${res.version ?? "?"}': ${(e as Error).message}`);
  }
  const arch = detectRouterArch(res);
  const archName = res["architecture-name"] ?? "?";
  const board = res["board-name"] ?? "?";
  if (!arch) throw new RouterMismatchError(`the router (${board}) reports architecture '${archName}', which cannot run containers`);
  if (arch.name !== config.arch.name) {
    throw new RouterMismatchError(
      `wrong architecture: the config is for ${config.arch.routerosArch} (${config.arch.name}) but the router (${board}) is ${arch.routerosArch} (${arch.name}); set routeros.arch: ${arch.routerosArch}`,
    );
  }
  const packages = await client.get<RosRecord[]>("system/package");
  const pkg = packages.find((p) => p.name === "container");
  if (!pkg || pkg.disabled === "true") {
    throw new RouterMismatchError("the container package is not installed on the router: install container-<version>-<arch>.npk and reboot");
  }
  try {
    const dm = await client.get<RosRecord>("system/device-mode");
    if (dm.container !== undefined && !["true", "yes"].includes(dm.container)) {
      throw new RouterMismatchError(
        "containers are not enabled in device-mode: run /system/device-mode/update container=yes on the router, then press the reset button or cold-reboot",
      );
    }
  } catch (e) {
    if (!(e instanceof RouterApiError)) throw e;
    // Older versions without /system/device-mode over REST: the add will say so if needed.
  }
  const notes: string[] = [];
  let model = await inspectRouter(client, version);
  if (!model) {
    model = treeModel(version);
    notes.push(
      `the router did not answer /console/inspect (its user needs the read, api and rest-api policies): using ${describeSource(model)}`,
    );
    if (model.warning) notes.push(model.warning);
  }
  if (config.version.text !== version.text) {
    notes.push(`the config names RouterOS ${config.version.text}, the router runs ${version.text}: the router's own menus are used`);
  }
  return { version, arch, archName, board, model, notes };
}

export interface Prepared {
  facts: RouterFacts;
  /** The config re-read for the router's menus. */
  config: RouterConfig;
  plan: Plan;
}

/** preflight, then the plan for what the router offers; stops, changing nothing, if it lacks something the plan needs. */
export async function prepare(o: RunOptions): Promise<Prepared> {
  const facts = await preflight(o.client, o.config);
  let config: RouterConfig;
  let plan: Plan;
  try {
    config = withModel(o.config, facts.model);
    plan = buildPlan(config, o.planOptions);
  } catch (e) {
    if (e instanceof MissingPropertyError || e instanceof PlanError) {
      throw new RouterMismatchError(`the router (RouterOS ${facts.version.text}) cannot run this setup: ${e.message}; nothing was changed`);
    }
    throw e;
  }
  return { facts, config, plan };
}

/** Checks a local image file before anything changes on the router. */
export async function checkLocalImage(config: RouterConfig, image: PlannedImage): Promise<ImageInfo | undefined> {
  if (image.kind !== "file") return undefined;
  const info = await readImageInfo(image.localPath);
  if (!imageMatchesArch(info, config.arch)) {
    throw new RouterMismatchError(
      `wrong architecture: ${image.fileName} is an image for ${imagePlatform(info)} but the router needs ${config.arch.name} (${config.arch.routerosArch})`,
    );
  }
  return info;
}

/** Whether a container record carries this key (a comment key may be followed by more words). */
export function hasKey(c: RosRecord, field: "name" | "comment", value: string): boolean {
  const v = c[field] ?? "";
  return field === "name" ? v === value : v === value || v.startsWith(`${value} `);
}

async function findContainer(client: RestClient, plan: Plan, previous = false): Promise<RosRecord | undefined> {
  const k = plan.container.key;
  const all = await client.get<RosRecord[]>("container");
  return all.find((c) => hasKey(c, k.field, previous ? k.previous : k.value));
}


async function getContainer(client: RestClient, id: string): Promise<RosRecord> {
  return client.get<RosRecord>(`container/${id}`);
}

async function containerLogTail(client: RestClient, name: string, n = 3): Promise<string> {
  try {
    const log = await client.get<RosRecord[]>("log");
    const lines = log.filter((l) => (l.topics ?? "").includes("container") && (l.message ?? "").includes(name)).slice(-n);
    return lines.length ? ` (router log: ${lines.map((l) => l.message).join(" | ")})` : "";
  } catch {
    return "";
  }
}

/** Polls a container until `done` says so, or the time is up. */
async function waitFor(
  o: RunOptions,
  id: string,
  done: (status: string) => boolean,
  timeoutMs: number,
): Promise<RosRecord> {
  const until = Date.now() + timeoutMs;
  // Poll quickly at first, then back off to pollMs.
  const max = o.pollMs ?? 1000;
  let poll = Math.min(50, max);
  for (;;) {
    const c = await getContainer(o.client, id);
    if (done(c.status ?? "")) return c;
    if (Date.now() >= until) return c;
    await sleep(poll);
    poll = Math.min(max, Math.ceil(poll * 1.5));
  }
}

async function waitExtracted(o: RunOptions, c: RosRecord): Promise<RosRecord> {
  const r = await waitFor(o, c[".id"]!, (s) => s !== "extracting", o.extractTimeoutMs ?? 600_000);
  if (r.status !== "stopped") {
    const why = r.status === "extracting" ? "was still extracting when the time ran out" : `ended in status '${r.status}'`;
    throw new ContainerStateError(`container ${c.name}: the image ${why}${await containerLogTail(o.client, c.name!)}`);
  }
  return r;
}

async function stopContainer(o: RunOptions, c: RosRecord): Promise<void> {
  if (c.status === "stopped" || c.status === "error") return;
  await o.client.post("container/stop", { ".id": c[".id"]! });
  const r = await waitFor(o, c[".id"]!, (s) => s === "stopped", o.startTimeoutMs ?? 120_000);
  if (r.status !== "stopped") throw new ContainerStateError(`container ${c.name} did not stop (status '${r.status}')`);
}

/** Starts a container and waits until it has stayed running for the settle time. */
async function startContainer(o: RunOptions, c: RosRecord): Promise<void> {
  await o.client.post("container/start", { ".id": c[".id"]! });
  // "stopped" right after the start command may mean "not started yet": it
  // counts as a failure only after "starting" was seen or a grace period.
  const t0 = Date.now();
  let seenStarting = false;
  const grace = Math.min(5000, o.startTimeoutMs ?? 120_000);
  const r = await waitFor(
    o,
    c[".id"]!,
    (s) => {
      if (s === "starting") seenStarting = true;
      if (s === RUNNING || s === "error") return true;
      return s === "stopped" && (seenStarting || Date.now() - t0 > grace);
    },
    o.startTimeoutMs ?? 120_000,
  );
  if (r.status !== RUNNING) {
    throw new ContainerStateError(`container ${c.name} did not reach running (status '${r.status}')${await containerLogTail(o.client, c.name!)}`);
  }
  const settle = o.settleMs ?? 5000;
  if (settle > 0) {
    await sleep(settle);
    const again = await getContainer(o.client, c[".id"]!);
    if (again.status !== RUNNING) {
      throw new ContainerStateError(`container ${c.name} stopped again right after starting (status '${again.status}')${await containerLogTail(o.client, c.name!)}`);
    }
  }
}

interface ProvidedImage {
  /** file= or remote-image= for /container/add. */
  field: Fields;
  /** After a good extraction: removes the fetched file unless the config keeps it. */
  cleanup(): Promise<void>;
  /** After a failure: removes the file if this run fetched it, whatever the config says. */
  discard(): Promise<void>;
}

async function findFile(client: RestClient, name: string): Promise<RosRecord | undefined> {
  const files = await client.get<RosRecord[]>("file");
  return files.find((f) => f.name === name);
}

/** Puts the image where /container/add can use it. */
async function provideImage(o: RunOptions, image: PlannedImage, info: ImageInfo | undefined, removeAfter: boolean): Promise<ProvidedImage> {
  const client = o.client;
  const remove = async (path: string) => {
    const f = await findFile(client, path);
    if (f) await client.delete(`file/${f[".id"]}`);
  };
  const removeFile = async (path: string) => {
    if (removeAfter) await remove(path);
  };
  const none = async () => {};
  switch (image.kind) {
    case "remote":
      return { field: { "remote-image": image.ref }, cleanup: none, discard: none };
    case "routerFile": {
      if (!(await findFile(client, image.routerPath))) throw new FailureError(`image file ${image.routerPath} is not on the router`);
      return { field: { file: image.routerPath }, cleanup: none, discard: none };
    }
    case "url": {
      say(o, `fetching ${image.url} on the router to ${image.routerPath}`);
      await client.post("tool/fetch", { url: image.url, "dst-path": image.routerPath, "check-certificate": "yes" });
      if (!(await findFile(client, image.routerPath))) throw new FailureError(`the router's fetch of ${image.url} left no file at ${image.routerPath}`);
      return { field: { file: image.routerPath }, cleanup: () => removeFile(image.routerPath), discard: () => remove(image.routerPath) };
    }
    case "file": {
      const host = new URL(client.origin).hostname;
      const bind = o.serveAddress ?? (await localAddressFor(host));
      const served = await serveFile(image.localPath, image.fileName, bind, o.servePort ?? 0);
      try {
        say(o, `serving ${image.fileName} at ${served.url.replace(/\/[0-9a-f]{24}\//, "/<token>/")} for the router to fetch`);
        await client.post("tool/fetch", { url: served.url, "dst-path": image.routerPath, mode: "http" });
      } finally {
        await served.close();
      }
      const f = await findFile(client, image.routerPath);
      if (!f) throw new FailureError(`the router fetched ${image.fileName} but there is no ${image.routerPath}`);
      if (info && f.size !== undefined && Number(f.size) !== info.size) {
        await remove(image.routerPath).catch(() => undefined);
        throw new FailureError(`${image.routerPath} on the router had ${f.size} bytes, expected ${info.size}: the transfer was cut short (the partial file was removed)`);
      }
      return { field: { file: image.routerPath }, cleanup: () => removeFile(image.routerPath), discard: () => remove(image.routerPath) };
    }
  }
}

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

/** deploy: create or update everything; start the container; wait until it runs. */
export async function deploy(o: RunOptions): Promise<RunResult> {
  const { client } = o;
  const { facts, config, plan } = await prepare(o);
  const name = plan.container.name;
  let existing0 = await findContainer(client, plan);
  if (existing0?.status === "error" && !o.dryRun) {
    // A failed extraction leaves a container that can never start: replace it.
    await client.delete(`container/${existing0[".id"]}`);
    say(o, `- container ${name}: removed (its image had failed to extract)`);
    existing0 = undefined;
  }
  const leftover = await findContainer(client, plan, true);
  if (!existing0 && leftover) {
    throw new FailureError(`an interrupted upgrade left container '${name}-previous' and no '${name}': run 'routeros upgrade' to finish or undo it`);
  }
  const info = existing0 ? undefined : await checkLocalImage(config, plan.container.image);
  const ctx = newContext(o);
  ctx.notes.push(...facts.notes);
  await applySteps(ctx, plan.before);

  let status: string;
  if (!existing0) {
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
        await waitExtracted(o, created);
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
    let c = existing0;
    const diff = differingFields(plan.container.fields, c);
    const envOrMountsChanged = ctx.changes.some((ch) => /^(env|mount) /.test(ch.what) || /^container\/(envs|mounts) /.test(ch.what));
    const rootOk = [plan.container.rootDir, plan.container.rootDirAlt].includes((c["root-dir"] ?? "").replace(/^\/+/, ""));
    if (!rootOk) ctx.notes.push(`container ${name} has root-dir ${c["root-dir"]}; the config says ${plan.container.rootDir}: 'routeros upgrade' moves it`);
    if (Object.keys(diff).length || (envOrMountsChanged && c.status === RUNNING)) {
      if (o.dryRun) {
        record(ctx, { action: "container", what: `container ${name}`, detail: Object.keys(diff).length ? `would change ${Object.keys(diff).join(", ")} and restart` : "would restart to apply env/mount changes" });
      } else {
        await stopContainer(o, c);
        if (Object.keys(diff).length) {
          await client.patch(`container/${c[".id"]}`, diff);
          record(ctx, {
            action: "update",
            what: `container ${name}`,
            detail: Object.entries(diff).map(([k, v]) => `${k}: ${c[k] || "(unset)"} -> ${v}`).join(", "),
          });
        }
        c = await getContainer(client, c[".id"]!);
      }
    }
    if (!o.dryRun && c.status !== RUNNING) {
      if (c.status === "extracting") c = await waitExtracted(o, c);
      say(o, `starting ${name}`);
      await startContainer(o, c);
      record(ctx, { action: "container", what: `container ${name}`, detail: "started; running" });
    }
    status = o.dryRun ? c.status ?? "?" : RUNNING;
    const img = plan.container.image;
    if (img.kind === "file") {
      const want = versionFromText(img.fileName);
      const have = versionFromText(c.tag);
      if (want && have && !have.startsWith(want)) ctx.notes.push(`container ${name} runs ${have}; the config names ${img.fileName}: run 'routeros upgrade' to replace the image`);
    }
  }
  await applySteps(ctx, plan.after);
  return { changes: ctx.changes, notes: [...plan.notes.slice(1), ...ctx.notes], status, facts };
}

async function removeContainer(o: RunOptions, c: RosRecord): Promise<void> {
  const now = await getContainer(o.client, c[".id"]!).catch(() => undefined);
  if (!now) return;
  await stopContainer(o, now);
  await o.client.delete(`container/${now[".id"]}`);
}

export type UpgradeResult = RunResult & { from?: string; to?: string; rolledBack?: boolean };

/** upgrade: replace the image, keep the state mount; put the previous container back if anything fails once the new image is on the router. */
export async function upgrade(o: RunOptions, prepared?: Prepared): Promise<UpgradeResult> {
  const { client } = o;
  const { facts, config, plan } = prepared ?? (await prepare(o));
  const name = plan.container.name;
  const prevName = `${name}-previous`;
  const key = plan.container.key;
  let cur = await findContainer(client, plan);
  let leftover = await findContainer(client, plan, true);
  if (!cur && !leftover) throw new FailureError(`there is no container '${name}' on the router: run 'routeros deploy' first`);
  const info = await checkLocalImage(config, plan.container.image);
  const to = info?.version ?? versionFromText(plan.container.image.kind === "remote" ? plan.container.image.ref : "") ?? undefined;
  const before = cur ?? leftover;
  const from = before ? versionFromText(before.tag) ?? (before.tag || undefined) : undefined;
  if (cur && info?.version && from && info.version === from && !o.force) {
    return { changes: [], notes: [...facts.notes, `container ${name} already runs ${from}; nothing to do (--force replaces it anyway)`], status: cur.status ?? "?", facts, from, to };
  }
  const ctx = newContext(o);
  ctx.notes.push(...facts.notes);
  if (o.dryRun) {
    await applySteps(ctx, plan.before);
    record(ctx, { action: "container", what: `container ${name}`, detail: `would be replaced (${from ?? "?"} -> ${to ?? "?"}), keeping ${config.storage.stateDir}` });
    await applySteps(ctx, plan.after);
    return { changes: ctx.changes, notes: ctx.notes, status: cur?.status ?? "?", facts, from, to };
  }
  // Finish or undo an interrupted upgrade first.
  if (!cur && leftover) {
    await client.patch(`container/${leftover[".id"]}`, { [key.field]: key.value });
    record(ctx, { action: "update", what: `container ${prevName}`, detail: `renamed back to ${name} (left by an interrupted upgrade)` });
    cur = await findContainer(client, plan);
    leftover = undefined;
  } else if (leftover) {
    await stopContainer(o, leftover);
    await client.delete(`container/${leftover[".id"]}`);
    record(ctx, { action: "remove", what: `container ${prevName}`, detail: "left by an earlier upgrade" });
  }
  const old = cur!;
  await applySteps(ctx, plan.before);
  const img = await provideImage(o, plan.container.image, info, plan.container.removeImageFile);
  const oldRoot = (old["root-dir"] ?? "").replace(/^\/+/, "");
  const newRoot = oldRoot === plan.container.rootDir ? plan.container.rootDirAlt : plan.container.rootDir;
  const wasRunning = old.status === RUNNING;
  const oldBoot = old["start-on-boot"] ?? "false";
  const oldKey = old[key.field] ?? key.value;

  // From here on the new image is on the router: any failure puts the old container back.
  let renamed = false;
  let created: RosRecord | undefined;
  try {
    say(o, `stopping ${name}`);
    await stopContainer(o, old);
    await client.patch(`container/${old[".id"]}`, { [key.field]: key.previous, "start-on-boot": "no" });
    renamed = true;
    created = await client.put("container", containerBody(plan, newRoot, img.field));
    say(o, `waiting for the new ${name} to be extracted`);
    await waitExtracted(o, created);
    say(o, `starting the new ${name}`);
    await startContainer(o, created);
    await applySteps(ctx, plan.after);
  } catch (e) {
    const reason = (e as Error).message;
    say(o, `the new container failed: ${reason}`);
    say(o, "putting the previous container back");
    try {
      if (created) await removeContainer(o, created);
      if (renamed) await client.patch(`container/${old[".id"]}`, { [key.field]: oldKey, "start-on-boot": oldBoot });
      if (wasRunning) {
        const back = await getContainer(client, old[".id"]!);
        if (back.status !== RUNNING) await startContainer(o, back);
      }
      await img.discard();
    } catch (e2) {
      throw new FailureError(
        `upgrade failed (${reason}) and putting the previous container back failed too: ${(e2 as Error).message}; the previous container is '${renamed ? prevName : name}' and the node state is still in ${config.storage.stateDir}`,
      );
    }
    throw new UpgradeRolledBackError(
      `upgrade ${from ?? "?"} -> ${to ?? "?"} failed: ${reason}; the previous image (${from ?? "unknown version"}) is back${wasRunning ? " and running" : ""}`,
    );
  }
  await client.delete(`container/${old[".id"]}`);
  await img.cleanup();
  record(ctx, { action: "container", what: `container ${name}`, detail: `upgraded ${from ?? "?"} -> ${to ?? "?"} (root-dir ${newRoot}); state kept in ${config.storage.stateDir}` });
  return { changes: ctx.changes, notes: ctx.notes, status: RUNNING, facts, from, to, rolledBack: false };
}

export interface StatusReport {
  router: { version: string; arch: string; board: string };
  container?: {
    name: string;
    status: string;
    tag: string;
    imageVersion?: string;
    rootDir: string;
    interface: string;
    /** RouterOS's health check verdict (7.22+ with healthcheck-cmd), as the router words it. */
    health?: string;
    /** How RouterOS restarts it after a crash, e.g. "on-failure every 10s (at most 10)". */
    restart?: string;
  };
  tailscale: {
    /** Version tailscaled printed at start, from the router log. */
    version?: string;
    /** Last ipn state from the router log (Running, NeedsLogin, ...). */
    state?: string;
    loginUrl?: string;
    /** The health checker's own line from healthcheck-status, e.g. "NeedsLogin: not logged in". */
    checked?: string;
  };
  /** The 100.64.0.0/10 route via the container: active, inactive or missing. */
  tailnetRoute: "active" | "inactive" | "missing";
  /** true/false when known; undefined when the log says nothing. */
  nodeUp?: boolean;
  /** The router's TLS certificate (pin it with --tls-fingerprint). */
  tlsFingerprint?: string;
}

/** status: what the REST API can tell about the container and the node. */
export async function status(client: RestClient, name: string): Promise<StatusReport> {
  const res = await client.get<RosRecord>("system/resource");
  const report: StatusReport = {
    router: { version: res.version ?? "?", arch: res["architecture-name"] ?? "?", board: res["board-name"] ?? "?" },
    tailscale: {},
    tailnetRoute: "missing",
  };
  const all = await client.get<RosRecord[]>("container");
  const c = all.find((x) => x.name === name) ?? all.find((x) => hasKey(x, "comment", ownerTag(name)));
  if (c) {
    report.container = {
      name,
      status: c.status ?? "?",
      tag: c.tag ?? "",
      imageVersion: versionFromText(c.tag),
      rootDir: c["root-dir"] ?? "",
      interface: c.interface ?? "",
    };
    if (c["healthcheck-cmd"]) report.container.health = c["healthcheck-status"] || "not reported yet";
    const said = /output:\s*(.+?)\s*$/.exec(c["healthcheck-status"] ?? "")?.[1];
    if (said) report.tailscale.checked = said;
    const policy = c["restart-policy"];
    if (policy && policy !== "no") {
      const max = c["restart-max-count"];
      report.container.restart = `${policy} after ${c["restart-interval"] ?? "?"}${max && max !== "0" ? ` (at most ${max} times)` : ""}`;
    } else if (c["auto-restart-interval"] && !["0s", "0", "none", ""].includes(c["auto-restart-interval"])) {
      report.container.restart = `after any exit, every ${c["auto-restart-interval"]}`;
    } else {
      report.container.restart = "never (a crashed tailscaled stays down)";
    }
  }
  const routes = await client.get<RosRecord[]>("ip/route");
  const r = routes.find((x) => x["dst-address"] === "100.64.0.0/10");
  if (r) report.tailnetRoute = r.active === "true" ? "active" : "inactive";
  // tailscaled's own log lines, as the router logs them with logging=yes.
  const log = await client.get<RosRecord[]>("log").catch(() => [] as RosRecord[]);
  for (const l of log) {
    if (!(l.topics ?? "").includes("container")) continue;
    const m = l.message ?? "";
    const start = /Program starting: (v\S+?),/.exec(m);
    if (start) {
      report.tailscale.version = start[1];
      report.tailscale.state = undefined;
      report.tailscale.loginUrl = undefined;
    }
    const st = /Switching ipn state \S+ -> (\S+)/.exec(m);
    if (st) report.tailscale.state = st[1];
    const url = /To authenticate, visit:\s*(\S+)/.exec(m);
    if (url) report.tailscale.loginUrl = url[1];
  }
  // The checker asked tailscaled itself: newer than any log line.
  const checkedState = /^(?:starting: )?(Running|NeedsLogin|NeedsMachineAuth|Stopped|Starting|NoState)\b/.exec(report.tailscale.checked ?? "")?.[1];
  if (checkedState) report.tailscale.state = checkedState;
  if (report.tailscale.state === "Running") report.tailscale.loginUrl = undefined;
  if (!c || c.status !== RUNNING) report.nodeUp = false;
  else if (report.tailscale.state) report.nodeUp = report.tailscale.state === "Running";
  return report;
}

export function formatStatus(s: StatusReport, name: string): string {
  const L: string[] = [];
  L.push(`router:     ${s.router.board}, RouterOS ${s.router.version}, ${s.router.arch}`);
  if (!s.container) {
    L.push(`container:  no container named '${name}'`);
  } else {
    const c = s.container;
    L.push(`container:  ${c.name}: ${c.status} (interface ${c.interface}, root-dir ${c.rootDir})`);
    L.push(`image:      ${c.tag || "(no tag)"}${c.imageVersion ? ` -> version ${c.imageVersion}` : " (version unknown)"}`);
    if (c.health) L.push(`health:     ${c.health} (RouterOS runs ${HEALTHCHECK_COMMAND})`);
    if (c.restart) L.push(`restart:    ${c.restart}`);
  }
  L.push(`tailscaled: ${s.tailscale.version ?? "version unknown (not in the router log)"}`);
  L.push(`route:      100.64.0.0/10 via the container: ${s.tailnetRoute}`);
  const up =
    s.nodeUp === true
      ? "up (tailscaled reports Running)"
      : s.nodeUp === false
        ? `down${s.tailscale.checked ? ` (health check: ${s.tailscale.checked})` : s.tailscale.state ? ` (tailscaled reports ${s.tailscale.state})` : s.container ? ` (container ${s.container.status})` : ""}`
        : "unknown (no tailscaled state in the router log; is logging on?)";
  L.push(`node:       ${up}`);
  if (s.tailscale.loginUrl) L.push(`login:      ${s.tailscale.loginUrl}`);
  if (s.tlsFingerprint) L.push(`tls:        ${s.tlsFingerprint} (pin it with --tls-fingerprint ${s.tlsFingerprint})`);
  return L.join("\n");
}
