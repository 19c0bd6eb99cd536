/*
 * Image versions: v<tailscale version>-mt.<N>, e.g. v1.102.5-mt.3. The
 * Tailscale part says which Tailscale is inside; N counts our own meaningful
 * changes at that Tailscale version (see src/release/release.ts).
 */

export interface ImageVersion {
  /** e.g. v1.102.5 */
  tailscale: string;
  major: number;
  minor: number;
  patch: number;
  revision: number;
  text: string;
}

const RE = /^v(\d+)\.(\d+)\.(\d+)-mt\.(\d+)$/;

export function parseImageVersion(s: string | undefined): ImageVersion | undefined {
  const m = s ? RE.exec(s.trim()) : null;
  if (!m) return undefined;
  const [major, minor, patch, revision] = m.slice(1).map(Number) as [number, number, number, number];
  if (revision < 1) return undefined;
  return { tailscale: `v${major}.${minor}.${patch}`, major, minor, patch, revision, text: s!.trim() };
}

export function formatImageVersion(tailscaleVersion: string, revision: number): string {
  const ts = tailscaleVersion.startsWith("v") ? tailscaleVersion : `v${tailscaleVersion}`;
  if (!/^v\d+\.\d+\.\d+$/.test(ts)) throw new Error(`not a release version of Tailscale: ${tailscaleVersion}`);
  if (!Number.isInteger(revision) || revision < 1) throw new Error(`release revision must be a whole number from 1 up, got ${revision}`);
  return `${ts}-mt.${revision}`;
}

/** Orders versions: Tailscale version first, then our revision. */
export function compareImageVersions(a: ImageVersion, b: ImageVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.revision - b.revision;
}

/** A Tailscale release version (`v1.102.5`), parsed; pre-releases and pseudo-versions are not. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

export function parseSemVer(s: string): SemVer | undefined {
  const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(s.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: s.trim() };
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Tailscale's stable releases have an even minor version; odd minors are unstable builds. */
export function isStableTailscale(v: SemVer): boolean {
  return v.minor % 2 === 0;
}
