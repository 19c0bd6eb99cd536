import type { RouterConfig } from "../config.js";
import { RouterAuthError, RouterTlsError, RouterUnreachableError } from "../errors.js";
import { imageMatchesArch, imagePlatform, matchNamedVersion, readImageInfo, versionFromText, versionInName, type ImageInfo } from "../image.js";
import { planImage } from "../plan.js";
import { RestClient } from "../rest.js";
import { status } from "../status.js";
import { resolveCredentials, type Credentials } from "../../release/credentials.js";
import { RegistryClient } from "../../release/registry.js";
import { onceScriptName, parseSwapRecord } from "../swap.js";
import { registryImageDigest, remoteImageReference } from "../update-check.js";
import { identify, routerConfig, type FleetRouter, type SharedConfig } from "./routers.js";
import { mapBounded, RouterTimeoutError, type Settled } from "./runner.js";

/*
 * `fleet status`: every router read at once (bounded), one row each: the
 * router, its container and node as `routeros status` reads them, and what
 * `upgrade` would change there. A router that cannot be read is a row with
 * the reason.
 */

/** What an upgrade would put on a router. */
export interface Target {
  kind: "file" | "url" | "routerFile" | "remote";
  /** The image version after an upgrade, when known (a file's label; a URL's or router file's name). */
  version?: string;
  /** A registry image: the registry's digest for this router's platform. */
  digest?: string;
  /** The image, as the table names it. */
  what: string;
  /** Why the target is not known for this router (no image file for its architecture, registry down). */
  error?: string;
}

export type ErrorKind = "unreachable" | "refused" | "tls" | "timeout" | "error";

export interface FleetRow {
  router: string;
  address: string;
  groups: string[];
  /** Whether the router was read. */
  ok: boolean;
  error?: string;
  errorKind?: ErrorKind;
  routeros?: string;
  arch?: string;
  board?: string;
  containerName: string;
  /** Undefined when the router has no such container. */
  container?: {
    state: string;
    tag: string;
    imageVersion?: string;
    digest?: string;
    health?: string;
    restart?: string;
    restarts?: number;
  };
  node?: { state?: string; up?: boolean; version?: string; loginUrl?: string };
  tailnetRoute?: string;
  target?: Target;
  /** What `upgrade` would do: needed undefined when it cannot tell. */
  upgrade?: { needed?: boolean; from?: string; to?: string; text: string };
  /** The phase of a one-off swap script an earlier run left on the router (it may hold a changed secret): the next deploy or upgrade settles and removes it. */
  leftover?: string;
  /** The certificate the router showed (to pin). */
  tls?: string;
  /** Problems that do not stop the read (the router's config, the target image). */
  note?: string;
  ms: number;
}

export interface TargetOptions {
  /** --image: a .tar path (with {arch}) or a registry reference, instead of the config's image. */
  imageOverride?: string;
  registry?: { credentials?: Credentials | null; plainHttp?: boolean };
}

/** Targets per router config, each image file and registry tag asked once per run. */
export class Targets {
  private readonly files = new Map<string, Promise<ImageInfo>>();
  private readonly digests = new Map<string, Promise<string>>();

  constructor(readonly o: TargetOptions = {}) {}

  async of(config: RouterConfig): Promise<Target> {
    const img = planImage(config, this.o.imageOverride);
    switch (img.kind) {
      case "file": {
        let p = this.files.get(img.localPath);
        if (!p) this.files.set(img.localPath, (p = readImageInfo(img.localPath)));
        try {
          const info = await p;
          if (!imageMatchesArch(info, config.arch)) return { kind: "file", what: img.fileName, error: `${img.fileName} is an image for ${imagePlatform(info)}, not ${config.arch.routerosArch}` };
          return { kind: "file", what: img.fileName, ...(info.version ? { version: info.version } : {}) };
        } catch (e) {
          return { kind: "file", what: img.fileName, error: (e as Error).message };
        }
      }
      case "url":
        return { kind: "url", what: img.url, version: versionInName(img.url) };
      case "routerFile":
        return { kind: "routerFile", what: img.routerPath, version: versionInName(img.routerPath) };
      case "remote": {
        const key = `${img.ref}|${config.arch.name}|${config.image.registryUrl ?? ""}`;
        let p = this.digests.get(key);
        if (!p) {
          p = (async () => {
            const ref = remoteImageReference(img.ref, config.image.registryUrl);
            const creds = this.o.registry?.credentials === null ? undefined : (this.o.registry?.credentials ?? resolveCredentials({ registry: ref.registry }));
            const client = new RegistryClient({ registry: ref.registry, repository: ref.repository, credentials: creds, plainHttp: this.o.registry?.plainHttp, timeoutMs: 30_000 });
            return registryImageDigest(client, ref.tag, config.arch);
          })();
          this.digests.set(key, p);
        }
        const tagVersion = versionFromText(/:[^/]+$/.exec(img.ref)?.[0]);
        try {
          return { kind: "remote", what: img.ref, digest: await p, ...(tagVersion ? { version: tagVersion } : {}) };
        } catch (e) {
          return { kind: "remote", what: img.ref, error: `registry: ${(e as Error).message}`, ...(tagVersion ? { version: tagVersion } : {}) };
        }
      }
    }
  }
}

/** What `upgrade` would change on a router: its running image against the target. */
export function upgradeNeed(c: FleetRow["container"], t: Target | undefined, name: string): NonNullable<FleetRow["upgrade"]> {
  if (!c) return { text: `no container ${name}: deploy first` };
  const from = c.imageVersion ?? (c.tag || undefined);
  if (!t) return { from, text: "-" };
  if (t.error) return { from, text: `? (${t.error})` };
  if (t.kind === "remote") {
    const short = (d: string) => `${d.slice(0, 19)}...`;
    if (!t.digest) return { from, text: "?" };
    if (c.digest === t.digest) return { needed: false, from, to: t.version ?? from, text: "none" };
    return { needed: true, from, ...(t.version ? { to: t.version } : {}), text: c.digest ? `${short(c.digest)} -> ${short(t.digest)}` : `replace: no digest recorded -> ${short(t.digest)}` };
  }
  if (!t.version) return { needed: true, from, text: `replace (${t.what} names no version)` };
  switch (matchNamedVersion(from, t.version)) {
    case "same":
      return { needed: false, from, to: t.version, text: "none" };
    // Taken as the same image, as `routeros upgrade` takes it: replacing every router on every run would cost each an outage.
    case "same-version":
      return { needed: false, from, to: from, text: `none (the file name gives ${t.version}, not its build)` };
    default:
      return { needed: true, from, to: t.version, text: `${from ?? "?"} -> ${t.version}` };
  }
}

export function errorKind(e: Error): ErrorKind {
  if (e instanceof RouterTimeoutError) return "timeout";
  if (e instanceof RouterAuthError) return "refused";
  if (e instanceof RouterTlsError) return "tls";
  if (e instanceof RouterUnreachableError) return "unreachable";
  return "error";
}

export interface ReadContext {
  shared?: SharedConfig;
  targets?: Targets;
}

/** Reads one router: throws when it cannot be reached or answers wrongly (the caller makes that a row). */
export async function readRouter(r: FleetRouter, ctx: ReadContext, signal?: AbortSignal): Promise<FleetRow> {
  const t0 = Date.now();
  const client = new RestClient(r.target);
  // A deadline or Ctrl-C: drop the connections, so nothing waits on this router any more.
  const stop = () => client.close();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    const id = await identify(client);
    const row: FleetRow = { router: r.name, address: r.address, groups: r.groups, ok: true, routeros: id.version.replace(/\s*\(.*\)$/, ""), arch: id.arch ?? id.archName, board: id.board, containerName: r.inventory.settings.containerName ?? "tailscale", ms: 0 };
    let config: RouterConfig | undefined;
    if (ctx.shared) {
      try {
        config = routerConfig(ctx.shared, r.inventory, id);
        row.containerName = config.container.name;
      } catch (e) {
        row.note = (e as Error).message;
      }
    }
    const s = await status(client, row.containerName);
    if (s.container) {
      const c = s.container;
      row.container = { state: c.status, tag: c.tag, ...(c.imageVersion ? { imageVersion: c.imageVersion } : {}), ...(c.digest ? { digest: c.digest } : {}), ...(c.health ? { health: c.health } : {}), ...(c.restart ? { restart: c.restart } : {}), ...(c.restarts !== undefined ? { restarts: c.restarts } : {}) };
    }
    row.node = { ...(s.tailscale.state ? { state: s.tailscale.state } : {}), ...(s.nodeUp !== undefined ? { up: s.nodeUp } : {}), ...(s.tailscale.version ? { version: s.tailscale.version } : {}), ...(s.tailscale.loginUrl ? { loginUrl: s.tailscale.loginUrl } : {}) };
    row.tailnetRoute = s.tailnetRoute;
    // A swap whose end the tool never saw (its link dropped for good) leaves its script (with a changed secret in it, if the run changed one).
    const left = (await client.getList("system/script").catch(() => [])).find((x) => x.name === onceScriptName(row.containerName));
    if (left) row.leftover = parseSwapRecord(left.comment)?.phase ?? "unknown";
    if (config && ctx.targets) {
      row.target = await ctx.targets.of(config);
      row.upgrade = upgradeNeed(row.container, row.target, row.containerName);
    }
    if (client.peerFingerprint) row.tls = client.peerFingerprint;
    row.ms = Date.now() - t0;
    return row;
  } finally {
    signal?.removeEventListener("abort", stop);
    client.close();
  }
}

/** A router that could not be read, as a row. */
export function errorRow(r: FleetRouter, s: Extract<Settled<FleetRow>, { ok: false }>): FleetRow {
  return { router: r.name, address: r.address, groups: r.groups, ok: false, error: s.error.message, errorKind: errorKind(s.error), containerName: r.inventory.settings.containerName ?? "tailscale", ms: s.ms };
}

export interface StatusOptions extends ReadContext {
  concurrency: number;
  /** Per router, for everything it takes to read it. */
  timeoutMs: number;
  signal?: AbortSignal;
  onRow?: (row: FleetRow) => void;
}

/** Reads every router, at most `concurrency` at a time; one row each, in inventory order. */
export async function readFleet(routers: readonly FleetRouter[], o: StatusOptions): Promise<FleetRow[]> {
  const settled = await mapBounded(routers, { concurrency: o.concurrency, timeoutMs: o.timeoutMs, signal: o.signal }, (r, signal) => readRouter(r, o, signal));
  return settled.map((s, i) => {
    const r = routers[i]!;
    const row = !s ? errorRow(r, { ok: false, error: new Error("not read (interrupted)"), ms: 0, timedOut: false }) : s.ok ? s.value : errorRow(r, s);
    o.onRow?.(row);
    return row;
  });
}
