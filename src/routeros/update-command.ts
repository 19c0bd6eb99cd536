import { atomicWriteFile } from "../util/fsx.js";
import type { Command } from "../cli/command.js";
import { boolOpt, stringOpt } from "../cli/command.js";
import { UsageError } from "../errors.js";
import { anonymousPullTokenUrl } from "../release/registry.js";
import { forVersion, loadRouterConfig } from "./config.js";
import { buildPlan } from "./plan.js";
import { renderUpdateBody, renderUpdateInstaller, updateTarget } from "./update-script.js";

/*
 * `mikrotik-tailscale routeros update-script`: prints the .rsc that installs
 * the router-side update check (see update-script.ts). The registry is asked
 * once, here, how anonymous clients get a pull token, so the router needs no
 * credentials; --token-url or --no-token skip that question.
 */

export const updateScriptCommand: Command = {
  name: "update-script",
  summary: "print a RouterOS script that recreates the container when the registry's stable image changes",
  usage: [
    "update-script [-c router.yaml] [--routeros-version 7.21.2] [--interval 1d] [-o update.rsc]",
    "update-script ... [--token-url URL | --no-token]   # default: ask the registry how to get an anonymous pull token",
    "update-script ... [--plain-http] [--no-check-certificate] [--body]   # --body: only the script, without the installer",
  ],
  options: {
    config: { type: "string", short: "c" },
    "routeros-version": { type: "string" },
    interval: { type: "string" },
    "token-url": { type: "string" },
    "no-token": { type: "boolean" },
    "plain-http": { type: "boolean" },
    "no-check-certificate": { type: "boolean" },
    body: { type: "boolean" },
    output: { type: "string", short: "o" },
  },
  async run(args) {
    let config = loadRouterConfig(stringOpt(args, "config") ?? args.positionals[0] ?? "router.yaml");
    const v = stringOpt(args, "routeros-version");
    if (v) config = forVersion(config, v);
    for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
    const plan = buildPlan(config, { resolveSecrets: false });
    const plainHttp = boolOpt(args, "plain-http");
    let tokenUrl = stringOpt(args, "token-url");
    if (tokenUrl && boolOpt(args, "no-token")) throw new UsageError("give --token-url or --no-token, not both");
    if (tokenUrl) {
      try {
        new URL(tokenUrl);
      } catch {
        throw new UsageError(`--token-url: '${tokenUrl}' is not a URL`);
      }
    } else if (!boolOpt(args, "no-token")) {
      const t = updateTarget(config, plan, { plainHttp });
      tokenUrl = await anonymousPullTokenUrl(t.registry, t.repository, { plainHttp });
      process.stderr.write(tokenUrl ? `${t.registry}: anonymous pulls use a token from ${new URL(tokenUrl).origin}\n` : `${t.registry}: anonymous pulls need no token\n`);
    }
    const opts = { tokenUrl, plainHttp, checkCertificate: !boolOpt(args, "no-check-certificate"), interval: stringOpt(args, "interval") };
    const text = boolOpt(args, "body") ? renderUpdateBody(config, plan, opts) : renderUpdateInstaller(config, plan, opts);
    const out = stringOpt(args, "output");
    if (out) {
      await atomicWriteFile(out, text);
      process.stderr.write(`wrote ${out}\n`);
    } else {
      process.stdout.write(text);
    }
  },
};
