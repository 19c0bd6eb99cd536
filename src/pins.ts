import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { InvalidInputError } from "./errors.js";
import { configDir, goModuleDir } from "./paths.js";
import { parseJsonInput } from "./util/validate.js";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

const VmKernel = z.object({
  package: z.string().regex(/^linux-image-[\w.+-]+$/, "must be a linux-image-* package name"),
  debArch: z.enum(["arm64", "armhf"]),
  version: z.string().regex(/^[\w.+~-]+$/, "must be a Debian version"),
  sha256: Sha256,
});

const PinsSchema = z.object({
  busybox: z.object({
    version: z.string().regex(/^\d+\.\d+\.\d+$/, "must look like 1.37.0"),
    sha256: Sha256,
  }),
  headscale: z.object({
    module: z.string().min(1),
    version: z.string().regex(/^v\d+\.\d+\.\d+$/),
  }),
  /**
   * Debian kernels the end-to-end router VMs boot (test/support/vm.ts), per
   * image architecture. Optional here so that tools reading only the image's
   * pins accept a file without them; the VM harness refuses to run without.
   */
  vmKernels: z
    .object({
      arm64: VmKernel,
      armv7: VmKernel,
    })
    .optional(),
});

export type Pins = z.infer<typeof PinsSchema>;

export function parsePins(text: string, source = "pins.json"): Pins {
  return parseJsonInput(text, PinsSchema, source);
}

export function loadPins(dir = configDir): Pins {
  return parsePins(readFileSync(join(dir, "pins.json"), "utf8"), join("config", "pins.json"));
}

export interface GoModulePins {
  /** Minimum Go version the module asks for (the `go` line). */
  goVersion: string;
  /** The Go that builds the images: the `toolchain` line, else the `go` line. */
  toolchainVersion: string;
  tailscaleVersion: string;
  caRootsVersion: string;
}

/** Reads the Tailscale and CA-roots versions from go/go.mod: the one place they are pinned. */
export function parseGoMod(text: string): GoModulePins {
  const goLine = /^go (\S+)$/m.exec(text)?.[1];
  const req = (mod: string) =>
    new RegExp(`^\\s*(?:require\\s+)?${mod.replace(/[.]/g, "\\.")}\\s+(v\\S+)`, "m").exec(text)?.[1];
  const tailscale = req("tailscale.com");
  const roots = req("golang.org/x/crypto/x509roots/fallback");
  if (!goLine || !tailscale || !roots) {
    throw new InvalidInputError("go/go.mod: expected a go line and requirements on tailscale.com and golang.org/x/crypto/x509roots/fallback");
  }
  return { goVersion: goLine, toolchainVersion: goModToolchain(text)!, tailscaleVersion: tailscale, caRootsVersion: roots };
}

/** The Go a go.mod builds with: its toolchain line, else its go line (e.g. "1.27.3"). */
export function goModToolchain(text: string): string | undefined {
  return /^toolchain go(\S+)$/m.exec(text)?.[1] ?? /^go (\S+)$/m.exec(text)?.[1];
}

export function loadGoModPins(dir = goModuleDir): GoModulePins {
  return parseGoMod(readFileSync(join(dir, "go.mod"), "utf8"));
}
