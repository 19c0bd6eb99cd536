/**
 * What renovate.json means for this project's files (Renovate's own validator
 * checks its syntax in test/integration/renovate.test.ts): each regex manager
 * finds the value it is meant to update, and the Tailscale rule lets only
 * stable releases through.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";

interface Manager {
  fileMatch: string[];
  matchStrings: string[];
  depNameTemplate?: string;
  datasourceTemplate?: string;
}
interface Rule {
  matchPackageNames?: string[];
  matchDepNames?: string[];
  matchManagers?: string[];
  matchDatasources?: string[];
  allowedVersions?: string;
  enabled?: boolean;
  postUpgradeTasks?: { commands: string[]; fileFilters: string[] };
}

const cfg = JSON.parse(readFileSync(join(projectRoot, "renovate.json"), "utf8")) as { customManagers: Manager[]; packageRules: Rule[]; postUpdateOptions?: string[] };
const pins = JSON.parse(readFileSync(join(projectRoot, "config", "pins.json"), "utf8"));
const pinsText = readFileSync(join(projectRoot, "config", "pins.json"), "utf8");

function managerFor(dep: string): { m: Manager; groups: Record<string, string> } {
  for (const m of cfg.customManagers) {
    assert.ok(m.fileMatch.some((f) => new RegExp(f).test("config/pins.json")), "the managers read config/pins.json");
    for (const s of m.matchStrings) {
      const g = new RegExp(s).exec(pinsText)?.groups;
      if (g && (m.depNameTemplate ?? g.depName) === dep) return { m, groups: g };
    }
  }
  assert.fail(`no custom manager finds ${dep} in config/pins.json`);
}

function regexOf(s: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/.exec(s);
  assert.ok(m, `${s} is a /regex/`);
  return new RegExp(m[1]!, m[2]);
}

test("the busybox manager finds the pinned version; a post-upgrade task refreshes its sha256 and the release revision", () => {
  const { m, groups } = managerFor("busybox");
  assert.equal(groups.currentValue, pins.busybox.version);
  assert.equal(m.datasourceTemplate, "docker");
  assert.ok(!("currentDigest" in groups), "the sha256 is not a registry digest: the post-upgrade task writes it");
  const rule = cfg.packageRules.find((r) => r.matchDepNames?.includes("busybox"))!;
  assert.deepEqual(rule.postUpgradeTasks!.commands.slice(1), ["node bin/mikrotik-tailscale.js bump busybox", "node bin/mikrotik-tailscale.js release"]);
  assert.deepEqual(rule.postUpgradeTasks!.fileFilters, ["config/pins.json", "config/release.json"]);
});

test("the headscale manager finds the module and version that tools/headscale pins too", () => {
  const { groups } = managerFor(pins.headscale.module);
  assert.equal(groups.currentValue, pins.headscale.version);
  const gomod = readFileSync(join(projectRoot, "tools", "headscale", "go.mod"), "utf8");
  assert.ok(gomod.includes(`${pins.headscale.module} ${pins.headscale.version}`));
});

test("Tailscale: only stable (even minor) releases are allowed; its indirect requirement is enabled", () => {
  const rule = cfg.packageRules.find((r) => r.matchPackageNames?.includes("tailscale.com"))!;
  assert.equal(rule.enabled, true);
  const re = regexOf(rule.allowedVersions!);
  for (const ok of ["v1.102.5", "v1.104.0", "1.110.12", "v1.100.0"]) assert.ok(re.test(ok), ok);
  for (const no of ["v1.103.0", "v1.101.0-pre", "v1.105.2", "v1.104.0-pre", "v2.0.0"]) assert.ok(!re.test(no), no);
  assert.ok(rule.postUpgradeTasks!.commands.includes("node bin/mikrotik-tailscale.js release"));
  assert.ok(cfg.postUpdateOptions?.includes("gomodTidy"));
  const gomod = readFileSync(join(projectRoot, "go", "go.mod"), "utf8");
  assert.match(gomod, /^\s*tailscale\.com v1\.\d*[02468]\.\d+/m, "the pin itself is a stable release");
});

test("the Go toolchain and npm packages are covered", () => {
  assert.ok(cfg.packageRules.some((r) => r.matchDatasources?.includes("golang-version")));
  assert.ok(cfg.packageRules.some((r) => r.matchManagers?.includes("npm")));
  const types = cfg.packageRules.find((r) => r.matchPackageNames?.includes("@types/node"))!;
  assert.equal(types.allowedVersions, "<21");
  const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8"));
  assert.match(pkg.devDependencies["@types/node"], /^20\./);
});
