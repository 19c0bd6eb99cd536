import { setTimeout as sleep } from "node:timers/promises";
import { ContainerStateError, InterruptedError } from "./errors.js";
import type { Plan } from "./plan.js";
import type { RestClient, RosRecord } from "./rest.js";
import { stateOf, type ContainerState } from "./schema/state.js";
import { RUNNING, type RunOptions } from "./session.js";

/*
 * A container's life over REST: find it, wait for a state, stop, start
 * (and stay up for the settle time), remove. Used where nothing is at stake
 * if the connection drops: a first deploy, a start of a stopped container.
 * Replacing a running container is the swap's job (swap.ts), which the
 * router runs itself.
 */

export function hasKey(c: RosRecord, field: "name" | "comment", value: string): boolean {
  const v = c[field] ?? "";
  return field === "name" ? v === value : v === value || v.startsWith(`${value} `);
}

export async function findContainer(client: RestClient, plan: Plan, previous = false): Promise<RosRecord | undefined> {
  const k = plan.container.key;
  const all = await client.getList("container");
  return all.find((c) => hasKey(c, k.field, previous ? k.previous : k.value));
}


export async function getContainer(client: RestClient, id: string): Promise<RosRecord> {
  return client.getRecord(`container/${id}`);
}

export async function containerLogTail(client: RestClient, name: string, n = 3): Promise<string> {
  try {
    const log = await client.getList("log");
    const lines = log.filter((l) => (l.topics ?? "").includes("container") && (l.message ?? "").includes(name)).slice(-n);
    return lines.length ? ` (router log: ${lines.map((l) => l.message).join(" | ")})` : "";
  } catch {
    return "";
  }
}

/** Waits `ms`, or throws when the run is interrupted (Ctrl-C, a fleet's per-router deadline): `doing` says what goes on without us. */
async function pause(o: RunOptions, ms: number, doing: () => string): Promise<void> {
  if (!o.signal?.aborted) {
    try {
      await sleep(ms, undefined, o.signal ? { signal: o.signal } : undefined);
      return;
    } catch (e) {
      if (!o.signal?.aborted) throw e;
    }
  }
  throw new InterruptedError(`stopped waiting: ${doing()}`);
}

/** Polls a container until `done` says so, or the time is up. */
export async function waitFor(
  o: RunOptions,
  id: string,
  done: (state: ContainerState) => boolean,
  timeoutMs: number,
  doing: () => string = () => "the router goes on with the container; 'routeros status' shows it",
): Promise<RosRecord> {
  const until = Date.now() + timeoutMs;
  // Poll quickly at first, then back off to pollMs.
  const max = o.pollMs ?? 1000;
  let poll = Math.min(50, max);
  for (;;) {
    const c = await getContainer(o.client, id);
    if (done(stateOf(c))) return c;
    if (Date.now() >= until) return c;
    await pause(o, poll, doing);
    poll = Math.min(max, Math.ceil(poll * 1.5));
  }
}

export async function waitExtracted(o: RunOptions, c: RosRecord): Promise<RosRecord> {
  const r = await waitFor(o, c[".id"]!, (s) => s !== "extracting" && s !== "unknown", o.extractTimeoutMs ?? 600_000, () => `the router goes on extracting container ${c.name}; run 'routeros deploy' again to start it`);
  const state = stateOf(r);
  if (state !== "stopped") {
    const why = state === "extracting" ? "was still extracting when the time ran out" : state === "error" ? "failed to download or extract" : `ended ${state}`;
    throw new ContainerStateError(`container ${c.name}: the image ${why}${await containerLogTail(o.client, c.name!)}`);
  }
  return r;
}

export async function stopContainer(o: RunOptions, c: RosRecord): Promise<void> {
  const now = stateOf(c);
  if (now === "stopped" || now === "error") return;
  await o.client.post("container/stop", { ".id": c[".id"]! });
  const r = await waitFor(o, c[".id"]!, (s) => s === "stopped", o.startTimeoutMs ?? 120_000);
  if (stateOf(r) !== "stopped") throw new ContainerStateError(`container ${c.name} did not stop (it is ${stateOf(r)})`);
}

/** Starts a container and waits until it has stayed running for the settle time. */
export async function startContainer(o: RunOptions, c: RosRecord): Promise<void> {
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
    () => `container ${c.name} was told to start; 'routeros status' shows whether it runs`,
  );
  if (stateOf(r) !== RUNNING) {
    throw new ContainerStateError(`container ${c.name} did not reach running (it is ${stateOf(r)})${await containerLogTail(o.client, c.name!)}`);
  }
  const settle = o.settleMs ?? 5000;
  if (settle > 0) {
    await pause(o, settle, () => `container ${c.name} runs; 'routeros status' shows whether it stays up`);
    const again = await getContainer(o.client, c[".id"]!);
    if (stateOf(again) !== RUNNING) {
      throw new ContainerStateError(`container ${c.name} stopped again right after starting (it is ${stateOf(again)})${await containerLogTail(o.client, c.name!)}`);
    }
  }
}

export async function removeContainer(o: RunOptions, c: RosRecord): Promise<void> {
  const now = await getContainer(o.client, c[".id"]!).catch(() => undefined);
  if (!now) return;
  await stopContainer(o, now);
  await o.client.delete(`container/${now[".id"]}`);
}
