import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseRouterConfig, parseSize } from "../../src/routeros/config.js";
import { ConfigError } from "../../src/routeros/errors.js";
import { overlaps, parsePrefix, parseInterfaceAddress } from "../../src/routeros/net.js";
import { compareVersions, parseRouterOsVersion } from "../../src/routeros/version.js";
import { containerSyntax, treeModel } from "../../src/routeros/schema/model.js";
import { chooseTree, knownReleases } from "../../src/routeros/schema/tree.js";
import { buildPlan, containerEnv } from "../../src/routeros/plan.js";
import { imageFiles } from "../../src/image/index.js";
import { imageVersion } from "../../src/build/index.js";
import { loadGoModPins } from "../../src/pins.js";

const base = {
  routeros: { version: "7.21.2", arch: "arm64" },
  image: { remote: "registry.example.com/owner/mikrotik-tailscale:stable" },
  network: { veth: { address: "172.17.0.2/24", gateway: "172.17.0.1" } },
  storage: { rootDir: "tailscale/root", stateDir: "tailscale/state" },
  tailscale: { advertiseRoutes: ["192.168.88.0/24"] },
};

type Obj = Record<string, unknown>;
function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && a[k] && typeof a[k] === "object" ? merge(a[k] as Obj, v as Obj) : v;
  }
  return out;
}
const cfg = (patch: Obj = {}) => parseRouterConfig(JSON.stringify(merge(base, patch)), "router.json");
const rejects = (patch: Obj, re: RegExp) =>
  assert.throws(() => cfg(patch), (e: Error) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return true;
  });

test("the example config parses and plans", async () => {
  const text = readFileSync(new URL("../../examples/router.yaml", import.meta.url), "utf8");
  const c = parseRouterConfig(text, "examples/router.yaml", "/nonexistent");
  assert.equal(c.arch.name, "arm64");
  assert.equal(c.container.name, "tailscale");
  assert.equal(c.storage.imageDir, "ramdisk");
  const p = buildPlan(c, { resolveSecrets: false });
  // The name `npm run images` writes: imageFiles is what the build itself uses.
  const want = imageFiles.dockerArchive(await imageVersion(loadGoModPins().tailscaleVersion), "arm64");
  assert.ok(p.container.image.kind === "file" && p.container.image.fileName === want, `${JSON.stringify(p.container.image)} vs ${want}`);
  assert.match(want, /^mikrotik-tailscale-v\d+\.\d+\.\d+-mt\.\d+-arm64\.tar$/, "named with its build, as the tag is");
  assert.equal(p.container.image.localPath, "/nonexistent/dist/" + want, "relative to the config, which the Quick Start copies to the checkout's top");
});

test("a minimal config gets defaults", () => {
  const c = cfg();
  assert.equal(c.container.name, "tailscale");
  assert.equal(c.network.veth.name, "veth-tailscale");
  assert.equal(c.network.bridge, "br-tailscale");
  assert.deepEqual(c.dns.forward, ["ts.net"]);
  assert.equal(c.tailscale.authKey.kind, "none");
  assert.equal(c.network.subnet.text, "172.17.0.0/24");
});

test("overlapping advertised subnets are refused", () => {
  rejects({ tailscale: { advertiseRoutes: ["10.0.0.0/8", "10.1.0.0/16"] } }, /advertiseRoutes: 10\.0\.0\.0\/8 and 10\.1\.0\.0\/16 overlap/);
  rejects({ tailscale: { acceptRoutes: ["192.168.88.128/25"] } }, /acceptRoutes: 192\.168\.88\.128\/25 overlaps advertised route 192\.168\.88\.0\/24/);
  rejects({ tailscale: { acceptRoutes: ["100.100.0.0/16"] } }, /overlaps the tailnet range/);
});

test("a container subnet inside an advertised LAN is refused", () => {
  rejects(
    { network: { veth: { address: "192.168.88.250/24", gateway: "192.168.88.1" } } },
    /network\.veth\.address: container subnet 192\.168\.88\.0\/24 overlaps advertised route 192\.168\.88\.0\/24/,
  );
  rejects({ network: { veth: { address: "10.9.9.2/30", gateway: "10.9.9.1" } }, tailscale: { advertiseRoutes: ["10.0.0.0/8"] } }, /container subnet 10\.9\.9\.0\/30 overlaps advertised route 10\.0\.0\.0\/8/);
  rejects({ network: { veth: { address: "100.64.5.2/24", gateway: "100.64.5.1" } } }, /overlaps the tailnet range 100\.64\.0\.0\/10/);
});

test("invalid CIDRs and addresses are refused with the offending value", () => {
  rejects({ tailscale: { advertiseRoutes: ["192.168.300.0/24"] } }, /advertiseRoutes\[0\]: '192\.168\.300\.0\/24' is not a valid CIDR prefix/);
  rejects({ tailscale: { advertiseRoutes: ["192.168.88.1/24"] } }, /has host bits set \(did you mean 192\.168\.88\.0\/24\?\)/);
  rejects({ tailscale: { advertiseRoutes: ["192.168.88.0"] } }, /not a valid CIDR prefix/);
  rejects({ tailscale: { advertiseRoutes: ["0.0.0.0/0"] } }, /default route; set exitNode: true/);
  rejects({ network: { veth: { address: "172.17.0.2", gateway: "172.17.0.1" } } }, /network\.veth\.address: '172\.17\.0\.2' is not an IPv4 address with a prefix length/);
  rejects({ network: { veth: { address: "172.17.0.2/24", gateway: "172.18.0.1" } } }, /gateway: 172\.18\.0\.1 is not inside the container subnet 172\.17\.0\.0\/24/);
  rejects({ network: { veth: { address: "172.17.0.2/24", gateway: "172.17.0.2" } } }, /must differ from the veth address/);
});

test("RouterOS versions that are not versions, or too old, are refused naming the field", () => {
  for (const v of ["banana", "7", "7.21.x", "v7.21"]) rejects({ routeros: { version: v } }, /routeros\.version: unknown RouterOS version/);
  for (const v of ["6.49.10", "7.5", "7.15.3"]) rejects({ routeros: { version: v } }, /routeros\.version: RouterOS .* is too old: this tool needs RouterOS 7\.16 or later/);
  for (const v of ["7.16", "7.23", "7.24", "7.24rc1", "8.0"]) assert.equal(cfg({ routeros: { version: v } }).version.text, v);
});

test("unknown architectures are refused; RouterOS and project names both work", () => {
  rejects({ routeros: { arch: "mipsbe" } }, /routeros\.arch: unknown architecture 'mipsbe'/);
  assert.equal(cfg({ routeros: { arch: "x86" } }).arch.name, "amd64");
  assert.equal(cfg({ routeros: { arch: "arm" } }).arch.name, "armv7");
  assert.equal(cfg({ routeros: { arch: "arm32v5" } }).arch.name, "armv5");
  assert.equal(cfg({ routeros: { arch: "armv7" } }).arch.routerosArch, "arm");
});

test("shape errors name the field", () => {
  rejects({ bogus: 1 }, /Unrecognized key/);
  rejects({ container: { name: "bad name" } }, /container\.name/);
  rejects({ image: { file: "a.tar", remote: "x/y:z" } }, /image: give exactly one of/);
  rejects({ storage: { rootDir: "tailscale", stateDir: "tailscale/state" } }, /'tailscale\/state' is inside/);
  rejects({ tailscale: { env: { TS_ROUTES: "x" } } }, /tailscale\.env\.TS_ROUTES: is set from the config's own fields/);
  assert.throws(() => parseRouterConfig("routeros: [", "bad.yaml"), /bad\.yaml: not valid YAML\/JSON/);
  assert.throws(() => parseRouterConfig("42", "bad.yaml"), /expected a mapping/);
});

test("notes: tmpfs before 7.21.2; warnings: state on a RAM disk", () => {
  const c = cfg({ routeros: { version: "7.21.1" }, container: { tmpfs: { "/tmp": "8M" } }, storage: { ramDisk: {}, stateDir: "ramdisk/state" } });
  assert.ok(buildPlan(c, { resolveSecrets: false }).notes.some((w) => /tmpfs is left out: RouterOS 7\.21\.1 has no per-container tmpfs/.test(w)));
  assert.ok(c.warnings.some((w) => /identity is lost/.test(w)));
});

test("version syntax follows RouterOS's own command trees", () => {
  const s = (v: string) => containerSyntax(treeModel(parseRouterOsVersion(v)));
  const s719 = s("7.19");
  assert.deepEqual(
    [s719.envsListKey, s719.containerEnvField, s719.mountsListKey, s719.containerMountsField, s719.containerTmpfs, s719.memoryHigh, s719.configMemoryKey, s719.restart],
    ["name", "envlist", "name", "mounts", false, false, "ram-high", undefined],
    "7.19 has no per-container memory-high, only /container/config ram-high",
  );
  assert.equal(s("7.18").containerKey, "comment", "containers get a name property only in 7.19");
  assert.equal(s("7.19").containerKey, "name");
  assert.equal(s("7.20").memoryHigh, true);
  assert.equal(s("7.20").configMemoryKey, "memory-high");
  assert.equal(s("7.20").restart, "auto-restart-interval");
  assert.equal(s("7.22.3").restart, "auto-restart-interval");
  assert.equal(s("7.23").restart, "restart-policy");
  assert.equal(s("7.23").memoryMax, true);
  assert.equal(s("7.22").memoryMax, false);
  assert.equal(s("7.21.5").healthcheck, false);
  // 7.22's tree has healthcheck-*; MikroTik's manual starts health checks at 7.23.
  assert.equal(s("7.22").healthcheck, false);
  assert.equal(s("7.23").healthcheck, true);
  assert.equal(s("7.22").stopOnUnhealthy, false);
  assert.equal(s("7.23").stopOnUnhealthy, true);
  assert.equal(s("7.22").mountAccess, "read-only");
  assert.equal(s("7.23").mountAccess, "mode");
  assert.equal(s("7.21.5").entrypointRequired, false);
  assert.equal(s("7.22").entrypointRequired, true);
  assert.equal(s("7.20").envsListKey, "list");
  assert.equal(s("7.20").containerEnvField, "envlists");
  assert.equal(s("7.20").containerMountsField, "mounts");
  assert.equal(s("7.21").mountsListKey, "list");
  assert.equal(s("7.21").containerMountsField, "mountlists");
  assert.equal(s("7.21.1").containerTmpfs, false);
  assert.equal(s("7.21.2").containerTmpfs, true);
  assert.equal(s("7.22 (stable)").containerTmpfs, true);
  assert.equal(parseRouterOsVersion("7.21.2 (stable)").text, "7.21.2");
});

test("every RouterOS version from 7.16 on is accepted; the tree is chosen by point release", () => {
  for (const v of knownReleases()) assert.equal(chooseTree(parseRouterOsVersion(v)).name, v, `${v} uses its own tree`);
  assert.deepEqual(chooseTree(parseRouterOsVersion("7.19.5")), { name: "7.19.4", newer: false }, "a point release without a tree uses the one before it");
  const rc = chooseTree(parseRouterOsVersion("7.23rc2"));
  assert.equal(rc.name, "7.23");
  assert.match(rc.warning!, /7\.23rc2 is a pre-release: using the command tree of 7\.23/);
  for (const v of ["7.24.1", "7.25", "7.25beta3", "7.30.2 (stable)", "8.1"]) {
    const c = chooseTree(parseRouterOsVersion(v));
    assert.equal(c.newer, true, v);
    assert.equal(c.name, "7.24");
    assert.match(c.warning!, /is newer than the newest release this tool has a command tree for \(7\.24\)/);
  }
  assert.throws(() => parseRouterOsVersion("7.15.3"), /RouterOS 7\.15\.3 is too old: this tool needs RouterOS 7\.16 or later/);
  assert.throws(() => parseRouterOsVersion("6.49"), /too old/);
  assert.throws(() => parseRouterOsVersion("seven"), /unknown RouterOS version 'seven'/);
  assert.throws(() => parseRouterOsVersion("7.2x"), /unknown RouterOS version/);
  assert.ok(compareVersions(parseRouterOsVersion("7.23beta1"), parseRouterOsVersion("7.23rc1")) < 0);
  assert.ok(compareVersions(parseRouterOsVersion("7.23rc1"), parseRouterOsVersion("7.23")) < 0);
  assert.ok(compareVersions(parseRouterOsVersion("7.23"), parseRouterOsVersion("7.23.1")) < 0);
  // A config for a newer router says so once, as a warning.
  const c = cfg({ routeros: { version: "7.26" } });
  assert.deepEqual(c.warnings.filter((w) => /newer than the newest/.test(w)).length, 1);
  assert.equal(c.version.text, "7.26");
});

test("limits RouterOS or tailscaled would reject are one clear error naming the field", () => {
  assert.throws(() => cfg({ container: { memoryLimit: "32M" } }), /container\.memoryLimit: 32M is too little for tailscaled; give it at least 40M/);
  assert.throws(() => cfg({ container: { memoryLimit: "lots" } }), /container\.memoryLimit: must be a size/);
  assert.throws(() => cfg({ container: { memoryLimit: "96M", memoryHigh: "128M" } }), /container\.memoryHigh: 128M is above memoryLimit 96M/);
  assert.throws(() => cfg({ container: { restart: { interval: "soon" } } }), /container\.restart\.interval: must be a time interval/);
  assert.throws(() => cfg({ container: { restart: { interval: "500ms" } } }), /container\.restart\.interval: 500ms is shorter than RouterOS allows/);
  assert.throws(() => cfg({ container: { restart: { policy: "sometimes" } } }), /container\.restart\.policy/);
  assert.throws(() => cfg({ container: { restart: { maxCount: -1 } } }), /container\.restart\.maxCount/);
  assert.throws(() => cfg({ container: { healthcheck: { interval: "10s", timeout: "10s" } } }), /container\.healthcheck\.timeout: 10s must be shorter than the interval 10s/);
  assert.throws(() => cfg({ container: { entrypoint: "entrypoint" } }), /container\.entrypoint: must be an absolute path/);
});

test("prefix arithmetic", () => {
  assert.ok(overlaps(parsePrefix("10.0.0.0/8")!, parsePrefix("10.200.0.0/16")!));
  assert.ok(!overlaps(parsePrefix("10.0.0.0/16")!, parsePrefix("10.1.0.0/16")!));
  assert.ok(!overlaps(parsePrefix("10.0.0.0/8")!, parsePrefix("fd00::/8")!));
  assert.equal(parsePrefix("fd7a:115c:a1e0::/48")!.text, "fd7a:115c:a1e0::/48");
  assert.equal(parsePrefix("fd7a:115c:a1e0::1/48"), null);
  assert.equal(parseInterfaceAddress("172.17.0.2/24")!.prefix.text, "172.17.0.0/24");
  assert.equal(parsePrefix("1.2.3.04/32"), null);
  assert.equal(parseSize("96M"), 96 * 1024 * 1024);
  assert.equal(parseSize("1G"), 1024 ** 3);
  assert.equal(parseSize("100663296"), 100663296);
  assert.equal(parseSize("lots"), null);
});

test("container environment from the config", () => {
  const c = cfg({ container: { hostname: "gw" }, tailscale: { exitNode: true, acceptRoutes: ["10.20.0.0/16"], loginServer: "https://hs.example.com", authKey: { containerFile: "/var/lib/tailscale/authkey" } } });
  const env = Object.fromEntries(containerEnv(c, undefined).map((e) => [e.key, e.value]));
  assert.equal(env.TS_AUTHKEY, "file:/var/lib/tailscale/authkey");
  assert.equal(env.TS_HOSTNAME, "gw");
  assert.equal(env.TS_ROUTES, "192.168.88.0/24");
  assert.equal(env.TS_ADVERTISE_EXIT_NODE, "true");
  assert.equal(env.TS_ACCEPT_ROUTES, "true");
  assert.equal(env.TS_LOGIN_SERVER, "https://hs.example.com");
  assert.equal(env.TS_STATE_DIR, "/var/lib/tailscale");
});

test("auth key from the environment: missing is a clear error when secrets are needed", () => {
  const c = cfg({ tailscale: { authKey: { env: "MY_KEY" } } });
  assert.throws(() => buildPlan(c, { resolveSecrets: true, env: {} }), /tailscale\.authKey: environment variable MY_KEY is not set/);
  const p = buildPlan(c, { resolveSecrets: true, env: { MY_KEY: "tskey-1" } });
  const step = p.before.find((s) => s.type === "item" && s.what === "env TS_AUTHKEY");
  assert.ok(step && step.type === "item" && step.set.value === "tskey-1" && step.secret?.includes("value"));
  // Without secrets the value is not even read.
  const q = buildPlan(c, { resolveSecrets: false, env: {} });
  const s2 = q.before.find((s) => s.type === "item" && s.what === "env TS_AUTHKEY");
  assert.ok(s2 && s2.type === "item" && s2.set.value === undefined);
});

test("an OAuth client secret: TS_CLIENT_SECRET as secret as the auth key, with TS_ADVERTISE_TAGS; tags required, not beside authKey", () => {
  const c = cfg({ tailscale: { clientSecret: { env: "TS_OAUTH" }, advertiseTags: ["tag:router", "office"] } });
  assert.throws(() => buildPlan(c, { resolveSecrets: true, env: {} }), /tailscale\.clientSecret: environment variable TS_OAUTH is not set/);
  const p = buildPlan(c, { resolveSecrets: true, env: { TS_OAUTH: "tskey-client-abc" } });
  const step = p.before.find((s) => s.type === "item" && s.what === "env TS_CLIENT_SECRET");
  assert.ok(step && step.type === "item" && step.set.value === "tskey-client-abc" && step.secret?.includes("value"), "the secret is a secret field of the env entry");
  assert.ok(!p.before.some((s) => s.type === "item" && s.what === "env TS_AUTHKEY"), "no TS_AUTHKEY beside it");
  const env = Object.fromEntries(containerEnv(c, "tskey-client-abc").map((e) => [e.key, e]));
  assert.equal(env.TS_ADVERTISE_TAGS?.value, "tag:router,office");
  assert.equal(env.TS_CLIENT_SECRET?.secret, true);
  const q = buildPlan(c, { resolveSecrets: false, env: {} });
  const s2 = q.before.find((s) => s.type === "item" && s.what === "env TS_CLIENT_SECRET");
  assert.ok(s2 && s2.type === "item" && s2.set.value === undefined, "not read without secrets");
  rejects({ tailscale: { clientSecret: { env: "TS_OAUTH" } } }, /tailscale\.advertiseTags: is required with clientSecret/);
  rejects({ tailscale: { clientSecret: { env: "TS_OAUTH" }, authKey: { env: "K" }, advertiseTags: ["tag:a"] } }, /tailscale\.clientSecret: cannot be used together with authKey/);
  rejects({ tailscale: { advertiseTags: ["tag:no spaces"] } }, /advertiseTags/);
  rejects({ tailscale: { env: { TS_CLIENT_SECRET: "x" } } }, /tailscale\.env\.TS_CLIENT_SECRET: is set from the config's own fields/);
});

test("a memory cap from 40M to under 64M is taken, with a warning that the container may not start", () => {
  const low = cfg({ container: { memoryLimit: "48M" } });
  assert.ok(low.warnings.some((w) => /container\.memoryLimit 48M is below 64M: .*ended while starting/.test(w)), low.warnings.join("\n"));
  const soft = cfg({ container: { memoryLimit: "96M", memoryHigh: "56M" } });
  assert.ok(soft.warnings.some((w) => /container\.memoryHigh 56M is below 64M/.test(w)), soft.warnings.join("\n"));
  assert.ok(!cfg({ container: { memoryLimit: "64M" } }).warnings.some((w) => /below 64M/.test(w)), "64M is enough: no warning");
});

test("tailscale.useExitNode is an IP address, a node name or auto:any: anything else is one line naming the field", () => {
  for (const v of ["100.64.0.7", "fd7a:115c:a1e0::7", "exit-1", "Exit-1.tailnet.ts.net", "exit-1.tailnet.ts.net.", "auto:any"]) {
    assert.equal(cfg({ tailscale: { useExitNode: v } }).tailscale.useExitNode, v, v);
  }
  for (const v of ["exit-1\n--login-server=https://evil.example", "exit 1", "exit-1\t", "", "--login-server=https://evil.example", "https://exit-1", "auto:some", "exit_1", "-exit", "a..b", "100.64.0.7/32", `${"a".repeat(64)}.example`]) {
    rejects({ tailscale: { useExitNode: v } }, /^router\.json: tailscale\.useExitNode: .* is not an exit node: give its IP address, its name \(e\.g\. exit-1 or exit-1\.tailnet\.ts\.net\) or auto:any$/);
  }
});

test("tailscale.loginServer is an http(s) URL without spaces or control characters", () => {
  for (const v of ["https://hs.example.com", "http://10.0.0.5:8080", "https://hs.example.com/path"]) {
    assert.equal(cfg({ tailscale: { loginServer: v } }).tailscale.loginServer, v, v);
  }
  for (const v of ["https://hs.example.com\n--exit-node=evil", "https://hs.example.com\t", "http://10.0.0.5:8080\r", "https://hs.example.com /x"]) {
    rejects({ tailscale: { loginServer: v } }, /^router\.json: tailscale\.loginServer: must not contain spaces or control characters$/);
  }
  for (const v of ["ftp://hs.example.com", "hs.example.com", "javascript:alert(1)", "http://", "file:///etc/passwd"]) {
    rejects({ tailscale: { loginServer: v } }, /^router\.json: tailscale\.loginServer: must be an http:\/\/ or https:\/\/ URL such as https:\/\/headscale\.example\.com$/);
  }
});

test("control characters in the extra arguments and environment values are refused before the container could refuse them", () => {
  rejects({ tailscale: { extraArgs: "--shields-up\n--login-server=https://evil.example" } }, /^router\.json: tailscale\.extraArgs: must not contain control characters \(a line break\?\)$/);
  rejects({ tailscale: { tailscaledExtraArgs: "--port=41641\r" } }, /^router\.json: tailscale\.tailscaledExtraArgs: must not contain control characters/);
  rejects({ tailscale: { env: { TS_SOCKET: "/run/ts.sock\nX=1" } } }, /^router\.json: tailscale\.env\.TS_SOCKET: must not contain control characters/);
  assert.equal(cfg({ tailscale: { extraArgs: "--shields-up --exit-node-allow-lan-access" } }).tailscale.extraArgs, "--shields-up --exit-node-allow-lan-access");
});

test("an unquoted routeros.version is a YAML number: 7.20 (read as 7.2) is refused with a hint to quote it, and any numeric version gets the hint", () => {
  // JSON is YAML: the number goes in unquoted, as a user would type it.
  const withVersion = (v: string) => parseRouterConfig(JSON.stringify(merge(base, { routeros: { version: "@V@" } })).replace('"@V@"', v), "router.yaml");
  for (const [typed, read] of [["7.20", "7.2"], ["7.10", "7.1"], ["7", "7"], ["7.30", "7.3"]]) {
    assert.throws(() => withVersion(typed!), (e: Error) => {
      assert.ok(e instanceof ConfigError, e.message);
      assert.equal(e.message, `router.yaml: routeros.version: YAML reads the unquoted ${typed} as the number ${read}; quote it: version: "${typed}"`);
      return true;
    });
  }
  const c = withVersion("7.24");
  assert.equal(c.version.text, "7.24");
  assert.ok(c.warnings.some((w) => w === `routeros.version: the unquoted 7.24 is a number to YAML (an unquoted 7.20 reads as 7.2); quote it: version: "7.24"`), c.warnings.join("\n"));
  assert.ok(!cfg({ routeros: { version: "7.24" } }).warnings.some((w) => /quote it/.test(w)), "a quoted version gets no hint");
});

test("container.memoryLimit and memoryHigh have an upper bound: more than any MikroTik device has is a mistake", () => {
  assert.equal(cfg({ container: { memoryLimit: "64G" } }).container.memoryLimit, "64G");
  assert.equal(cfg({ container: { memoryLimit: "256M" } }).container.memoryLimit, "256M");
  rejects({ container: { memoryLimit: "65G" } }, /^router\.json: container\.memoryLimit: 65G is more than any MikroTik device has \(at most 64G; tailscaled runs in 64M-256M\)$/);
  rejects({ container: { memoryLimit: 1e12 } }, /^router\.json: container\.memoryLimit: 1000000000000 is more than any MikroTik device has/);
  rejects({ container: { memoryLimit: "96000G" } }, /container\.memoryLimit: 96000G is more than/);
  rejects({ container: { memoryHigh: "128G" } }, /^router\.json: container\.memoryHigh: 128G is more than any MikroTik device has/);
});
