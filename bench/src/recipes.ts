/**
 * Combined tailscale/tailscaled binaries the benchmark builds itself with
 * plain `go build` (no overlay) from the snapshot's go/ module, vendored with
 * its source patches as our own builds are:
 *
 * - `reference`: the reference image's recipe (shared/FIELD-NOTES.md section
 *   11) at our Tailscale version: `featuretags --min --add=osrouter` with
 *   its opt-ins' omit tags deleted (no dependency resolution, as it does),
 *   `ts_include_cli`, `-trimpath -ldflags "-s -w" -gcflags=all=-l`, then
 *   `upx --lzma --best`;
 * - `small+runtime`, `small+net`: our small build's own tags and flags with
 *   inlining restored in more packages, to see whether each pays for itself.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { goEnv, type Architecture } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { goCommandEnv } from "../../src/build/tailscale.js";
import { UPX_ARGS, upxVersion } from "../../src/build/upx.js";
import { runCmd } from "../../test/support/netns.js";
import { benchVendorDir, stockLdflags, type Log } from "./builds.js";
import type { Variant } from "./results.js";

/**
 * The reference recipe's opt-ins: their ts_omit_ tags are deleted from the
 * --min list. The last two are not in its list: Tailscale 1.104 split them
 * out of what every earlier build had (without udptransport every packet
 * goes through DERP), so the recipe at 1.104 keeps them to keep its 1.102
 * feature set; on 1.102 their tags do not exist and deleting them changes nothing.
 */
export const REFERENCE_OPT_INS = [
  "advertiseexitnode", "advertiseroutes", "useexitnode", "useroutes", "dns", "portmapper", "listenrawdisco",
  "health", "iptables", "unixsocketidentity", "ipnbus", "netstack", "gro", "peerapiserver",
  "udptransport", "nattraversal",
] as const;
export const REFERENCE_UPX_ARGS = ["--lzma", "--best"] as const;

/** Extra -gcflags (after our small profile's) of each inlining experiment. */
export const INLINE_EXPERIMENTS: Partial<Record<Variant, string[]>> = {
  "small+runtime": ["runtime="],
  "small+net": ["tailscale.com/net/tstun=", "tailscale.com/wgengine/magicsock=", "tailscale.com/net/batching="],
};

/** The reference recipe's tags from `featuretags --min --add=osrouter` output. */
export function referenceTags(minOutput: string): string[] {
  const drop = new Set(REFERENCE_OPT_INS.map((f) => `ts_omit_${f}`));
  const tags = minOutput.trim().split(",").map((t) => t.trim()).filter(Boolean);
  if (!tags.length || tags.some((t) => !/^ts_omit_\w+$/.test(t))) throw new Error(`featuretags --min printed something unexpected: ${minOutput.trim().slice(0, 200)}`);
  return ["ts_include_cli", ...tags.filter((t) => !drop.has(t))];
}

export interface RecipeBuild {
  variant: Variant;
  binary: string;
  tags: string[];
  gcflags: string[];
  ldflags: string;
  upxArgs: readonly string[];
  cached: boolean;
}

async function buildCombined(o: {
  variant: Variant;
  srcDir: string;
  arch: Architecture;
  dir: string;
  tags: string[];
  gcflags: string[];
  ldflags: string;
  upxArgs: readonly string[];
  log: Log;
}): Promise<RecipeBuild> {
  const vendor = await benchVendorDir(o.srcDir, o.log);
  const env = goEnv(o.arch);
  const upx = await upxVersion();
  // The vendored tree's folder name is the hash of its inputs (go.mod, go.sum, Go, source patches).
  const key = createHash("sha256")
    .update(JSON.stringify([vendor, upx, env, o.tags, o.gcflags, o.ldflags, o.upxArgs]))
    .digest("hex");
  const binary = join(o.dir, "tailscale.combined");
  const keyFile = join(o.dir, "inputs.sha256");
  const result = { variant: o.variant, binary, tags: o.tags, gcflags: o.gcflags, ldflags: o.ldflags, upxArgs: o.upxArgs };
  if (existsSync(keyFile) && existsSync(binary) && (await readFile(keyFile, "utf8")).trim() === key) return { ...result, cached: true };
  await rm(o.dir, { recursive: true, force: true });
  await mkdir(o.dir, { recursive: true });
  o.log(`  ${o.variant} ${o.arch.name}: go build ${o.gcflags.map((g) => `-gcflags=${g}`).join(" ")}`);
  const raw = join(o.dir, "unpacked");
  const b = await runCmd(
    "go",
    ["build", "-mod=vendor", "-trimpath", `-tags=${o.tags.join(",")}`, `-ldflags=${o.ldflags}`, ...o.gcflags.map((g) => `-gcflags=${g}`), "-o", raw, "tailscale.com/cmd/tailscaled"],
    { cwd: vendor, env: goCommandEnv(env), timeoutMs: 30 * 60_000 },
  );
  if (b.code !== 0) throw new Error(`${o.variant} go build for ${o.arch.name} failed: ${(b.stderr || b.stdout).trim().split("\n").slice(-20).join("\n")}`);
  const packed = join(o.dir, "packed.tmp");
  const u = await runCmd("upx", [...o.upxArgs, "-q", "-o", packed, raw], { timeoutMs: 30 * 60_000 });
  if (u.code !== 0) throw new Error(`${o.variant} upx for ${o.arch.name} failed: ${(u.stderr || u.stdout).trim()}`);
  await copyFile(packed, binary);
  await rm(packed, { force: true });
  await writeFile(keyFile, key + "\n");
  return { ...result, cached: false };
}

/** The reference recipe at the snapshot's Tailscale version. */
export async function buildReference(srcDir: string, arch: Architecture, dir: string, version: string, log: Log): Promise<RecipeBuild> {
  const min = await runCmd("go", ["run", "tailscale.com/cmd/featuretags", "--min", "--add=osrouter"], { cwd: join(srcDir, "go"), env: goCommandEnv(), timeoutMs: 10 * 60_000 });
  if (min.code !== 0) throw new Error(`featuretags --min failed: ${(min.stderr || min.stdout).trim()}`);
  // Its ldflags are "-s -w"; the version stamp (as stock's) only makes `tailscale version` say the same as ours.
  return buildCombined({ variant: "reference", srcDir, arch, dir, tags: referenceTags(min.stdout), gcflags: ["all=-l"], ldflags: stockLdflags(version), upxArgs: REFERENCE_UPX_ARGS, log });
}

/** Our small build (its record's tags and flags) with an experiment's extra -gcflags. */
export async function buildInlineExperiment(variant: Variant, srcDir: string, arch: Architecture, dir: string, small: BuildRecord, log: Log): Promise<RecipeBuild> {
  const extra = INLINE_EXPERIMENTS[variant];
  if (!extra) throw new Error(`${variant} is not an inlining experiment`);
  return buildCombined({ variant, srcDir, arch, dir, tags: small.tailscale.tags, gcflags: [...small.tailscale.gcflags, ...extra], ldflags: small.tailscale.ldflags, upxArgs: UPX_ARGS, log });
}
