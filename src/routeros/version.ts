import { ConfigError } from "./errors.js";

/** A RouterOS version, e.g. 7.21.2 or 7.23rc2 (channel suffixes such as "(stable)" are dropped). */
export interface RouterOsVersion {
  major: number;
  minor: number;
  patch: number;
  /** beta/rc builds come before the release they lead to. */
  pre?: { kind: "beta" | "rc"; n: number };
  /** As written by the user or printed by the router, trimmed, without the channel. */
  text: string;
}

/** The oldest RouterOS release whose container menus this tool knows how to drive. */
export const OLDEST_SUPPORTED = { major: 7, minor: 16 } as const;

const VERSION_RE = /^(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?(?:\s*\(([a-z ]+)\))?$/i;

/**
 * Parses "7.21", "7.21.2", "7.21.2 (stable)", "7.23rc1", "7.24beta2 (testing)".
 * Throws ConfigError for anything else and for releases before 7.16.
 */
export function parseRouterOsVersion(input: string): RouterOsVersion {
  const text = String(input).trim();
  const m = VERSION_RE.exec(text);
  if (!m) throw new ConfigError(`unknown RouterOS version '${text}' (expected e.g. 7.21.2, 7.24 or 7.25rc1)`);
  const v: RouterOsVersion = {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3] ?? 0),
    text: text.replace(/\s*\(.*\)$/, ""),
  };
  if (m[4]) v.pre = { kind: m[4].toLowerCase() as "beta" | "rc", n: Number(m[5]) };
  if (v.major < OLDEST_SUPPORTED.major || (v.major === OLDEST_SUPPORTED.major && v.minor < OLDEST_SUPPORTED.minor)) {
    throw new ConfigError(
      `RouterOS ${v.text} is too old: this tool needs RouterOS ${OLDEST_SUPPORTED.major}.${OLDEST_SUPPORTED.minor} or later (older container menus are not supported)`,
    );
  }
  return v;
}

/** Orders versions; a beta/rc sorts before its release, beta before rc. */
export function compareVersions(a: RouterOsVersion, b: RouterOsVersion): number {
  const rank = (v: RouterOsVersion) => (v.pre ? (v.pre.kind === "beta" ? 0 : 1) : 2);
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || rank(a) - rank(b) || (a.pre?.n ?? 0) - (b.pre?.n ?? 0);
}

export function atLeast(v: RouterOsVersion, minor: number, patch = 0): boolean {
  if (v.major !== 7) return v.major > 7;
  return v.minor > minor || (v.minor === minor && v.patch >= patch);
}

/** The release a version belongs to, without beta/rc: 7.23rc2 -> 7.23. */
export function releaseOf(v: RouterOsVersion): RouterOsVersion {
  const text = v.patch ? `${v.major}.${v.minor}.${v.patch}` : `${v.major}.${v.minor}`;
  return { major: v.major, minor: v.minor, patch: v.patch, text };
}

/**
 * Names of tree files: "7.21.2" or "nightly-7.25_ab434" (a nightly build of
 * 7.25). Returns undefined for anything else.
 */
export function parseTreeFileName(name: string): { version: RouterOsVersion; nightly: boolean } | undefined {
  const nightly = /^nightly-(\d+\.\d+(?:\.\d+)?)(?:_[\w]+)?$/.exec(name);
  const text = nightly ? nightly[1]! : name;
  if (!/^\d+\.\d+(?:\.\d+)?$/.test(text)) return undefined;
  try {
    return { version: parseRouterOsVersion(text), nightly: !!nightly };
  } catch {
    return undefined;
  }
}

/** Sorts tree file names by version (nightlies after the releases they precede). */
export function compareVersionText(a: string, b: string): number {
  const pa = parseTreeFileName(a);
  const pb = parseTreeFileName(b);
  if (!pa || !pb) return a.localeCompare(b);
  return compareVersions(pa.version, pb.version) || Number(pa.nightly) - Number(pb.nightly);
}
