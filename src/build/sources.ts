import { readFileSync, readdirSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FailureError, IntegrityError } from "../errors.js";
import { atomicWriteFile, exists, sha256, sha256File } from "../util/fsx.js";
import { cacheRoot } from "../paths.js";
import type { Progress } from "../util/progress.js";

/**
 * The Debian archive mirrors apt is configured with (deb822 `.sources` and
 * one-line `.list` formats). Used to find a source package's orig tarball,
 * which for BusyBox is the upstream release tarball byte for byte.
 */
export function parseAptSourceUris(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t.startsWith("#")) continue;
    let m = /^URIs:\s*(.+)$/i.exec(t);
    if (m) {
      uris.push(...m[1]!.split(/\s+/));
      continue;
    }
    m = /^deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+:\/\/\S+)/.exec(t);
    if (m) uris.push(m[1]!);
  }
  return [...new Set(uris.map((u) => u.replace(/\/+$/, "")))];
}

export function aptMirrorUris(root = "/etc/apt"): string[] {
  const texts: string[] = [];
  try {
    texts.push(readFileSync(join(root, "sources.list"), "utf8"));
  } catch {}
  try {
    for (const f of readdirSync(join(root, "sources.list.d")).sort()) {
      if (f.endsWith(".list") || f.endsWith(".sources")) texts.push(readFileSync(join(root, "sources.list.d", f), "utf8"));
    }
  } catch {}
  return parseAptSourceUris(texts.join("\n"));
}

/** Debian pool path of a source package's orig tarball. */
export function debianOrigPath(pkg: string, upstreamVersion: string, ext: string): string {
  const prefix = pkg.startsWith("lib") ? pkg.slice(0, 4) : pkg.slice(0, 1);
  return `pool/main/${prefix}/${pkg}/${pkg}_${upstreamVersion}.orig.${ext}`;
}

export interface PinnedDownload {
  /** File name in the source cache. */
  name: string;
  sha256: string;
  /** Candidate URLs, tried in order; the first whose bytes match wins. */
  urls: string[];
}

/**
 * Returns a local path to the pinned file, downloading it if needed. Bytes
 * are used only when their sha256 matches the pin; a mismatch from every
 * candidate is an IntegrityError, never a silent fallback.
 */
export async function fetchPinned(spec: PinnedDownload, progress: Progress): Promise<string> {
  const dir = join(cacheRoot(), "sources");
  const path = join(dir, `${spec.sha256.slice(0, 16)}-${spec.name}`);
  if ((await exists(path)) && (await sha256File(path)) === spec.sha256) return path;
  const local = process.env.MIKROTIK_TAILSCALE_SOURCES;
  if (local) {
    const candidate = join(local, spec.name);
    if ((await exists(candidate)) && (await sha256File(candidate)) === spec.sha256) {
      await mkdir(dir, { recursive: true });
      await copyFile(candidate, path);
      return path;
    }
  }
  const failures: string[] = [];
  let mismatch = false;
  for (const url of spec.urls) {
    progress.detail(`fetching ${url}`);
    let body: Uint8Array;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      if (!res.ok) {
        failures.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      body = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      failures.push(`${url}: ${(e as Error).cause ? String((e as Error).cause) : (e as Error).message}`);
      continue;
    }
    const got = sha256(body);
    if (got !== spec.sha256) {
      mismatch = true;
      failures.push(`${url}: sha256 ${got} does not match the pinned ${spec.sha256}`);
      continue;
    }
    await atomicWriteFile(path, body);
    progress.info(`${spec.name}: sha256 verified`);
    return path;
  }
  const msg = `could not get ${spec.name} with the pinned sha256:\n  ${failures.join("\n  ")}`;
  throw mismatch ? new IntegrityError(msg) : new FailureError(msg);
}
