import { chmod, copyFile, lstat, mkdir, readdir, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { InvalidInputError } from "../errors.js";
import { builtFilePath, loadImageSpec, parseMode, type BuiltFile } from "../image/spec.js";
import { projectRoot } from "../paths.js";

const spec = loadImageSpec();

/** Where the built files live in the image (config/image.yaml rootfs). */
export const IMAGE_PATHS = {
  tailscale: builtFilePath(spec, "tailscale"),
  busybox: builtFilePath(spec, "busybox"),
  caBundle: builtFilePath(spec, "ca-bundle"),
  healthcheck: builtFilePath(spec, "healthcheck"),
  appletDir: spec.rootfs.appletDir,
  /** The entrypoint as a path inside the tree (no leading slash). */
  entrypoint: spec.config.entrypoint[0]!.replace(/^\/+/, ""),
} as const;

/** Empty directories the image must have, with their modes. */
export const EMPTY_DIRS: readonly [string, number][] = Object.entries(spec.rootfs.dirs).map(([d, m]) => [d, parseMode(m)]);

export interface RootfsInputs {
  tailscaleBinary: string;
  busyboxBinary: string;
  applets: readonly string[];
  caBundle: string;
  healthcheck: string;
  /** Static files copied verbatim (entrypoint, /etc/passwd, ...). */
  staticDir?: string;
}

async function copyTree(from: string, to: string): Promise<void> {
  for (const name of (await readdir(from)).sort()) {
    const src = join(from, name);
    const dst = join(to, name);
    const st = await lstat(src);
    if (st.isDirectory()) {
      await mkdir(dst, { recursive: true });
      await chmod(dst, 0o755);
      await copyTree(src, dst);
    } else if (st.isFile()) {
      await copyFile(src, dst);
      // Only the executable bit is taken from the checkout; the rest is fixed.
      await chmod(dst, st.mode & 0o100 ? 0o755 : 0o644);
    } else {
      throw new InvalidInputError(`${src}: only regular files and directories belong in rootfs/`);
    }
  }
}

/**
 * Lays out one architecture's root filesystem in `dir` (which must be empty).
 * One file per binary; every other name is a relative symlink to it, so the
 * extracted tree on the router holds each binary once.
 */
export async function assembleRootfs(dir: string, inputs: RootfsInputs): Promise<void> {
  const put = async (rel: string, src: string, mode: number) => {
    const dst = join(dir, rel);
    await mkdir(dirname(dst), { recursive: true });
    await copyFile(src, dst);
    await chmod(dst, mode);
  };
  const link = async (rel: string, targetRel: string) => {
    const at = join(dir, rel);
    await mkdir(dirname(at), { recursive: true });
    await symlink(relative(dirname(at), join(dir, targetRel)), at);
  };

  await copyTree(inputs.staticDir ?? join(projectRoot, spec.rootfs.static), dir);
  const source: Record<BuiltFile, string> = { tailscale: inputs.tailscaleBinary, busybox: inputs.busyboxBinary, "ca-bundle": inputs.caBundle, healthcheck: inputs.healthcheck };
  for (const f of spec.rootfs.files) await put(f.path, source[f.from], parseMode(f.mode));
  for (const [l, target] of Object.entries(spec.rootfs.links)) await link(l, target);
  for (const applet of inputs.applets) {
    if (applet === "busybox") continue;
    const rel = `${IMAGE_PATHS.appletDir}/${applet}`;
    if (rel === IMAGE_PATHS.entrypoint) throw new InvalidInputError(`applet '${applet}' would shadow the entrypoint`);
    await link(rel, IMAGE_PATHS.busybox);
  }
  for (const [d, mode] of EMPTY_DIRS) {
    await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, d), mode);
  }
  // Intermediate directories created above get a fixed mode too.
  await normalizeDirModes(dir, dir);
}

async function normalizeDirModes(root: string, dir: string): Promise<void> {
  const special = new Map(EMPTY_DIRS.map(([d, m]) => [join(root, d), m]));
  await chmod(dir, special.get(dir) ?? 0o755);
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) await normalizeDirModes(root, p);
  }
}
