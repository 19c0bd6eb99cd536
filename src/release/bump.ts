import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAllowlistKnown, parseFeatureList, type FeatureAllowlist } from "../build/features.js";
import { goCommandEnv } from "../build/tailscale.js";
import { CommandError, FailureError, InvalidInputError, UsageError } from "../errors.js";
import { run } from "../util/exec.js";
import { atomicWriteFile } from "../util/fsx.js";
import { compareSemVer, isStableTailscale, parseSemVer, type SemVer } from "./version.js";

/*
 * bump: moves the Tailscale pin in go/go.mod and go/go.sum to the newest
 * stable release (even minor) that can actually be built here.
 *
 * "Listed by the module proxy" is not enough: a release can need a newer Go
 * than this machine has, or a module version the proxy refuses to serve
 * (v1.104.x needs a gvisor pseudo-version the public proxy answers 403 for).
 * So each candidate, newest first, is tried in a temporary copy of the Go
 * module (`go get`, then `go mod tidy`, which downloads every module the
 * build can need); the first whose whole graph resolves wins, and every newer
 * one skipped is reported with its reason. go.mod and go.sum change only at
 * the end, by rename, never half-way.
 *
 * Feature list: the candidate's own `featuretags --list` is compared with
 * the pinned release's. New features stay out (the build's allowlist does
 * that); an allowlisted feature that the candidate no longer has is an error
 * naming it, and nothing is written.
 */

export const TAILSCALE_MODULE = "tailscale.com";

export interface BumpOptions {
  /** The Go pinning module (go/). */
  goDir: string;
  /** The feature allowlist (config/image.yaml tailscale.features). */
  features: FeatureAllowlist;
  /** Extra environment for the go commands (GOPROXY, GOMODCACHE, ...); otherwise the machine's go env applies. */
  env?: Record<string, string>;
  /** Move to exactly this version (must be a listed stable release). */
  to?: string;
  /** Work everything out, write nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface SkippedCandidate {
  version: string;
  reason: string;
}

export interface FeatureChange {
  added: { name: string; description: string }[];
  removed: string[];
}

export interface BumpResult {
  from: string;
  /** The version picked; undefined when the pin stays. */
  to?: string;
  /** Newer stable releases that cannot be used here, newest first. */
  skipped: SkippedCandidate[];
  features?: FeatureChange;
  /** The go directive of go/go.mod, if it changed. */
  goDirective?: { from: string; to: string };
  /** Module requirements whose version changed (other than Tailscale). */
  moduleChanges: { path: string; from?: string; to?: string }[];
  written: boolean;
}

/** The version a go.mod requires a module at. */
export function requiredVersion(gomod: string, module: string): string | undefined {
  const esc = module.replace(/[.]/g, "\\.");
  return new RegExp(`^\\s*(?:require\\s+)?${esc}\\s+(v\\S+)`, "m").exec(gomod)?.[1];
}

export function goDirective(gomod: string): string | undefined {
  return /^go\s+(\S+)\s*$/m.exec(gomod)?.[1];
}

/** Every requirement of a go.mod: module path -> version. */
export function requirements(gomod: string): Map<string, string> {
  const out = new Map<string, string>();
  let inBlock = false;
  for (const raw of gomod.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (!line) continue;
    if (inBlock) {
      if (line === ")") {
        inBlock = false;
        continue;
      }
      const [p, v] = line.split(/\s+/);
      if (p && v) out.set(p, v);
    } else if (/^require\s*\($/.test(line)) {
      inBlock = true;
    } else {
      const m = /^require\s+(\S+)\s+(\S+)$/.exec(line);
      if (m) out.set(m[1]!, m[2]!);
    }
  }
  return out;
}

/** Stable Tailscale releases newer than `current` from a version list, newest first. */
export function stableCandidates(listed: readonly string[], current: string): SemVer[] {
  const cur = parseSemVer(current);
  if (!cur) throw new InvalidInputError(`go.mod pins ${TAILSCALE_MODULE} at ${current}, which is not a release version`);
  return listed
    .map((v) => parseSemVer(v))
    .filter((v): v is SemVer => !!v && isStableTailscale(v) && compareSemVer(v, cur) > 0)
    .sort((a, b) => compareSemVer(b, a));
}

/** Compares Go versions such as "1.26.6", "go1.27.4", "1.27". */
export function compareGoVersions(a: string, b: string): number {
  const p = (s: string) => s.replace(/^go/, "").split(/[.a-z]/).slice(0, 3).map((x) => Number(x) || 0);
  const [x, y] = [p(a), p(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The clearest line of a failed go command: which module version could not be had, and why. */
export function explainGoFailure(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const l of lines) {
    const m = /(\S+@v\S+?):?\s+(?:reading|verifying)\s+(\S+):\s*(.+)$/.exec(l);
    if (m) {
      const why = m[3]!.replace(/\s*server response:.*$/, "").trim();
      return `the module proxy does not serve ${m[1]} (${why})`;
    }
  }
  for (const l of lines) {
    const m = /requires go >= (\S+) \(running go (\S+?)[;)]/.exec(l);
    if (m) return `needs Go ${m[1]} (this machine has go${m[2]}; builds use GOTOOLCHAIN=local)`;
  }
  const last = [...lines].reverse().find((l) => !/^go: (downloading|finding|upgraded|downgraded|added)\b/.test(l));
  return (last ?? "go command failed").replace(/^go:\s*/, "");
}

function diffFeatures(before: Map<string, string>, after: Map<string, string>): FeatureChange {
  return {
    added: [...after.keys()].filter((k) => !before.has(k)).sort().map((name) => ({ name, description: after.get(name) ?? "" })),
    removed: [...before.keys()].filter((k) => !after.has(k)).sort(),
  };
}

async function goLocalVersion(env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run("go", ["env", "GOVERSION"], { env });
  return r.stdout.trim();
}

async function featureList(dir: string, env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const r = await run("go", ["run", `${TAILSCALE_MODULE}/cmd/featuretags`, "--list"], { cwd: dir, env });
  return parseFeatureList(r.stdout);
}

/** Copies the Go module to a temporary folder (sources, go.mod, go.sum). */
async function scratchCopy(goDir: string): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), "mt-bump-"));
  const dir = join(tmp, "go");
  await cp(goDir, dir, { recursive: true, filter: (src) => !/[\\/]vendor([\\/]|$)/.test(src) });
  return dir;
}

/**
 * Writes go.mod and go.sum so that every moment leaves a usable pair: first a
 * go.sum that holds the old and the new hashes, then the new go.mod, then the
 * tidy go.sum. Each step is a rename.
 */
export async function replaceGoModFiles(goDir: string, gomod: string, gosum: string): Promise<void> {
  const oldSum = await readFile(join(goDir, "go.sum"), "utf8").catch(() => "");
  const union = [...new Set([...oldSum.split("\n"), ...gosum.split("\n")].filter(Boolean))].sort().join("\n") + "\n";
  const put = async (name: string, text: string) => {
    await atomicWriteFile(join(goDir, name), text);
  };
  await put("go.sum", union);
  await put("go.mod", gomod);
  await put("go.sum", gosum);
}

export async function bumpTailscale(o: BumpOptions): Promise<BumpResult> {
  const log = o.log ?? (() => {});
  const env = goCommandEnv(o.env ?? {});
  env.GOTOOLCHAIN = "local";
  env.GOWORK = "off";
  const gomod = await readFile(join(o.goDir, "go.mod"), "utf8");
  const gosum = await readFile(join(o.goDir, "go.sum"), "utf8");
  const current = requiredVersion(gomod, TAILSCALE_MODULE);
  if (!current) throw new InvalidInputError(`${join(o.goDir, "go.mod")} does not require ${TAILSCALE_MODULE}`);
  const allow = o.features;
  const result: BumpResult = { from: current, skipped: [], moduleChanges: [], written: false };

  // Outside any module, so the listing does not depend on our go.mod.
  const outside = await mkdtemp(join(tmpdir(), "mt-bump-list-"));
  let listed: string[];
  let localGo: string;
  try {
    const r = await run("go", ["list", "-m", "-versions", TAILSCALE_MODULE], { cwd: outside, env });
    listed = r.stdout.trim().split(/\s+/).slice(1);
    localGo = await goLocalVersion(env);
  } catch (e) {
    if (e instanceof CommandError) throw new FailureError(`cannot list ${TAILSCALE_MODULE} versions from the module proxy: ${explainGoFailure(e.outputTail)}`);
    throw e;
  }

  let candidates = stableCandidates(listed, current);
  if (o.to) {
    const want = parseSemVer(o.to.startsWith("v") ? o.to : `v${o.to}`);
    if (!want) throw new UsageError(`--to: '${o.to}' is not a release version such as v1.102.5`);
    if (!isStableTailscale(want)) throw new UsageError(`--to: ${want.text} has an odd minor version: Tailscale's unstable track; only stable (even minor) releases are pinned`);
    if (!listed.includes(want.text)) throw new FailureError(`the module proxy does not list ${TAILSCALE_MODULE} ${want.text}`);
    if (want.text === current) {
      await rm(outside, { recursive: true, force: true });
      return result;
    }
    candidates = [want];
  }
  log(`${TAILSCALE_MODULE}: pinned ${current}; newer stable releases listed: ${candidates.map((c) => c.text).join(", ") || "none"}`);

  let beforeFeatures: Map<string, string> | undefined;
  try {
    for (const cand of candidates) {
      const v = cand.text;
      // The candidate's go directive, from its go.mod alone (cheap: no sources yet).
      let needGo: string | undefined;
      try {
        const info = await run("go", ["list", "-m", "-json", `${TAILSCALE_MODULE}@${v}`], { cwd: outside, env });
        const j = JSON.parse(info.stdout) as { GoMod?: string; GoVersion?: string };
        needGo = j.GoVersion ?? (j.GoMod ? goDirective(await readFile(j.GoMod, "utf8")) : undefined);
      } catch (e) {
        if (!(e instanceof CommandError) && !(e instanceof SyntaxError)) throw e;
        // go get below says what is wrong.
      }
      if (needGo && compareGoVersions(needGo, localGo) > 0) {
        result.skipped.push({ version: v, reason: `needs Go ${needGo} (this machine has ${localGo}; builds use GOTOOLCHAIN=local)` });
        log(`  ${v}: skipped: ${result.skipped.at(-1)!.reason}`);
        continue;
      }
      const dir = await scratchCopy(o.goDir);
      try {
        try {
          await run("go", ["get", `${TAILSCALE_MODULE}@${v}`], { cwd: dir, env });
          await run("go", ["mod", "tidy"], { cwd: dir, env });
        } catch (e) {
          if (!(e instanceof CommandError)) throw e;
          result.skipped.push({ version: v, reason: explainGoFailure(e.outputTail) });
          log(`  ${v}: skipped: ${result.skipped.at(-1)!.reason}`);
          continue;
        }
        log(`  ${v}: its whole module graph resolves`);
        const after = await featureList(dir, env);
        beforeFeatures ??= await featureList(o.goDir, env);
        checkAllowlistGone(allow, after, v);
        result.features = diffFeatures(beforeFeatures, after);
        const newMod = await readFile(join(dir, "go.mod"), "utf8");
        const newSum = await readFile(join(dir, "go.sum"), "utf8");
        const [g0, g1] = [goDirective(gomod), goDirective(newMod)];
        if (g0 && g1 && g0 !== g1) result.goDirective = { from: g0, to: g1 };
        const [r0, r1] = [requirements(gomod), requirements(newMod)];
        for (const p of [...new Set([...r0.keys(), ...r1.keys()])].sort()) {
          if (p === TAILSCALE_MODULE || r0.get(p) === r1.get(p)) continue;
          result.moduleChanges.push({ path: p, ...(r0.has(p) ? { from: r0.get(p)! } : {}), ...(r1.has(p) ? { to: r1.get(p)! } : {}) });
        }
        result.to = v;
        if (!o.dryRun) {
          // Re-read: refuse to overwrite a go.mod someone changed while we worked.
          if ((await readFile(join(o.goDir, "go.mod"), "utf8")) !== gomod || (await readFile(join(o.goDir, "go.sum"), "utf8")) !== gosum) {
            throw new FailureError(`${o.goDir}/go.mod or go.sum changed while bump was working; nothing written, run it again`);
          }
          await replaceGoModFiles(o.goDir, newMod, newSum);
          result.written = true;
        }
        return result;
      } finally {
        await rm(join(dir, ".."), { recursive: true, force: true });
      }
    }
    return result;
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
}

/** An allowlisted feature the candidate does not have: an error naming it (and the version). */
function checkAllowlistGone(allow: FeatureAllowlist, known: Map<string, string>, version: string): void {
  try {
    checkAllowlistKnown(allow, known, version);
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    const gone = allow.features.map((f) => f.name).filter((n) => !known.has(n));
    throw new FailureError(
      `Tailscale ${version} no longer has the allowlisted feature${gone.length === 1 ? "" : "s"} ${gone.map((g) => `'${g}'`).join(", ")} ` +
        `(config/image.yaml tailscale.features); nothing was changed. Find what replaced ${gone.length === 1 ? "it" : "them"} in that release's featuretags --list, update the allowlist, and run bump again`,
    );
  }
}

/** A readable report of a bump. */
export function formatBump(r: BumpResult, dryRun = false): string {
  const L: string[] = [];
  if (!r.to) {
    L.push(`Tailscale stays at ${r.from}: ${r.skipped.length ? "no newer stable release can be built here" : "it is the newest stable release"}`);
  } else {
    L.push(`Tailscale ${r.from} -> ${r.to}${dryRun ? " (dry run: nothing written)" : ""}`);
  }
  for (const s of r.skipped) L.push(`  skipped ${s.version}: ${s.reason}`);
  if (r.to && r.features) {
    if (r.features.added.length) {
      L.push(`  new features, left out (add them to config/image.yaml tailscale.features to build them in):`);
      for (const f of r.features.added) L.push(`    ${f.name}: ${f.description}`);
    } else {
      L.push("  new features: none");
    }
    if (r.features.removed.length) L.push(`  features gone (none of them allowlisted): ${r.features.removed.join(", ")}`);
  }
  if (r.goDirective) L.push(`  go directive: ${r.goDirective.from} -> ${r.goDirective.to}`);
  if (r.moduleChanges.length) L.push(`  other modules changed: ${r.moduleChanges.length} (see git diff go/go.mod)`);
  return L.join("\n");
}
