import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * One CLI command: a name, its flags and a run function. Commands stay thin:
 * they parse, call the library, and print.
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Lines shown under "usage:"; the first is the synopsis. */
  readonly usage: readonly string[];
  readonly options?: Options;
  /** Nested commands (e.g. `routeros deploy`). */
  readonly subcommands?: readonly Command[];
  run?(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" }, ...(cmd.options ?? {}) },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (err) {
    // node:util says e.g. "Unknown option '--x'"; keep its words, name the command.
    throw new UsageError(`${cmd.name}: ${(err as Error).message}`);
  }
}

export function helpText(cmd: Command, prefix = "mikrotik-tailscale"): string {
  const lines = [`${prefix} ${cmd.name} - ${cmd.summary}`, "", "usage:"];
  for (const u of cmd.usage) lines.push(`  ${prefix} ${u}`);
  if (cmd.subcommands?.length) {
    lines.push("", "commands:");
    for (const s of cmd.subcommands) lines.push(`  ${s.name.padEnd(12)} ${s.summary}`);
  }
  return lines.join("\n");
}

export function stringOpt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new UsageError(`--${name} needs a value`);
  return v;
}

export function boolOpt(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
