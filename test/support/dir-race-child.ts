/**
 * One of many processes racing to fill the same folder (test/unit/cache.test.ts).
 *
 *   node --import tsx dir-race-child.ts cache <kind> <key> <fills> <id>   # cachedDir under $MIKROTIK_TAILSCALE_CACHE
 *   node --import tsx dir-race-child.ts replace <path> <fills> <id>       # atomicDirectory, as the dist/ writer does
 *
 * MT_RACE_FILES says how many files a fill writes. Prints "ready", waits for a line on stdin (so every process starts at once),
 * runs its fills concurrently, then prints one JSON line: the errors it saw
 * (writers' and readers'), and what it read back.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cachedDir } from "../../src/util/cache.js";
import { atomicDirectory } from "../../src/util/fsx.js";

const FILES = Number(process.env.MT_RACE_FILES);
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Writes FILES files holding `id`, yielding between them so fills interleave. */
async function fill(dir: string, id: string): Promise<void> {
  for (let i = 0; i < FILES; i++) {
    await writeFile(join(dir, `f${i}`), `${id}\n`);
    await tick();
  }
}

/** The folder's files as read now: their distinct contents and how many there are. */
async function look(dir: string): Promise<{ names: number; ids: string[] }> {
  const names = (await readdir(dir)).filter((n) => /^f\d+$/.test(n));
  const ids = new Set<string>();
  for (const n of names) ids.add((await readFile(join(dir, n), "utf8")).trim());
  return { names: names.length, ids: [...ids] };
}

const errors: string[] = [];
const seen: string[] = [];
const note = (where: string, e: unknown) => errors.push(`${where}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}`);

async function cacheFill(kind: string, key: string, n: number): Promise<void> {
  let dir: string;
  try {
    // Same key, same bytes: every filler writes the same content.
    ({ dir } = await cachedDir(kind, key, (out) => fill(out, "same")));
  } catch (e) {
    note(`fill ${n}`, e);
    return;
  }
  // A finished entry is used at once by its reader, and must stay whole while others race.
  for (let round = 0; round < 30; round++) {
    try {
      const r = await look(dir);
      if (r.names !== FILES || r.ids.join() !== "same") errors.push(`read ${n}: ${r.names} files, contents ${r.ids.join("|")}`);
    } catch (e) {
      note(`read ${n}`, e);
    }
    await tick();
  }
}

async function replaceFill(path: string, id: string): Promise<void> {
  try {
    await atomicDirectory(path, (tmp) => fill(tmp, id));
  } catch (e) {
    note(`fill ${id}`, e);
  }
  // Whatever is at the path now must be one writer's complete folder.
  for (let round = 0; round < 30; round++) {
    try {
      const names = (await readdir(path)).filter((n) => /^f\d+$/.test(n)).length;
      if (names !== FILES) errors.push(`listing after ${id}: ${names} of ${FILES} files`);
    } catch (e) {
      // Between the old folder going and the new one coming the path is briefly absent.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") note(`list after ${id}`, e);
    }
    await tick();
  }
}

const [mode, ...rest] = process.argv.slice(2);
process.stdout.write("ready\n");
await new Promise<void>((r) => process.stdin.once("data", () => r()));
if (mode === "cache") {
  const [kind, key, fills, id] = rest as [string, string, string, string];
  await Promise.all(Array.from({ length: Number(fills) }, (_, i) => cacheFill(kind, key, i).then(() => seen.push(`${id}.${i}`))));
} else {
  const [path, fills, id] = rest as [string, string, string];
  await Promise.all(Array.from({ length: Number(fills) }, (_, i) => replaceFill(path, `${id}.${i}`).then(() => seen.push(`${id}.${i}`))));
}
process.stdout.write(`${JSON.stringify({ errors, done: seen.length })}\n`);
process.stdin.destroy();
