import { allArchitectures, type ArchName } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";

/** Parts of a BuildRecord a test wants different from the defaults. */
export interface RecordOverrides {
  tailscale?: Partial<BuildRecord["tailscale"]>;
  busybox?: Partial<BuildRecord["busybox"]>;
  caBundle?: Partial<BuildRecord["caBundle"]>;
}

/** A plausible build record for synthetic image tests (no build needed). */
export function fakeRecord(arch: ArchName, over: RecordOverrides = {}): BuildRecord {
  const a = allArchitectures().find((x) => x.name === arch)!;
  return {
    schema: 3,
    arch,
    platform: { os: "linux", ...a.platform },
    profile: "small",
    tailscale: {
      version: "v1.102.5",
      goVersion: "go1.26.8",
      tags: ["ts_include_cli", "ts_omit_aws"],
      features: ["osrouter", "netstack"],
      omittedFeatures: ["aws"],
      modules: [],
      goEnv: {},
      ldflags: "-s -w",
      gcflags: [],
      upx: true,
      upxArgs: ["--lzma", "--best"],
      ...over.tailscale,
    },
    busybox: { version: "1.37.0", tarballSha256: "b".repeat(64), applets: ["sh"], upx: true, upxArgs: ["--lzma", "--best"], ...over.busybox },
    caBundle: {
      module: "golang.org/x/crypto/x509roots/fallback",
      version: "v0.0.1",
      sum: "h1:c=",
      sha256: "c".repeat(64),
      included: 1,
      droppedDistrustAfter: 0,
      ...over.caBundle,
    },
    healthcheck: { sourceSha256: "5".repeat(64), gccArgs: ["-Os", "-static"], toolchain: "gcc 12.2.0 musl 1.2.3-1" },
    sizes: { tailscale: 1, busybox: 1, caBundle: 1, healthcheck: 1, other: 1, total: 5 },
  };
}
