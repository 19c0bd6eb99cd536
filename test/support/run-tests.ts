/**
 * Runs test files with node's test runner and counts what did not run.
 *
 *   node --import tsx test/support/run-tests.ts <file.test.ts>...
 *
 * The spec reporter goes to the terminal; a TAP copy goes to a temporary file
 * that is read afterwards, because node 20's summary does not count a skipped
 * `describe` (a whole suite skipped shows as "skipped 0"). Every `# SKIP` and
 * `# TODO` directive in the TAP stream is counted, suites included. With
 * CI=true (or 1) any skipped or todo test fails the run, naming each one.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export interface NotRun {
  kind: "skip" | "todo";
  name: string;
  reason: string;
}

/** Every skipped or todo test or suite in a TAP 13 stream, at any depth. */
export function notRunIn(tap: string): NotRun[] {
  const out: NotRun[] = [];
  for (const line of tap.split("\n")) {
    const m = /^\s*(?:not )?ok \d+ - (.*?) # (SKIP|TODO)\b ?(.*)$/i.exec(line);
    if (m) out.push({ kind: m[2]!.toUpperCase() === "SKIP" ? "skip" : "todo", name: m[1]!, reason: m[3]! });
  }
  return out;
}

export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === "true" || env.CI === "1";
}

async function main(files: string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write("run-tests: no test files given\n");
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), "mt-run-tests-"));
  const tapFile = join(dir, "report.tap");
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "--test",
          "--test-concurrency=1",
          "--test-reporter=spec",
          "--test-reporter-destination=stdout",
          "--test-reporter=tap",
          `--test-reporter-destination=${tapFile}`,
          ...files,
        ],
        { stdio: "inherit" },
      );
      child.on("error", reject);
      child.on("close", (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    let tap = "";
    try {
      tap = readFileSync(tapFile, "utf8");
    } catch {
      process.stderr.write("run-tests: the test runner wrote no TAP report\n");
      return code || 1;
    }
    const notRun = notRunIn(tap);
    const skipped = notRun.filter((n) => n.kind === "skip").length;
    const todo = notRun.length - skipped;
    process.stdout.write(`\nnot run: skipped ${skipped}, todo ${todo} (suites and tests)\n`);
    for (const n of notRun) process.stdout.write(`  ${n.kind} ${n.name}${n.reason ? `: ${n.reason}` : ""}\n`);
    if (inCi() && notRun.length > 0) {
      process.stderr.write(`run-tests: CI is set and ${notRun.length} test(s) or suite(s) did not run; a test CI needs must run or fail\n`);
      return code || 1;
    }
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      process.stderr.write(`run-tests: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
