/**
 * Release versioning: v<tailscale>-mt.<N>, where N rises only with a
 * meaningful change of ours. The first test is the project's own check: it
 * fails while config/release.json does not match the inputs that shape the
 * image (run `mikrotik-tailscale release`, see docs/releasing.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { applyRelease, changedInputs, computeFingerprint, readReleaseRecord, releaseStatus, staleMessage } from "../../src/release/release.js";
import { compareImageVersions, formatImageVersion, isStableTailscale, parseImageVersion, parseSemVer } from "../../src/release/version.js";

test("config/release.json is up to date with the inputs that shape the image", async () => {
  const s = await releaseStatus(projectRoot);
  assert.equal(s.need.kind, "none", staleMessage(s));
});

test("image versions parse, format and order (Tailscale first, then our revision)", () => {
  const v = parseImageVersion("v1.102.5-mt.3")!;
  assert.deepEqual(v, { tailscale: "v1.102.5", major: 1, minor: 102, patch: 5, revision: 3, text: "v1.102.5-mt.3" });
  for (const bad of ["1.102.5-mt.3", "v1.102.5", "v1.102.5-mt.0", "v1.102.5-mt.x", "v1.102-mt.1", undefined]) assert.equal(parseImageVersion(bad), undefined, String(bad));
  assert.equal(formatImageVersion("1.104.2", 1), "v1.104.2-mt.1");
  assert.throws(() => formatImageVersion("v1.104.2", 0), /from 1 up/);
  assert.throws(() => formatImageVersion("v1.103.0-pre", 1), /not a release version/);
  const order = ["v1.104.0-mt.1", "v1.102.5-mt.10", "v1.102.5-mt.2", "v1.98.9-mt.7"].map((s) => parseImageVersion(s)!);
  assert.deepEqual(order.sort(compareImageVersions).map((x) => x.text), ["v1.98.9-mt.7", "v1.102.5-mt.2", "v1.102.5-mt.10", "v1.104.0-mt.1"]);
  assert.equal(isStableTailscale(parseSemVer("v1.102.5")!), true);
  assert.equal(isStableTailscale(parseSemVer("v1.103.0")!), false);
});

/** A small project with the inputs the fingerprint covers. */
function fakeProject(): string {
  const root = mkdtempSync(join(tmpdir(), "mt-release-"));
  const w = (rel: string, text: string) => {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  w("rootfs/usr/local/bin/entrypoint", "#!/bin/sh\nexec tailscaled\n");
  chmodSync(join(root, "rootfs/usr/local/bin/entrypoint"), 0o755);
  w("rootfs/etc/passwd", "root:x:0:0::/:/bin/sh\n");
  w("config/image.yaml", readFileSync(join(projectRoot, "config", "image.yaml"), "utf8"));
  w("config/pins.json", JSON.stringify({ busybox: { version: "1.37.0", sha256: "a".repeat(64) }, headscale: { module: "m", version: "v0.29.3" } }));
  w("go/go.mod", "module x\n\ngo 1.26.6\n\nrequire tailscale.com v1.102.5 // indirect\n");
  w("go/go.sum", "");
  w("go/overlay/tailscaled/zz.go", "package main\n");
  w("go/cmd/cabundle/main.go", "package main\n");
  w("healthcheck/healthcheck.c", "int main(void) { return 0; }\n");
  w("src/build/busybox.ts", "const RECIPE = 3;\n");
  w("src/build/other.ts", "export const x = 1;\n");
  w("docs/readme.md", "docs\n");
  w("config/release.json", JSON.stringify({ revision: 4 }));
  return root;
}

test("release: Tailscale moving starts the revision at 1; a changed input raises it; churn does not", async () => {
  const root = fakeProject();
  try {
    // First record: the Tailscale version was not recorded yet, so the count starts at 1.
    let s = await releaseStatus(root);
    assert.equal(s.need.kind, "tailscale");
    assert.equal(s.version, "v1.102.5-mt.4");
    assert.equal(s.next, "v1.102.5-mt.1");
    let r = await applyRelease(root);
    assert.equal(r.to, "v1.102.5-mt.1");
    assert.equal((await readReleaseRecord(root)).revision, 1);
    assert.equal((await releaseStatus(root)).need.kind, "none");
    assert.equal((await applyRelease(root)).written, false, "nothing to do twice");

    // Build-only churn: docs, other source files, the headscale test pin, a rebuild.
    writeFileSync(join(root, "docs/readme.md"), "more docs\n");
    writeFileSync(join(root, "src/build/other.ts"), "export const x = 2; // refactor\n");
    const pins = JSON.parse(readFileSync(join(root, "config/pins.json"), "utf8"));
    pins.headscale.version = "v0.30.0";
    writeFileSync(join(root, "config/pins.json"), JSON.stringify(pins));
    assert.equal((await releaseStatus(root)).need.kind, "none");

    // Meaningful: each of these changes what is in the image.
    const changes: [string, () => void][] = [
      ["rootfs/usr/local/bin/entrypoint", () => writeFileSync(join(root, "rootfs/usr/local/bin/entrypoint"), "#!/bin/sh\nexec tailscaled --verbose=1\n")],
      ["rootfs/usr/local/bin/entrypoint", () => chmodSync(join(root, "rootfs/usr/local/bin/entrypoint"), 0o644)],
      ["config/image.yaml#tailscale.features", () => {
        const p = join(root, "config/image.yaml");
        writeFileSync(p, readFileSync(p, "utf8").replace(/^ {4}ipnbus: .*\n/m, ""));
      }],
      ["config/pins.json#busybox", () => {
        pins.busybox.version = "1.37.1";
        writeFileSync(join(root, "config/pins.json"), JSON.stringify(pins));
      }],
      ["go/go.sum", () => writeFileSync(join(root, "go/go.sum"), "golang.org/x/crypto/x509roots/fallback v0.0.1 h1:x=\n")],
      ["go/overlay/tailscaled/zz.go", () => writeFileSync(join(root, "go/overlay/tailscaled/zz.go"), "package main // changed\n")],
      ["src/build/busybox.ts#RECIPE", () => writeFileSync(join(root, "src/build/busybox.ts"), "const RECIPE = 4;\n")],
      ["rootfs/etc/motd (new)", () => writeFileSync(join(root, "rootfs/etc/motd"), "hi\n")],
    ];
    let rev = 1;
    for (const [what, change] of changes) {
      change();
      s = await releaseStatus(root);
      assert.equal(s.need.kind, "changed", what);
      assert.ok(s.need.kind === "changed" && s.need.changed.includes(what), `${what} named in ${JSON.stringify(s.need)}`);
      assert.match(staleMessage(s), /run 'mikrotik-tailscale release' to make it v1\.102\.5-mt\.\d+/);
      r = await applyRelease(root);
      rev++;
      assert.equal(r.to, `v1.102.5-mt.${rev}`, what);
    }

    // --unchanged: record a change without raising the revision.
    writeFileSync(join(root, "go/cmd/cabundle/main.go"), "package main // comment only\n");
    r = await applyRelease(root, { unchanged: true });
    assert.equal(r.to, `v1.102.5-mt.${rev}`);
    assert.equal((await releaseStatus(root)).need.kind, "none");

    // Tailscale moves: back to 1, and --unchanged makes no sense then.
    writeFileSync(join(root, "go/go.mod"), "module x\n\ngo 1.26.6\n\nrequire tailscale.com v1.104.2 // indirect\n");
    s = await releaseStatus(root);
    assert.equal(s.need.kind, "tailscale");
    assert.match(staleMessage(s), /counts revisions at Tailscale v1\.102\.5, but go\/go\.mod pins v1\.104\.2/);
    await assert.rejects(applyRelease(root, { unchanged: true }), /revision starts again at 1/);
    assert.equal((await applyRelease(root, { dryRun: true })).written, false);
    assert.equal((await releaseStatus(root)).need.kind, "tailscale", "dry run wrote nothing");
    r = await applyRelease(root);
    assert.equal(r.to, "v1.104.2-mt.1");
    const rec = JSON.parse(readFileSync(join(root, "config/release.json"), "utf8"));
    assert.equal(rec.revision, 1);
    assert.equal(rec.tailscale, "v1.104.2");
    assert.match(rec.$comment, /mikrotik-tailscale release/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the fingerprint covers the project's real inputs and nothing that is only churn", async () => {
  const fp = await computeFingerprint(projectRoot);
  const keys = Object.keys(fp.inputs);
  for (const k of ["config/image.yaml#tailscale.features", "config/image.yaml#busybox.applets", "config/image.yaml#config.env", "config/pins.json#busybox", "go/go.mod", "go/go.sum", "rootfs/usr/local/bin/entrypoint", "healthcheck/healthcheck.c", "config/image.yaml#healthcheck.cflags"]) {
    assert.ok(keys.includes(k), `${k} is an input`);
  }
  assert.ok(keys.some((k) => k.startsWith("go/overlay/")));
  assert.ok(keys.some((k) => /^src\/build\/.*#RECIPE$/.test(k)));
  assert.ok(!keys.some((k) => k.startsWith("docs/") || k.startsWith("test/") || k === "README.md"));
  // The same tree in another place has the same fingerprint.
  const copy = mkdtempSync(join(tmpdir(), "mt-release-copy-"));
  try {
    for (const d of ["rootfs", "config", "go/overlay", "go/cmd", "src/build", "healthcheck"]) cpSync(join(projectRoot, d), join(copy, d), { recursive: true });
    for (const f of ["go/go.mod", "go/go.sum", "go/source-patches.json"]) if (existsSync(join(projectRoot, f))) cpSync(join(projectRoot, f), join(copy, f));
    assert.equal((await computeFingerprint(copy)).digest, fp.digest);
    // A source patch shapes the binary: adding or editing one is a new input.
    writeFileSync(join(copy, "go/source-patches.json"), '{"patches": []}\n');
    const patched = await computeFingerprint(copy);
    assert.ok("go/source-patches.json" in patched.inputs);
    writeFileSync(join(copy, "go/source-patches.json"), '{"patches": [ ]}\n');
    assert.notEqual((await computeFingerprint(copy)).digest, patched.digest);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
  assert.deepEqual(changedInputs({ a: "1", b: "2" }, { a: "1", b: "3", c: "4" }), ["b", "c (new)"]);
  assert.deepEqual(changedInputs({ a: "1" }, {}), ["a (gone)"]);
});
