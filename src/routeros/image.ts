import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Architecture } from "../arch.js";
import { InvalidInputError } from "../errors.js";
import { readTar } from "../image/tar.js";

/** What a docker-archive .tar says about itself. */
export interface ImageInfo {
  fileName: string;
  size: number;
  sha256: string;
  os: string;
  architecture: string;
  variant?: string;
  repoTags: string[];
  /** org.opencontainers.image.version, e.g. v1.98.5-mt.1. */
  version?: string;
  labels: Record<string, string>;
  /** sha256 of the image config: the image's id in Docker terms. */
  configDigest: string;
}

export const VERSION_LABEL = "org.opencontainers.image.version";

/** Parses a docker-archive held in memory. Throws InvalidInputError naming what is wrong. */
export function parseDockerArchive(buf: Buffer, fileName = "image.tar"): ImageInfo {
  let entries;
  try {
    entries = readTar(buf);
  } catch (e) {
    throw new InvalidInputError(`${fileName}: not a tar archive (${(e as Error).message})`);
  }
  const byName = new Map(entries.map((e) => [e.path.replace(/^\.\//, ""), e]));
  const manifestEntry = byName.get("manifest.json");
  if (!manifestEntry) {
    const oci = byName.has("index.json") || byName.has("oci-layout");
    throw new InvalidInputError(
      `${fileName}: no manifest.json: not a docker-archive${oci ? " (this is an OCI layout, which RouterOS does not import from a file)" : ""}`,
    );
  }
  let manifest: { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[];
  try {
    manifest = JSON.parse(Buffer.from(manifestEntry.data).toString("utf8"));
  } catch {
    throw new InvalidInputError(`${fileName}: manifest.json is not valid JSON`);
  }
  if (!Array.isArray(manifest) || manifest.length !== 1 || !manifest[0]?.Config) {
    throw new InvalidInputError(`${fileName}: manifest.json must describe exactly one image`);
  }
  const configEntry = byName.get(manifest[0].Config!);
  if (!configEntry) throw new InvalidInputError(`${fileName}: config blob ${manifest[0].Config} is missing`);
  let config: { os?: string; architecture?: string; variant?: string; config?: { Labels?: Record<string, string> | null } };
  try {
    config = JSON.parse(Buffer.from(configEntry.data).toString("utf8"));
  } catch {
    throw new InvalidInputError(`${fileName}: image config is not valid JSON`);
  }
  for (const l of manifest[0].Layers ?? []) {
    if (!byName.has(l)) throw new InvalidInputError(`${fileName}: layer ${l} is missing`);
  }
  const labels = config.config?.Labels ?? {};
  return {
    fileName,
    size: buf.length,
    sha256: createHash("sha256").update(buf).digest("hex"),
    os: config.os ?? "",
    architecture: config.architecture ?? "",
    variant: config.variant,
    repoTags: manifest[0].RepoTags ?? [],
    version: labels[VERSION_LABEL],
    labels,
    configDigest: `sha256:${createHash("sha256").update(configEntry.data).digest("hex")}`,
  };
}

export async function readImageInfo(path: string): Promise<ImageInfo> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new InvalidInputError(`cannot read image ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseDockerArchive(buf, basename(path));
}

export function imagePlatform(i: Pick<ImageInfo, "os" | "architecture" | "variant">): string {
  return `${i.os || "?"}/${i.architecture || "?"}${i.variant ? `/${i.variant}` : ""}`;
}

/** Whether an image's platform runs on an architecture (arm64's variant v8 is optional; arm needs the right variant). */
export function imageMatchesArch(i: Pick<ImageInfo, "os" | "architecture" | "variant">, a: Architecture): boolean {
  if (i.os && i.os !== "linux") return false;
  if (i.architecture !== a.platform.architecture) return false;
  if (a.platform.architecture === "arm") return (i.variant ?? "v7") === a.platform.variant;
  return true;
}

/** Pulls a version such as 1.98.5 or v1.98.5-mt.1 out of a tag, file name or log line. */
export function versionFromText(s: string | undefined): string | undefined {
  if (!s) return undefined;
  // Not part of a longer dotted number: a registry at 127.0.0.1:5000 names no version 127.0.0.
  const m = /(?<![\w.])v?(\d+\.\d+\.\d+(?:-mt\.\d+)?)(?![\d.]*\.\d)/.exec(s);
  return m ? `v${m[1]}` : undefined;
}

/** The version a file name or URL names (`.../mikrotik-tailscale-v1.104.2-arm64.tar` names v1.104.2). */
export function versionInName(pathOrUrl: string): string | undefined {
  return versionFromText(pathOrUrl.split("/").pop());
}

/**
 * A version named by a file name against the one a container runs. Release
 * file names carry the Tailscale version but not the `-mt.N` build, so
 * v1.104.2 matches v1.104.2-mt.3 only as far as the name tells
 * ("same-version"); a name with its build matches exactly or not at all.
 */
export function matchNamedVersion(running: string | undefined, named: string | undefined): "same" | "same-version" | "different" | "unknown" {
  if (!running || !named) return "unknown";
  if (running === named) return "same";
  if (!/-mt\.\d+$/.test(named) && running.startsWith(`${named}-mt.`)) return "same-version";
  return "different";
}
