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
let main;
try {
  ({ main } = await import(pathToFileURL(entry).href));
} catch (e) {
  // Modules read config/image.yaml as they load: a bad file is one line, not a stack.
  if (e && typeof e.exitCode === "number") {
    process.stderr.write(`mikrotik-tailscale: error: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  throw e;
}
process.exitCode = await main(process.argv.slice(2));
