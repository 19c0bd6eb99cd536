/**
 * The impure facts an image build needs about the project itself: the
 * reproducible timestamp, the git revision, and package.json's version and
 * source URL. Everything else in src/image is pure.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FailureError, UsageError } from "../errors.js";
import { tryRun } from "../util/exec.js";

/**
 * SOURCE_DATE_EPOCH from the environment, else the commit time of HEAD.
 * Every timestamp in an image (config `created`, labels, every tar mtime,
 * SBOM creation time) comes from this number.
 */
export async function defaultSourceDateEpoch(projectRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const v = env.SOURCE_DATE_EPOCH;
  if (v !== undefined && v.trim() !== "") {
    if (!/^\d{1,12}$/.test(v.trim())) {
      throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970 (e.g. 1700000000), got ${JSON.stringify(v)}`);
    }
    return Number(v.trim());
  }
  const r = await tryRun("git", ["-C", projectRoot, "log", "-1", "--format=%ct"]);
  const s = r?.stdout.trim();
  if (s && /^\d+$/.test(s)) return Number(s);
  throw new FailureError(
    "cannot tell the build time: SOURCE_DATE_EPOCH is not set and there is no git commit to take it from " +
      "(set SOURCE_DATE_EPOCH=<seconds since 1970>, e.g. SOURCE_DATE_EPOCH=$(date +%s))",
  );
}

/** The commit this project is built from, or "unknown" outside a git checkout. */
export async function gitRevision(projectRoot: string): Promise<string> {
  const r = await tryRun("git", ["-C", projectRoot, "rev-parse", "HEAD"]);
  const s = r?.stdout.trim();
  return s && /^[0-9a-f]{40,64}$/.test(s) ? s : "unknown";
}

export interface PackageInfo {
  version: string;
  /** package.json `repository` (string or .url) or `homepage`; "unknown" if neither. */
  source: string;
}

export async function readPackageInfo(projectRoot: string): Promise<PackageInfo> {
  let pkg: { version?: unknown; repository?: unknown; homepage?: unknown } = {};
  try {
    pkg = JSON.parse(await readFile(join(projectRoot, "package.json"), "utf8")) as typeof pkg;
  } catch {
    // Outside a checkout the defaults below are still honest.
  }
  const repo = pkg.repository;
  let source =
    typeof repo === "string"
      ? repo
      : repo && typeof repo === "object" && typeof (repo as { url?: unknown }).url === "string"
        ? (repo as { url: string }).url
        : typeof pkg.homepage === "string"
          ? pkg.homepage
          : "unknown";
  source = source.replace(/^git\+/, "").replace(/\.git$/, "");
  return { version: typeof pkg.version === "string" ? pkg.version : "0.0.0", source };
}
