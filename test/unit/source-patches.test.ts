import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applySourcePatch, dropBlock, parseSourcePatches, patchVendorTree, type SourcePatch } from "../../src/build/source-patches.js";
import { parseGoVersionM } from "../../src/build/tailscale.js";
import { sha256 } from "../../src/util/fsx.js";

const SOURCE = [
  "package demo",
  "",
  "func setup(opts *Options) {",
  "\topts.A = 1",
  '\tif goos == "plan9" {',
  "\t\t// only there",
  "\t\topts.Missing = 2",
  "\t}",
  '\tif goos == "plan9" {',
  "\t\topts.Other = 3",
  "\t}",
  "\topts.B = 4",
  "}",
  "",
].join("\n");

const EXPECTED = SOURCE.replace('\tif goos == "plan9" {\n\t\t// only there\n\t\topts.Missing = 2\n\t}\n', "");

function patch(over: Partial<SourcePatch> = {}): SourcePatch {
  return {
    module: "example.com/demo",
    file: "pkg/demo.go",
    why: "the field does not exist in the served dependency",
    dropBlock: { opens: 'if goos == "plan9" {', containing: "opts.Missing" },
    sha256: sha256(SOURCE),
    patchedSha256: sha256(EXPECTED),
    ...over,
  };
}

test("dropBlock removes exactly the block that contains the marker, and nothing else", () => {
  assert.equal(dropBlock(SOURCE, patch()), EXPECTED);
  assert.match(dropBlock(SOURCE, patch()), /opts\.Other = 3/);
});

test("dropBlock refuses when no block or more than one block matches", () => {
  assert.throws(() => dropBlock(SOURCE, patch({ dropBlock: { opens: 'if goos == "plan9" {', containing: "opts.Nowhere" } })), /found 0/);
  assert.throws(() => dropBlock(SOURCE, patch({ dropBlock: { opens: 'if goos == "plan9" {', containing: "opts." } })), /found 2/);
  assert.throws(() => dropBlock(SOURCE, patch({ dropBlock: { opens: "if nothing {", containing: "opts.Missing" } })), /found 0/);
});

test("applySourcePatch checks the file's hash before and the result's after", () => {
  assert.equal(applySourcePatch(SOURCE, patch()), EXPECTED);
  assert.throws(() => applySourcePatch(SOURCE + "// changed upstream\n", patch()), /sha256 is [0-9a-f]{64}, go\/source-patches\.json expects .*new upstream version/);
  assert.throws(() => applySourcePatch(SOURCE, patch({ patchedSha256: "0".repeat(64) })), /patched file's sha256/);
});

test("parseSourcePatches validates the file and names the bad field", () => {
  const ok = JSON.stringify({ patches: [patch()] });
  assert.equal(parseSourcePatches(ok).length, 1);
  assert.throws(() => parseSourcePatches("{"), /not valid JSON/);
  assert.throws(() => parseSourcePatches(JSON.stringify({ patches: [{ ...patch(), sha256: "abc" }] })), /patches\.0\.sha256: must be 64/);
  assert.throws(() => parseSourcePatches(JSON.stringify({ patches: [{ ...patch(), file: "../etc/passwd" }] })), /patches\.0\.file/);
  assert.throws(() => parseSourcePatches(JSON.stringify({ patches: [{ ...patch(), dropBlock: { opens: "x = 1", containing: "y" } }] })), /opens: must be a line that opens a block/);
});

test("patchVendorTree edits the vendored file in place and names a missing one", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-patch-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "vendor", "example.com", "demo", "pkg"), { recursive: true });
  const file = join(dir, "vendor", "example.com", "demo", "pkg", "demo.go");
  writeFileSync(file, SOURCE);
  await patchVendorTree(dir, [patch()]);
  assert.equal(readFileSync(file, "utf8"), EXPECTED);
  await assert.rejects(patchVendorTree(dir, [patch({ file: "pkg/gone.go" })]), /example\.com\/demo\/pkg\/gone\.go is not in the vendored sources/);
});

test("parseGoVersionM keeps a go.mod replacement with the module it replaces", () => {
  const text = [
    "/tmp/x: go1.27.3",
    "\tpath\ttailscale.com/cmd/tailscaled",
    "\tmod\ttailscale.com\tv1.104.2\th1:main=",
    "\tdep\tgithub.com/a/b\tv1.0.0\th1:ab=",
    "\tdep\tgvisor.dev/gvisor\tv0.0.0-20260915211658-a6f909f08a72\t",
    "\t=>\tgvisor.dev/gvisor\tv0.0.0-20260905035102-160fafc42237\t",
    "\tbuild\t-trimpath=true",
  ].join("\n");
  const info = parseGoVersionM(text);
  assert.equal(info.deps.length, 2);
  assert.equal(info.deps[0]!.replacedBy, undefined);
  assert.deepEqual(info.deps[1]!.replacedBy, { path: "gvisor.dev/gvisor", version: "v0.0.0-20260905035102-160fafc42237", sum: "" });
  assert.equal(info.settings.get("-trimpath"), "true");
});
