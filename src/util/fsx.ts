import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

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

/**
 * Builds a directory under a temporary name and swaps it into place only when
 * `fill` succeeds, so an interrupted build never leaves a half-filled folder.
 */
export async function atomicDirectory(path: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    const old = tempSibling(path);
    const had = await exists(path);
    if (had) await rename(path, old);
    await rename(tmp, path);
    if (had) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
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
