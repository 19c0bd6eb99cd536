import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = new URL("../../bin/mikrotik-tailscale.js", import.meta.url).pathname;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("no command prints help and exits 2; --help exits 0", () => {
  const none = cli([]);
  assert.equal(none.code, 2);
  assert.match(none.out, /usage: mikrotik-tailscale <command>/);
  assert.equal(cli(["--help"]).code, 0);
  assert.match(cli(["build", "--help"]).out, /--profile/);
});

test("usage errors exit 2 with one line naming the problem, and write nothing", () => {
  const out = join(mkdtempSync(join(tmpdir(), "mt-cli-")), "dist");
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
