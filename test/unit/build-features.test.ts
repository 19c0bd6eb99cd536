import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  buildTags,
  checkAllowlistKnown,
  includedFeatures,
  parseFeatureAllowlist,
  parseFeatureList,
} from "../../src/build/features.js";
import { InvalidInputError } from "../../src/errors.js";
import { featureAllowlist, loadImageSpec } from "../../src/image/spec.js";

const LIST = `
                 ace: Alternate Connectivity Endpoints
                 cli: embed the CLI into the tailscaled binary
                 dns: MagicDNS and system DNS configuration support
            netstack: gVisor netstack (userspace networking) support
                 ssh: Tailscale SSH support
            osrouter: Configure the operating system's network stack
`;

test("the allowlist file parses with a reason per feature", () => {
  const a = parseFeatureAllowlist("# comment\n\ndns   # MagicDNS\nnetstack # needed for dns\n");
  assert.deepEqual(a.features, [
    { name: "dns", reason: "MagicDNS" },
    { name: "netstack", reason: "needed for dns" },
  ]);
});

test("allowlist entries without a reason, duplicates or junk are rejected with the line number", () => {
  assert.throws(() => parseFeatureAllowlist("dns\n"), /features.txt:1: feature 'dns' needs a one-line reason/);
  assert.throws(() => parseFeatureAllowlist("dns # a\ndns # b\n"), /features.txt:2: feature 'dns' listed twice/);
  assert.throws(() => parseFeatureAllowlist("Bad-Name # x\n"), InvalidInputError);
  assert.throws(() => parseFeatureAllowlist("# only comments\n"), /no features listed/);
});

test("an allowlisted feature the pinned Tailscale does not know is an error naming it", () => {
  const known = parseFeatureList(LIST);
  assert.equal(known.size, 6);
  checkAllowlistKnown(parseFeatureAllowlist("dns # x\n"), known, "v1.0.0");
  assert.throws(
    () => checkAllowlistKnown(parseFeatureAllowlist("dns # x\nmagicdns # typo\n"), known, "v1.102.5"),
    (e: unknown) => e instanceof InvalidInputError && /Tailscale v1\.102\.5 has no feature named 'magicdns'/.test(e.message),
  );
});

test("build tags are ts_include_cli plus exactly what featuretags printed", () => {
  assert.deepEqual(buildTags("ts_omit_ace,ts_omit_ssh\n"), ["ts_include_cli", "ts_omit_ace", "ts_omit_ssh"]);
  assert.throws(() => buildTags("ts_omit_ace,-tags=evil"), /unexpected tag '-tags=evil'/);
});

test("included features are the known ones not omitted; cli only with ts_include_cli", () => {
  const known = parseFeatureList(LIST);
  const r = includedFeatures(["ts_include_cli", "ts_omit_ace", "ts_omit_ssh"], known);
  assert.deepEqual(r.included, ["cli", "dns", "netstack", "osrouter"]);
  assert.deepEqual(r.omitted, ["ace", "ssh"]);
  assert.deepEqual(includedFeatures(["ts_omit_ace"], known).included.includes("cli"), false);
});

test("the repo's allowlist holds what a router needs and leaves out what wears flash", () => {
  const allow = featureAllowlist(loadImageSpec());
  const names = allow.features.map((f) => f.name);
  for (const must of ["osrouter", "advertiseroutes", "advertiseexitnode", "useroutes", "useexitnode", "dns", "netstack", "portmapper", "listenrawdisco", "health", "unixsocketidentity", "ipnbus", "oauthkey"]) {
    assert.ok(names.includes(must), `${must} must be allowlisted`);
  }
  for (const never of ["clientupdate", "cachenetmap", "logtail", "netlog", "ssh"]) {
    assert.ok(!names.includes(never), `${never} must stay out`);
  }
});
