import { join } from "node:path";
import { UsageError } from "../../errors.js";
import { configDir, goModuleDir, projectRoot } from "../../paths.js";
import { bumpTailscale, formatBump } from "../../release/bump.js";
import { RELEASE_FILE, applyRelease } from "../../release/release.js";
import { boolOpt, stringOpt, type Command } from "../command.js";

export const bumpCommand: Command = {
  name: "bump",
  summary: "move the Tailscale pin to the newest stable release that builds here; report feature changes",
  usage: [
    "bump                # newest stable (even minor) Tailscale whose module graph the proxy fully serves",
    "bump --to v1.102.5  # exactly this stable release",
    "bump --dry-run      # work it all out, write nothing",
    "bump --json         # the result as JSON on stdout",
  ],
  options: { to: { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  async run(args) {
    if (args.positionals.length) throw new UsageError(`bump: unexpected argument '${args.positionals[0]}'`);
    const dryRun = boolOpt(args, "dry-run");
    const r = await bumpTailscale({
      goDir: goModuleDir,
      featuresFile: join(configDir, "features.txt"),
      to: stringOpt(args, "to"),
      dryRun,
      log: (l) => process.stderr.write(l + "\n"),
    });
    let release: string | undefined;
    if (r.written) {
      const rel = await applyRelease(projectRoot);
      release = rel.to;
    }
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
