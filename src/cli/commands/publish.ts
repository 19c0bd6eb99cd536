import { UsageError } from "../../errors.js";
import { resolveCredentials } from "../../release/credentials.js";
import { publish, publishSummary } from "../../release/publish.js";
import { formatReference, parseReference } from "../../release/reference.js";
import { boolOpt, stringOpt, type Command } from "../command.js";

export const publishCommand: Command = {
  name: "publish",
  summary: "push the multi-arch image (dist/oci) to a registry as v<tailscale>-mt.<N> and stable",
  usage: [
    "publish <registry>/<repository>[:<channel>]   # push dist/oci as v<tailscale>-mt.<N> and <channel> (default: stable)",
    "publish ... --dry-run                         # say what would be uploaded; change nothing",
    "publish ... --oci DIR --ref <version>         # another OCI layout, or one of several images in it",
    "publish ... --user NAME [--password-file F]   # password from MIKROTIK_TAILSCALE_REGISTRY_PASSWORD(_FILE) or F",
    "publish ... --auth-file auth.json             # docker/podman/skopeo login file (default: REGISTRY_AUTH_FILE, ...)",
    "publish ... --plain-http                      # http instead of https (the default only for loopback registries)",
    "publish ... --force                           # replace a release tag holding other contents; move <channel> back",
    "publish ... --json                            # the result as JSON on stdout",
  ],
  options: {
    oci: { type: "string" },
    ref: { type: "string" },
    user: { type: "string" },
    "password-file": { type: "string" },
    "auth-file": { type: "string" },
    "plain-http": { type: "boolean" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(args) {
    if (args.positionals.length !== 1) {
      throw new UsageError(args.positionals.length ? `publish: one target only, got ${args.positionals.length}` : "publish: name the target, e.g. registry.example.com/owner/mikrotik-tailscale");
    }
    const target = parseReference(args.positionals[0]!, "publish target");
    if (target.digest) throw new UsageError("publish target: give a tag (or none), not a digest");
    const credentials = resolveCredentials({
      registry: target.registry,
      user: stringOpt(args, "user"),
      passwordFile: stringOpt(args, "password-file"),
      authFile: stringOpt(args, "auth-file"),
    });
    const json = boolOpt(args, "json");
    const r = await publish({
      layoutDir: stringOpt(args, "oci") ?? "dist/oci",
      target,
      ref: stringOpt(args, "ref"),
      credentials,
      plainHttp: boolOpt(args, "plain-http") || undefined,
      force: boolOpt(args, "force"),
      dryRun: boolOpt(args, "dry-run"),
      log: (l) => process.stderr.write(l + "\n"),
    });
    for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
    const where = formatReference({ registry: target.registry, repository: target.repository });
    if (json) process.stdout.write(JSON.stringify({ target: where, ...r }, null, 2) + "\n");
    else process.stdout.write(`${boolOpt(args, "dry-run") ? "dry run: " : ""}${publishSummary(r, where)}\n`);
  },
};
