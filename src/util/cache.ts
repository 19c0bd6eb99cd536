import { join } from "node:path";
import { atomicDirectory, exists, sha256 } from "./fsx.js";
import { cacheRoot } from "../paths.js";

/** A stable key from everything that determines a result. */
export function cacheKey(parts: readonly (string | number | undefined)[]): string {
  return sha256(JSON.stringify(parts)).slice(0, 32);
}

/**
 * Content-addressed results of pure build steps: the same key always holds
 * the same bytes, so a hit is safe to reuse. A directory appears only when
 * `produce` finished, so an interrupted step leaves nothing behind. When
 * another process finished the same key first, its entry is kept (it may be
 * in use) and ours is discarded: a complete entry is never replaced.
 */
export async function cachedDir(
  kind: string,
  key: string,
  produce: (dir: string) => Promise<void>,
): Promise<{ dir: string; hit: boolean }> {
  const dir = join(cacheRoot(), kind, key);
  const marker = join(dir, ".complete");
  if (await exists(marker)) return { dir, hit: true };
  await atomicDirectory(
    dir,
    async (tmp) => {
      await produce(tmp);
      const { writeFile } = await import("node:fs/promises");
      await writeFile(join(tmp, ".complete"), "");
    },
    { keep: (d) => exists(join(d, ".complete")) },
  );
  return { dir, hit: false };
}
