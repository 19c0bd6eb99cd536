import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { goModuleDir } from "../paths.js";
import { cacheKey, cachedDir } from "../util/cache.js";
import { run } from "../util/exec.js";
import type { Progress } from "../util/progress.js";
import type { BuildRecord } from "./record.js";
import { goCommandEnv, goVersion } from "./tailscale.js";

/**
 * Writes the image's CA bundle from the pinned Go module of Mozilla's roots
 * (go/cmd/cabundle), never from the build host's own trust store.
 */
export async function buildCaBundle(progress: Progress): Promise<{ path: string; meta: BuildRecord["caBundle"] }> {
  const gomod = await readFile(join(goModuleDir, "go.mod"), "utf8");
  const gosum = await readFile(join(goModuleDir, "go.sum"), "utf8");
  const tool = await readFile(join(goModuleDir, "cmd", "cabundle", "main.go"), "utf8");
  const { dir } = await cachedDir("cabundle", cacheKey(["cabundle", gomod, gosum, tool, await goVersion()]), async (out) => {
    progress.info("CA bundle from golang.org/x/crypto/x509roots/fallback");
    await run("go", ["run", "./cmd/cabundle", "-o", join(out, "ca-certificates.crt"), "-meta", join(out, "meta.json")], {
      cwd: goModuleDir,
      env: goCommandEnv(),
    });
  });
  const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as BuildRecord["caBundle"];
  return { path: join(dir, "ca-certificates.crt"), meta };
}
