/*
 * Copies RouterOS command trees into data/routeros-schema/: one file per
 * distinct tree (named after the first version that has it) plus index.json,
 * which maps every version to its tree. Point releases that change nothing
 * cost nothing; a release that changes a menu gets a file of its own.
 *
 *   node --import tsx scripts/refresh-routeros-schema.ts [SOURCE_DIR [TARGET_DIR]]
 *
 * SOURCE_DIR (default ../shared/routeros-schema, relative to the project)
 * holds <version>.json files as dumped by RouterOS's own /console/inspect
 * (see data/routeros-schema/README.md for where they come from), and
 * readable/<version>.json: what each release reports back (the completion of
 * `get value-name=` and of enum arguments), copied as they are.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, mkdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { projectRoot } from "../src/paths.js";
import { compareVersionText, parseTreeFileName } from "../src/routeros/version.js";

const source = resolve(process.argv[2] ?? join(projectRoot, "..", "shared", "routeros-schema"));
const target = resolve(process.argv[3] ?? join(projectRoot, "data", "routeros-schema"));
const readme = join(projectRoot, "data", "routeros-schema", "README.md");
const staging = `${target}.tmp`;

function fail(msg: string): never {
  process.stderr.write(`refresh-routeros-schema: ${msg}\n`);
  process.exit(1);
}

let names: string[];
try {
  names = readdirSync(source).filter((n) => n.endsWith(".json") && parseTreeFileName(n.slice(0, -5)) !== undefined);
} catch (e) {
  fail(`cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
}
if (names.length === 0) fail(`no <version>.json trees in ${source}`);

const versions = names.map((n) => n.slice(0, -5)).sort(compareVersionText);
rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, "trees"), { recursive: true });
const byHash = new Map<string, string>();
const index: { stable: Record<string, string>; nightly: Record<string, string> } = { stable: {}, nightly: {} };
for (const v of versions) {
  const bytes = readFileSync(join(source, `${v}.json`));
  let tree: Record<string, unknown>;
  try {
    tree = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    fail(`${v}.json is not JSON: ${(e as Error).message}`);
  }
  const container = tree.container as Record<string, unknown> | undefined;
  if (!container || typeof container.add !== "object") fail(`${v}.json has no container/add menu: not a container command tree`);
  const hash = createHash("sha256").update(bytes).digest("hex");
  let file = byHash.get(hash);
  if (!file) {
    file = `${v}.json`;
    byHash.set(hash, file);
    writeFileSync(join(staging, "trees", file), bytes);
  }
  const kind = parseTreeFileName(v)!.nightly ? "nightly" : "stable";
  index[kind][v] = file;
}
for (const extra of ["app-yaml-schema.json"]) {
  try {
    copyFileSync(join(source, extra), join(staging, extra));
  } catch {
    fail(`${extra} is missing from ${source}`);
  }
}
// What releases report back: copied unchanged, checked for the shape the loader reads.
mkdirSync(join(staging, "readable"));
let readableCount = 0;
const readableDir = join(source, "readable");
for (const n of existsSync(readableDir) ? readdirSync(readableDir).filter((f) => f.endsWith(".json")).sort() : []) {
  const bytes = readFileSync(join(readableDir, n));
  let doc: { version?: unknown; source?: unknown; menus?: Record<string, unknown> };
  try {
    doc = JSON.parse(bytes.toString("utf8")) as typeof doc;
  } catch (e) {
    fail(`readable/${n} is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc.version !== "string" || typeof doc.source !== "string" || !doc.menus || typeof doc.menus.container !== "object") {
    fail(`readable/${n} lacks version, source or menus.container: not a readable-properties file`);
  }
  if (`${doc.version}.json` !== n) fail(`readable/${n} says it is version ${doc.version}`);
  writeFileSync(join(staging, "readable", n), bytes);
  readableCount++;
}
if (readableCount === 0) fail(`no readable/<version>.json in ${source}`);
writeFileSync(join(staging, "index.json"), JSON.stringify(index, null, 1) + "\n");
writeFileSync(join(staging, "README.md"), readFileSync(readme));
rmSync(`${target}.old`, { recursive: true, force: true });
if (existsSync(target)) renameSync(target, `${target}.old`);
renameSync(staging, target);
rmSync(`${target}.old`, { recursive: true, force: true });
process.stderr.write(`refresh-routeros-schema: ${versions.length} versions, ${byHash.size} distinct trees, ${readableCount} readable-property files -> data/routeros-schema\n`);
