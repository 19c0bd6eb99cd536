import { loadSourcePatches } from "../../build/source-patches.js";
import { featureAllowlist, loadImageSpec } from "../../image/spec.js";
import { UsageError } from "../../errors.js";
import { configDir, goModuleDir, projectRoot } from "../../paths.js";
import { pinBusybox } from "../../release/busybox-pin.js";
import { bumpTailscale, formatBump } from "../../release/bump.js";
import { RELEASE_FILE, applyRelease } from "../../release/release.js";
import { boolOpt, stringOpt, type Command, type ParsedArgs } from "../command.js";

async function bumpBusybox(args: ParsedArgs, dryRun: boolean): Promise<void> {
  if (stringOpt(args, "to")) throw new UsageError("bump busybox: use --version, not --to");
  const r = await pinBusybox({ configDir, version: stringOpt(args, "version"), dryRun, log: (l) => process.stderr.write(l + "\n") });
  const release = r.written ? (await applyRelease(projectRoot)).to : undefined;
  if (boolOpt(args, "json")) {
    process.stdout.write(JSON.stringify({ ...r, ...(release ? { release } : {}) }, null, 2) + "\n");
    return;
  }
  const checked = r.checkedAgainst ? `matches ${r.checkedAgainst}` : "no published checksum found to compare with";
  if (r.from.version === r.to.version && r.from.sha256 === r.to.sha256) {
    process.stdout.write(`busybox ${r.to.version}: the pinned sha256 is right (${r.sources.length} source${r.sources.length === 1 ? "" : "s"}, ${checked})\n`);
    return;
  }
  process.stdout.write(`busybox ${r.from.version} -> ${r.to.version}: sha256 ${r.to.sha256} (${r.sources.length} source${r.sources.length === 1 ? "" : "s"} agree; ${checked})${dryRun ? " (dry run: nothing written)" : ""}\n`);
  if (r.written) process.stdout.write(`  wrote config/pins.json; ${RELEASE_FILE}: the next release is ${release}\n`);
}

export const bumpCommand: Command = {
  name: "bump",
  summary: "move the Tailscale pin to the newest stable release that builds here; report feature changes",
  usage: [
    "bump                         # newest stable (even minor) Tailscale whose module graph the proxy fully serves",
    "bump --to v1.102.5           # exactly this stable Tailscale release",
    "bump busybox [--version V]   # pin busybox V (default: the pinned version) with its tarball's sha256",
    "bump ... --dry-run           # work it all out, write nothing",
    "bump ... --json              # the result as JSON on stdout",
  ],
  options: { to: { type: "string" }, version: { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  async run(args) {
    const what = args.positionals[0] ?? "tailscale";
    if (args.positionals.length > 1 || !["tailscale", "busybox"].includes(what)) {
      throw new UsageError(`bump: expected 'tailscale' (the default) or 'busybox', got '${args.positionals.join(" ")}'`);
    }
    const dryRun = boolOpt(args, "dry-run");
    if (what === "busybox") return bumpBusybox(args, dryRun);
    if (stringOpt(args, "version")) throw new UsageError("bump: use --to for a Tailscale version (--version is for 'bump busybox')");
    const r = await bumpTailscale({
      goDir: goModuleDir,
      features: featureAllowlist(loadImageSpec()),
      to: stringOpt(args, "to"),
      dryRun,
      patches: loadSourcePatches(goModuleDir),
      log: (l) => process.stderr.write(l + "\n"),
    });
    let release: string | undefined;
    if (r.written) release = (await applyRelease(projectRoot)).to;
    if (boolOpt(args, "json")) {
      process.stdout.write(JSON.stringify({ ...r, ...(release ? { release } : {}) }, null, 2) + "\n");
      return;
    }
    process.stdout.write(formatBump(r, dryRun) + "\n");
    if (r.written) {
      process.stdout.write(`  wrote go/go.mod, go/go.sum; ${RELEASE_FILE}: the next release is ${release}\n`);
      process.stdout.write("  next: npm test (builds and tests the new pin), then commit go/ and config/\n");
    }
  },
};
