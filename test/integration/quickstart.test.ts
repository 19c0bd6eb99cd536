import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { startSimulator } from "../../src/routeros/simulator/server.js";
import { stateOf } from "../../src/routeros/schema/state.js";
import { scriptBed } from "../support/routeros-scripts.js";

/*
 * The Quick Start of docs/routeros.md, word for word, from a fresh copy of the
 * checkout (tracked files only) with the real image `npm run images` wrote
 * into dist/, against the RouterOS REST simulator. The only words changed are
 * the router's address (the simulator's) and the fingerprint placeholder,
 * which takes what the documented `certificate` command printed.
 */

function quickStartLines(): string[] {
  const doc = readFileSync(join(projectRoot, "docs", "routeros.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Quick start"));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(m, "docs/routeros.md has a Quick start with a sh block");
  return m[1]!.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
}

/** Runs a shell line without blocking: the simulator answers from this same process. */
function sh(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("bash", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const t = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("close", (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A copy of what `git clone` would give: tracked files only, no dist/, no node_modules/. */
function freshCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), "mt-quickstart-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: projectRoot }).toString("utf8").split("\0").filter(Boolean);
  for (const f of files) {
    const src = join(projectRoot, f);
    if (!existsSync(src)) continue; // deleted in the work tree
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(src, join(dir, f));
  }
  symlinkSync(join(projectRoot, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** What `npm run images` left in dist/: the README's first command, run before the Quick Start. */
function copyBuiltImages(into: string): string[] {
  const dist = join(projectRoot, "dist");
  const tars = existsSync(dist) ? readdirSync(dist).filter((f) => /^mikrotik-tailscale-v[\d.]+-mt\.\d+-(amd64|arm64|armv7|armv5)\.tar$/.test(f)) : [];
  assert.ok(tars.length > 0, "dist/ has no images: run `npm run images` first (scripts/test.sh does)");
  mkdirSync(join(into, "dist"));
  for (const t of tars) copyFileSync(join(dist, t), join(into, "dist", t));
  return tars;
}

for (const version of ["7.24", "7.19"]) {
  test(`the documented Quick Start, word for word, against a RouterOS ${version} simulator`, { timeout: 300_000 }, async () => {
    const dir = freshCheckout();
    const sim = await startSimulator({ version, arch: "arm64", tls: true, user: "admin", password: "...", extractMs: 50, startMs: 50, stopMs: 20 });
    try {
      const tars = copyBuiltImages(dir);
      const host = new URL(sim.origin).host;
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
      const outputs: string[] = [];
      let fingerprint = "";
      for (const raw of quickStartLines()) {
        const line = raw.replaceAll("192.168.88.1", host).replaceAll("sha256:...", fingerprint || "sha256:...");
        const exp = /^export ([A-Z_]+)=/.exec(line);
        const r = await sh(exp ? `${line}\nprintf '%s' "$${exp[1]}"` : line, dir, env);
        assert.equal(r.status, 0, `'${raw}' failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
        if (exp) env[exp[1]!] = r.stdout;
        outputs.push(r.stdout);
        if (/routeros certificate/.test(line)) fingerprint = r.stdout.trim();
        // The user's edit the first line asks for: the router's version.
        if (/^cp examples\/router\.yaml router\.yaml/.test(line)) {
          const yaml = readFileSync(join(dir, "router.yaml"), "utf8");
          assert.match(yaml, /version: "7\.24"/);
          writeFileSync(join(dir, "router.yaml"), yaml.replace(/version: "7\.24"/, `version: "${version}"`));
        }
      }
      assert.match(fingerprint, /^sha256:([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const rsc = readFileSync(join(dir, "tailscale.rsc"), "utf8");
      const arm64 = tars.find((t) => t.endsWith("-arm64.tar"))!;
      assert.ok(rsc.includes(`/container/add name=tailscale file=ramdisk/${arm64} root-dir=tailscale/root`), "the script names the image the build wrote");
      const all = outputs.join("\n");
      assert.match(all, /changes? would be made \(dry run: nothing was changed\)/);
      assert.match(all, /changes made; container tailscale: running/);
      assert.match(all, /container: +tailscale: running/);
      assert.match(all, /node: +up \(tailscaled reports Running\)/);
      const [c] = sim.sim.containerList();
      assert.equal(stateOf(c!), "running");
      // The printed script, run on a fresh simulated router of the same release with the real image uploaded.
      const bed = scriptBed({ version });
      try {
        bed.sim.files.write(`ramdisk/${arm64}`, readFileSync(join(dir, "dist", arm64)));
        const run = await bed.importScript(rsc);
        assert.equal(run.error, undefined, run.output.join(" | "));
        assert.equal(run.output[run.output.length - 1], "tailscale: running");
      } finally {
        bed.close();
      }
      // The file is named by the image version, build included: the same as the tag the router reads from it.
      assert.equal(c!.tag, `mikrotik-tailscale:${arm64.replace(/^mikrotik-tailscale-(v[\d.]+-mt\.\d+)-arm64\.tar$/, "$1")}-arm64`, "the real image from dist/ runs on the simulated router");
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
