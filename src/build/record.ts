import type { ArchName } from "../arch.js";

/** Build profiles: `small` packs binaries with UPX and disables inlining; `fast` does neither. */
export const PROFILES = ["small", "fast"] as const;
export type Profile = (typeof PROFILES)[number];

export interface GoModuleRef {
  path: string;
  version: string;
  /** go.sum h1: hash of the module zip. */
  sum: string;
  /** A go.mod `replace`: the code linked is this module version, not the one required. */
  replacedBy?: { path: string; version: string; sum: string };
}

/** An edit to a pinned upstream source file (go/source-patches.json), as built. */
export interface SourcePatchRef {
  module: string;
  file: string;
  why: string;
  sha256: string;
  patchedSha256: string;
}

/**
 * Everything known about one architecture's root filesystem after `build`:
 * written next to it as dist/rootfs/<arch>.build.json. Image writing, SBOMs
 * and `inspect` read this instead of re-deriving anything.
 */
export interface BuildRecord {
  schema: 3;
  arch: ArchName;
  platform: { os: "linux"; architecture: string; variant?: string };
  profile: Profile;
  /**
   * The release fingerprint of the sources it was built from (config/release.json's
   * kind): builds of different sources never make one release together.
   */
  fingerprint?: string;
  tailscale: {
    version: string;
    /** Upstream git commit of the release, where the module proxy reports it. */
    commit?: string;
    goVersion: string;
    /** Full tag list given to `go build` (ts_include_cli + ts_omit_*). */
    tags: string[];
    /** Allowlisted features (config/image.yaml tailscale.features). */
    features: string[];
    /** Features the pinned release knows about and this build omits. */
    omittedFeatures: string[];
    /** Every module linked into the binary, from `go version -m` before packing. */
    modules: GoModuleRef[];
    goEnv: Record<string, string>;
    ldflags: string;
    /** Each `-gcflags=` argument given to `go build`, in order (the last matching pattern wins). */
    gcflags: string[];
    upx: boolean;
    /** UPX's arguments when packed (empty otherwise). */
    upxArgs: string[];
    /** Edits applied to upstream sources before building; absent when none. */
    sourcePatches?: SourcePatchRef[];
  };
  busybox: {
    version: string;
    /** sha256 of the upstream release tarball. */
    tarballSha256: string;
    applets: string[];
    upx: boolean;
    upxArgs: string[];
  };
  caBundle: {
    module: string;
    version: string;
    sum: string;
    sha256: string;
    included: number;
    droppedDistrustAfter: number;
  };
  /** The health checker (config/image.yaml healthcheck), compiled from C. */
  healthcheck: {
    sourceSha256: string;
    /** gcc's arguments but the output and source names. */
    gccArgs: string[];
    /** The cross gcc, musl and kernel headers versions. */
    toolchain: string;
  };
  sizes: SizeReport;
}

export interface SizeReport {
  tailscale: number;
  busybox: number;
  caBundle: number;
  healthcheck: number;
  other: number;
  /** Sum of regular file sizes: what RouterOS stores once the image is extracted. */
  total: number;
}
