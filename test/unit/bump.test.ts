/**
 * `bump` against the fake module proxy in test/fixtures/goproxy/proxy
 * (GOPROXY=file://..., a private GOMODCACHE, no checksum database): it must
 * pick the newest stable (even minor) release whose whole module graph is
 * served and that this Go can build, say why it skipped the newer ones,
 * report the feature-list changes, and refuse when an allowlisted feature
 * disappeared - leaving go.mod and go.sum untouched.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import {
  bumpTailscale,
  compareGoVersions,
  explainGoFailure,
  formatBump,
  replaceGoModFiles,
  replacements,
  requiredVersion,
  requirements,
  stableCandidates,
} from "../../src/release/bump.js";
import { GVISOR_SERVED, PROXY_DIR, proxyFiles } from "../fixtures/goproxy/make.js";
import type { SourcePatch } from "../../src/build/source-patches.js";
import { sha256 } from "../../src/util/fsx.js";
import { parseFeatureAllowlist, type FeatureAllowlist } from "../../src/build/features.js";

let work = "";
let env: Record<string, string> = {};

const GO_MOD = `module example.com/fixture/go

go 1.22

require tailscale.com v1.100.0 // indirect

tool (
\ttailscale.com/cmd/featuretags
\ttailscale.com/cmd/tailscaled
)
`;

const FEATURES = `# allowlist for the fixture
osrouter     # routes
dns          # MagicDNS
netstack     # needed by dns
`;

function goEnv(): Record<string, string> {
  return {
    GOPROXY: pathToFileURL(PROXY_DIR).href,
    GOSUMDB: "off",
    GONOSUMDB: "",
    GOPRIVATE: "",
    GOMODCACHE: join(work, "modcache"),
    GOCACHE: join(work, "gocache"),
    GOFLAGS: "-buildvcs=false -modcacherw",
  };
}

/** A fixture project: go/ pinned at v1.100.0 (tidied against the fake proxy) and an allowlist. */
function project(name: string, allowlist = FEATURES): { goDir: string; features: FeatureAllowlist } {
  const root = join(work, name);
  const goDir = join(root, "go");
  mkdirSync(goDir, { recursive: true });
  writeFileSync(join(goDir, "go.mod"), GO_MOD);
  writeFileSync(join(goDir, "go.sum"), "");
  const r = spawnSync("go", ["mod", "tidy"], { cwd: goDir, env: { ...process.env, ...env, GOTOOLCHAIN: "local", GOWORK: "off" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { goDir, features: parseFeatureAllowlist(allowlist) };
}

before(() => {
  work = mkdtempSync(join(tmpdir(), "mt-bump-test-"));
  env = goEnv();
});

after(() => {
  if (work) {
    spawnSync("chmod", ["-R", "u+w", work]);
    rmSync(work, { recursive: true, force: true });
  }
});

test("the committed fake proxy is what test/fixtures/goproxy/make.ts writes", () => {
  const want = proxyFiles();
  const have = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else have.set(relative(PROXY_DIR, p).split("\\").join("/"), readFileSync(p));
    }
  };
  walk(PROXY_DIR);
  assert.deepEqual([...have.keys()].sort(), [...want.keys()].sort());
  for (const [k, v] of want) assert.ok(have.get(k)!.equals(v), `${k} differs: run node --import tsx test/fixtures/goproxy/make.ts`);
});

test("candidates: stable (even minor) releases newer than the pin, newest first; unstable and pre-releases never", () => {
  const listed = ["v1.100.0", "v1.100.2", "v1.101.0-pre", "v1.101.3", "v1.102.0", "v1.102.1", "v1.103.0", "v1.104.0", "v1.106.1-pre", "v1.98.9"];
  assert.deepEqual(stableCandidates(listed, "v1.100.0").map((v) => v.text), ["v1.104.0", "v1.102.1", "v1.102.0", "v1.100.2"]);
  assert.deepEqual(stableCandidates(listed, "v1.104.0"), []);
  assert.throws(() => stableCandidates(listed, "v0.0.0-2026-abc"), /not a release version/);
});

test("go.mod helpers and Go version ordering", () => {
  assert.equal(requiredVersion(GO_MOD, "tailscale.com"), "v1.100.0");
  assert.equal(requiredVersion("require (\n\ttailscale.com v1.102.5 // indirect\n)\n", "tailscale.com"), "v1.102.5");
  assert.deepEqual([...requirements("require a.b v1.0.0\nrequire (\n\tc.d v2.0.0 // indirect\n)\n")], [["a.b", "v1.0.0"], ["c.d", "v2.0.0"]]);
  assert.ok(compareGoVersions("1.27.4", "go1.26.8") > 0);
  assert.ok(compareGoVersions("1.26", "go1.26.8") < 0);
  assert.equal(compareGoVersions("go1.26.8", "1.26.8"), 0);
});

test("a refused module download is explained by the module version and the proxy's answer", () => {
  const out = [
    "go: downloading gvisor.dev/gvisor v0.0.0-20260915211658-a6f909f08a72",
    "go: tailscale.com/net/tstun imports",
    "\tgvisor.dev/gvisor/pkg/tcpip: gvisor.dev/gvisor@v0.0.0-20260915211658-a6f909f08a72: reading https://proxy.example/gvisor.dev/gvisor/@v/v0.0.0-20260915211658-a6f909f08a72.zip: 403 Forbidden",
    "\tserver response: This module version is not available.",
  ].join("\n");
  assert.equal(explainGoFailure(out), "the module proxy does not serve gvisor.dev/gvisor@v0.0.0-20260915211658-a6f909f08a72 (403 Forbidden)");
  assert.equal(
    explainGoFailure("go: tailscale.com@v1.104.7 requires go >= 1.27.4 (running go 1.26.8; GOTOOLCHAIN=local)"),
    "needs Go 1.27.4 (running go1.26.8)",
  );
});

test("bump picks the newest stable release that builds, says why newer ones were skipped, and reports feature changes", async () => {
  const { goDir, features } = project("pick");
  const beforeSum = readFileSync(join(goDir, "go.sum"), "utf8");
  const r = await bumpTailscale({ goDir, features, env });
  assert.equal(r.from, "v1.100.0");
  assert.equal(r.to, "v1.102.1", formatBump(r));
  assert.deepEqual(r.skipped.map((s) => s.version), ["v1.106.0", "v1.104.0"]);
  assert.match(r.skipped[0]!.reason, /^needs Go 1\.99 \(this machine has go1\.\d+/);
  assert.match(r.skipped[1]!.reason, /^the module proxy does not serve example\.com\/gvisor@v0\.0\.0-20260301000000-0123456789ab \(no such file or directory\)/);
  assert.deepEqual(r.features!.added.map((f) => f.name), ["clientmetrics", "relayserver"]);
  assert.deepEqual(r.features!.removed, ["sunset"]);
  assert.equal(r.written, true);
  const gomod = readFileSync(join(goDir, "go.mod"), "utf8");
  assert.equal(requiredVersion(gomod, "tailscale.com"), "v1.102.1");
  assert.match(gomod, /tool \(\n\ttailscale\.com\/cmd\/featuretags/);
  const gosum = readFileSync(join(goDir, "go.sum"), "utf8");
  assert.match(gosum, /^tailscale\.com v1\.102\.1 h1:/m);
  assert.doesNotMatch(gosum, /v1\.100\.0/, "go.sum is tidy: the old version's hashes are gone");
  assert.notEqual(gosum, beforeSum);
  const text = formatBump(r);
  assert.match(text, /^Tailscale v1\.100\.0 -> v1\.102\.1$/m);
  assert.match(text, /skipped v1\.106\.0: needs Go 1\.99/);
  assert.match(text, /skipped v1\.104\.0: the module proxy does not serve example\.com\/gvisor@/);
  assert.match(text, /new features, left out \(add them to config\/image\.yaml tailscale\.features to build them in\):\n    clientmetrics: Client metrics support\n    relayserver: Relay server/);
  assert.match(text, /features gone \(none of them allowlisted\): sunset/);

  // Already at the newest usable release: nothing to do, the skipped ones are still named.
  const again = await bumpTailscale({ goDir, features, env });
  assert.equal(again.to, undefined);
  assert.equal(again.written, false);
  assert.deepEqual(again.skipped.map((s) => s.version), ["v1.106.0", "v1.104.0"]);
  assert.match(formatBump(again), /^Tailscale stays at v1\.102\.1: no newer stable release can be built here/);
});

test("an allowlisted feature that disappeared is an error naming it; go.mod and go.sum stay as they were", async () => {
  const { goDir, features } = project("gone", FEATURES + "sunset       # we rely on it\n");
  const mod0 = readFileSync(join(goDir, "go.mod"), "utf8");
  const sum0 = readFileSync(join(goDir, "go.sum"), "utf8");
  await assert.rejects(bumpTailscale({ goDir, features, env }), (e: Error) => {
    assert.match(e.message, /Tailscale v1\.102\.1 no longer has the allowlisted feature 'sunset' \(config\/image\.yaml tailscale\.features\); nothing was changed/);
    return true;
  });
  assert.equal(readFileSync(join(goDir, "go.mod"), "utf8"), mod0);
  assert.equal(readFileSync(join(goDir, "go.sum"), "utf8"), sum0);
  assert.deepEqual(readdirSync(goDir).sort(), ["go.mod", "go.sum"], "no temporary files left behind");
});

test("--to picks one release; --dry-run writes nothing; odd minors are refused", async () => {
  const { goDir, features } = project("to");
  const mod0 = readFileSync(join(goDir, "go.mod"), "utf8");
  const dry = await bumpTailscale({ goDir, features, env, to: "v1.100.2", dryRun: true });
  assert.equal(dry.to, "v1.100.2");
  assert.equal(dry.written, false);
  assert.deepEqual(dry.features, { added: [], removed: [] });
  assert.equal(readFileSync(join(goDir, "go.mod"), "utf8"), mod0);
  await assert.rejects(bumpTailscale({ goDir, features, env, to: "v1.103.0" }), /odd minor version: Tailscale's unstable track/);
  await assert.rejects(bumpTailscale({ goDir, features, env, to: "v1.108.0" }), /does not list tailscale\.com v1\.108\.0/);
  const one = await bumpTailscale({ goDir, features, env, to: "v1.100.2" });
  assert.equal(one.written, true);
  assert.equal(requiredVersion(readFileSync(join(goDir, "go.mod"), "utf8"), "tailscale.com"), "v1.100.2");
});

test("go.mod and go.sum are replaced by renames, through a go.sum that fits both", async () => {
  const dir = join(work, "replace");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "go.mod"), "module x\n\nrequire a v1.0.0\n");
  writeFileSync(join(dir, "go.sum"), "a v1.0.0 h1:old=\n");
  await replaceGoModFiles(dir, "module x\n\nrequire a v1.1.0\n", "a v1.1.0 h1:new=\n");
  assert.equal(readFileSync(join(dir, "go.mod"), "utf8"), "module x\n\nrequire a v1.1.0\n");
  assert.equal(readFileSync(join(dir, "go.sum"), "utf8"), "a v1.1.0 h1:new=\n");
  assert.deepEqual(readdirSync(dir).sort(), ["go.mod", "go.sum"]);
});

test("a go.mod replace stands in for a refused module: bump reports it, and checks each source patch against the chosen release", async () => {
  const { goDir, features } = project("subst");
  writeFileSync(join(goDir, "go.mod"), readFileSync(join(goDir, "go.mod"), "utf8") + `\nreplace example.com/gvisor => example.com/gvisor ${GVISOR_SERVED}\n`);
  assert.deepEqual([...replacements(readFileSync(join(goDir, "go.mod"), "utf8"))], [["example.com/gvisor", `example.com/gvisor ${GVISOR_SERVED}`]]);
  const main104 = proxyFiles().get("tailscale.com/@v/v1.104.0.zip")!;
  const body = /\/\/ Command tailscaled is a stand-in[\s\S]*?func main\(\) \{\}\n/.exec(main104.toString("latin1"))![0];
  const patch = (hash: string): SourcePatch => ({
    module: "tailscale.com",
    file: "cmd/tailscaled/main.go",
    why: "a stand-in edit for the test",
    dropBlock: { opens: "func main() {", containing: "x" },
    sha256: hash,
    patchedSha256: "0".repeat(64),
  });
  const r = await bumpTailscale({ goDir, features, env, patches: [patch(sha256(body)), patch("1".repeat(64))] });
  assert.equal(r.to, "v1.104.0", formatBump(r));
  assert.deepEqual(r.skipped.map((s) => s.version), ["v1.106.0"]);
  assert.match(r.skipped[0]!.reason, /^needs Go 1\.99 \(this machine has go1\.\d+.*, and the module proxy does not serve the go1\.99\.0 toolchain\)$/);
  assert.deepEqual(r.substitutions, [
    { path: "example.com/gvisor", replacement: `example.com/gvisor ${GVISOR_SERVED}`, required: "v0.0.0-20260301000000-0123456789ab", requiredServed: false },
  ]);
  assert.deepEqual(r.patches.map((p) => p.status), ["applies", "changed"]);
  const text = formatBump(r);
  assert.match(text, /substitution: requires example\.com\/gvisor@v0\.0\.0-20260301000000-0123456789ab, built with example\.com\/gvisor v0\.0\.0-20260201000000-aaaaaaaaaaaa \(go\/go\.mod replace\); not served \(kept\)/);
  assert.match(text, /source patch tailscale\.com\/cmd\/tailscaled\/main\.go: applies \(file unchanged\)/);
  assert.match(text, /source patch tailscale\.com\/cmd\/tailscaled\/main\.go: the file changed upstream \(sha256 [0-9a-f]{64}\): review the edit/);
  assert.match(readFileSync(join(goDir, "go.mod"), "utf8"), /^replace example\.com\/gvisor => example\.com\/gvisor v0\.0\.0-20260201000000-aaaaaaaaaaaa$/m, "the replace survives the bump");
});
