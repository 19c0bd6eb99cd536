import { UsageError } from "../../errors.js";
import { stringOpt, type ParsedArgs } from "../command.js";

/* What the `routeros` commands and the `routeros fleet` ones share: progress on stderr, durations, Ctrl-C. */

export function err(line: string): void {
  process.stderr.write(line + "\n");
}

export function seconds(args: ParsedArgs, name: string): number | undefined {
  const v = stringOpt(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: expected a number of seconds, got '${v}'`);
  return n * 1000;
}

/**
 * Ctrl-C while a command waits for the router: the first one stops waiting
 * (a swap the router runs goes on; the command says how to see the result),
 * a second one ends the process at once.
 */
export function interruptible(): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    err("interrupted: stopping (Ctrl-C again to quit at once)");
    ac.abort();
  };
  process.on("SIGINT", onSigint);
  return { signal: ac.signal, done: () => process.off("SIGINT", onSigint) };
}
