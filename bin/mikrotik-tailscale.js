#!/usr/bin/env node
// In a checkout, run the TypeScript sources through tsx so nothing can be
// stale; an installed package has only the compiled lib/.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
let entry;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = source;
} else {
  entry = join(root, "lib", "cli", "main.js");
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
