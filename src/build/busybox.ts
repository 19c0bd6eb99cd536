import { copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Architecture } from "../arch.js";
import { MissingToolError } from "../errors.js";
import type { Pins } from "../pins.js";
import { busyboxSelection, busyboxSelectionText, loadImageSpec } from "../image/spec.js";
import { cacheKey, cachedDir } from "../util/cache.js";
import { run, tryRun } from "../util/exec.js";
import type { Progress } from "../util/progress.js";
import { aptMirrorUris, debianOrigPath, fetchPinned } from "./sources.js";
import { applySelection, verifyFinalConfig, type BusyboxSelection } from "./busybox-config.js";

/** Bump when the way we build changes in a way the other key parts miss. */
const RECIPE = 3;

export interface BusyboxBuild {
  /** Stripped static binary (not yet UPX-packed). */
  binary: string;
  applets: string[];
  version: string;
  tarballSha256: string;
  cacheHit: boolean;
}

export function busyboxTarballUrls(version: string): string[] {
  const name = `busybox-${version}.tar.bz2`;
  return [
    // Debian's orig tarball is the upstream release, byte for byte; the mirror comes from apt's own config.
    ...aptMirrorUris().map((u) => `${u}/${debianOrigPath("busybox", version, "tar.bz2")}`),
    `https://busybox.net/downloads/${name}`,
  ];
}

/** The busybox selection config/image.yaml declares; `text` is its canonical form (the cache key's). */
export async function loadAppletSelection(): Promise<{ text: string; selection: BusyboxSelection }> {
  const spec = loadImageSpec();
  return { text: busyboxSelectionText(spec), selection: busyboxSelection(spec) };
}

/** The cross gcc, musl and kernel headers one architecture's C builds use (part of their cache keys). */
export async function toolchainIdentity(arch: Architecture): Promise<string> {
  const gcc = `${arch.gnuTriplet}-gcc`;
  const v = await tryRun(gcc, ["-dumpfullversion"]);
  if (!v) throw new MissingToolError(gcc, "cross compiler not found", "mikrotik-tailscale doctor --fix");
  const specs = muslSpecs(arch);
  if (!existsSync(specs)) {
    throw new MissingToolError(`musl-dev:${arch.debianArch}`, `${specs} is missing`, "mikrotik-tailscale doctor --fix");
  }
  const musl = await tryRun("dpkg-query", ["-W", "-f=${Version}", `musl-dev:${arch.debianArch}`]);
  const headerPkg = arch.name === "amd64" ? "linux-libc-dev" : `linux-libc-dev-${arch.debianArch}-cross`;
  const headers = await tryRun("dpkg-query", ["-W", "-f=${Version}", headerPkg]);
  return `gcc ${v.stdout.trim()} musl ${musl?.stdout.trim() ?? "?"} linux-headers ${headers?.stdout.trim() ?? "?"}`;
}

export function muslSpecs(arch: Architecture): string {
  return `/usr/lib/${arch.muslTriplet}/musl-gcc.specs`;
}

/** Kernel headers only (linux/, asm/): musl has none and glibc's must not leak in. */
async function kernelHeaderDir(dir: string, arch: Architecture): Promise<string> {
  await mkdir(dir, { recursive: true });
  // The host's own headers for amd64; Debian's linux-libc-dev-<arch>-cross
  // (architecture-independent packages, no multiarch version skew) for ARM.
  const native = arch.name === "amd64";
  const base = native ? "/usr/include" : `/usr/${arch.gnuTriplet}/include`;
  const links: [string, string][] = [
    ["linux", `${base}/linux`],
    ["asm-generic", `${base}/asm-generic`],
    ["asm", native ? `/usr/include/${arch.gnuTriplet}/asm` : `${base}/asm`],
    ["mtd", `${base}/mtd`],
  ];
  const pkg = native ? "linux-libc-dev" : `linux-libc-dev-${arch.debianArch}-cross`;
  for (const [name, target] of links) {
    if (existsSync(target)) await symlink(target, join(dir, name));
    else if (name !== "mtd") throw new MissingToolError(pkg, `${target} is missing`, "mikrotik-tailscale doctor --fix");
  }
  return dir;
}

/**
 * Builds a static, musl-linked BusyBox for one architecture with Debian's
 * cross gcc, from the pinned and hash-checked release tarball. Cached by
 * everything that goes into it.
 */
export async function buildBusybox(arch: Architecture, pins: Pins, progress: Progress): Promise<BusyboxBuild> {
  const { version, sha256 } = pins.busybox;
  const { text: appletText, selection } = await loadAppletSelection();
  const toolchain = await toolchainIdentity(arch);
  const key = cacheKey(["busybox", RECIPE, version, sha256, appletText, arch.name, arch.cflags.join(" "), toolchain]);
  const tarball = await fetchPinned({ name: `busybox-${version}.tar.bz2`, sha256, urls: busyboxTarballUrls(version) }, progress);

  const { dir, hit } = await cachedDir("busybox", key, async (out) => {
    const work = join(out, "work");
    await mkdir(work, { recursive: true });
    await run("tar", ["-xjf", tarball, "-C", work]);
    const src = join(work, `busybox-${version}`);
    const obj = join(work, "obj");
    await mkdir(obj);
    const headers = await kernelHeaderDir(join(work, "kheaders"), arch);
    const env = {
      ...process.env,
      KCONFIG_NOTIMESTAMP: "1",
      SOURCE_DATE_EPOCH: "0",
      LC_ALL: "C",
      TZ: "UTC",
      KBUILD_BUILD_USER: "build",
      KBUILD_BUILD_HOST: "build",
    };
    const cc = `${arch.gnuTriplet}-gcc -specs=${muslSpecs(arch)}`;
    const cflags = [
      ...arch.cflags,
      `-isystem ${headers}`,
      // No build paths in the binary: reproducible wherever the cache lives.
      `-ffile-prefix-map=${work}=.`,
    ].join(" ");
    const makeArgs = (...targets: string[]) => [
      "-C", src, `O=${obj}`, `CROSS_COMPILE=${arch.gnuTriplet}-`, `CC=${cc}`, ...targets,
    ];
    await run("make", makeArgs("allnoconfig"), { env });
    const dotconfig = join(obj, ".config");
    const base = await readFile(dotconfig, "utf8");
    await writeFile(
      dotconfig,
      applySelection(base, selection, {
        STATIC: "y",
        CROSS_COMPILER_PREFIX: `"${arch.gnuTriplet}-"`,
        EXTRA_CFLAGS: `"${cflags}"`,
      }),
    );
    // Newly visible sub-options take their defaults.
    await run("make", makeArgs("oldconfig"), { env, input: "\n".repeat(2000) });
    verifyFinalConfig(await readFile(dotconfig, "utf8"), selection);
    await run("make", [...makeArgs("busybox"), `-j${Math.max(1, (await import("node:os")).availableParallelism())}`], {
      env,
      onLine: (l) => progress.detail(l),
    });
    await copyFile(join(obj, "busybox"), join(out, "busybox"));
    await copyFile(dotconfig, join(out, "busybox.config"));
    await writeFile(join(out, "applets.txt"), selection.applets.map((a) => a.name).join("\n") + "\n");
    await run("rm", ["-rf", work]);
  });
  const applets = (await readFile(join(dir, "applets.txt"), "utf8")).split("\n").filter(Boolean);
  return { binary: join(dir, "busybox"), applets, version, tarballSha256: sha256, cacheHit: hit };
}
