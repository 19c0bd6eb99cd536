import { FailureError } from "../../errors.js";

/*
 * Work on many routers at once: at most `concurrency` at a time, each with
 * its own deadline. A router that does not answer in time is a result (it
 * timed out), not a stalled run; its work is told to stop through its
 * AbortSignal (a swap the router runs goes on without us).
 */

/** A router's work that ran out of time. */
export class RouterTimeoutError extends FailureError {}

export type Settled<T> = { ok: true; value: T; ms: number } | { ok: false; error: Error; ms: number; timedOut: boolean };

export interface BoundedOptions<I, T> {
  concurrency: number;
  /** Per item; none when undefined or 0. */
  timeoutMs?: number;
  /** Stops starting new items (Ctrl-C); started ones get the abort too. */
  signal?: AbortSignal;
  /** Asked before each start: false leaves the item (and the rest) unstarted (a halted rollout). */
  canStart?: () => boolean;
  onStart?: (item: I, index: number) => void;
  onSettled?: (item: I, result: Settled<T>, index: number) => void;
}

/**
 * Runs `fn` over `items`; results in the items' order, `undefined` for
 * items never started.
 */
export async function mapBounded<I, T>(items: readonly I[], o: BoundedOptions<I, T>, fn: (item: I, signal: AbortSignal) => Promise<T>): Promise<(Settled<T> | undefined)[]> {
  const results: (Settled<T> | undefined)[] = new Array(items.length).fill(undefined);
  let next = 0;
  let stopped = false;
  const one = async (i: number): Promise<void> => {
    const item = items[i]!;
    const ac = new AbortController();
    const onAbort = () => ac.abort(o.signal?.reason);
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    o.onStart?.(item, i);
    let r: Settled<T>;
    try {
      const work = fn(item, ac.signal);
      const deadline =
        o.timeoutMs && o.timeoutMs > 0
          ? new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const e = new RouterTimeoutError(`no answer within ${fmtSeconds(o.timeoutMs!)}`);
                ac.abort(e);
                reject(e);
              }, o.timeoutMs);
            })
          : undefined;
      // The work may still end after its deadline: that late result (or error) is dropped.
      work.catch(() => undefined);
      const value = await (deadline ? Promise.race([work, deadline]) : work);
      r = { ok: true, value, ms: Date.now() - t0 };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      r = { ok: false, error, ms: Date.now() - t0, timedOut: error instanceof RouterTimeoutError };
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
    }
    results[i] = r;
    o.onSettled?.(item, r, i);
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (stopped || o.signal?.aborted || next >= items.length) return;
      if (o.canStart && !o.canStart()) {
        stopped = true;
        return;
      }
      await one(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, items.length)) }, worker));
  return results;
}

export function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? Number(s.toFixed(1)) : Math.round(s)} s`;
}
