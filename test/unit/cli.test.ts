import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = new URL("../../bin/mikrotik-tailscale.js", import.meta.url).pathname;

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("no command prints help and exits 2; --help exits 0", () => {
  const none = cli([]);
  assert.equal(none.code, 2);
  assert.match(none.out, /usage: mikrotik-tailscale <command>/);
  assert.equal(cli(["--help"]).code, 0);
  assert.match(cli(["build", "--help"]).out, /--profile/);
});

test("usage errors exit 2 with one line naming the problem, and write nothing", (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "mt-cli-"));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const out = join(tmp, "dist");
  const cases: [string[], RegExp][] = [
    [["nope"], /unknown command 'nope'/],
    [["build", "--arch", "mips", "--out", out], /unknown architecture 'mips'/],
    [["build", "--profile", "tiny", "--out", out], /unknown profile 'tiny'/],
    [["build", "--frobnicate", "--out", out], /Unknown option '--frobnicate'/],
    [["build", "extra", "--out", out], /unexpected argument 'extra'/],
  ];
  for (const [args, msg] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, msg);
    assert.equal(r.err.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /^mikrotik-tailscale: error: /);
  }
  assert.equal(existsSync(out), false, "no output folder after a usage error");
});

test("a missing build tool fails before any work: exit 1, one line naming it and the fix, nothing written", (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "mt-notools-"));
  // A PATH holding node and nothing else: no go, no gcc, no upx.
  const emptyPath = mkdtempSync(join(tmpdir(), "mt-path-"));
  t.after(() => [tmp, emptyPath].forEach((d) => rmSync(d, { recursive: true, force: true })));
  symlinkSync(process.execPath, join(emptyPath, "node"));
  const out = join(tmp, "dist");
  const r = cli(["build", "--arch", "armv5", "--out", out], { ...process.env, PATH: emptyPath });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /^mikrotik-tailscale: error: go: .*\(install with: mikrotik-tailscale doctor --fix\)$/m);
  assert.equal(r.err.trim().split("\n").length, 1);
  assert.equal(existsSync(out), false);
});
