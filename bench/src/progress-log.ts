/**
 * Reads the step timings out of a build's progress output (src/util/progress.ts
 * prints "==> <label>" when a step starts and "    done: <label> (<seconds>s)"
 * when it ends), so the build benchmark can show where the time went without
 * timing anything itself. Steps nested in another step (image writing has
 * some) are kept apart so no second is counted twice.
 */

export interface StepTime {
  label: string;
  seconds: number;
  /** The architecture a step belongs to ("[arm64] busybox ..."), if any. */
  arch?: string;
  /** True for a step that ran inside another one. */
  nested?: boolean;
}

export function parseStepTimes(output: string): StepTime[] {
  const out: StepTime[] = [];
  const open: string[] = [];
  for (const line of output.split("\n")) {
    const start = /^==> (.+?)\s*$/.exec(line);
    if (start) {
      open.push(start[1]!);
      continue;
    }
    const m = /^\s*(?:done|FAILED): (.+) \((\d+(?:\.\d+)?)s\)\s*$/.exec(line);
    if (!m) continue;
    const label = m[1]!;
    const at = open.lastIndexOf(label);
    if (at >= 0) open.splice(at, 1);
    const arch = /^\[(\w+)\]/.exec(label)?.[1];
    const nested = at > 0;
    out.push({ label, seconds: Number(m[2]), ...(arch ? { arch } : {}), ...(nested ? { nested } : {}) });
  }
  return out;
}

/** Seconds per architecture of the outermost steps, and "shared" for steps that serve every architecture. */
export function secondsByArch(steps: readonly StepTime[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) {
    if (s.nested) continue;
    const k = s.arch ?? "shared";
    out[k] = Math.round(((out[k] ?? 0) + s.seconds) * 10) / 10;
  }
  return out;
}
