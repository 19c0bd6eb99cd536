import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";

/*
 * The published package works: `npm pack` (whose prepack compiles src/ into
 * lib/), the tarball installed into an empty folder with the machine's
 * configured registry, and the installed command run from there. It has no
 * TypeScript sources and no tsx, so it runs the compiled lib/ and reads only
 * the data files the package ships.
 */

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    p.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    const t = setTimeout(() => p.kill("SIGKILL"), 240_000);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

const npmEnv = { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };

test("the packed package, installed into an empty folder, prints a RouterOS script from its compiled lib/ and shipped data", { timeout: 600_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), "mt-package-"));
  try {
    // What an earlier compile left for a source deleted since must not ship.
    const stale = join(projectRoot, "lib", "stale-from-a-deleted-source.js");
    mkdirSync(join(projectRoot, "lib"), { recursive: true });
    writeFileSync(stale, "export {};\n");
    const packed = await run("npm", ["pack", "--pack-destination", work], projectRoot, npmEnv);
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.err}`);
    const tarballs = readdirSync(work).filter((f) => f.endsWith(".tgz"));
    assert.equal(tarballs.length, 1, readdirSync(work).join(" "));

    const app = join(work, "app");
    mkdirSync(app);
    const installed = await run("npm", ["install", "--prefer-offline", join(work, tarballs[0]!)], app, npmEnv);
    assert.equal(installed.code, 0, `npm install failed:\n${installed.err}`);
    const pkg = join(app, "node_modules", "mikrotik-tailscale");
    assert.ok(!existsSync(join(pkg, "src")), "the TypeScript sources are not shipped");
    assert.ok(!existsSync(join(app, "node_modules", "tsx")), "tsx is not installed with it");

    // The golden config with version 7.24: the installed command must print what the checkout's golden file holds.
    const golden = join(projectRoot, "test", "golden", "routeros");
    const config = readFileSync(join(golden, "router.yaml"), "utf8").replace(/version: "[^"]+"/, 'version: "7.24"');
    assert.match(config, /version: "7\.24"/);
    writeFileSync(join(app, "router.yaml"), config);
    const env = { ...process.env, NODE_OPTIONS: "", NODE_PATH: "" };
    const r = await run(join(app, "node_modules", ".bin", "mikrotik-tailscale"), ["routeros", "script", "-c", "router.yaml"], app, env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\s*\/container\/add name=tailscale /m, "the script sets up the container");
    assert.match(r.out, /^\s*\/interface\/veth\/add /m);
    assert.equal(r.out, readFileSync(join(golden, "7.24.rsc"), "utf8"), "the installed package prints what the checkout prints");
    assert.ok(existsSync(join(pkg, "lib", "cli", "main.js")), "lib/ is in the package");
    assert.ok(!existsSync(join(pkg, "lib", "stale-from-a-deleted-source.js")), "lib/ is compiled afresh for the package");
    assert.ok(existsSync(join(pkg, "data", "routeros-schema", "index.json")), "data/routeros-schema is in the package");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
