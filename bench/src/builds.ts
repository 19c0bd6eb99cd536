/**
 * Builds for the benchmark, all from the snapshot clone: our two profiles
 * through the project's own CLI (in a child process, so each build gets
 * exactly the caches it is given), and the stock build of the same
 * Tailscale with plain `go build`.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { goEnv, type Architecture } from "../../src/arch.js";
import { goCommandEnv, vendoredModule } from "../../src/build/tailscale.js";
import { cacheRoot } from "../../src/paths.js";
import { loadGoModPins, loadPins } from "../../src/pins.js";
import { runCmd } from "../../test/support/netns.js";
import { parseStepTimes, secondsByArch } from "./progress-log.js";
import type { BuildTiming, DigestComparison } from "./results.js";

export type Log = (s: string) => void;

export interface CliBuild {
  outDir: string;
  timing: BuildTiming;
}

/**
 * Runs `mikrotik-tailscale build` from `srcDir` with extra environment and
 * reports its wall time and the per-step times it printed.
 */
export async function runCliBuild(opts: {
  what: string;
  srcDir: string;
  outDir: string;
  profile: "small" | "fast";
  arches: Architecture[];
  env?: Record<string, string>;
  log: Log;
}): Promise<CliBuild> {
  await rm(opts.outDir, { recursive: true, force: true });
  const args = ["bin/mikrotik-tailscale.js", "build", "--profile", opts.profile, "--out", opts.outDir, "--arch", opts.arches.map((a) => a.name).join(",")];
  const t0 = process.hrtime.bigint();
  let output = "";
  const r = await new Promise<{ code: number | null }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: opts.srcDir, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60 * 60_000);
    let partial = "";
    const feed = (d: Buffer) => {
      const text = partial + d.toString("utf8");
      output += d.toString("utf8");
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      // Only failures and steps that took a while: the full output stays in `output` for errors.
      for (const l of lines) {
        const secs = /^\s*done: .* \((\d+(?:\.\d+)?)s\)\s*$/.exec(l)?.[1];
        if (/^\s*FAILED:/.test(l) || (secs !== undefined && Number(secs) >= 5)) opts.log(`  ${opts.what}: ${l.trim()}`);
      }
    };
    child.stdout.on("data", feed);
    child.stderr.on("data", feed);
    child.on("error", (e) => {
      output += String(e);
      clearTimeout(timer);
      resolve({ code: 127 });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code });
    });
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${opts.what} build failed (exit ${r.code}):\n${output.split("\n").slice(-30).join("\n")}`);
  const steps = parseStepTimes(output);
  return { outDir: opts.outDir, timing: { what: opts.what, seconds: Math.round(seconds * 10) / 10, byArch: secondsByArch(steps), steps } };
}

/** A folder holding the pinned busybox tarball, for MIKROTIK_TAILSCALE_SOURCES (so a cold build does not download it again). */
export async function busyboxSourcesDir(dest: string): Promise<string | undefined> {
  const { version, sha256 } = loadPins().busybox;
  const name = `busybox-${version}.tar.bz2`;
  const cached = join(cacheRoot(), "sources", `${sha256.slice(0, 16)}-${name}`);
  if (!existsSync(cached)) return undefined;
  await mkdir(dest, { recursive: true });
  await copyFile(cached, join(dest, name));
  return dest;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

/** The files of an output folder whose bytes must repeat: every image file and the OCI index. */
export async function reproducibleFiles(outDir: string): Promise<string[]> {
  const names = (await readdir(outDir)).filter((f) => f.endsWith(".tar") || f.endsWith(".spdx.json")).sort();
  return [...names, "oci/index.json", "sizes.json"].filter((f) => existsSync(join(outDir, f)));
}

/** Compares the image files of two output folders by sha256. */
export async function compareOutputs(a: string, b: string): Promise<DigestComparison[]> {
  const files = [...new Set([...(await reproducibleFiles(a)), ...(await reproducibleFiles(b))])].sort();
  const out: DigestComparison[] = [];
  for (const f of files) {
    const da = existsSync(join(a, f)) ? await sha256File(join(a, f)) : "(missing)";
    const db = existsSync(join(b, f)) ? await sha256File(join(b, f)) : "(missing)";
    out.push({ file: f, a: da, b: db, same: da === db && da !== "(missing)" });
  }
  return out;
}

/**
 * The snapshot's Go module vendored with its source patches applied (the
 * same tree our own builds compile), so that every build in the benchmark
 * compiles the same sources.
 */
export function benchVendorDir(srcDir: string, log: Log): Promise<string> {
  return vendoredModule({ step: (_label, work) => work(), info: (m) => log(`  ${m}`), detail: () => {} }, join(srcDir, "go"));
}

/** ldflags of the stock build: stripped as a release is, with the version stamped as upstream's build script does. */
export function stockLdflags(version: string): string {
  const v = version.replace(/^v/, "");
  return `-s -w -X tailscale.com/version.longStamp=${v} -X tailscale.com/version.shortStamp=${v}`;
}

export interface StockBuild {
  dir: string;
  files: { tailscaled: string; tailscale: string };
  cached: boolean;
  seconds: number;
}

/**
 * Upstream's two binaries with default build tags: `go build -trimpath
 * -ldflags "-s -w ..."` of tailscale.com/cmd/tailscaled and cmd/tailscale
 * from the pinning module in go/ (vendored, with its source patches), CGO off, no UPX. Kept in `dir` and
 * rebuilt only when an input changes.
 */
export async function buildStock(srcDir: string, arch: Architecture, dir: string, log: Log): Promise<StockBuild> {
  const version = loadGoModPins().tailscaleVersion;
  const ldflags = stockLdflags(version);
  const env = goEnv(arch);
  // The vendored tree's folder name is the hash of its inputs (go.mod, go.sum, Go, source patches).
  const vendor = await benchVendorDir(srcDir, log);
  const key = createHash("sha256")
    .update(JSON.stringify([vendor, env, ldflags]))
    .digest("hex");
  const files = { tailscaled: join(dir, "tailscaled"), tailscale: join(dir, "tailscale") };
  const keyFile = join(dir, "inputs.sha256");
  if (existsSync(keyFile) && (await readFile(keyFile, "utf8")).trim() === key && existsSync(files.tailscaled) && existsSync(files.tailscale)) {
    return { dir, files, cached: true, seconds: 0 };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const t0 = Date.now();
  for (const cmd of ["tailscaled", "tailscale"] as const) {
    log(`  stock ${arch.name}: go build tailscale.com/cmd/${cmd} (default tags)`);
    const r = await runCmd("go", ["build", "-mod=vendor", "-trimpath", `-ldflags=${ldflags}`, "-o", files[cmd], `tailscale.com/cmd/${cmd}`], {
      cwd: vendor,
      env: goCommandEnv(env),
      timeoutMs: 30 * 60_000,
    });
    if (r.code !== 0) throw new Error(`stock go build of cmd/${cmd} for ${arch.name} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`);
  }
  await writeFile(keyFile, key + "\n");
  return { dir, files, cached: false, seconds: (Date.now() - t0) / 1000 };
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
