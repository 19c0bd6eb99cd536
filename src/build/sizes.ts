import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { IMAGE_PATHS } from "../rootfs/assemble.js";
import type { SizeReport } from "./record.js";

/** Sums regular-file sizes in a tree: what the router stores once the image is extracted. */
export async function measureRootfs(dir: string): Promise<SizeReport> {
  const sizes: SizeReport = { tailscale: 0, busybox: 0, caBundle: 0, healthcheck: 0, other: 0, total: 0 };
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) {
        if (r === IMAGE_PATHS.tailscale) sizes.tailscale += st.size;
        else if (r === IMAGE_PATHS.busybox) sizes.busybox += st.size;
        else if (r === IMAGE_PATHS.caBundle) sizes.caBundle += st.size;
        else if (r === IMAGE_PATHS.healthcheck) sizes.healthcheck += st.size;
        else sizes.other += st.size;
        sizes.total += st.size;
      }
    }
  };
  await walk("");
  return sizes;
}

function human(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The table printed at the end of a build. */
export function sizeTable(rows: { arch: string; profile: string; sizes: SizeReport }[]): string {
  const header = ["arch", "profile", "tailscale.combined", "busybox", "CA bundle", "healthcheck", "other", "total on disk"];
  const body = rows.map((r) => [
    r.arch,
    r.profile,
    human(r.sizes.tailscale),
    human(r.sizes.busybox),
    human(r.sizes.caBundle),
    human(r.sizes.healthcheck),
    human(r.sizes.other),
    `${human(r.sizes.total)} (${r.sizes.total} B)`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt)].join("\n");
}
