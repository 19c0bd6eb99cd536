/*
 * Time for the simulated router. The real clock serves the REST simulator a
 * user or a REST test talks to; the virtual clock lets tests run a script's
 * `:delay 1s` loops (and the router's own timers: extraction, start, the
 * scheduler) without sleeping for real: time moves only when something waits.
 */

export interface Timer {
  readonly at: number;
  cancelled: boolean;
}

export interface Clock {
  /** Milliseconds since the clock started. */
  now(): number;
  /** Runs fn after ms; a virtual clock runs it when its time is reached. */
  setTimer(ms: number, fn: () => void): Timer;
  clearTimer(t: Timer): void;
  /** Waits ms (a script's :delay, a poll). */
  sleep(ms: number): Promise<void>;
  /** Stops every pending timer. */
  close(): void;
}

export class RealClock implements Clock {
  private readonly t0 = Date.now();
  private readonly handles = new Map<Timer, NodeJS.Timeout>();

  now(): number {
    return Date.now() - this.t0;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const timer: Timer = { at: this.now() + ms, cancelled: false };
    const h = setTimeout(() => {
      this.handles.delete(timer);
      if (!timer.cancelled) fn();
    }, ms);
    this.handles.set(timer, h);
    return timer;
  }

  clearTimer(t: Timer): void {
    t.cancelled = true;
    const h = this.handles.get(t);
    if (h) clearTimeout(h);
    this.handles.delete(t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  close(): void {
    for (const [t, h] of this.handles) {
      t.cancelled = true;
      clearTimeout(h);
    }
    this.handles.clear();
  }
}

interface Pending extends Timer {
  fn: () => void;
  seq: number;
}

/** Time that moves only when something sleeps: timers due by then run in order, each at its own time. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private pending: Pending[] = [];
  /** Total virtual time slept, for tests that assert how long a script waited. */
  slept = 0;

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), cancelled: false, fn, seq: this.seq++ };
    this.pending.push(p);
    return p;
  }

  clearTimer(t: Timer): void {
    t.cancelled = true;
    this.pending = this.pending.filter((p) => p !== t);
  }

  /** Moves time forward by ms, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.t + Math.max(0, ms);
    for (;;) {
      const due = this.pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.pending = this.pending.filter((p) => p !== due);
      this.t = Math.max(this.t, due.at);
      if (!due.cancelled) due.fn();
      // Let what the timer started (a promise chain) run before the next one.
      await new Promise<void>((r) => setImmediate(r));
    }
    // (Another advance may have gone further meanwhile: time never goes back.)
    this.t = Math.max(this.t, until);
  }

  async sleep(ms: number): Promise<void> {
    this.slept += ms;
    await this.advance(ms);
  }

  /** Runs every pending timer, however far ahead (bounded, so a timer that re-arms itself cannot loop forever). */
  async runAll(limitMs = 24 * 3600_000): Promise<void> {
    const end = this.t + limitMs;
    while (this.pending.length && this.t < end) {
      const next = Math.min(...this.pending.map((p) => p.at));
      await this.advance(Math.max(0, Math.min(next, end) - this.t));
    }
  }

  close(): void {
    for (const p of this.pending) p.cancelled = true;
    this.pending = [];
  }
}

/**
 * Virtual time that also runs by itself, many times faster than real time:
 * for a simulator reached over REST, whose client waits in real time, while
 * the router's minutes of extraction, settling and scheduling pass in
 * milliseconds. A script's :delay waits for the clock instead of moving it.
 */
export class FastClock extends VirtualClock {
  private ticker: NodeJS.Timeout;

  constructor(virtualMsPerTick = 250, tickMs = 2) {
    super();
    this.ticker = setInterval(() => void this.advance(virtualMsPerTick), tickMs);
  }

  override sleep(ms: number): Promise<void> {
    this.slept += ms;
    return new Promise((r) => this.setTimer(ms, r));
  }

  override close(): void {
    clearInterval(this.ticker);
    super.close();
  }
}
