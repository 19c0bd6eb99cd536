import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { InvalidInputError, UsageError } from "../../errors.js";
import { digestOf } from "../../image/digest.js";
import { ImageFormatError, inspectLayout, inspectTar, type ImageReport, type InspectReport, type LayerFile } from "../../image/inspect.js";
import { boolOpt, type Command } from "../command.js";

function modeString(f: LayerFile): string {
  const t = { file: "-", dir: "d", symlink: "l", hardlink: "h", other: "?" }[f.type];
  const bits = "rwxrwxrwx";
  let s = "";
  for (let i = 0; i < 9; i++) s += f.mode & (1 << (8 - i)) ? bits[i] : "-";
  if (f.mode & 0o1000) s = s.slice(0, 8) + (f.mode & 0o001 ? "t" : "T");
  if (f.mode & 0o2000) s = s.slice(0, 5) + (f.mode & 0o010 ? "s" : "S") + s.slice(6);
  if (f.mode & 0o4000) s = s.slice(0, 2) + (f.mode & 0o100 ? "s" : "S") + s.slice(3);
  return t + s;
}

function platformString(p: ImageReport["platform"]): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** Human-readable report; `all` lists directories and symlinks too. */
export function formatReport(r: InspectReport, source: string, all: boolean): string {
  const out: string[] = [];
  const kv = (k: string, v: string) => out.push(`  ${k.padEnd(12)} ${v}`);
  out.push(`${source}: ${r.format}, ${r.images.length} image${r.images.length === 1 ? "" : "s"}`);
  if (r.indexDigest) out.push(`index ${r.indexDigest}${r.indexNames?.length ? ` (${r.indexNames.join(", ")})` : ""}`);
  for (const img of r.images) {
    out.push("");
    out.push(`image ${img.names.length ? img.names.join(", ") : "(unnamed)"}`);
    kv("platform", platformString(img.platform));
    if (img.created) kv("created", img.created);
    kv("tailscale", img.tailscaleVersion ? `${img.tailscaleVersion}${img.goVersion ? ` (${img.goVersion})` : ""}` : "unknown (not a mikrotik-tailscale image?)");
    kv("busybox", img.busyboxVersion ?? "unknown");
    if (img.profile) kv("profile", img.profile);
    if (img.features) kv("features", img.features.join(",") || "(none)");
    if (img.buildTags) kv("build tags", img.buildTags.join(",") || "(none)");
    if (img.entrypoint) kv("entrypoint", JSON.stringify(img.entrypoint));
    if (img.cmd) kv("cmd", JSON.stringify(img.cmd));
    if (img.volumes?.length) kv("volumes", img.volumes.join(" "));
    if (img.manifestDigest) kv("manifest", img.manifestDigest);
    kv("config", `${img.config.digest} ${img.config.size} bytes`);
    img.layers.forEach((l, i) => {
      kv(
        i === 0 ? "layer" : "",
        `${l.digest} ${l.size} bytes${l.compression === "gzip" ? ` gzip; diff_id ${l.diffId} ${l.uncompressedSize} bytes` : ", uncompressed"}`,
      );
    });
    if (img.sbom) kv("sbom", `${img.sbom.location}: ${img.sbom.digest} ${img.sbom.size} bytes, ${img.sbom.packages} packages`);
    for (const [i, l] of img.layers.entries()) {
      const files = l.files.filter((f) => f.type === "file");
      const total = files.reduce((n, f) => n + f.size, 0);
      const count = (t: LayerFile["type"]) => l.files.filter((f) => f.type === t).length;
      out.push(
        `  files${img.layers.length > 1 ? ` (layer ${i + 1})` : ""}: ${files.length} regular (${total} bytes), ` +
          `${count("dir")} directories, ${count("symlink")} symlinks` +
          `${count("hardlink") ? `, ${count("hardlink")} hard links` : ""}${count("other") ? `, ${count("other")} other` : ""}`,
      );
      for (const f of l.files) {
        if (!all && f.type !== "file" && f.type !== "hardlink") continue;
        const size = f.type === "file" ? String(f.size) : "-";
        const digest = (f.digest ?? "-").padEnd(71);
        const link = f.type === "symlink" ? ` -> ${f.target}` : f.type === "hardlink" ? ` => ${f.target}` : "";
        out.push(`    ${modeString(f)} ${f.uid}:${f.gid} ${size.padStart(9)} ${digest} ${f.path}${link}`);
      }
    }
  }
  if (r.warnings.length) {
    out.push("");
    for (const w of r.warnings) out.push(`warning: ${w}`);
  }
  return out.join("\n");
}

/** Reads and checks an image file or OCI layout folder; throws InvalidInputError when it is not a valid image. */
export function inspectPath(path: string): InspectReport {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InvalidInputError(`${path}: no such file or folder`);
  }
  try {
    if (st.isDirectory()) {
      return inspectLayout({
        read: (rel) => {
          const p = join(path, ...rel.split("/"));
          try {
            return statSync(p).isFile() ? new Uint8Array(readFileSync(p)) : undefined;
          } catch {
            return undefined;
          }
        },
      });
    }
    if (!st.isFile()) throw new InvalidInputError(`${path}: not a regular file or a folder`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new InvalidInputError(`${path}: cannot read: ${(e as Error).message}`);
    }
    const report = inspectTar(bytes);
    if (report.format === "docker-archive") checkSbomBeside(path, report);
    return report;
  } catch (e) {
    if (e instanceof ImageFormatError) throw new InvalidInputError(`${path}: not a valid image: ${e.message}`);
    throw e;
  }
}

/** `x.tar` may have `x.spdx.json` beside it (we write one); say whether it describes this layer. */
function checkSbomBeside(path: string, report: InspectReport): void {
  if (!path.endsWith(".tar")) return;
  const sbomPath = path.slice(0, -4) + ".spdx.json";
  if (!existsSync(sbomPath)) return;
  const img = report.images[0];
  if (!img || report.images.length !== 1) return;
  let doc: { spdxVersion?: unknown; packages?: unknown };
  let text: string;
  try {
    text = readFileSync(sbomPath, "utf8");
    doc = JSON.parse(text) as typeof doc;
  } catch {
    report.warnings.push(`${basename(sbomPath)} beside it is not valid JSON`);
    return;
  }
  if (typeof doc.spdxVersion !== "string" || !Array.isArray(doc.packages)) {
    report.warnings.push(`${basename(sbomPath)} beside it is not an SPDX document`);
    return;
  }
  if (!img.layers.every((l) => text.includes(l.diffId))) {
    report.warnings.push(`${basename(sbomPath)} beside it describes a different layer`);
    return;
  }
  img.sbom = { location: basename(sbomPath), digest: digestOf(text), size: Buffer.byteLength(text), packages: doc.packages.length };
}

export const inspectCommand: Command = {
  name: "inspect",
  summary: "check an image file (.tar) or OCI layout folder and show what is in it",
  usage: [
    "inspect <image.tar | oci-folder> [--all] [--json]",
    "",
    "Verifies every digest, size and diff_id and prints per image: platform,",
    "Tailscale and busybox versions, features, build tags, and each file's size",
    "and sha256. Exit 1 if it is not a valid image.",
    "",
    "--all    list directories and symlinks too",
    "--json   machine-readable output",
  ],
  options: {
    all: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(args) {
    if (args.positionals.length !== 1) throw new UsageError("inspect: give exactly one image file or OCI layout folder");
    const path = args.positionals[0]!;
    const report = inspectPath(path);
    if (boolOpt(args, "json")) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else process.stdout.write(formatReport(report, path, boolOpt(args, "all")) + "\n");
    return 0;
  },
};
