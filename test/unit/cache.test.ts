/**
 * Two builds sharing one cache (~/.cache/mikrotik-tailscale or
 * $MIKROTIK_TAILSCALE_CACHE) or one dist/: many separate processes fill the
 * same folder at the same moment. None may fail (a raw ENOTEMPTY from the
 * rename race was seen in 6 of 40 fills of one cache key), and nobody may see
 * a half-filled or half-replaced folder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";

const CHILD = join(projectRoot, "test/support/dir-race-child.ts");
const PROCESSES = 8;
const FILLS_PER_PROCESS = 5; // 40 fills in all
const FILES = 24;

interface Outcome {
  errors: string[];
  done: number;
}

/** Starts every child, waits until all are ready, then lets them go at once. */
async function race(args: (i: number) => string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Outcome[]> {
  const env = { ...process.env, MT_RACE_FILES: String(FILES), ...extraEnv };
  const children: ChildProcess[] = [];
  const outs: string[] = [];
  const ready: Promise<void>[] = [];
  const ended: Promise<number | null>[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, ...args(i)], { cwd: projectRoot, env, stdio: ["pipe", "pipe", "pipe"] });
    children.push(c);
    outs.push("");
    let err = "";
    ready.push(
      new Promise((resolve, reject) => {
        c.stdout!.on("data", (d: Buffer) => {
          outs[i] += d.toString();
          if (outs[i]!.startsWith("ready\n")) resolve();
        });
        c.once("exit", () => reject(new Error(`child ${i} ended before it was ready: ${err}`)));
      }),
    );
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    ended.push(
      new Promise((resolve) =>
        c.on("close", (code) => {
          if (code !== 0) outs[i] += `\n{"errors":["child ${i} exited ${code}: ${err.replace(/["\\\n]/g, " ")}"],"done":0}`;
          resolve(code);
        }),
      ),
    );
  }
  await Promise.all(ready);
  for (const c of children) c.stdin!.write("go\n");
  await Promise.all(ended);
  return outs.map((o) => JSON.parse(o.trim().split("\n").pop()!) as Outcome);
}

test(`${PROCESSES * FILLS_PER_PROCESS} concurrent fills of one cache key in ${PROCESSES} processes: all succeed, one complete entry, readers never see it change`, { timeout: 120_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), "mt-cache-race-"));
  try {
    const outcomes = await race((i) => ["cache", "race", "k0", String(FILLS_PER_PROCESS), `p${i}`], { MIKROTIK_TAILSCALE_CACHE: cache });
    const errors = outcomes.flatMap((o) => o.errors);
    assert.deepEqual(errors, [], `${errors.length} problems:\n${errors.slice(0, 12).join("\n")}`);
    assert.equal(outcomes.reduce((n, o) => n + o.done, 0), PROCESSES * FILLS_PER_PROCESS);
    // One entry, complete, and no temporary folder left behind by the fills that lost.
    assert.deepEqual(readdirSync(join(cache, "race")), ["k0"]);
    const entry = join(cache, "race", "k0");
    assert.equal(readdirSync(entry).filter((n) => n.startsWith("f")).length, FILES);
    assert.ok(readdirSync(entry).includes(".complete"));
    assert.equal(readFileSync(join(entry, "f0"), "utf8"), "same\n");
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test(`${PROCESSES * FILLS_PER_PROCESS} concurrent replacements of one dist/ folder in ${PROCESSES} processes: all succeed, the folder is always one writer's complete copy`, { timeout: 120_000 }, async () => {
  const dist = mkdtempSync(join(tmpdir(), "mt-dist-race-"));
  try {
    const target = join(dist, "rootfs", "amd64");
    const outcomes = await race((i) => ["replace", target, String(FILLS_PER_PROCESS), `p${i}`]);
    const errors = outcomes.flatMap((o) => o.errors);
    assert.deepEqual(errors, [], `${errors.length} problems:\n${errors.slice(0, 12).join("\n")}`);
    assert.equal(outcomes.reduce((n, o) => n + o.done, 0), PROCESSES * FILLS_PER_PROCESS);
    // The last writer's folder, whole; nothing else beside it (no temporary or set-aside copies).
    assert.deepEqual(readdirSync(join(dist, "rootfs")), ["amd64"]);
    const ids = new Set(readdirSync(target).map((n) => readFileSync(join(target, n), "utf8")));
    assert.equal(readdirSync(target).length, FILES);
    assert.equal(ids.size, 1, `one writer's content, not a mix: ${[...ids].join(" ")}`);
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
});
