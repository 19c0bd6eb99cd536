import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { FailureError } from "../errors.js";

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A sibling temporary name that never looks like the finished file. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/**
 * Writes a file so that readers see either the old content or the complete
 * new one: temporary name, flushed to disk, then renamed into place. The file
 * appears with exactly `mode` (not the umask's version of it), and renaming
 * replaces whatever was there, so an old file's wider mode never survives.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    // wx: never write through something already at the temporary name.
    const fh = await open(tmp, "wx", mode & 0o600);
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** A file that holds a secret (an auth key, a password): owner-only, whatever was there before. */
export async function writeSecretFile(path: string, data: string | Uint8Array): Promise<void> {
  await atomicWriteFile(path, data, 0o600);
}

/** What a rename onto a folder that is there already says (ENOTDIR: a file is there). */
const TAKEN = new Set(["ENOTEMPTY", "EEXIST", "ENOTDIR"]);

/**
 * Builds a directory under a temporary name and moves it into place only when
 * `fill` succeeds, so an interrupted build never leaves a half-filled folder.
 *
 * Other processes may put the same folder in place at the same moment (two
 * builds sharing a cache or a dist/). When the path is taken by then, `keep`
 * decides: true keeps that folder and discards ours (a cache entry is the same
 * bytes whoever made it, and may be in use); otherwise it is set aside and
 * ours takes its place, so the last writer wins. Readers see one complete
 * folder, or for an instant none, never a partial or mixed one. Returns
 * whether ours was put in place.
 */
export async function atomicDirectory(
  path: string,
  fill: (tmpDir: string) => Promise<void>,
  opts: { keep?: (path: string) => Promise<boolean> } = {},
): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const aside: string[] = [];
  try {
    await fill(tmp);
    // Each round either places ours or moves one competitor's folder aside; many writers at once may take a few.
    for (let round = 1; ; round++) {
      try {
        await rename(tmp, path);
        return true;
      } catch (e) {
        if (!TAKEN.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
      }
      if (opts.keep && (await opts.keep(path))) {
        await rm(tmp, { recursive: true, force: true });
        return false;
      }
      if (round > 100) throw new FailureError(`cannot put ${path} in place: other processes keep replacing it`);
      const old = tempSibling(path);
      try {
        await rename(path, old);
        aside.push(old);
      } catch (e) {
        // Another writer moved it first: try again.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    for (const old of aside) await rm(old, { recursive: true, force: true });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
