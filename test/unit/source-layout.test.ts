/**
 * Code only tests use lives in test/support, not src/: every file under src/
 * is reached from the CLI or the library's entry point (static imports and
 * `import("...")`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { projectRoot } from "../../src/paths.js";

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every file under src/ is reached from the CLI or the library; test-only code lives in test/support", () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    assert.ok(existsSync(file), `${relative(projectRoot, file)} is imported but does not exist`);
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from\s+|import\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
      visit(resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")));
    }
  };
  visit(join(projectRoot, "src", "cli", "main.ts"));
  visit(join(projectRoot, "src", "index.ts"));
  const unreached = tsFiles(join(projectRoot, "src"))
    .filter((f) => !seen.has(f))
    .map((f) => relative(projectRoot, f));
  assert.deepEqual(unreached, [], "only tests use these: move them to test/support");
  assert.ok(seen.size > 50, `walked ${seen.size} files`);
});
