import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { goEnv, type Architecture } from "../arch.js";
import { InvalidInputError, MissingToolError } from "../errors.js";
import { loadImageSpec, profileSpec } from "../image/spec.js";
import { goModuleDir } from "../paths.js";
import { loadGoModPins } from "../pins.js";
import { cacheKey, cachedDir } from "../util/cache.js";
import { run, tryRun } from "../util/exec.js";
import { sha256 } from "../util/fsx.js";
import { memoize } from "../util/memo.js";
import type { Progress } from "../util/progress.js";
import { loadSourcePatches, patchVendorTree } from "./source-patches.js";
import {
  buildTags,
  checkAllowlistKnown,
  includedFeatures,
  loadFeatureAllowlist,
  parseFeatureList,
} from "./features.js";
import type { GoModuleRef, Profile, SourcePatchRef } from "./record.js";

const RECIPE = 3;
/** The file our overlay adds to tailscale.com/cmd/tailscaled; see the file for why. */
const OVERLAY_FILES = ["zz_verbose_log_filter.go"];

/**
 * Environment for every go command: the machine's proxy settings, and
 * GOTOOLCHAIN set to the exact Go that the module's go.mod pins (its
 * toolchain line, else its go line). Whatever Go is on PATH (1.21 or newer),
 * the go command then runs that release, fetched once through the configured
 * module proxy and verified against the checksum database: the compiler is a
 * pin like any other, so two machines build the same bytes.
 */
export function goCommandEnv(extra: Record<string, string> = {}, moduleDir = goModuleDir): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: `go${loadGoModPins(moduleDir).toolchainVersion}`,
    GOFLAGS: "-buildvcs=false",
    GOWORK: "off",
    ...extra,
  };
}

/** The Go version every cache key includes; asked once per process. */
export const goVersion = memoize(async (): Promise<string> => {
  const r = await tryRun("go", ["env", "GOVERSION"], { env: goCommandEnv() });
  if (!r) throw new MissingToolError("go", "the Go toolchain is not installed", "bash scripts/install-go.sh (the Go that go/go.mod pins)");
  return r.stdout.trim();
});

async function goModInputs(moduleDir = goModuleDir): Promise<{ gomod: string; gosum: string }> {
  return {
    gomod: await readFile(join(moduleDir, "go.mod"), "utf8"),
    gosum: await readFile(join(moduleDir, "go.sum"), "utf8"),
  };
}

/**
 * A writable copy of every module source (`go mod vendor`) with the declared
 * source patches applied: overlays cannot add files in the module cache.
 * `-e`: packages that only tests of dependencies import may be missing from
 * the proxy (a 403 is final); a package the build needs and lacks still fails
 * the build itself.
 */
export async function vendoredModule(progress: Progress, moduleDir = goModuleDir): Promise<string> {
  const { gomod, gosum } = await goModInputs(moduleDir);
  const patches = loadSourcePatches(moduleDir);
  const gov = await goVersion();
  const { dir } = await cachedDir("go-vendor", cacheKey(["vendor", 2, gomod, gosum, gov, JSON.stringify(patches)]), async (out) => {
    progress.info(`vendoring Go modules (verified against go.sum)${patches.length ? `, ${patches.length} source patch(es)` : ""}`);
    await cp(moduleDir, out, { recursive: true, filter: (src) => !src.includes("/overlay") });
    const r = await run("go", ["mod", "vendor", "-e"], { cwd: out, env: goCommandEnv({}, moduleDir) });
    for (const l of r.stderr.split("\n").filter((x) => /403|not available|missing/.test(x))) progress.detail(l.trim());
    await patchVendorTree(out, patches);
  });
  return dir;
}

export interface FeatureResolution {
  tags: string[];
  features: string[];
  omittedFeatures: string[];
  known: Map<string, string>;
}

/** Asks the pinned Tailscale's own featuretags tool for the omit list. */
export async function resolveFeatures(progress: Progress): Promise<FeatureResolution> {
  const { gomod, gosum } = await goModInputs();
  const allow = await loadFeatureAllowlist();
  const gov = await goVersion();
  const addList = allow.features.map((f) => f.name).join(",");
  const { dir } = await cachedDir("featuretags", cacheKey(["featuretags", gomod, gosum, gov, addList]), async (out) => {
    const env = goCommandEnv();
    const list = await run("go", ["run", "tailscale.com/cmd/featuretags", "--list"], { cwd: goModuleDir, env });
    const known = parseFeatureList(list.stdout);
    checkAllowlistKnown(allow, known, loadGoModPins().tailscaleVersion);
    const min = await run("go", ["run", "tailscale.com/cmd/featuretags", "--min", `--add=${addList}`], { cwd: goModuleDir, env });
    await writeFile(join(out, "list.txt"), list.stdout);
    await writeFile(join(out, "omit.txt"), min.stdout);
  });
  const known = parseFeatureList(await readFile(join(dir, "list.txt"), "utf8"));
  // Checked again on a cache hit: the cache key covers the allowlist, but the message must not depend on it.
  checkAllowlistKnown(allow, known, loadGoModPins().tailscaleVersion);
  const tags = buildTags(await readFile(join(dir, "omit.txt"), "utf8"));
  const { included, omitted } = includedFeatures(tags, known);
  progress.info(`features in: ${included.join(", ")}`);
  return { tags, features: included, omittedFeatures: omitted, known };
}

export interface TailscaleBuild {
  binary: string;
  version: string;
  goVersion: string;
  tags: string[];
  ldflags: string;
  /** Each `-gcflags=` argument, in order. */
  gcflags: string[];
  goEnv: Record<string, string>;
  modules: GoModuleRef[];
  sourcePatches?: SourcePatchRef[];
  cacheHit: boolean;
}

/** Parses `go version -m` output into linked modules and build settings. */
export function parseGoVersionM(text: string): { goVersion: string; main?: GoModuleRef; deps: GoModuleRef[]; settings: Map<string, string> } {
  const lines = text.split("\n");
  const goVersion = /:\s*(go\S+)/.exec(lines[0] ?? "")?.[1] ?? "";
  const deps: GoModuleRef[] = [];
  let main: GoModuleRef | undefined;
  const settings = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const f = line.trim().split("\t");
    if (f[0] === "mod") main = { path: f[1]!, version: f[2] ?? "", sum: f[3] ?? "" };
    else if (f[0] === "dep") deps.push({ path: f[1]!, version: f[2] ?? "", sum: f[3] ?? "" });
    else if (f[0] === "=>" && f[1] && deps.length) deps[deps.length - 1]!.replacedBy = { path: f[1], version: f[2] ?? "", sum: f[3] ?? "" };
    else if (f[0] === "build" && f[1]) {
      const eq = f[1].indexOf("=");
      if (eq > 0) settings.set(f[1].slice(0, eq), f[1].slice(eq + 1));
    }
  }
  return { goVersion, main, deps, settings };
}

/** h1: hashes of module zips from go.sum, for modules a vendored build reports without one. */
export function goSumHashes(gosum: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of gosum.split("\n")) {
    const [path, version, hash] = line.trim().split(/\s+/);
    if (path && version && hash && !version.endsWith("/go.mod")) m.set(`${path}@${version}`, hash);
  }
  return m;
}

/**
 * `-gcflags` of the `small` profile, one `go build -gcflags=` argument each,
 * in order; for each package the go command applies the last pattern that
 * matches it. No inlining anywhere (the packed binary is ~600 kB smaller),
 * except in the packages every packet goes through: without inlining the
 * generic ChaCha20-Poly1305 runs at half speed and allocates per packet.
 * bench/REPORT.md has what each of these costs and buys.
 */
export const SMALL_GCFLAGS: readonly string[] = profileSpec(loadImageSpec(), "small").gcflags;

/**
 * The ldflags and gcflags (each a `-gcflags=` argument, in order) of a
 * profile, as config/image.yaml declares them; the version stamps are added.
 */
export function goFlags(profile: Profile, version: string): { ldflags: string; gcflags: string[] } {
  const p = profileSpec(loadImageSpec(), profile);
  const short = version.replace(/^v/, "");
  const ldflags = [...p.ldflags, `-X tailscale.com/version.longStamp=${short}`, `-X tailscale.com/version.shortStamp=${short}`].join(" ");
  return { ldflags, gcflags: [...p.gcflags] };
}

/**
 * Cross-compiles the combined tailscale/tailscaled binary for one
 * architecture. Go's own build cache makes a rebuild quick; the finished
 * binary is also cached by every input so a warm build does not even link.
 */
export async function buildTailscale(
  arch: Architecture,
  profile: Profile,
  features: FeatureResolution,
  progress: Progress,
): Promise<TailscaleBuild> {
  const pins = loadGoModPins();
  const { gomod, gosum } = await goModInputs();
  const gov = await goVersion();
  const overlaySources = await Promise.all(
    OVERLAY_FILES.map(async (f) => ({ name: f, text: await readFile(join(goModuleDir, "overlay", "tailscaled", f), "utf8") })),
  );
  const flags = goFlags(profile, pins.tailscaleVersion);
  const patches = loadSourcePatches(goModuleDir);
  const env = goEnv(arch);
  progress.info(`GOOS=${env.GOOS} GOARCH=${env.GOARCH} GOARM=${env.GOARM ?? ""} CGO_ENABLED=0`);
  progress.info(`tags: ${features.tags.join(",")}`);
  const key = cacheKey([
    "tailscale", RECIPE, gomod, gosum, gov, JSON.stringify(env), features.tags.join(","),
    flags.ldflags, JSON.stringify(flags.gcflags), ...overlaySources.map((o) => o.name + sha256(o.text)),
    JSON.stringify(patches),
  ]);
  const vendor = await vendoredModule(progress);
  const { dir, hit } = await cachedDir("tailscale", key, async (out) => {
    const overlay: Record<string, string> = {};
    for (const o of overlaySources) {
      const staged = join(out, "overlay", o.name);
      await mkdir(join(out, "overlay"), { recursive: true });
      await writeFile(staged, o.text);
      overlay[join(vendor, "vendor", "tailscale.com", "cmd", "tailscaled", o.name)] = staged;
    }
    const overlayJson = join(out, "overlay.json");
    await writeFile(overlayJson, JSON.stringify({ Replace: overlay }));
    const args = [
      "build", "-mod=vendor", `-overlay=${overlayJson}`, "-trimpath",
      `-tags=${features.tags.join(",")}`, `-ldflags=${flags.ldflags}`,
      ...flags.gcflags.map((g) => `-gcflags=${g}`),
      "-o", join(out, "tailscale.combined"), "tailscale.com/cmd/tailscaled",
    ];
    await run("go", args, { cwd: vendor, env: goCommandEnv(env), onLine: (l) => progress.detail(l) });
    const vm = await run("go", ["version", "-m", join(out, "tailscale.combined")], { env: goCommandEnv() });
    await writeFile(join(out, "buildinfo.txt"), vm.stdout);
  });
  const info = parseGoVersionM(await readFile(join(dir, "buildinfo.txt"), "utf8"));
  if (info.main?.path !== "tailscale.com" || info.main.version !== pins.tailscaleVersion) {
    throw new InvalidInputError(`built binary reports ${info.main?.path}@${info.main?.version}, expected tailscale.com@${pins.tailscaleVersion}`);
  }
  const sums = goSumHashes(gosum);
  const withSum = (m: GoModuleRef): GoModuleRef => {
    const r = m.replacedBy;
    const replacedBy = r ? { replacedBy: { ...r, sum: r.sum || sums.get(`${r.path}@${r.version}`) || "" } } : {};
    // A replaced module's required version is never downloaded, so go.sum has no hash for it.
    return { ...m, sum: r ? "" : m.sum || sums.get(`${m.path}@${m.version}`) || "", ...replacedBy };
  };
  return {
    binary: join(dir, "tailscale.combined"),
    version: pins.tailscaleVersion,
    goVersion: info.goVersion,
    tags: features.tags,
    ldflags: flags.ldflags,
    gcflags: flags.gcflags,
    goEnv: env,
    modules: [withSum(info.main), ...info.deps.map(withSum)],
    ...(patches.length ? { sourcePatches: patches.map(({ module, file, why, sha256, patchedSha256 }) => ({ module, file, why, sha256, patchedSha256 })) } : {}),
    cacheHit: hit,
  };
}
