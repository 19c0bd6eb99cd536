import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Architecture } from "../arch.js";
import { loadImageSpec } from "../image/spec.js";
import { projectRoot } from "../paths.js";
import { cacheKey, cachedDir } from "../util/cache.js";
import { run } from "../util/exec.js";
import { sha256 } from "../util/fsx.js";
import { muslSpecs, toolchainIdentity } from "./busybox.js";

/** Bump when the way we build changes in a way the other key parts miss. */
const RECIPE = 1;

export interface HealthcheckBuild {
  binary: string;
  /** sha256 of the C source. */
  sourceSha256: string;
  /** Every gcc argument but the output and source paths. */
  args: string[];
  toolchain: string;
  cacheHit: boolean;
}

/**
 * The health checker (config/image.yaml `healthcheck`): one C file, static
 * against musl with Debian's cross gcc, as busybox is. Cached by the source,
 * the flags and the toolchain.
 */
export async function buildHealthcheck(arch: Architecture): Promise<HealthcheckBuild> {
  const spec = loadImageSpec().healthcheck;
  const source = await readFile(join(projectRoot, spec.source));
  const sourceSha256 = sha256(source);
  const toolchain = await toolchainIdentity(arch);
  const args = [`-specs=${muslSpecs(arch)}`, ...arch.cflags, ...spec.cflags];
  const key = cacheKey(["healthcheck", RECIPE, sourceSha256, arch.name, args.join(" "), spec.ldflags.join(" "), toolchain]);
  const { dir, hit } = await cachedDir("healthcheck", key, async (out) => {
    const work = join(out, "work");
    await mkdir(work, { recursive: true });
    // Compiled from a copy with a fixed name: no checkout path reaches the binary.
    await copyFile(join(projectRoot, spec.source), join(work, "healthcheck.c"));
    await run(`${arch.gnuTriplet}-gcc`, [...args, "-o", join(out, "healthcheck"), "healthcheck.c", ...spec.ldflags], {
      cwd: work,
      env: { ...process.env, LC_ALL: "C", SOURCE_DATE_EPOCH: "0" },
    });
    await run("rm", ["-rf", work]);
  });
  return { binary: join(dir, "healthcheck"), sourceSha256, args: [...args, ...spec.ldflags], toolchain, cacheHit: hit };
}
