import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Architecture } from "../arch.js";
import { FailureError, MissingToolError } from "../errors.js";
import { readElf, upxArmPageMultipleHazard } from "./elf.js";
import { cacheKey, cachedDir } from "../util/cache.js";
import { run, tryRun } from "../util/exec.js";
import { sha256 } from "../util/fsx.js";
import { memoize } from "../util/memo.js";
import type { Progress } from "../util/progress.js";
import { loadImageSpec, profileSpec } from "../image/spec.js";
import type { Profile } from "./record.js";

/** Bumped when the packing changes output (the release fingerprint reads it). */
const RECIPE = 2;

/** The small profile's UPX arguments for every architecture (config/image.yaml). */
export const UPX_ARGS: readonly string[] = profileSpec(loadImageSpec(), "small").upx;

/**
 * The UPX arguments of a profile for one architecture (config/image.yaml):
 * `upx`, plus `upxArm` on ARM (an LZMA context for code made of 4-byte
 * words). Empty: the profile does not pack.
 */
export function upxArgs(arch: Pick<Architecture, "goarch">, profile: Profile): string[] {
  const p = profileSpec(loadImageSpec(), profile);
  if (p.upx.length === 0) return [];
  return arch.goarch === "amd64" ? [...p.upx] : [...p.upx, ...p.upxArm];
}
/** Oldest UPX we accept: 4.2 handles static Go binaries for arm and arm64. */
export const UPX_MIN_VERSION = [4, 2, 0] as const;

export function parseUpxVersion(text: string): [number, number, number] | null {
  const m = /upx\s+(\d+)\.(\d+)\.(\d+)/i.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The installed UPX's version, checked against the minimum; asked once per process. */
export const upxVersion = memoize(async (): Promise<string> => {
  const r = await tryRun("upx", ["--version"]);
  const v = r ? parseUpxVersion(r.stdout) : null;
  if (!v) throw new MissingToolError("upx", "not installed", "apt-get install -t bookworm-backports upx-ucl");
  if (!versionAtLeast(v, UPX_MIN_VERSION)) {
    throw new MissingToolError("upx", `version ${v.join(".")} is older than ${UPX_MIN_VERSION.join(".")}`, "apt-get install -t bookworm-backports upx-ucl");
  }
  return v.join(".");
});

/** UPX releases from this one on do not have the ARM page-multiple bug. */
export const UPX_ARM_FIXED = [4, 2, 4] as const;

/** Packs a binary with UPX; cached by the input's hash and the UPX version. */
export async function upxPack(input: string, label: string, arch: Architecture, profile: Profile, progress: Progress): Promise<{ path: string; cacheHit: boolean }> {
  const args = upxArgs(arch, profile);
  if (args.length === 0) throw new FailureError(`${label}: profile ${profile} does not pack with UPX (config/image.yaml)`);
  const version = await upxVersion();
  const bytes = new Uint8Array(await readFile(input));
  if (!versionAtLeast(version.split(".").map(Number), UPX_ARM_FIXED)) {
    const bad = upxArmPageMultipleHazard(readElf(bytes, label));
    if (bad.length) {
      throw new FailureError(
        `${label}: a PT_LOAD segment is an exact multiple of 4096 bytes (${bad.map((b) => b.fileSize).join(", ")}); UPX ${version} packs such ARM binaries into ones that crash at start (fixed in UPX ${UPX_ARM_FIXED.join(".")}). Install UPX ${UPX_ARM_FIXED.join(".")}+ or build with --profile fast`,
      );
    }
  }
  const inputHash = sha256(bytes);
  const { dir, hit } = await cachedDir("upx", cacheKey(["upx", RECIPE, version, args.join(" "), inputHash]), async (out) => {
    progress.info(`upx ${args.join(" ")} ${label} (upx ${version}; this takes a while)`);
    const target = join(out, "packed");
    await copyFile(input, join(out, "input"));
    await run("upx", [...args, "-q", "-o", target, join(out, "input")]);
    await run("upx", ["-t", "-q", target]);
    await run("rm", ["-f", join(out, "input")]);
  });
  return { path: join(dir, "packed"), cacheHit: hit };
}
