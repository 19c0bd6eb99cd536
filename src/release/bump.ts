import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAllowlistKnown, parseFeatureList, type FeatureAllowlist } from "../build/features.js";
import { goCommandEnv } from "../build/tailscale.js";
import { CommandError, FailureError, InvalidInputError, UsageError } from "../errors.js";
import { run } from "../util/exec.js";
import { atomicWriteFile, sha256 } from "../util/fsx.js";
import type { SourcePatch } from "../build/source-patches.js";
import { goModToolchain } from "../pins.js";
import { compareSemVer, isStableTailscale, parseSemVer, type SemVer } from "./version.js";

/*
 * bump: moves the Tailscale pin in go/go.mod and go/go.sum to the newest
 * stable release (even minor) that can actually be built here.
 *
 * "Listed by the module proxy" is not enough: a release can need a Go
 * toolchain the proxy does not serve, or a module version it refuses
 * (v1.104.x needs a gvisor pseudo-version the proxy here answers 403 for;
 * go.mod's replace directives stand in for such modules, and bump reports
 * each one, and whether the version upstream asks for is served by now).
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
  /** The declared source patches (go/source-patches.json), checked against the chosen release. */
  patches?: readonly SourcePatch[];
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

/** A go.mod `replace` in force after the bump: what the graph requires, what is built instead. */
export interface Substitution {
  path: string;
  /** The version the module graph selects (what upstream asked for). */
  required?: string;
  /** What go.mod builds instead. */
  replacement: string;
  /** Whether the module proxy now serves the required version (then the replace can go). */
  requiredServed?: boolean;
}

/** A source patch (go/source-patches.json) checked against the chosen release's file. */
export interface PatchCheck {
  module: string;
  file: string;
  status: "applies" | "changed" | "missing";
  /** The file's sha256 in the chosen release. */
  sha256?: string;
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
  /** go.mod replacements in force for the chosen (or kept) release. */
  substitutions: Substitution[];
  /** Each declared source patch against the chosen (or kept) release. */
  patches: PatchCheck[];
  /** The Go toolchain the chosen release is resolved with, when newer than the pinned one. */
  toolchain?: string;
  written: boolean;
}

/** The bodies of one directive in a go.mod, single-line and block form alike, comments stripped. */
export function directiveBodies(gomod: string, verb: "require" | "replace"): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of gomod.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (!line) continue;
    if (inBlock) {
      if (line === ")") inBlock = false;
      else out.push(line);
    } else if (new RegExp(`^${verb}\\s*\\($`).test(line)) {
      inBlock = true;
    } else {
      const m = new RegExp(`^${verb}\\s+(.+)$`).exec(line);
      if (m) out.push(m[1]!.trim());
    }
  }
  return out;
}

/** `replace` directives of a go.mod: module path -> "path version" of the replacement. */
export function replacements(gomod: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const body of directiveBodies(gomod, "replace")) {
    const m = /^(\S+)(?:\s+\S+)?\s+=>\s+(.+)$/.exec(body);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
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
  for (const body of directiveBodies(gomod, "require")) {
    const [p, v] = body.split(/\s+/);
    if (p && v) out.set(p, v);
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
    if (m) return `needs Go ${m[1]} (running go${m[2]})`;
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
  const gomod = await readFile(join(o.goDir, "go.mod"), "utf8");
  // The Go on PATH, or the pinned one where the module asks for a newer Go (as every build does).
  const env = goCommandEnv(o.env ?? {});
  env.GOTOOLCHAIN = "local";
  env.GOWORK = "off";
  const pinnedGo = goModToolchain(gomod);
  if (pinnedGo && compareGoVersions(pinnedGo, await goLocalVersion(env)) > 0) env.GOTOOLCHAIN = `go${pinnedGo}`;
  const gosum = await readFile(join(o.goDir, "go.sum"), "utf8");
  const current = requiredVersion(gomod, TAILSCALE_MODULE);
  if (!current) throw new InvalidInputError(`${join(o.goDir, "go.mod")} does not require ${TAILSCALE_MODULE}`);
  const allow = o.features;
  const result: BumpResult = { from: current, skipped: [], moduleChanges: [], substitutions: [], patches: [], written: false };

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
      try {
        await describeSubstitutions(result, o.goDir, outside, env, current, o.patches ?? []);
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
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
      // A newer Go comes as a toolchain module through the proxy, as builds fetch the pinned one.
      let candEnv = env;
      if (needGo && compareGoVersions(needGo, localGo) > 0) {
        const toolchain = `go${/^\d+\.\d+$/.test(needGo) ? `${needGo}.0` : needGo}`;
        const tryEnv = { ...env, GOTOOLCHAIN: toolchain };
        const got = await run("go", ["env", "GOVERSION"], { cwd: outside, env: tryEnv }).then((r) => r.stdout.trim(), () => "");
        if (got !== toolchain) {
          result.skipped.push({ version: v, reason: `needs Go ${needGo} (this machine has ${localGo}, and the module proxy does not serve the ${toolchain} toolchain)` });
          log(`  ${v}: skipped: ${result.skipped.at(-1)!.reason}`);
          continue;
        }
        candEnv = tryEnv;
        result.toolchain = toolchain;
      }
      const dir = await scratchCopy(o.goDir);
      try {
        try {
          await run("go", ["get", `${TAILSCALE_MODULE}@${v}`], { cwd: dir, env: candEnv });
          await run("go", ["mod", "tidy"], { cwd: dir, env: candEnv });
        } catch (e) {
          if (!(e instanceof CommandError)) throw e;
          delete result.toolchain;
          result.skipped.push({ version: v, reason: explainGoFailure(e.outputTail) });
          log(`  ${v}: skipped: ${result.skipped.at(-1)!.reason}`);
          continue;
        }
        log(`  ${v}: its whole module graph resolves`);
        const after = await featureList(dir, candEnv);
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
        await describeSubstitutions(result, dir, outside, candEnv, v, o.patches ?? []);
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
    await describeSubstitutions(result, o.goDir, outside, env, current, o.patches ?? []);
    return result;
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
}

/**
 * The replacements and source patches in force for `version` (resolved in
 * `dir`): what upstream requires and whether the proxy now serves it, and
 * whether each patch still matches its file.
 */
async function describeSubstitutions(result: BumpResult, dir: string, outside: string, env: NodeJS.ProcessEnv, version: string, patches: readonly SourcePatch[]): Promise<void> {
  const gomod = await readFile(join(dir, "go.mod"), "utf8");
  for (const [path, replacement] of replacements(gomod)) {
    const sub: Substitution = { path, replacement };
    const info = await run("go", ["list", "-m", "-json", path], { cwd: dir, env }).catch(() => undefined);
    if (info) {
      const j = JSON.parse(info.stdout) as { Version?: string };
      if (j.Version) {
        sub.required = j.Version;
        sub.requiredServed = await run("go", ["mod", "download", "-json", `${path}@${j.Version}`], { cwd: outside, env }).then(() => true, () => false);
      }
    }
    result.substitutions.push(sub);
  }
  const required = requirements(gomod);
  for (const p of patches) {
    const mv = p.module === TAILSCALE_MODULE ? version : required.get(p.module);
    const dl = mv ? await run("go", ["mod", "download", "-json", `${p.module}@${mv}`], { cwd: outside, env }).catch(() => undefined) : undefined;
    const modDir = dl ? (JSON.parse(dl.stdout) as { Dir?: string }).Dir : undefined;
    const text = modDir ? await readFile(join(modDir, ...p.file.split("/")), "utf8").catch(() => undefined) : undefined;
    if (text === undefined) result.patches.push({ module: p.module, file: p.file, status: "missing" });
    else {
      const h = sha256(text);
      result.patches.push({ module: p.module, file: p.file, status: h === p.sha256 ? "applies" : "changed", sha256: h });
    }
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
  if (r.toolchain) L.push(`  Go toolchain: ${r.toolchain} (from the module proxy; builds use it through GOTOOLCHAIN)`);
  if (r.moduleChanges.length) L.push(`  other modules changed: ${r.moduleChanges.length} (see git diff go/go.mod)`);
  for (const s of r.substitutions) {
    const req = s.required ? `requires ${s.path}@${s.required}` : `requires ${s.path}`;
    const served = s.requiredServed === undefined ? "" : s.requiredServed ? "; the proxy now serves that version: drop the replace and run bump again" : "; not served (kept)";
    L.push(`  substitution: ${req}, built with ${s.replacement} (go/go.mod replace)${served}`);
  }
  for (const p of r.patches) {
    const what =
      p.status === "applies"
        ? "applies (file unchanged)"
        : p.status === "changed"
          ? `the file changed upstream (sha256 ${p.sha256}): review the edit and update go/source-patches.json, or drop it if no longer needed; the build refuses until then`
          : "the file is gone: drop the patch";
    L.push(`  source patch ${p.module}/${p.file}: ${what}`);
  }
  return L.join("\n");
}
