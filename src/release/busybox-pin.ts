import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { busyboxTarballUrls } from "../build/busybox.js";
import { FailureError, IntegrityError, UsageError } from "../errors.js";
import { tryRun } from "../util/exec.js";
import { atomicWriteFile } from "../util/fsx.js";

/*
 * `bump busybox`: the busybox pin in config/pins.json is a version and the
 * sha256 of its release tarball, and the two must move together. This
 * downloads the tarball of the pinned (or given) version from every place the
 * build would fetch it from, requires the copies to agree and to match the
 * upstream `.sha256` file where one is published, and writes both fields.
 * Renovate moves the version; its post-upgrade task runs this for the hash.
 */

export interface BusyboxPinOptions {
  configDir: string;
  /** Pin this version (default: the version already in pins.json, to refresh its hash). */
  version?: string;
  /** Where the tarball can come from (default: what the build uses). */
  urls?: (version: string) => string[];
  dryRun?: boolean;
  log?: (line: string) => void;
  timeoutMs?: number;
}

export interface BusyboxPinResult {
  from: { version: string; sha256: string };
  to: { version: string; sha256: string };
  /** URLs whose bytes were hashed. */
  sources: string[];
  /** The published checksum file that matched, if any. */
  checkedAgainst?: string;
  written: boolean;
}

async function get(url: string, timeoutMs: number): Promise<{ ok: true; bytes: Buffer } | { ok: false; why: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, why: `HTTP ${res.status}` };
    }
    return { ok: true, bytes: Buffer.from(await res.arrayBuffer()) };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, why: err.cause?.code ?? err.cause?.message ?? err.message };
  }
}

export async function pinBusybox(o: BusyboxPinOptions): Promise<BusyboxPinResult> {
  const log = o.log ?? (() => {});
  const path = join(o.configDir, "pins.json");
  const pins = JSON.parse(await readFile(path, "utf8")) as { busybox?: { version?: string; sha256?: string } } & Record<string, unknown>;
  if (!pins.busybox?.version) throw new FailureError("config/pins.json has no busybox.version");
  const from = { version: pins.busybox.version, sha256: pins.busybox.sha256 ?? "" };
  const version = o.version ?? from.version;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new UsageError(`busybox version '${version}' does not look like 1.37.0`);
  const urls = (o.urls ?? busyboxTarballUrls)(version);
  const timeoutMs = o.timeoutMs ?? 120_000;
  const hashes = new Map<string, string>();
  const failures: string[] = [];
  let checkedAgainst: string | undefined;
  const published: { url: string; hash: string }[] = [];
  for (const url of urls) {
    const r = await get(url, timeoutMs);
    if (!r.ok) {
      failures.push(`${url}: ${r.why}`);
      continue;
    }
    const h = createHash("sha256").update(r.bytes).digest("hex");
    hashes.set(url, h);
    log(`${url}: sha256 ${h}`);
    const sum = await get(`${url}.sha256`, timeoutMs);
    if (sum.ok) {
      const m = /^([0-9a-f]{64})\b/m.exec(sum.bytes.toString("utf8").trim());
      if (m) published.push({ url: `${url}.sha256`, hash: m[1]! });
    }
  }
  if (hashes.size === 0) throw new FailureError(`could not download busybox ${version} from anywhere:\n  ${failures.join("\n  ")}`);
  const distinct = new Set(hashes.values());
  if (distinct.size > 1) {
    throw new IntegrityError(`busybox ${version}: the copies differ:\n  ${[...hashes].map(([u, h]) => `${u}: ${h}`).join("\n  ")}`);
  }
  const sha256 = [...distinct][0]!;
  for (const p of published) {
    if (p.hash !== sha256) throw new IntegrityError(`busybox ${version}: the tarball hashes to ${sha256} but ${p.url} says ${p.hash}`);
    checkedAgainst ??= p.url;
  }
  const to = { version, sha256 };
  const result: BusyboxPinResult = { from, to, sources: [...hashes.keys()], ...(checkedAgainst ? { checkedAgainst } : {}), written: false };
  if (from.version === to.version && from.sha256 === to.sha256) return result;
  if (!o.version && from.sha256 && from.sha256 !== to.sha256) {
    // The committed pin names this same version with other bytes: a republished or tampered
    // tarball, never rewritten silently. (A version that Renovate just moved is not committed yet.)
    const committed = await committedBusyboxPin(o.configDir);
    if (committed && committed.version === version && committed.sha256 !== sha256) {
      throw new IntegrityError(
        `busybox ${version} now hashes to ${sha256}, but the committed config/pins.json pins ${committed.sha256} for the same version; ` +
          "refusing to change the hash of a release (find out why first; --version " + version + " overrides)",
      );
    }
  }
  if (!o.dryRun) {
    pins.busybox = { ...pins.busybox, version, sha256 };
    await atomicWriteFile(path, JSON.stringify(pins, null, 2) + "\n");
    result.written = true;
  }
  return result;
}

/** The busybox pin in the last commit, when configDir is in a git checkout. */
async function committedBusyboxPin(configDir: string): Promise<{ version?: string; sha256?: string } | undefined> {
  const r = await tryRun("git", ["-C", configDir, "show", "HEAD:./pins.json"]);
  if (!r) return undefined;
  try {
    return (JSON.parse(r.stdout) as { busybox?: { version?: string; sha256?: string } }).busybox;
  } catch {
    return undefined;
  }
}
