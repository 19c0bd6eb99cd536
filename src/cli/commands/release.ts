import { UsageError } from "../../errors.js";
import { projectRoot } from "../../paths.js";
import { RELEASE_FILE, applyRelease, releaseStatus, staleMessage } from "../../release/release.js";
import { boolOpt, type Command } from "../command.js";

export const releaseCommand: Command = {
  name: "release",
  summary: "keep the release revision N of v<tailscale>-mt.<N> in step with meaningful changes",
  usage: [
    "release               # raise N if the inputs that shape the image changed (N=1 when Tailscale moved)",
    "release --check       # exit 1 if config/release.json is stale (what CI runs)",
    "release --unchanged   # record changed inputs without raising N (the image stays the same)",
    "release --dry-run     # say what would change",
  ],
  options: { check: { type: "boolean" }, unchanged: { type: "boolean" }, "dry-run": { type: "boolean" } },
  async run(args) {
    if (args.positionals.length) throw new UsageError(`release: unexpected argument '${args.positionals[0]}'`);
    if (boolOpt(args, "check")) {
      const s = await releaseStatus(projectRoot);
      const msg = staleMessage(s);
      if (msg) {
        process.stderr.write(`${msg}\n`);
        return 1;
      }
      process.stdout.write(`${s.version}: ${RELEASE_FILE} is up to date\n`);
      return 0;
    }
    const dryRun = boolOpt(args, "dry-run");
    const r = await applyRelease(projectRoot, { unchanged: boolOpt(args, "unchanged"), dryRun });
    if (r.need.kind === "none") {
      process.stdout.write(`${r.from}: no change to the image's inputs since this revision\n`);
      return 0;
    }
    const why = r.need.kind === "tailscale" ? `Tailscale ${r.need.from ?? "(unrecorded)"} -> ${r.need.to}` : `changed: ${r.need.changed.join(", ")}`;
    const verb = dryRun ? "would be" : r.from === r.to ? "stays" : "is now";
    process.stdout.write(`${r.from === r.to ? r.to : `${r.from} -> ${r.to}`} (${why}); the release ${verb} ${r.to}${dryRun ? " (dry run)" : `; commit ${RELEASE_FILE}`}\n`);
    return 0;
  },
};
