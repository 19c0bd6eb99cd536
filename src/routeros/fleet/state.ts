import { readFileSync } from "node:fs";
import { z } from "zod";
import { atomicWriteFile } from "../../util/fsx.js";
import { FailureError } from "../../errors.js";
import { ConfigError } from "../errors.js";

/*
 * Where a rollout stands, kept next to the inventory: which target it is
 * for, whether its canary passed, and each router's last outcome. A re-run
 * for the same target skips the canary once it passed; routers already at
 * the target are skipped because the routers say so, not because this file
 * does. Written atomically after each router, so an interrupted run leaves a
 * whole file.
 */

export const OUTCOMES = ["upgraded", "deployed", "unchanged", "at-target", "failed", "unhealthy", "not-reached", "not-started", "interrupted"] as const;
export type Outcome = (typeof OUTCOMES)[number];

const RouterEntry = z.object({
  outcome: z.enum(OUTCOMES),
  at: z.string(),
  group: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  detail: z.string().optional(),
});

const StateSchema = z.object({
  schema: z.literal(1),
  command: z.enum(["deploy", "upgrade"]),
  /** What the rollout is for: the same key means the same rollout, resumed. */
  target: z.string(),
  /** Human words for the target, e.g. "v1.104.2-mt.1". */
  targetText: z.string(),
  started: z.string(),
  updated: z.string(),
  canaryPassed: z.boolean(),
  halted: z.object({ at: z.string(), reason: z.string() }).nullable(),
  routers: z.record(RouterEntry),
});

export type RolloutState = z.infer<typeof StateSchema>;
export type RouterEntry = z.infer<typeof RouterEntry>;

/** The state file, or undefined when there is none. A damaged one is an error naming it (it is not silently replaced). */
export function loadState(path: string): RolloutState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`cannot read the rollout state ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not a rollout state (invalid JSON); remove it, or pass --restart to start the rollout over`);
  }
  const r = StateSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`${path}: not a rollout state (${r.error.issues[0]!.path.join(".") || "top"}: ${r.error.issues[0]!.message}); remove it, or pass --restart`);
  return r.data;
}

export function newState(command: "deploy" | "upgrade", target: string, targetText: string): RolloutState {
  const now = new Date().toISOString();
  return { schema: 1, command, target, targetText, started: now, updated: now, canaryPassed: false, halted: null, routers: {} };
}

/** Saves in order: each write waits for the one before, so the file never goes back in time. */
export class StateWriter {
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    readonly state: RolloutState,
  ) {}

  save(): Promise<void> {
    this.state.updated = new Date().toISOString();
    const text = JSON.stringify(this.state, null, 2) + "\n";
    this.chain = this.chain.then(() => atomicWriteFile(this.path, text)).catch((e: Error) => {
      this.failure ??= e;
    });
    return this.chain;
  }

  /** Waits for the last write; throws the first that failed. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failure) throw new FailureError(`cannot write the rollout state ${this.path}: ${(this.failure as NodeJS.ErrnoException).code ?? this.failure.message}`);
  }
}
