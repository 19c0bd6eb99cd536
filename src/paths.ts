import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root: the folder with package.json, config/ and go/. */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const configDir = join(projectRoot, "config");
export const goModuleDir = join(projectRoot, "go");
export const rootfsSourceDir = join(projectRoot, "rootfs");

/**
 * Where pure, content-addressed build results live between runs. Outside the
 * checkout so a fresh clone on the same machine reuses them.
 */
export function cacheRoot(): string {
  const env = process.env.MIKROTIK_TAILSCALE_CACHE;
  if (env) return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "mikrotik-tailscale");
}
