import { UsageError } from "./errors.js";

/**
 * The four container architectures RouterOS runs, and everything each one
 * maps to: Go's target, the OCI platform, the Debian cross toolchain and musl
 * location, and the qemu-user program that runs its binaries here.
 */
export interface Architecture {
  /** Our short name, used in file names and on the command line. */
  readonly name: ArchName;
  readonly goarch: "amd64" | "arm64" | "arm";
  readonly goarm?: "5" | "7";
  /** OCI platform fields. */
  readonly platform: { readonly architecture: string; readonly variant?: string };
  /** What RouterOS prints as the device architecture. */
  readonly routerosArch: string;
  /** Debian GNU triplet of the cross gcc (its binaries are `<triplet>-gcc`). */
  readonly gnuTriplet: string;
  /** Debian multiarch name whose musl-dev we link against. */
  readonly debianArch: string;
  /** Directory name of musl in Debian's multiarch layout. */
  readonly muslTriplet: string;
  /** Extra flags so gcc emits code the oldest CPU of this class runs. */
  readonly cflags: readonly string[];
  /** qemu-user binary; undefined where the host runs it natively. */
  readonly qemu?: string;
  /** CPU model for qemu that is the weakest the architecture promises. */
  readonly qemuCpu?: string;
  /** What `file` and ELF headers say, for checks. */
  readonly elfMachine: number;
}

export const ARCH_NAMES = ["amd64", "arm64", "armv7", "armv5"] as const;
export type ArchName = (typeof ARCH_NAMES)[number];

const ARCHES: Record<ArchName, Architecture> = {
  amd64: {
    name: "amd64",
    goarch: "amd64",
    platform: { architecture: "amd64" },
    routerosArch: "x86",
    gnuTriplet: "x86_64-linux-gnu",
    debianArch: "amd64",
    muslTriplet: "x86_64-linux-musl",
    cflags: [],
    elfMachine: 62,
  },
  arm64: {
    name: "arm64",
    goarch: "arm64",
    platform: { architecture: "arm64", variant: "v8" },
    routerosArch: "arm64",
    gnuTriplet: "aarch64-linux-gnu",
    debianArch: "arm64",
    muslTriplet: "aarch64-linux-musl",
    cflags: [],
    qemu: "qemu-aarch64-static",
    elfMachine: 183,
  },
  armv7: {
    name: "armv7",
    goarch: "arm",
    goarm: "7",
    platform: { architecture: "arm", variant: "v7" },
    routerosArch: "arm",
    gnuTriplet: "arm-linux-gnueabihf",
    debianArch: "armhf",
    muslTriplet: "arm-linux-musleabihf",
    cflags: [],
    qemu: "qemu-arm-static",
    elfMachine: 40,
  },
  armv5: {
    name: "armv5",
    goarch: "arm",
    goarm: "5",
    platform: { architecture: "arm", variant: "v5" },
    routerosArch: "arm32v5",
    gnuTriplet: "arm-linux-gnueabi",
    debianArch: "armel",
    muslTriplet: "arm-linux-musleabi",
    // Debian's armel gcc defaults to ARMv5TE already; say so explicitly so a
    // toolchain with another default cannot slip ARMv6+ instructions in.
    cflags: ["-march=armv5te", "-mfloat-abi=soft", "-marm"],
    qemu: "qemu-arm-static",
    qemuCpu: "arm926",
    elfMachine: 40,
  },
};

export function architecture(name: string): Architecture {
  if (!(ARCH_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown architecture '${name}' (expected one of: ${ARCH_NAMES.join(", ")})`);
  }
  return ARCHES[name as ArchName];
}

export function allArchitectures(): Architecture[] {
  return ARCH_NAMES.map((n) => ARCHES[n]);
}

/** Parses a comma-separated --arch value; empty means all. */
export function parseArchList(value: string | undefined): Architecture[] {
  if (value === undefined || value.trim() === "" || value === "all") return allArchitectures();
  const names = value.split(",").map((s) => s.trim()).filter(Boolean);
  const seen = new Set<string>();
  const out: Architecture[] = [];
  for (const n of names) {
    const a = architecture(n);
    if (!seen.has(a.name)) out.push(a);
    seen.add(a.name);
  }
  return out;
}

/** OCI platform string, e.g. linux/arm/v7. */
export function platformString(a: Architecture): string {
  return `linux/${a.platform.architecture}${a.platform.variant ? `/${a.platform.variant}` : ""}`;
}

/** The environment `go build` needs for this target. */
export function goEnv(a: Architecture): Record<string, string> {
  const env: Record<string, string> = { GOOS: "linux", GOARCH: a.goarch, CGO_ENABLED: "0" };
  if (a.goarm) env.GOARM = a.goarm;
  return env;
}
