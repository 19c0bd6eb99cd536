import { relative } from "node:path";
import { parseArchList } from "../../arch.js";
import { buildAll } from "../../build/index.js";
import { PROFILES, type Profile } from "../../build/record.js";
import { UsageError } from "../../errors.js";
import { createProgress } from "../../util/progress.js";
import { boolOpt, stringOpt, type Command } from "../command.js";

export const buildCommand: Command = {
  name: "build",
  summary: "build the image for every architecture (or those given) into dist/",
  usage: [
    "build [--arch amd64,arm64,armv7,armv5] [--profile small|fast] [--out dist] [--verbose]",
    "",
    "--arch      architectures to build (default: all four)",
    "--profile   small: UPX-packed, no inlining (default); fast: no UPX, inlining on",
    "--out       output folder (default: dist)",
    "--no-images stop after the root filesystems",
    "--verbose   show compiler output",
  ],
  options: {
    arch: { type: "string" },
    profile: { type: "string" },
    out: { type: "string" },
    "no-images": { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
  },
  async run(args) {
    if (args.positionals.length) throw new UsageError(`build: unexpected argument '${args.positionals[0]}'`);
    const arches = parseArchList(stringOpt(args, "arch"));
    const profile = stringOpt(args, "profile") ?? "small";
    if (!(PROFILES as readonly string[]).includes(profile)) {
      throw new UsageError(`unknown profile '${profile}' (expected one of: ${PROFILES.join(", ")})`);
    }
    const out = stringOpt(args, "out") ?? "dist";
    if (out.trim() === "") throw new UsageError("--out must not be empty");
    const progress = createProgress({ verbose: boolOpt(args, "verbose") });
    const t0 = Date.now();
    const result = await buildAll({ arches, profile: profile as Profile, outDir: out, progress, images: !boolOpt(args, "no-images") });
    process.stdout.write(`\n${result.table}\n`);
    for (const f of result.imageFiles) process.stdout.write(`wrote ${relative(process.cwd(), f) || f}\n`);
    process.stdout.write(`\nbuilt ${arches.map((a) => a.name).join(", ")} (${profile}) in ${((Date.now() - t0) / 1000).toFixed(0)}s; sizes in ${out}/sizes.json\n`);
  },
};
