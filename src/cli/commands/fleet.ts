import { dirname, basename, join } from "node:path";
import { UsageError } from "../../errors.js";
import { boolOpt, stringOpt, type Command, type ParsedArgs } from "../command.js";
import { formatFleetStatus, formatRollout, loadFleet, parseAmount, readFleet, rollout, rolloutAdvice, Targets, type Fleet } from "../../routeros/fleet/index.js";
import type { FleetCommand } from "../../routeros/fleet/rollout.js";
import { selectRouters } from "../../routeros/fleet/inventory.js";
import type { CanaryChoice } from "../../routeros/fleet/plan.js";
import { err, interruptible, seconds } from "./routeros-shared.js";

/*
 * `mikrotik-tailscale routeros fleet status|deploy|upgrade`: many routers
 * from one inventory. Thin: options in, src/routeros/fleet out. Progress on
 * stderr, the table (or --json) on stdout.
 */

const common = {
  inventory: { type: "string", short: "i" },
  config: { type: "string", short: "c" },
  limit: { type: "string" },
  "password-file": { type: "string" },
  "ca-file": { type: "string" },
  insecure: { type: "boolean" },
  concurrency: { type: "string" },
  "router-timeout": { type: "string" },
  json: { type: "boolean" },
} as const;

const rolloutOpts = {
  image: { type: "string" },
  canary: { type: "string" },
  "canary-settle": { type: "string" },
  "wave-size": { type: "string" },
  "wave-settle": { type: "string" },
  "max-failures": { type: "string" },
  state: { type: "string" },
  restart: { type: "boolean" },
  "dry-run": { type: "boolean" },
  verbose: { type: "boolean" },
  "serve-address": { type: "string" },
  timeout: { type: "string" },
  settle: { type: "string" },
} as const;

function count(args: ParsedArgs, name: string, dflt: number, max: number): number {
  const v = stringOpt(args, name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1 || Number(v) > max) throw new UsageError(`--${name}: expected a whole number from 1 to ${max}, got '${v}'`);
  return Number(v);
}

function inventoryPath(args: ParsedArgs): string {
  const p = stringOpt(args, "inventory") ?? args.positionals[0];
  if (!p) throw new UsageError("no inventory: pass -i fleet.yaml (this tool's format, or an Ansible YAML or INI inventory)");
  if (args.positionals.length > (stringOpt(args, "inventory") ? 0 : 1)) throw new UsageError(`unexpected argument '${args.positionals.at(-1)}'`);
  return p;
}

function load(args: ParsedArgs, requireConfig: boolean): Fleet {
  const fleet = loadFleet({
    inventory: inventoryPath(args),
    config: stringOpt(args, "config"),
    limit: stringOpt(args, "limit"),
    requireConfig,
    passwordFile: stringOpt(args, "password-file"),
    caFile: stringOpt(args, "ca-file"),
    insecure: boolOpt(args, "insecure"),
  });
  // The same warning for every router (--insecure, plain http) is said once, with how many.
  const seen = new Map<string, { first: string; who: string[] }>();
  for (const w of fleet.warnings) {
    const m = /^([^:]+): (warning: .*)$/.exec(w);
    const k = m ? m[2]!.replace(/of \S+:\d+ is/, "of each router is") : w;
    const e = seen.get(k) ?? { first: w, who: [] };
    if (m) e.who.push(m[1]!);
    seen.set(k, e);
  }
  for (const [k, e] of seen) err(e.who.length > 1 ? `${k} (${e.who.length} routers: ${e.who.join(", ")})` : e.first);
  return fleet;
}

const statusCommand: Command = {
  name: "status",
  summary: "read every router of an inventory at once: one table (RouterOS, image, container, health, node, what upgrade would change)",
  usage: [
    "fleet status -i fleet.yaml [-c router.yaml] [--limit GROUP,ROUTER] [--json] [--concurrency 16] [--router-timeout 30]",
    "fleet status ... [--image dist/mikrotik-tailscale-<ver>-{arch}.tar | registry/ref:tag]   # what upgrade to that image would change",
  ],
  options: { ...common, image: { type: "string" } },
  async run(args) {
    const fleet = load(args, false);
    const stop = interruptible();
    try {
      const image = stringOpt(args, "image");
      if (image && !fleet.shared) throw new UsageError("--image needs the shared router config (-c router.yaml): the image file depends on each router's settings");
      const rows = await readFleet(fleet.routers, {
        shared: fleet.shared,
        targets: fleet.shared ? new Targets({ imageOverride: image }) : undefined,
        concurrency: count(args, "concurrency", 16, 256),
        timeoutMs: seconds(args, "router-timeout") ?? 30_000,
        signal: stop.signal,
      });
      process.stdout.write((boolOpt(args, "json") ? JSON.stringify({ routers: rows }, null, 2) : formatFleetStatus(rows)) + "\n");
      if (stop.signal.aborted) return 130;
      return rows.every((r) => r.ok) ? 0 : 1;
    } finally {
      stop.done();
    }
  },
};

function rolloutCommand(command: FleetCommand): Command {
  const verb = command === "upgrade" ? "upgrade" : "deploy";
  return {
    name: command,
    summary:
      command === "upgrade"
        ? "upgrade every router of an inventory: a canary, then waves, each gated on the last being healthy; halts past the failure budget; a re-run resumes"
        : "deploy to every router of an inventory: a canary, then waves, each gated on the last being healthy; halts past the failure budget; a re-run resumes",
    usage: [
      `fleet ${verb} -i fleet.yaml [-c router.yaml] [--limit GROUP,ROUTER] [--image FILE-with-{arch}.tar | registry/ref:tag] [--dry-run]`,
      `fleet ${verb} ... [--canary 1 | 10% | GROUP,ROUTER] [--canary-settle 60] [--wave-size 10 | 25%] [--wave-settle 30] [--max-failures 0 | 10%] [--concurrency 16]`,
      `fleet ${verb} ... [--state fleet.yaml.rollout.json] [--restart] [--json] [--verbose] [--serve-address ADDR] [--timeout SECONDS] [--settle SECONDS]`,
      ...(command === "upgrade" ? ["fleet upgrade ... --force   # replace routers that already run the target too (a re-run resumes; it does not replace them twice)"] : []),
      "passwords: ROUTEROS_PASSWORD_<ROUTER>, password_env / password_file in the inventory, or ROUTEROS_PASSWORD / ROUTEROS_PASSWORD_FILE for all",
    ],
    options: { ...common, ...rolloutOpts, ...(command === "deploy" ? { "update-secrets": { type: "boolean" } } : { force: { type: "boolean" } }) },
    async run(args) {
      // The command line first: a usage error before any file is read.
      const inv = inventoryPath(args);
      const statePath = stringOpt(args, "state") ?? join(dirname(inv), `${basename(inv)}.rollout.json`);
      const timeout = seconds(args, "timeout");
      const canaryText = stringOpt(args, "canary") ?? "1";
      // A count or a share, else routers and groups by name (as --limit takes them).
      const canaryNamed = !/^\s*\d+(?:\.\d+)?%?\s*$/.test(canaryText);
      const canaryAmount = canaryNamed ? undefined : parseAmount("canary", canaryText, 1);
      const waveSize = parseAmount("wave-size", stringOpt(args, "wave-size") ?? "10", 1);
      const maxFailures = parseAmount("max-failures", stringOpt(args, "max-failures") ?? "0", 0);
      const concurrency = count(args, "concurrency", 16, 256);
      const settle = { canary: seconds(args, "canary-settle") ?? 60_000, wave: seconds(args, "wave-settle") ?? 30_000, read: seconds(args, "router-timeout") ?? 30_000, run: seconds(args, "settle") };
      const fleet = load(args, true);
      let canary: CanaryChoice = canaryAmount ?? { count: 1 };
      if (canaryNamed) {
        const inLimit = new Set(fleet.routers.map((r) => r.name));
        const named = selectRouters(fleet.inventory, canaryText, "--canary").map((r) => r.name).filter((n) => inLimit.has(n));
        if (!named.length) throw new UsageError(`--canary: '${canaryText}' selects no router of this rollout (see --limit)`);
        canary = { routers: named, text: canaryText };
      }
      const stop = interruptible();
      try {
        const r = await rollout({
          command,
          routers: fleet.routers,
          shared: fleet.shared!,
          imageOverride: stringOpt(args, "image"),
          canary,
          waveSize,
          maxFailures,
          canarySettleMs: settle.canary,
          waveSettleMs: settle.wave,
          concurrency,
          readTimeoutMs: settle.read,
          statePath,
          restart: boolOpt(args, "restart"),
          force: command === "upgrade" && boolOpt(args, "force"),
          dryRun: boolOpt(args, "dry-run"),
          run: {
            serveAddress: stringOpt(args, "serve-address"),
            extractTimeoutMs: timeout,
            startTimeoutMs: timeout,
            settleMs: settle.run,
            updateSecrets: boolOpt(args, "update-secrets"),
          },
          signal: stop.signal,
          log: err,
          verbose: boolOpt(args, "verbose"),
        });
        process.stdout.write((boolOpt(args, "json") ? JSON.stringify(r, null, 2) : formatRollout(r)) + "\n");
        if (boolOpt(args, "dry-run")) {
          err("dry run: nothing was changed");
          return 0;
        }
        const again = ["mikrotik-tailscale routeros fleet", ...process.argv.slice(process.argv.indexOf(verb)).filter((a) => a !== "--restart")].join(" ");
        for (const line of rolloutAdvice(r, again)) err(line);
        return r.interrupted ? 130 : r.ok ? 0 : 1;
      } finally {
        stop.done();
      }
    },
  };
}

export const fleetCommand: Command = {
  name: "fleet",
  summary: "many routers from one inventory (own YAML, Ansible YAML or INI): status, deploy, upgrade in a canary and waves",
  usage: ["routeros fleet <status|deploy|upgrade> -i fleet.yaml [options]", "routeros fleet <command> --help"],
  subcommands: [statusCommand, rolloutCommand("deploy"), rolloutCommand("upgrade")],
};
