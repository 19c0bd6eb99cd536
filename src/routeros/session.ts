import type { RouterConfig } from "./config.js";
import type { PlanOptions } from "./plan.js";
import type { Change } from "./reconcile.js";
import type { RestClient } from "./rest.js";
import type { RouterFacts } from "./preflight.js";

/*
 * What deploy, upgrade and status share: the options of a run against one
 * router, and its result.
 */

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
  /** Ctrl-C: stop waiting for the router (a swap the router runs goes on without us). */
  signal?: AbortSignal;
  /** The swap script's wait between looks (RouterOS :delay syntax; default 1s). */
  swapPoll?: string;
  /** How long to wait for the router to finish a swap, across lost connections (default: the timeouts plus 5 minutes). */
  swapTimeoutMs?: number;
}

export interface RunResult {
  changes: Change[];
  notes: string[];
  status: string;
  facts: RouterFacts;
}

export const RUNNING = "running";

export function say(o: RunOptions, line: string): void {
  o.log?.(line);
}

/** Maps what /system/resource says to an architecture. */
