import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { applySelection, parseAppletList, readConfig, verifyFinalConfig } from "../../src/build/busybox-config.js";
import { busyboxSelection, loadImageSpec } from "../../src/image/spec.js";

test("applets map to Kconfig symbols, with explicit overrides", () => {
  const s = parseAppletList("ls\n[  TEST1\nsysctl BB_SYSCTL\nCONFIG_FEATURE_IPV6=y\n");
  assert.deepEqual(s.applets, [
    { name: "ls", symbol: "LS" },
    { name: "[", symbol: "TEST1" },
    { name: "sysctl", symbol: "BB_SYSCTL" },
  ]);
  assert.equal(s.settings.get("FEATURE_IPV6"), "y");
});

test("options that break busybox under UPX cannot be switched on", () => {
  assert.throws(() => parseAppletList("ls\nCONFIG_FEATURE_SH_STANDALONE=y\n"), /must stay off/);
  assert.throws(() => parseAppletList("ls\nCONFIG_FEATURE_PREFER_APPLETS=y\n"), /must stay off/);
});

test("bad applet lines name the line", () => {
  assert.throws(() => parseAppletList("ls\nls\n"), /:2: applet 'ls' listed twice/);
  assert.throws(() => parseAppletList("ls a b\n"), /:1: expected/);
  assert.throws(() => parseAppletList("# nothing\n"), /no applets listed/);
});

test("selection is applied over allnoconfig output, appending unknown symbols", () => {
  const base = "# CONFIG_LS is not set\n# CONFIG_CAT is not set\nCONFIG_STATIC=n\n";
  const sel = parseAppletList("ls\nCONFIG_FEATURE_EDITING=y\n");
  const out = applySelection(base, sel, { STATIC: "y", EXTRA_CFLAGS: '"-Os"' });
  const cfg = readConfig(out);
  assert.equal(cfg.get("LS"), "y");
  assert.equal(cfg.get("CAT"), "n");
  assert.equal(cfg.get("STATIC"), "y");
  assert.equal(cfg.get("FEATURE_EDITING"), "y");
  assert.equal(cfg.get("EXTRA_CFLAGS"), '"-Os"');
});

test("after oldconfig, a dropped applet or a forbidden option is reported", () => {
  const sel = parseAppletList("ls\nnosuchapplet\n");
  assert.throws(() => verifyFinalConfig("CONFIG_LS=y\n", sel), /nosuchapplet \(CONFIG_NOSUCHAPPLET\)/);
  const ok = parseAppletList("ls\n");
  verifyFinalConfig("CONFIG_LS=y\n# CONFIG_FEATURE_SH_NOFORK is not set\n", ok);
  assert.throws(() => verifyFinalConfig("CONFIG_LS=y\nCONFIG_FEATURE_SH_NOFORK=y\n", ok), /FEATURE_SH_NOFORK got switched on/);
});

test("the repo's applet list has about a hundred applets including the router tools", () => {
  const s = busyboxSelection(loadImageSpec());
  assert.ok(s.applets.length >= 90 && s.applets.length <= 130, `${s.applets.length} applets`);
  const names = new Set(s.applets.map((a) => a.name));
  for (const a of ["sh", "ls", "cat", "cp", "mv", "rm", "mkdir", "ps", "top", "kill", "ip", "ping", "ping6", "traceroute", "nslookup", "wget", "netstat", "ifconfig", "route", "dmesg", "df", "du", "free", "uptime", "vi", "grep", "sed", "awk", "sysctl", "mknod"]) {
    assert.ok(names.has(a), `applet ${a} missing`);
  }
});
