import { ConfigError } from "./errors.js";

/** A RouterOS version, e.g. 7.21.2 (channel suffixes such as "(stable)" are dropped). */
export interface RouterOsVersion {
  major: number;
  minor: number;
  patch: number;
  /** As written by the user or printed by the router, trimmed. */
  text: string;
}

/** The oldest and newest RouterOS minor releases whose container syntax this tool knows. */
export const OLDEST_KNOWN_MINOR = 16;
export const NEWEST_KNOWN_MINOR = 22;

export function knownVersionsText(): string {
  return `7.${OLDEST_KNOWN_MINOR} to 7.${NEWEST_KNOWN_MINOR}.x`;
}

/**
 * Parses "7.21", "7.21.2", "7.21.2 (stable)", "7.22rc1". Throws ConfigError for
 * anything this tool does not know the syntax of.
 */
export function parseRouterOsVersion(input: string): RouterOsVersion {
  const text = String(input).trim();
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:(?:beta|rc)\d+)?(?:\s*\([a-z ]+\))?$/i.exec(text);
  if (!m) throw new ConfigError(`unknown RouterOS version '${text}' (expected e.g. 7.21.2; known: ${knownVersionsText()})`);
  const v = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: text.replace(/\s*\(.*\)$/, "") };
  if (v.major !== 7 || v.minor < OLDEST_KNOWN_MINOR || v.minor > NEWEST_KNOWN_MINOR) {
    throw new ConfigError(`unknown RouterOS version '${text}' (this tool knows ${knownVersionsText()})`);
  }
  return v;
}

export function atLeast(v: RouterOsVersion, minor: number, patch = 0): boolean {
  if (v.major !== 7) return v.major > 7;
  return v.minor > minor || (v.minor === minor && v.patch >= patch);
}

/**
 * The parts of the container menus whose names depend on the version:
 * envs `name` -> `list` and container `envlist` -> `envlists` from 7.20;
 * mounts `name` -> `list` and container `mounts` -> `mountlists` from 7.21;
 * per-container `tmpfs` from 7.21.2.
 */
export interface Syntax {
  /** Key of /container/envs that groups entries. */
  envsListKey: "name" | "list";
  /** Container field naming the env list(s). */
  containerEnvField: "envlist" | "envlists";
  /** Key of /container/mounts that names/groups a mount. */
  mountsListKey: "name" | "list";
  /** Container field naming the mount(s) or mount list(s). */
  containerMountsField: "mounts" | "mountlists";
  /** Whether /container has a per-container `tmpfs` setting. */
  containerTmpfs: boolean;
}

export function syntaxFor(v: RouterOsVersion): Syntax {
  const from720 = atLeast(v, 20);
  const from721 = atLeast(v, 21);
  return {
    envsListKey: from720 ? "list" : "name",
    containerEnvField: from720 ? "envlists" : "envlist",
    mountsListKey: from721 ? "list" : "name",
    containerMountsField: from721 ? "mountlists" : "mounts",
    containerTmpfs: atLeast(v, 21, 2),
  };
}

/** Lists where two syntaxes differ, for an error message; empty when they agree. */
export function syntaxDifferences(a: Syntax, b: Syntax): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof Syntax)[]) {
    if (a[k] !== b[k]) out.push(`${k}: ${String(a[k])} vs ${String(b[k])}`);
  }
  return out;
}
