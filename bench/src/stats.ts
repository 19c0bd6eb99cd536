/** Small statistics for benchmark samples: no thresholds, just numbers. */

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n-1); 0 for fewer than two samples. */
  stdev: number;
  /** (max - min) / median, in percent: how far apart the runs were. */
  spreadPct: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no samples");
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) throw new Error("summary of no samples");
  for (const x of xs) if (!Number.isFinite(x)) throw new Error(`not a finite sample: ${x}`);
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const stdev = n < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const med = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { n, median: med, min, max, mean, stdev, spreadPct: med === 0 ? 0 : ((max - min) / med) * 100 };
}

/** The order variants run in during round `round`: rotated, so none always goes first. */
export function rotation<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
