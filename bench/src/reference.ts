/**
 * Figures other projects publish, as collected in the project's field notes
 * (../shared/FIELD-NOTES.md, sections 2 and 5), and the targets of the
 * benchmark issue. Copied here so the report does not depend on a file
 * outside the repository; where the notes change, change this too.
 */

export const REFERENCE_SOURCE = "the reference image's docs/DESIGN.md, Lumpiasty/mikrotik-tailscale, via shared/FIELD-NOTES.md sections 2 and 5";

/** The reference image (UPX, with netstack), arm64, in the units it was published in. */
export const REFERENCE_ARM64 = {
  rootfsMB: 3.9,
  tailscaleMB: 3.47,
  busyboxKB: 218,
  caBundleKB: 213,
  /** Resident memory after start, on a router. */
  rssMB: 14.6,
  rssNoNetstackMB: 12.3,
};

export const OTHER_IMAGES: { what: string; figure: string; source: string }[] = [
  { what: "Fluent-networks/tailscale-mikrotik", figure: "~50 MB (88 MB before UPX)", source: "its PR #28" },
  { what: "rod-dot-codes image", figure: "16.6 MB (armv7), 29.9 MB (arm64)", source: "its README" },
  { what: "OpenWrt small builds", figure: "6-10 MB per arch", source: "fl0w1nd, ATIK455 repos" },
  { what: "throughput on a hAP ax2 / ax3 (router hardware)", figure: "~50-65 Mbps", source: "Fluent issues #49, README" },
];

/** The targets of issue 13 (bounded memory, inlined hot paths, against the reference recipe). */
export const TARGETS = {
  /** arm64 extracted root filesystem (small profile, every feature), bytes: 3.90 MB. */
  arm64RootfsBytes: 3_900_000,
  /** small's median throughput as a share of stock's. */
  smallThroughputOfStockPct: 95,
  /** RSS of each small node after trafficSeconds at the router rate, KiB (40 MiB). */
  routerRateRssKiB: 40 * 1024,
  /** No OOM kill at full speed under this cgroup cap (with the entrypoint's GOMEMLIMIT), MiB. */
  capMiB: 64,
  /** Issue 19: the new health check's CPU at most this share of the old one's, on every architecture measured. */
  healthcheckCpuShare: 1 / 20,
  /** Issue 19: the new health check's peak memory at most this (KiB) on every architecture measured. */
  healthcheckRssKiB: 1024,
  /** `routeros fleet status` over fleetRouters simulated routers (issue 20): wall time, ms. */
  fleetWallMs: 10_000,
  /** ...and the tool's peak RSS, KiB (200 MiB). */
  fleetRssKiB: 200 * 1024,
  fleetRouters: 100,
};
