import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseRouterConfig, parseSize } from "../../src/routeros/config.js";
import { ConfigError } from "../../src/routeros/errors.js";
import { overlaps, parsePrefix, parseInterfaceAddress } from "../../src/routeros/net.js";
import { parseRouterOsVersion, syntaxFor } from "../../src/routeros/version.js";
import { buildPlan, containerEnv } from "../../src/routeros/plan.js";

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

test("the example config parses and plans", () => {
  const text = readFileSync(new URL("../../examples/router.yaml", import.meta.url), "utf8");
  const c = parseRouterConfig(text, "examples/router.yaml", "/nonexistent");
  assert.equal(c.arch.name, "arm64");
  assert.equal(c.container.name, "tailscale");
  assert.equal(c.storage.imageDir, "ramdisk");
  const p = buildPlan(c, { resolveSecrets: false });
  assert.ok(p.container.image.kind === "file" && p.container.image.fileName === "mikrotik-tailscale-1.98.5-arm64.tar");
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

test("unknown RouterOS versions are refused", () => {
  for (const v of ["6.49.10", "7.5", "7.23", "8.0", "banana", "7"]) {
    rejects({ routeros: { version: v } }, /routeros\.version: unknown RouterOS version/);
  }
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

test("warnings: tmpfs before 7.21.2, state on a RAM disk", () => {
  const c = cfg({ routeros: { version: "7.21.1" }, container: { tmpfs: { "/tmp": "8M" } }, storage: { ramDisk: {}, stateDir: "ramdisk/state" } });
  assert.ok(c.warnings.some((w) => /tmpfs needs RouterOS 7\.21\.2/.test(w)));
  assert.ok(c.warnings.some((w) => /identity is lost/.test(w)));
});

test("version syntax follows the renames", () => {
  const s = (v: string) => syntaxFor(parseRouterOsVersion(v));
  assert.deepEqual(s("7.19"), { envsListKey: "name", containerEnvField: "envlist", mountsListKey: "name", containerMountsField: "mounts", containerTmpfs: false });
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
