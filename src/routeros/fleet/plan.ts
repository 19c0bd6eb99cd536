import { UsageError } from "../../errors.js";

/*
 * The rollout's shape, decided before anything changes: which routers go
 * first (the canary), in which waves the rest follow, and how many failures
 * the rollout takes before it halts. Pure: names in, groups out.
 */

/** A count, or a share of the routers to change ("10%"). */
export type Amount = { count: number } | { percent: number };

export function parseAmount(flag: string, v: string, min: number): Amount {
  const t = v.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 100 || (min > 0 && p === 0)) throw new UsageError(`--${flag}: '${v}' is not a share from ${min > 0 ? "1" : "0"}% to 100%`);
    return { percent: p };
  }
  if (!/^\d+$/.test(t) || Number(t) < min) throw new UsageError(`--${flag}: '${v}' is not a number of routers (${min} or more) or a share such as 10%`);
  return { count: Number(t) };
}

/** An amount of `total` routers: a share rounds down, but at least `min`. */
export function amountOf(a: Amount, total: number, min: number): number {
  const n = "count" in a ? a.count : Math.floor((a.percent * total) / 100);
  return Math.max(min, n);
}

export interface Group {
  /** 0 for the canary, then 1, 2, ... */
  index: number;
  label: string;
  routers: string[];
}

export interface RolloutPlan {
  groups: Group[];
  /** Failures the rollout takes; one more halts it. */
  budget: number;
}

/** The canary: how many of the first routers to change, or named routers (`--canary lab,gw-07`). */
export type CanaryChoice = Amount | { routers: readonly string[]; text: string };

export interface PlanInput {
  /** Routers to change, in the order they should go. */
  pending: readonly string[];
  canary: CanaryChoice;
  waveSize: Amount;
  maxFailures: Amount;
  /** An earlier run of the same rollout already proved the canary. */
  canaryPassed: boolean;
}

export function planRollout(i: PlanInput): RolloutPlan {
  const total = i.pending.length;
  const groups: Group[] = [];
  let rest = [...i.pending];
  if (!i.canaryPassed && total > 0) {
    const c = i.canary;
    if ("routers" in c) {
      // Named: those of them that need the change (none: the caller decides).
      const chosen = rest.filter((n) => c.routers.includes(n));
      if (chosen.length) groups.push({ index: 0, label: "canary", routers: chosen });
      rest = rest.filter((n) => !chosen.includes(n));
    } else {
      const n = Math.min(total, amountOf(c, total, 1));
      groups.push({ index: 0, label: "canary", routers: rest.slice(0, n) });
      rest = rest.slice(n);
    }
  }
  const size = Math.max(1, amountOf(i.waveSize, total, 1));
  const waves = Math.ceil(rest.length / size);
  for (let w = 0; w < waves; w++) groups.push({ index: w + 1, label: `wave ${w + 1}/${waves}`, routers: rest.slice(w * size, (w + 1) * size) });
  return { groups, budget: amountOf(i.maxFailures, total, 0) };
}
