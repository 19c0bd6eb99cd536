import { createHash } from "node:crypto";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { InvalidInputError, UsageError } from "../errors.js";
import { canonicalJson } from "../image/digest.js";
import { IMAGE_SPEC_FILE, parseImageSpec, type ImageSpec } from "../image/spec.js";
import { atomicWriteFile } from "../util/fsx.js";
import { requiredVersion, TAILSCALE_MODULE } from "./bump.js";
import { formatImageVersion } from "./version.js";

/*
 * The release revision N of v<tailscale>-mt.<N>, kept in config/release.json.
 *
 * N must rise with every meaningful change of ours and never for build-only
 * churn (a rebuild, a new commit that touches docs or tests, another build
 * time). "Meaningful" is decided by a fingerprint of the inputs that shape
 * the image's contents, recorded next to N:
 *
 *   config/image.yaml             the image as declared data: container config,
 *                                 root filesystem layout, busybox selection,
 *                                 feature allowlist, build flags per profile
 *                                 (parsed: one input per field, comments do not count)
 *   rootfs/** (its static dir)    files that go into the image as they are
 *   config/pins.json  (busybox)   the busybox version and tarball hash
 *   go/go.mod, go/go.sum          Tailscale and every Go module it links, the CA roots
 *   go/overlay/**, go/cmd/**      our Go additions (log filter, CA bundle tool)
 *   src/build/*.ts  (RECIPE)      the build steps' recipe numbers: a build change
 *                                 that changes output must raise its RECIPE (the
 *                                 cache key needs that anyway)
 *
 * `mikrotik-tailscale release` compares the inputs with the record: Tailscale
 * moved -> N = 1; inputs changed -> N + 1; else nothing. A test fails while
 * the record is stale, so a change cannot land without its revision.
 */

export const RELEASE_FILE = join("config", "release.json");

export const RELEASE_COMMENT =
  "Our release counter: images are versioned v<tailscale version>-mt.<revision>. Kept by `mikrotik-tailscale release`: it raises revision when the fingerprint of the inputs that shape the image changes and resets it to 1 when Tailscale moves; a test fails while this record is stale. See docs/releasing.md.";

export interface ReleaseRecord {
  revision: number;
  /** The Tailscale version the revision counts at. */
  tailscale?: string;
  /** sha256 over the inputs below. */
  fingerprint?: string;
  /** Input -> the first 16 hex digits of its sha256. */
  inputs?: Record<string, string>;
}

export interface Fingerprint {
  digest: string;
  inputs: Record<string, string>;
}

const INPUT_DIRS = ["go/overlay", "go/cmd"];
const INPUT_FILES = ["go/go.mod", "go/go.sum", "go/source-patches.json"];

/**
 * One input per field of config/image.yaml (per second-level key where the
 * value is a mapping), so a stale record names the field that moved.
 */
export function imageSpecInputs(spec: ImageSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) out[`${IMAGE_SPEC_FILE}#${k}.${k2}`] = h16(Buffer.from(canonicalJson(v2)));
    } else {
      out[`${IMAGE_SPEC_FILE}#${k}`] = h16(Buffer.from(canonicalJson(v)));
    }
  }
  return out;
}

function h16(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

async function walk(root: string, rel: string, out: Record<string, string>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(join(root, rel))).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (const n of names) {
    const r = `${rel}/${n}`;
    const st = await lstat(join(root, r));
    if (st.isDirectory()) await walk(root, r, out);
    else if (r.endsWith("_test.go")) continue; // tests never reach the image
    else if (st.isSymbolicLink()) out[r] = h16(`symlink\0${await readlink(join(root, r))}`);
    else if (st.isFile()) out[r] = h16(Buffer.concat([Buffer.from(st.mode & 0o111 ? "x\0" : "-\0"), await readFile(join(root, r))]));
  }
}

/** The fingerprint of every input that shapes the image (see the file comment). */
export async function computeFingerprint(root: string): Promise<Fingerprint> {
  const inputs: Record<string, string> = {};
  let specText: string | undefined;
  try {
    specText = await readFile(join(root, IMAGE_SPEC_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const spec = specText === undefined ? undefined : parseImageSpec(specText, IMAGE_SPEC_FILE);
  if (spec) Object.assign(inputs, imageSpecInputs(spec));
  for (const d of [spec?.rootfs.static ?? "rootfs", ...INPUT_DIRS]) await walk(root, d, inputs);
  // The health checker's C source, wherever image.yaml keeps it.
  if (spec) {
    try {
      inputs[spec.healthcheck.source] = h16(await readFile(join(root, spec.healthcheck.source)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  for (const f of INPUT_FILES) {
    try {
      inputs[f] = h16(await readFile(join(root, f)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  try {
    const pins = JSON.parse(await readFile(join(root, "config", "pins.json"), "utf8")) as { busybox?: unknown };
    inputs["config/pins.json#busybox"] = h16(JSON.stringify(pins.busybox ?? null));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new InvalidInputError(`config/pins.json: ${(e as Error).message}`);
  }
  let buildFiles: string[] = [];
  try {
    buildFiles = (await readdir(join(root, "src", "build"))).filter((f) => f.endsWith(".ts")).sort();
  } catch {
    // not a source checkout
  }
  for (const f of buildFiles) {
    const m = /^\s*(?:export\s+)?const\s+RECIPE\s*=\s*(\d+)\s*;/m.exec(await readFile(join(root, "src", "build", f), "utf8"));
    if (m) inputs[`src/build/${f}#RECIPE`] = m[1]!;
  }
  const sorted = Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const digest = `sha256:${createHash("sha256").update(Object.entries(sorted).map(([k, v]) => `${k}\t${v}\n`).join("")).digest("hex")}`;
  return { digest, inputs: sorted };
}

export async function readReleaseRecord(root: string): Promise<ReleaseRecord> {
  let text: string;
  try {
    text = await readFile(join(root, RELEASE_FILE), "utf8");
  } catch (e) {
    throw new InvalidInputError(`${RELEASE_FILE}: ${(e as Error).message}`);
  }
  return parseReleaseRecord(text);
}

/** The same, for callers that resolve names synchronously (a config's `{version}`). */
export function readReleaseRecordSync(root: string): ReleaseRecord {
  let text: string;
  try {
    text = readFileSync(join(root, RELEASE_FILE), "utf8");
  } catch (e) {
    throw new InvalidInputError(`${RELEASE_FILE}: ${(e as Error).message}`);
  }
  return parseReleaseRecord(text);
}

function parseReleaseRecord(text: string): ReleaseRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${RELEASE_FILE}: ${(e as Error).message}`);
  }
  const r = raw as ReleaseRecord;
  if (!r || typeof r !== "object" || !Number.isInteger(r.revision) || r.revision < 1) {
    throw new InvalidInputError(`${RELEASE_FILE}: "revision" must be a whole number from 1 up`);
  }
  return r;
}

export async function writeReleaseRecord(root: string, r: ReleaseRecord): Promise<void> {
  const out = { $comment: RELEASE_COMMENT, revision: r.revision, tailscale: r.tailscale, fingerprint: r.fingerprint, inputs: r.inputs };
  await atomicWriteFile(join(root, RELEASE_FILE), JSON.stringify(out, null, 2) + "\n");
}

export async function currentTailscale(root: string): Promise<string> {
  const gomod = await readFile(join(root, "go", "go.mod"), "utf8");
  const v = requiredVersion(gomod, TAILSCALE_MODULE);
  if (!v) throw new InvalidInputError(`go/go.mod does not require ${TAILSCALE_MODULE}`);
  return v;
}

export type ReleaseNeed =
  | { kind: "none" }
  /** Tailscale moved: the revision starts again at 1. */
  | { kind: "tailscale"; from?: string; to: string }
  /** Our inputs changed at the same Tailscale version. */
  | { kind: "changed"; changed: string[] };

export interface ReleaseStatus {
  record: ReleaseRecord;
  tailscale: string;
  fingerprint: Fingerprint;
  /** The version a build makes now: v<tailscale>-mt.<recorded revision>. */
  version: string;
  need: ReleaseNeed;
  /** The version after `release`. */
  next: string;
}

/** Which inputs differ between two input maps (added, removed or changed). */
export function changedInputs(before: Record<string, string> | undefined, after: Record<string, string>): string[] {
  if (!before) return ["(no inputs recorded)"];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((k) => before[k] !== after[k]).map((k) => (!(k in before) ? `${k} (new)` : !(k in after) ? `${k} (gone)` : k));
}

export async function releaseStatus(root: string): Promise<ReleaseStatus> {
  const record = await readReleaseRecord(root);
  const tailscale = await currentTailscale(root);
  const fingerprint = await computeFingerprint(root);
  const version = formatImageVersion(tailscale, record.revision);
  let need: ReleaseNeed;
  let next = version;
  if (record.tailscale !== tailscale) {
    need = { kind: "tailscale", ...(record.tailscale ? { from: record.tailscale } : {}), to: tailscale };
    next = formatImageVersion(tailscale, 1);
  } else if (record.fingerprint !== fingerprint.digest) {
    need = { kind: "changed", changed: changedInputs(record.inputs, fingerprint.inputs) };
    next = formatImageVersion(tailscale, record.revision + 1);
  } else {
    need = { kind: "none" };
  }
  return { record, tailscale, fingerprint, version, need, next };
}

export interface ReleaseOutcome {
  from: string;
  to: string;
  need: ReleaseNeed;
  written: boolean;
}

/**
 * Brings config/release.json up to date. `unchanged` records new inputs
 * without raising the revision: for a change known not to alter the image
 * (say, a refactor of a build step that keeps its RECIPE).
 */
export async function applyRelease(root: string, opts: { unchanged?: boolean; dryRun?: boolean } = {}): Promise<ReleaseOutcome> {
  const s = await releaseStatus(root);
  if (s.need.kind === "none") return { from: s.version, to: s.version, need: s.need, written: false };
  let revision: number;
  if (s.need.kind === "tailscale") {
    if (opts.unchanged) throw new UsageError(`--unchanged cannot apply: Tailscale moved to ${s.tailscale}, so the revision starts again at 1`);
    revision = 1;
  } else {
    revision = opts.unchanged ? s.record.revision : s.record.revision + 1;
  }
  const to = formatImageVersion(s.tailscale, revision);
  if (!opts.dryRun) {
    await writeReleaseRecord(root, { revision, tailscale: s.tailscale, fingerprint: s.fingerprint.digest, inputs: s.fingerprint.inputs });
  }
  return { from: s.version, to, need: s.need, written: !opts.dryRun };
}

/** One paragraph saying what is stale and what to run; empty when nothing is. */
export function staleMessage(s: ReleaseStatus): string {
  switch (s.need.kind) {
    case "none":
      return "";
    case "tailscale":
      return `${RELEASE_FILE} counts revisions at Tailscale ${s.need.from ?? "(none)"}, but go/go.mod pins ${s.need.to}: run 'mikrotik-tailscale release' (the next version is ${s.next}) and commit ${RELEASE_FILE}`;
    case "changed":
      return (
        `inputs that shape the image changed since ${s.version} (${s.need.changed.join(", ")}): run 'mikrotik-tailscale release' ` +
        `to make it ${s.next}, or 'mikrotik-tailscale release --unchanged' if the image stays the same; then commit ${RELEASE_FILE}`
      );
  }
}
