/**
 * The RouterOS update script (`routeros update-script`): golden files for
 * several RouterOS versions and architectures, the script embedded in the
 * installer is the script, and checks a RouterOS parser would make first
 * (balanced blocks, every variable declared). Refresh the goldens with
 *   UPDATE_GOLDEN=1 node --import tsx --test test/unit/update-script.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { architecture } from "../../src/arch.js";
import { projectRoot } from "../../src/paths.js";
import { parseRouterConfig } from "../../src/routeros/config.js";
import { buildPlan } from "../../src/routeros/plan.js";
import { DIGEST_MARK, commentWithDigest, platformMatches, recordedDigest, remoteImageReference } from "../../src/routeros/update-check.js";
import { renderUpdateBody, renderUpdateInstaller, updateTarget } from "../../src/routeros/update-script.js";

// MT_GOLDEN_ROOT: another copy of test/golden (test/unit/test-harness.test.ts uses it).
const GOLDEN = join(process.env.MT_GOLDEN_ROOT ?? join(projectRoot, "test", "golden"), "update-script");
const YAML = readFileSync(join(GOLDEN, "router.yaml"), "utf8");
const TOKEN = "https://auth.example.com/token?service=registry.example.com&scope=repository:owner/mikrotik-tailscale:pull";

function setup(version: string, arch: string, edit: (y: string) => string = (y) => y) {
  const yaml = edit(YAML.replace(/version: "7\.22"/, `version: "${version}"`).replace(/arch: arm64/, `arch: ${arch}`));
  const config = parseRouterConfig(yaml, "router.yaml", GOLDEN);
  return { config, plan: buildPlan(config, { resolveSecrets: false }) };
}

const CASES: { file: string; version: string; arch: string; tokenUrl?: string; interval?: string }[] = [
  { file: "install-7.22-arm64.rsc", version: "7.22", arch: "arm64", tokenUrl: TOKEN },
  { file: "install-7.21.2-arm.rsc", version: "7.21.2", arch: "arm", tokenUrl: TOKEN, interval: "12h" },
  { file: "install-7.19-arm32v5.rsc", version: "7.19", arch: "arm32v5" },
  { file: "install-7.20-x86.rsc", version: "7.20", arch: "x86", tokenUrl: TOKEN },
];

for (const c of CASES) {
  test(`golden: ${c.file}`, () => {
    const { config, plan } = setup(c.version, c.arch);
    const text = renderUpdateInstaller(config, plan, { tokenUrl: c.tokenUrl, interval: c.interval });
    const path = join(GOLDEN, c.file);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, text);
    assert.ok(existsSync(path), `${path} is missing: write it with UPDATE_GOLDEN=1, review it and check it in`);
    assert.equal(text, readFileSync(path, "utf8"), `${c.file} changed: review the diff, then refresh with UPDATE_GOLDEN=1`);
  });
}

/** Undoes RouterOS string escapes. */
function unescapeRos(s: string): string {
  return s.replace(/\\(["\\$?nrt_]|[0-9A-F]{2})/g, (_m, e: string) =>
    e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : ({ n: "\n", r: "\r", t: "\t", _: " " } as Record<string, string>)[e] ?? e,
  );
}

/** Code outside string literals and comments, for structural checks. */
function codeOnly(script: string): string {
  return script
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n")
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

test("the installer embeds exactly the script, and both are well formed", () => {
  for (const c of CASES) {
    const { config, plan } = setup(c.version, c.arch);
    const body = renderUpdateBody(config, plan, { tokenUrl: c.tokenUrl });
    const installer = renderUpdateInstaller(config, plan, { tokenUrl: c.tokenUrl });
    const m = /^ {4}:local src ("(?:[^"\\]|\\.)*")$/m.exec(installer);
    assert.ok(m, "the installer sets :local src");
    assert.equal(unescapeRos(m[1]!.slice(1, -1)), body);
    for (const script of [body, installer]) {
      const code = codeOnly(script);
      let depth = 0;
      for (const ch of code) {
        if (ch === "{" || ch === "[" || ch === "(") depth++;
        if (ch === "}" || ch === "]" || ch === ")") depth--;
        assert.ok(depth >= 0, "no block closes before it opens");
      }
      assert.equal(depth, 0, "every block is closed");
      assert.ok(!/^[ \t]+#/m.test(script), "comments start in the first column (RouterOS allows nothing before #)");
    }
    // Every variable the script reads is declared (:local) or bound by :foreach.
    const code = codeOnly(body);
    const declared = new Set([...code.matchAll(/:(?:local|global) (\w+)/g), ...code.matchAll(/:foreach (\w+) in=/g)].map((x) => x[1]!));
    // ($1, $2: a function's arguments.)
    for (const v of new Set([...code.matchAll(/\$(\w+)/g)].map((x) => x[1]!))) assert.ok(declared.has(v) || /^\d+$/.test(v), `$${v} is declared`);
    // Container fields follow the RouterOS version's names.
    const syntax = config.syntax;
    assert.match(body, new RegExp(` ${syntax.containerEnvField}=\\$newEnv ${syntax.containerMountsField}=\\$newMount `));
  }
});

test("the script picks this router's platform and keeps the state mount; & in URLs is written as \\26", () => {
  const { config, plan } = setup("7.22", "arm64");
  const body = renderUpdateBody(config, plan, { tokenUrl: TOKEN });
  assert.match(body, /:if \(\(\$pl->"architecture"\) = "arm64" && \(\[:tostr \(\$pl->"variant"\)\] = "v8" \|\| \[:tostr \(\$pl->"variant"\)\] = ""\)\)/);
  assert.match(body, /:local tokenUrl "https:\/\/auth\.example\.com\/token\\\?service=registry\.example\.com\\26scope=repository:owner\/mikrotik-tailscale:pull"/);
  assert.match(body, /:local manifestUrl "https:\/\/registry\.example\.com\/v2\/owner\/mikrotik-tailscale\/manifests\/stable"/);
  assert.match(body, / mountlists=\$newMount /, "the new container gets its own mount list (a copy of the old one's)");
  assert.match(body, /\/container\/mounts\/add list=\$newMount src=\[\/container\/mounts\/get \$x src\]/);
  assert.match(body, /comment=\(\$cm \. \$mark \. \$want\)/, "the new container records the digest it was made from");
  assert.match(body, /:set newRoot "usb1\/tailscale\/root-b"/, "the new container extracts beside the old one");
  const armv7 = renderUpdateBody(setup("7.22", "arm").config, setup("7.22", "arm").plan, {});
  assert.match(armv7, /\(\$pl->"architecture"\) = "arm" && \[:tostr \(\$pl->"variant"\)\] = "v7"\) do=/);
  assert.match(armv7, /:local tokenUrl ""/);
  const x86 = renderUpdateBody(setup("7.22", "x86").config, setup("7.22", "x86").plan, {});
  assert.match(x86, /:if \(\(\$pl->"architecture"\) = "amd64"\) do=/);
  const plain = renderUpdateBody(config, plan, { plainHttp: true });
  assert.match(plain, /:local manifestUrl "http:\/\/registry\.example\.com\//);
  assert.doesNotMatch(plain, /url=\$manifestUrl [^\n]*check-certificate=yes/);
  assert.match(renderUpdateInstaller(config, plan, { interval: "6h30m" }), /interval=6h30m/);
  assert.throws(() => renderUpdateInstaller(config, plan, { interval: "daily" }), /not a RouterOS interval/);
});

test("a file image cannot be followed; a registry-url config names the registry", () => {
  const file = setup("7.22", "arm64", (y) => y.replace("remote: registry.example.com/owner/mikrotik-tailscale:stable", "file: x-{arch}.tar"));
  assert.throws(() => renderUpdateInstaller(file.config, file.plan, {}), /follows a registry tag, but the config's image is a file/);
  const viaUrl = setup("7.22", "arm64", (y) =>
    y.replace("remote: registry.example.com/owner/mikrotik-tailscale:stable", "remote: owner/mikrotik-tailscale:stable\n  registryUrl: https://registry.example.net"),
  );
  assert.equal(updateTarget(viaUrl.config, viaUrl.plan).manifestUrl, "https://registry.example.net/v2/owner/mikrotik-tailscale/manifests/stable");
});

test("the digest record in a container comment", () => {
  const d1 = `sha256:${"1".repeat(64)}`;
  const d2 = `sha256:${"2".repeat(64)}`;
  assert.equal(recordedDigest(undefined), undefined);
  assert.equal(recordedDigest("set up by hand"), undefined);
  assert.equal(recordedDigest(`${DIGEST_MARK}${d1}`), d1);
  assert.equal(recordedDigest(`office ${DIGEST_MARK}sha256:short`), undefined);
  assert.equal(commentWithDigest(undefined, d1), `${DIGEST_MARK}${d1}`);
  assert.equal(commentWithDigest(`office gw ${DIGEST_MARK}${d1}`, d2), `office gw ${DIGEST_MARK}${d2}`);
  assert.equal(recordedDigest(commentWithDigest("office gw", d2)), d2);
  assert.deepEqual(remoteImageReference("registry.example.com/owner/x:stable"), { registry: "registry.example.com", repository: "owner/x", tag: "stable" });
  assert.equal(remoteImageReference("registry.example.com/owner/x").tag, "latest");
  assert.throws(() => remoteImageReference(`registry.example.com/owner/x@sha256:${"a".repeat(64)}`), /pinned by digest/);
  const arm64 = architecture("arm64");
  assert.ok(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, arm64));
  assert.ok(platformMatches({ os: "linux", architecture: "arm64" }, arm64));
  assert.ok(!platformMatches({ os: "linux", architecture: "arm", variant: "v7" }, arm64));
  assert.ok(!platformMatches({ os: "linux", architecture: "arm", variant: "v7" }, architecture("armv5")));
  assert.ok(platformMatches({ os: "linux", architecture: "arm", variant: "v5" }, architecture("armv5")));
  assert.ok(!platformMatches({ os: "linux", architecture: "amd64", variant: "v3" }, architecture("amd64")));
});

test("the update script fits every release it can run on, and refuses those without container names", async () => {
  const { forVersion, loadRouterConfig } = await import("../../src/routeros/config.js");
  const { knownReleases } = await import("../../src/routeros/schema/tree.js");
  const { buildPlan } = await import("../../src/routeros/plan.js");
  const { renderUpdateInstaller } = await import("../../src/routeros/update-script.js");
  const base = loadRouterConfig(new URL("../golden/update-script/router.yaml", import.meta.url).pathname);
  for (const v of knownReleases()) {
    const c = forVersion(base, v);
    const render = () => renderUpdateInstaller(c, buildPlan(c, { resolveSecrets: false }));
    if (c.syntax.containerKey === "name") assert.match(render(), /\/system\/scheduler\/add/, v);
    else assert.throws(render, /RouterOS 7\.1[678](\.\d)? has no container names \(they came in 7\.19\): use 'routeros upgrade'/, v);
  }
});
