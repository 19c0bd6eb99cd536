import { MikrotikTailscaleError, UsageError } from "../errors.js";
import { helpText, parseCommandArgs, type Command } from "./command.js";
import { commands } from "./commands/index.js";

const PROG = "mikrotik-tailscale";

function topHelp(): string {
  const lines = [
    `${PROG} - build, verify and deploy a minimal Tailscale image for MikroTik RouterOS`,
    "",
    `usage: ${PROG} <command> [options]`,
    "",
    "commands:",
  ];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push("", `Run '${PROG} <command> --help' for a command's options.`);
  return lines.join("\n");
}

async function dispatch(list: readonly Command[], argv: string[], prefix: string): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = list.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command '${name}' (try '${prefix} --help')`);
  if (cmd.subcommands?.length && !cmd.run) {
    if (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h") {
      process.stdout.write(helpText(cmd, prefix) + "\n");
      return rest.length === 0 ? 2 : 0;
    }
    return dispatch(cmd.subcommands, rest, `${prefix} ${cmd.name}`);
  }
  const args = parseCommandArgs(cmd, rest);
  if (args.values.help) {
    process.stdout.write(helpText(cmd, prefix) + "\n");
    return 0;
  }
  const code = await cmd.run!(args);
  return typeof code === "number" ? code : 0;
}

/** Runs the CLI; returns the process exit code. Typed errors are caught here and only here. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(topHelp() + "\n");
    return argv.length === 0 ? 2 : 0;
  }
  try {
    return await dispatch(commands, argv, PROG);
  } catch (err) {
    if (err instanceof MikrotikTailscaleError) {
      process.stderr.write(`${PROG}: error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${PROG}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
