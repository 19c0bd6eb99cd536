import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ArchName } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { projectRoot } from "../../src/paths.js";

/** The dist/ folder the suite's build step filled (override with MT_DIST). */
export const DIST = process.env.MT_DIST ?? join(projectRoot, "dist");

/** A built architecture's rootfs and record; fails loudly when the build step did not run. */
export function builtArch(arch: ArchName): { rootfs: string; record: BuildRecord } {
  const rootfs = join(DIST, "rootfs", arch);
  const recordFile = join(DIST, "rootfs", `${arch}.build.json`);
  if (!existsSync(rootfs) || !existsSync(recordFile)) {
    throw new Error(`${rootfs} is missing: run 'node bin/mikrotik-tailscale.js build' first (scripts/test.sh does)`);
  }
  return { rootfs, record: JSON.parse(readFileSync(recordFile, "utf8")) as BuildRecord };
}
