/** Flash figures: bytes of each extracted root filesystem, per component. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ArchName } from "../../src/arch.js";
import { readRecord, rootfsDir } from "../../src/build/index.js";
import { measureRootfs } from "../../src/build/sizes.js";
import { dockerArchivesFor } from "../../src/image/index.js";
import { fileSize } from "./builds.js";
import type { FlashRow, Variant } from "./results.js";

/** A row for one of our builds, from the root filesystem it left in outDir (measured again, not read from the record). */
export async function ourFlashRow(variant: "small" | "fast" | "baseline", outDir: string, arch: ArchName): Promise<FlashRow> {
  const rec = await readRecord(outDir, arch);
  const profile = variant === "baseline" ? "small" : variant;
  if (rec.profile !== profile) throw new Error(`${outDir} holds a ${rec.profile} build of ${arch}, expected ${profile}`);
  const sizes = await measureRootfs(rootfsDir(outDir, arch));
  let imageTar: number | undefined;
  try {
    const [tar] = dockerArchivesFor(await readdir(outDir), arch);
    imageTar = tar ? await fileSize(join(outDir, tar)) : undefined;
  } catch {
    imageTar = undefined;
  }
  return {
    variant,
    arch,
    tailscale: sizes.tailscale,
    tailscaleFiles: { "tailscale.combined": sizes.tailscale },
    busybox: sizes.busybox,
    caBundle: sizes.caBundle,
    // The health checker counts with the entrypoint and /etc files here (the build's own table has its column).
    other: sizes.other + sizes.healthcheck,
    total: sizes.total,
    ...(imageTar !== undefined ? { imageTar } : {}),
  };
}

/**
 * The stock row: upstream's tailscaled and tailscale in place of our
 * combined binary, everything else as in `rest` (our fast build: busybox
 * without UPX, the CA bundle, entrypoint and /etc files).
 */
export function stockFlashRow(arch: ArchName, bins: { tailscaled: number; tailscale: number }, rest: FlashRow): FlashRow {
  const ts = bins.tailscaled + bins.tailscale;
  return {
    variant: "stock",
    arch,
    tailscale: ts,
    tailscaleFiles: { tailscaled: bins.tailscaled, tailscale: bins.tailscale },
    busybox: rest.busybox,
    caBundle: rest.caBundle,
    other: rest.other,
    total: ts + rest.busybox + rest.caBundle + rest.other,
  };
}

export const STOCK_NOTE =
  "upstream's `tailscaled` and `tailscale` built separately from the same pinned module with `go build -trimpath " +
  '-ldflags "-s -w"` (plus the version stamp upstream\'s build script adds), default build tags, CGO off, no UPX: two ' +
  "files, as a full image ships them. The rest of its root filesystem (busybox, CA bundle, entrypoint, /etc files) " +
  "is counted as in our `fast` build (busybox without UPX), so the rows differ only in Tailscale.";

/**
 * A row for a combined binary the bench built itself (the reference recipe,
 * an inlining experiment): that binary in place of ours, everything else as
 * in `small` (busybox with UPX, the CA bundle, entrypoint and /etc files).
 */
export function recipeFlashRow(variant: Variant, arch: ArchName, binary: number, small: FlashRow): FlashRow {
  return {
    variant,
    arch,
    tailscale: binary,
    tailscaleFiles: { "tailscale.combined": binary },
    busybox: small.busybox,
    caBundle: small.caBundle,
    other: small.other,
    total: binary + small.busybox + small.caBundle + small.other,
  };
}

export const RECIPE_NOTE =
  "`reference` is the reference image's recipe built here at our Tailscale version (shared/FIELD-NOTES.md section 11): " +
  "`featuretags --min --add=osrouter` with its opt-ins' omit tags deleted (on 1.104 also udptransport and nattraversal, which 1.104 split out of every earlier build), `ts_include_cli`, `-trimpath -ldflags \"-s -w\" " +
  "-gcflags=all=-l`, `upx --lzma --best`. `small+runtime` and `small+net` are our small build with inlining also restored in " +
  "`runtime`, or in `tailscale.com/net/tstun`, `.../wgengine/magicsock` and `.../net/batching`. These rows put that binary in " +
  "place of ours and count the rest as in `small`, so they differ only in Tailscale. The reference is built for amd64 and arm64, the experiments for amd64 only.";
