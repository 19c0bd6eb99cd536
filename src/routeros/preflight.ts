import type { Architecture } from "../arch.js";
import { routerArchitecture, withModel, type RouterConfig } from "./config.js";
import { RouterApiError, RouterMismatchError } from "./errors.js";
import { imageMatchesArch, imagePlatform, readImageInfo, type ImageInfo } from "./image.js";
import { buildPlan, PlanError, type Plan, type PlannedImage } from "./plan.js";
import type { RestClient, RosRecord } from "./rest.js";
import { inspectReadable, inspectRouter } from "./schema/inspect.js";
import { describeSource, MissingPropertyError, treeModel, type RouterOsModel } from "./schema/model.js";
import { FLAG, scriptStateFormFor, STATUS_PROP, type ScriptStateForm } from "./schema/state.js";
import type { RunOptions } from "./session.js";
import { parseRouterOsVersion, type RouterOsVersion } from "./version.js";

/*
 * Everything that can be checked before the first change: the router's
 * version and architecture, the container package, device-mode, the menus
 * it offers and how it reports container state, and the image file.
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
  /** What the router says its containers report (its /console/inspect completion), when it answers. */
  readable?: ReadonlySet<string>;
  /** How scripts installed on this router read container state. */
  stateForm: ScriptStateForm;
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
  const res = await client.getRecord("system/resource");
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
  const packages = await client.getList("system/package");
  const pkg = packages.find((p) => p.name === "container");
  if (!pkg || pkg.disabled === "true") {
    throw new RouterMismatchError("the container package is not installed on the router: install container-<version>-<arch>.npk and reboot");
  }
  try {
    const dm = await client.getRecord("system/device-mode");
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
  // Where this tool's data cannot say how the release reports container state, the router can.
  const readable = await inspectReadable(client, "container");
  const stateForm: ScriptStateForm = readable?.has(STATUS_PROP) ? "status" : readable?.has(FLAG.running) ? "flags" : scriptStateFormFor(version);
  return { version, arch, archName, board, model, notes, readable, stateForm };
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
    plan = buildPlan(config, { stateForm: facts.stateForm, ...o.planOptions });
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