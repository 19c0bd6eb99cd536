/**
 * The image as declared data (config/image.yaml): container config, the root
 * filesystem's layout, the busybox selection, the Tailscale feature allowlist
 * and the build flags per profile. `build` reads it, and the release
 * fingerprint hashes its parsed, canonical form, so a comment does not count
 * and every field does.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import type { BusyboxSelection } from "../build/busybox-config.js";
import { parseAppletList } from "../build/busybox-config.js";
import type { FeatureAllowlist } from "../build/features.js";
import { PROFILES, type Profile } from "../build/record.js";
import { InvalidInputError } from "../errors.js";
import { configDir } from "../paths.js";
import { validateInput } from "../util/validate.js";
import { canonicalJson } from "./digest.js";

export const IMAGE_SPEC_FILE = join("config", "image.yaml");

const RelPath = z
  .string()
  .regex(/^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._+@\[\]-]+(?:\/[A-Za-z0-9._+@\[\]-]+)*$/, "must be a relative path inside the image, without . or ..");
const Mode = z.string().regex(/^0?[0-7]{3,4}$/, "must be an octal mode like \"0755\"");
const Flag = z.string().min(1);

const ProfileSchema = z
  .object({
    gcflags: z.array(Flag),
    ldflags: z.array(Flag),
    upx: z.array(Flag),
    upxArm: z.array(Flag),
  })
  .strict();

const SpecSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, "must be a lowercase image name"),
    title: z.string().min(1),
    description: z.string().min(1),
    config: z
      .object({
        entrypoint: z.array(z.string().min(1)).min(1),
        cmd: z.array(z.string()),
        env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, "must be NAME=value")),
        volumes: z.array(z.string().regex(/^\/\S*$/, "must be an absolute path")),
        user: z.string(),
        labels: z.record(z.string().min(1), z.string()),
      })
      .strict(),
    rootfs: z
      .object({
        static: z.string().min(1),
        files: z.array(z.object({ path: RelPath, from: z.enum(["tailscale", "busybox", "ca-bundle", "healthcheck"]), mode: Mode }).strict()).min(1),
        links: z.record(RelPath, RelPath),
        appletDir: RelPath,
        dirs: z.record(RelPath, Mode),
      })
      .strict(),
    tailscale: z.object({ features: z.record(z.string().regex(/^[a-z0-9_]+$/, "is not a feature name"), z.string().trim().min(1, "needs a reason")) }).strict(),
    busybox: z
      .object({
        options: z.record(z.string().regex(/^[A-Z0-9_]+$/, "is not a Kconfig symbol (without CONFIG_)"), z.string().min(1)),
        applets: z.array(z.string().min(1)).min(1),
      })
      .strict(),
    healthcheck: z
      .object({
        source: RelPath,
        cflags: z.array(z.string().regex(/^-\S+$/, "must be one gcc flag")),
        ldflags: z.array(z.string().regex(/^-\S+$/, "must be one gcc flag")),
      })
      .strict(),
    profiles: z.record(z.string(), ProfileSchema),
  })
  .strict();

export type ImageSpec = z.infer<typeof SpecSchema>;
export type ProfileSpec = z.infer<typeof ProfileSchema>;
export type BuiltFile = ImageSpec["rootfs"]["files"][number]["from"];

/** Parses and checks config/image.yaml; one error naming the field. */
export function parseImageSpec(text: string, source = IMAGE_SPEC_FILE): ImageSpec {
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true });
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const spec = validateInput(SpecSchema, raw, source);
  const profiles = Object.keys(spec.profiles).sort();
  if (profiles.join(",") !== [...PROFILES].sort().join(",")) {
    throw new InvalidInputError(`${source}: profiles: must be exactly ${PROFILES.join(", ")} (has ${profiles.join(", ") || "none"})`);
  }
  for (const from of ["tailscale", "busybox", "ca-bundle", "healthcheck"] as const) {
    const n = spec.rootfs.files.filter((f) => f.from === from).length;
    if (n !== 1) throw new InvalidInputError(`${source}: rootfs.files: '${from}' must be placed exactly once (found ${n})`);
  }
  const placed = new Set(spec.rootfs.files.map((f) => f.path));
  for (const [link, target] of Object.entries(spec.rootfs.links)) {
    if (!placed.has(target)) throw new InvalidInputError(`${source}: rootfs.links.${link}: '${target}' is not one of rootfs.files`);
  }
  busyboxSelection(spec, source); // applet names and options checked now, not mid-build
  return spec;
}

let cached: { dir: string; spec: ImageSpec } | undefined;

/** config/image.yaml of this checkout (read once). */
export function loadImageSpec(dir = configDir): ImageSpec {
  if (cached?.dir === dir) return cached.spec;
  const spec = parseImageSpec(readFileSync(join(dir, "image.yaml"), "utf8"), dir === configDir ? IMAGE_SPEC_FILE : join(dir, "image.yaml"));
  cached = { dir, spec };
  return spec;
}

export function profileSpec(spec: ImageSpec, profile: Profile): ProfileSpec {
  return spec.profiles[profile]!;
}

/** Where the build puts one of its files. */
export function builtFilePath(spec: ImageSpec, from: BuiltFile): string {
  return spec.rootfs.files.find((f) => f.from === from)!.path;
}

export function parseMode(m: string): number {
  return parseInt(m, 8);
}

export function featureAllowlist(spec: ImageSpec): FeatureAllowlist {
  return { features: Object.entries(spec.tailscale.features).map(([name, reason]) => ({ name, reason: reason.trim() })) };
}

/** The busybox selection, checked by the same rules as ever (forbidden options, names, duplicates). */
export function busyboxSelection(spec: ImageSpec, source = IMAGE_SPEC_FILE): BusyboxSelection {
  const lines = [
    ...Object.entries(spec.busybox.options).map(([k, v]) => `CONFIG_${k}=${v}`),
    ...spec.busybox.applets,
  ];
  return parseAppletList(lines.join("\n") + "\n", `${source} (busybox)`);
}

/** The canonical text of the busybox selection: what its build cache key holds. */
export function busyboxSelectionText(spec: ImageSpec): string {
  return Buffer.from(canonicalJson(spec.busybox)).toString("utf8");
}
