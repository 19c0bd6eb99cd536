import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseInventory, selectRouters, type Inventory } from "../../src/routeros/fleet/inventory.js";
import { fleetRouter, loadSharedConfig, routerConfig } from "../../src/routeros/fleet/routers.js";
import { planRollout, parseAmount } from "../../src/routeros/fleet/plan.js";
import { mapBounded } from "../../src/routeros/fleet/runner.js";
import { upgradeNeed } from "../../src/routeros/fleet/read.js";
import { ConfigError, CredentialsUsageError } from "../../src/routeros/errors.js";
import { MikrotikTailscaleError, UsageError } from "../../src/errors.js";

/*
 * Inventories in the three formats, what each router ends up with, and
 * every kind of bad input as one line naming file, line and key; the
 * password rule; the rollout plan; the bounded runner.
 */

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "mt-fleet-inv-"));
  dirs.push(d);
  return d;
}

function inv(text: string, name = "fleet.yaml", d = dir()): Inventory {
  const p = join(d, name);
  writeFileSync(p, text);
  return parseInventory(text, p);
}

function router(i: Inventory, name: string) {
  const r = i.routers.find((x) => x.name === name);
  assert.ok(r, `router ${name} in ${i.routers.map((x) => x.name).join(", ")}`);
  return r;
}

/** The one-line error of `fn`, with its class. */
function fails(fn: () => unknown, cls: new (...a: never[]) => Error = ConfigError): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `${(e as Error).constructor.name}: ${(e as Error).message}`);
    assert.ok(!(e as Error).message.includes("\n"), `one line: ${(e as Error).message}`);
    return (e as Error).message;
  }
  assert.fail("no error");
}

const OWN = `# the fleet
config: router.yaml
defaults:
  user: ops
  version: auto
groups:
  branch:
    ca_file: branch-ca.pem
    advertise_routes: [10.9.0.0/24]
  eu:
    password_env: PW_EU
routers:
  gw-01:
    address: 192.0.2.1
    hostname: gw-01
  gw-02:
    address: https://gw-02.example.net:8443
    groups: [branch, eu]
    advertise_routes: [10.2.0.0/24]
    version: "7.20"
  gw-03:
    address: 192.0.2.3
    groups: [eu, branch]
    user: admin
`;

test("own format: defaults, then the groups in the order a router lists them, then the router; each value knows its line", () => {
  const i = inv(OWN);
  assert.equal(i.format, "yaml");
  assert.match(i.config!, /router\.yaml$/);
  assert.deepEqual(i.routers.map((r) => r.name), ["gw-01", "gw-02", "gw-03"]);
  assert.deepEqual(i.groups.get("branch"), ["gw-02", "gw-03"]);
  const a = router(i, "gw-01").settings;
  assert.equal(a.user, "ops");
  assert.equal(a.version, "auto");
  assert.equal(a.hostname, "gw-01");
  assert.equal(a.origins.hostname?.line, 15);
  const b = router(i, "gw-02").settings;
  assert.deepEqual(b.advertiseRoutes, ["10.2.0.0/24"], "the router's own wins over its group's");
  assert.equal(b.version, "7.20");
  assert.deepEqual(b.password, { env: "PW_EU" });
  assert.equal(b.caFile, "branch-ca.pem");
  const c = router(i, "gw-03").settings;
  assert.deepEqual(c.advertiseRoutes, ["10.9.0.0/24"], "from group branch");
  assert.equal(c.user, "admin");
  assert.equal(c.origins.advertise_routes?.line, 9);
});

test("own format: bad input is one line naming file, line and key", () => {
  const cases: [string, RegExp][] = [
    [OWN.replace("    hostname: gw-01", "    hostnme: gw-01"), /fleet\.yaml:15: router gw-01: unknown key 'hostnme' \(expected one of: address, /],
    [OWN.replace("    hostname: gw-01", "    password: hunter2"), /fleet\.yaml:15: router gw-01: password: a password in the inventory is refused; give it through the environment \(ROUTEROS_PASSWORD_GW_01, or password_env: NAME\) or a file \(password_file: PATH\)/],
    [OWN.replace('    version: "7.20"', "    version: 7.20"), /fleet\.yaml:20: router gw-02: version: YAML reads the unquoted 7\.20 as the number 7\.2; quote it: "7\.20"/],
    [OWN.replace('    version: "7.20"', '    version: "7.15"'), /fleet\.yaml:20: router gw-02: version: RouterOS 7\.15 is too old/],
    [OWN.replace("    hostname: gw-01", "    hostname: gw_01"), /fleet\.yaml:15: router gw-01: hostname: must be a DNS label/],
    [OWN.replace("    hostname: gw-01", "    port: 70000"), /fleet\.yaml:15: router gw-01: port: must be a port number \(1-65535\)/],
    [OWN.replace("    hostname: gw-01", "    arch: mips"), /fleet\.yaml:15: router gw-01: arch: must be auto or one of arm64/],
    [OWN.replace("groups: [branch, eu]", "groups: [branch, us]"), /fleet\.yaml:18: router gw-02: groups: no group 'us' under groups:/],
    [OWN.replace("    address: 192.0.2.1\n", ""), /fleet\.yaml:13: router gw-01: address: missing/],
    [OWN.replace("    password_env: PW_EU", "    password_env: PW_EU\n    password_file: eu.pw"), /fleet\.yaml:12: group eu: give password_env or password_file, not both/],
    [OWN.replace("  eu:\n", "  eu:\n    address: 192.0.2.9\n"), /fleet\.yaml:11: group eu: unknown key 'address' \(an address belongs to one router\)/],
    [OWN.replace("  gw-03:", "  gw-02:"), /fleet\.yaml:21: not valid YAML: Map keys must be unique/],
    [OWN.replace("config: router.yaml", "configs: router.yaml"), /fleet\.yaml:2: unknown key 'configs' \(expected one of: config, defaults, groups, routers\)/],
  ];
  for (const [text, re] of cases) assert.match(fails(() => inv(text)), re);
});

test("Ansible YAML: children, vars by depth then name, host vars last, ansible_host and ansible_user, host patterns, group_vars/ and host_vars/", () => {
  const d = dir();
  mkdirSync(join(d, "group_vars", "all"), { recursive: true });
  mkdirSync(join(d, "host_vars"));
  writeFileSync(join(d, "group_vars", "all", "main.yml"), "mikrotik_tailscale_version: auto\nntp_server: 192.0.2.123\n");
  writeFileSync(join(d, "group_vars", "all", "vault.yml"), "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n");
  writeFileSync(join(d, "group_vars", "eu.yml"), "mikrotik_tailscale_advertise_routes: [10.50.0.0/16]\n");
  writeFileSync(join(d, "host_vars", "gw-b02.yml"), "mikrotik_tailscale_hostname: berlin-2\n");
  const i = inv(
    `all:
  vars:
    ansible_user: netops
    ansible_connection: ansible.netcommon.network_cli
    ansible_network_os: community.routeros.routeros
    ansible_password: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      3061
  children:
    eu:
      vars:
        mikrotik_tailscale_container_name: ts
      children:
        berlin:
          hosts:
            gw-b[01:03]:
              mikrotik_tailscale_port: 8443
          vars:
            mikrotik_tailscale_advertise_routes: [10.60.0.0/24]
        amsterdam:
          hosts:
            gw-ams:
              ansible_host: 198.51.100.7
              ansible_port: 22
              mikrotik_tailscale_user: admin
    core:
      hosts:
        gw-ams:
          mikrotik_tailscale_arch: arm64
`,
    "hosts.yml",
    d,
  );
  assert.equal(i.format, "ansible-yaml");
  assert.deepEqual(i.routers.map((r) => r.name), ["gw-b01", "gw-b02", "gw-b03", "gw-ams"]);
  const b1 = router(i, "gw-b01");
  assert.deepEqual(b1.groups, ["eu", "berlin"]);
  assert.equal(b1.settings.address, "gw-b01", "no ansible_host: the inventory name");
  assert.equal(b1.settings.port, 8443);
  assert.equal(b1.settings.user, "netops");
  assert.equal(b1.settings.version, "auto", "group_vars/all/main.yml");
  assert.equal(b1.settings.containerName, "ts");
  assert.deepEqual(b1.settings.advertiseRoutes, ["10.60.0.0/24"], "berlin (deeper) wins over eu's group_vars file");
  assert.equal(router(i, "gw-b02").settings.hostname, "berlin-2", "host_vars/gw-b02.yml");
  const ams = router(i, "gw-ams");
  assert.deepEqual(ams.groups, ["core", "eu", "amsterdam"], "depth, then name");
  assert.equal(ams.settings.address, "198.51.100.7");
  assert.equal(ams.settings.port, undefined, "ansible_port is SSH's");
  assert.equal(ams.settings.user, "admin", "ours wins over ansible_user");
  assert.equal(ams.settings.arch, "arm64");
  assert.deepEqual(ams.settings.advertiseRoutes, ["10.50.0.0/16"]);
  assert.deepEqual(selectRouters(i, "berlin,gw-ams").map((r) => r.name), ["gw-b01", "gw-b02", "gw-b03", "gw-ams"]);
  assert.deepEqual(selectRouters(i, "amsterdam").map((r) => r.name), ["gw-ams"]);
  assert.ok(i.warnings.some((w) => /hosts\.yml:\d+: group all: ansible_password is vault-encrypted and not read/.test(w)), i.warnings.join("\n"));
  assert.ok(i.warnings.some((w) => /group_vars\/all\/vault\.yml: encrypted with ansible-vault: not read/.test(w)), i.warnings.join("\n"));
  assert.match(fails(() => selectRouters(i, "berlin,paris"), UsageError), /--limit: .*hosts\.yml has no router or group named 'paris'/);
});

test("Ansible YAML: a clear-text password, an unknown setting of ours, a bad pattern, a list of hosts: one line each", () => {
  const cases: [string, RegExp][] = [
    ["all:\n  hosts:\n    gw1:\n      ansible_password: hunter2\n", /hosts\.yml:4: router gw1: ansible_password: a password in the inventory is refused; give it through the environment \(ROUTEROS_PASSWORD_GW1, /],
    ["all:\n  vars:\n    ansible_ssh_pass: hunter2\n  hosts:\n    gw1:\n", /hosts\.yml:3: group all: ansible_ssh_pass: a password in the inventory is refused/],
    ["all:\n  hosts:\n    gw1:\n      mikrotik_tailscale_hostnme: x\n", /hosts\.yml:4: router gw1: unknown variable mikrotik_tailscale_hostnme \(this tool reads mikrotik_tailscale_address, /],
    ["all:\n  hosts:\n    gw[1:b]:\n", /hosts\.yml:3: host pattern 'gw\[1:b\]': expected a numeric/],
    ["all:\n  hosts:\n    - gw1\n", /hosts\.yml:3: group all: hosts: expected a mapping of host names \(a list is not Ansible's format\)/],
    ["all:\n  host:\n    gw1:\n", /hosts\.yml:2: group all: unknown key 'host' \(expected hosts, vars or children\)/],
    ["all:\n  hosts:\n    gw1:\n      mikrotik_tailscale_version: 7.20\n", /hosts\.yml:4: router gw1: version: YAML reads the unquoted 7\.20 as the number 7\.2; quote it: "7\.20"/],
  ];
  for (const [text, re] of cases) assert.match(fails(() => inv(text, "hosts.yml")), re);
});

test("Ansible INI: sections, :vars (strings as written), :children, inline vars with quotes, ranges, comments, host:port", () => {
  const i = inv(
    `# routers
edge ansible_host=203.0.113.9   # the odd one

[branch]
gw-[a:c] ansible_user="ops team"
gw-z:2222 ansible_host='198.51.100.26' mikrotik_tailscale_advertise_routes="['10.26.0.0/24', '10.27.0.0/24']"

[branch:vars]
mikrotik_tailscale_version=7.20
mikrotik_tailscale_ca_file = certs/branch.pem
; a comment

[sites:children]
branch
`,
    "hosts.ini",
  );
  assert.equal(i.format, "ansible-ini");
  assert.deepEqual(i.routers.map((r) => r.name), ["edge", "gw-a", "gw-b", "gw-c", "gw-z"]);
  assert.equal(router(i, "edge").settings.address, "203.0.113.9");
  const a = router(i, "gw-a");
  assert.deepEqual(a.groups, ["sites", "branch"]);
  assert.equal(a.settings.user, "ops team");
  assert.equal(a.settings.version, "7.20", "INI keeps the text: 7.20 is not 7.2");
  assert.equal(a.settings.caFile, "certs/branch.pem");
  assert.equal(a.settings.origins.version?.line, 9);
  const z = router(i, "gw-z");
  assert.equal(z.settings.address, "198.51.100.26");
  assert.deepEqual(z.settings.advertiseRoutes, ["10.26.0.0/24", "10.27.0.0/24"]);
  assert.deepEqual(selectRouters(i, "sites").map((r) => r.name), ["gw-a", "gw-b", "gw-c", "gw-z"]);
  for (const [text, re] of [
    ["[branch]\ngw1 ansible_password=hunter2\n", /hosts\.ini:2: router gw1: ansible_password: a password in the inventory is refused/],
    ["[branch:hosts]\ngw1\n", /hosts\.ini:1: \[branch:hosts\]: expected \[group\], \[group:vars\] or \[group:children\]/],
    ["[branch:vars]\nmikrotik_tailscale_port\n", /hosts\.ini:2: \[branch:vars\]: expected key=value/],
    ["gw1 ansible_host\n", /hosts\.ini:1: host gw1: 'ansible_host' is not key=value/],
    ["gw1 mikrotik_tailscale_port=https\n", /hosts\.ini:1: router gw1: port: expected a port number, got "https"/],
    ['gw1 ansible_host="10.0.0.1\n', /hosts\.ini:1: unterminated " quote/],
  ] as const) {
    assert.match(fails(() => inv(text, "hosts.ini")), re);
  }
});

const SHARED = `
image: { file: "mikrotik-tailscale-1.104.2-{arch}.tar" }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
tailscale: { advertiseRoutes: [192.168.88.0/24] }
`;

test("a router's config: the shared file with its settings; auto from what the router reports; a bad override names the inventory line", () => {
  const d = dir();
  try {
    writeFileSync(join(d, "router.yaml"), SHARED);
    const shared = loadSharedConfig(join(d, "router.yaml"));
    const i = inv(OWN, "fleet.yaml", d);
    const c1 = routerConfig(shared, router(i, "gw-01"), { version: "7.21.2 (stable)", arch: "arm32v5" });
    assert.equal(c1.version.text, "7.21.2");
    assert.equal(c1.arch.name, "armv5");
    assert.equal(c1.container.hostname, "gw-01");
    assert.deepEqual(c1.tailscale.advertiseRoutes.map((p) => p.text), ["192.168.88.0/24"], "no override: the shared config's");
    const c2 = routerConfig(shared, router(i, "gw-02"), { version: "7.24", arch: "x86" });
    assert.equal(c2.version.text, "7.20", "an explicit version wins over what the router reports (the router's menus are used anyway)");
    assert.deepEqual(c2.tailscale.advertiseRoutes.map((p) => p.text), ["10.2.0.0/24"]);
    const bad = inv(OWN.replace("advertise_routes: [10.2.0.0/24]", "advertise_routes: [10.2.0.1/24]"), "fleet.yaml", d);
    assert.match(fails(() => routerConfig(shared, router(bad, "gw-02"))), /fleet\.yaml:19: router gw-02: advertise_routes: '10\.2\.0\.1\/24' has host bits set \(did you mean 10\.2\.0\.0\/24\?\)/);
    const clash = inv(OWN.replace("advertise_routes: [10.2.0.0/24]", "advertise_routes: [172.17.0.0/16]"), "fleet.yaml", d);
    assert.match(fails(() => routerConfig(shared, router(clash, "gw-02"))), /fleet\.yaml:16: router gw-02: .*router\.yaml with this router's settings: network\.veth\.address: container subnet 172\.17\.0\.0\/24 overlaps advertised route 172\.17\.0\.0\/16/);
    writeFileSync(join(d, "bad.yaml"), SHARED.replace("172.17.0.1 }", "172.18.0.1 }"));
    assert.match(fails(() => loadSharedConfig(join(d, "bad.yaml"))), /bad\.yaml: network\.veth\.gateway: 172\.18\.0\.1 is not inside the container subnet/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("credentials: the password by the documented rule, never from the inventory; user and port from the address or the settings", () => {
  const d = dir();
  try {
    writeFileSync(join(d, "eu.pw"), "from-file\n");
    writeFileSync(join(d, "branch-ca.pem"), "not read until a connection\n");
    const i = inv(OWN.replace("    password_env: PW_EU", "    password_file: eu.pw"), "fleet.yaml", d);
    const env = { ROUTEROS_PASSWORD_GW_01: "per-router", ROUTEROS_PASSWORD: "everyone" };
    const a = fleetRouter(router(i, "gw-01"), i.baseDir, { env });
    assert.equal(a.target.password, "per-router");
    assert.equal(a.target.user, "ops");
    assert.equal(a.address, "https://192.0.2.1");
    const b = fleetRouter(router(i, "gw-02"), i.baseDir, { env });
    assert.equal(b.target.password, "from-file", "the group's password_file wins over ROUTEROS_PASSWORD");
    assert.equal(b.address, "https://gw-02.example.net:8443");
    const c = fleetRouter(router(i, "gw-02"), i.baseDir, { env: {} });
    assert.equal(c.target.password, "from-file");
    assert.match(fails(() => fleetRouter(router(i, "gw-01"), i.baseDir, { env: {} }), CredentialsUsageError), /fleet\.yaml:13: router gw-01: no password: set ROUTEROS_PASSWORD_GW_01, give password_env or password_file for it or its group, or ROUTEROS_PASSWORD \/ ROUTEROS_PASSWORD_FILE/);
    const j = inv(OWN, "fleet.yaml", d);
    assert.match(fails(() => fleetRouter(router(j, "gw-03"), j.baseDir, { env }), CredentialsUsageError), /fleet\.yaml:11: router gw-03: password_env: PW_EU is not set/);
    assert.equal(fleetRouter(router(j, "gw-03"), j.baseDir, { env: { PW_EU: "eu" } }).target.password, "eu");
    const k = inv(OWN.replace("address: 192.0.2.1", "address: https://root:pw@192.0.2.1"), "fleet.yaml", d);
    assert.match(fails(() => fleetRouter(router(k, "gw-01"), k.baseDir, { env })), /fleet\.yaml:14: router gw-01: address: a password in the address is refused/);
    const l = inv(OWN.replace("address: 192.0.2.1", "address: http://192.0.2.1\n    port: 8080\n    ca_file: x.pem"), "fleet.yaml", d);
    const m = fails(() => fleetRouter(router(l, "gw-01"), l.baseDir, { env }), MikrotikTailscaleError as never);
    assert.match(m, /fleet\.yaml:13: router gw-01: --ca-file has no effect with an http:\/\/ router/);
    const n = inv(OWN.replace("address: 192.0.2.1", "address: https://admin@192.0.2.1"), "fleet.yaml", d);
    assert.match(fails(() => fleetRouter(router(n, "gw-01"), n.baseDir, { env })), /fleet\.yaml:4: router gw-01: user: ops, but its address says admin/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("the rollout plan: a canary, waves of a size or a share, a failure budget; a passed canary is not repeated", () => {
  const names = Array.from({ length: 23 }, (_, i) => `r${i + 1}`);
  const p = planRollout({ pending: names, canary: { count: 2 }, waveSize: { count: 8 }, maxFailures: { count: 1 }, canaryPassed: false });
  assert.deepEqual(p.groups.map((g) => [g.label, g.routers.length]), [["canary", 2], ["wave 1/3", 8], ["wave 2/3", 8], ["wave 3/3", 5]]);
  assert.deepEqual(p.groups[0]!.routers, ["r1", "r2"]);
  assert.equal(p.budget, 1);
  const q = planRollout({ pending: names, canary: { count: 2 }, waveSize: { percent: 25 }, maxFailures: { percent: 10 }, canaryPassed: true });
  assert.deepEqual(q.groups.map((g) => g.routers.length), [5, 5, 5, 5, 3], "25% of 23 is 5 a wave; no canary");
  assert.equal(q.budget, 2);
  assert.deepEqual(planRollout({ pending: [], canary: { count: 1 }, waveSize: { count: 5 }, maxFailures: { count: 0 }, canaryPassed: false }).groups, []);
  assert.deepEqual(parseAmount("wave-size", "10%", 1), { percent: 10 });
  for (const [flag, v, min] of [["canary", "0", 1], ["wave-size", "0%", 1], ["max-failures", "ten", 0], ["max-failures", "150%", 0]] as const) {
    assert.throws(() => parseAmount(flag, v, min), (e: Error) => e instanceof UsageError && new RegExp(`^--${flag}: '${v.replace("%", "%")}'`).test(e.message));
  }
});

test("the bounded runner: never more at once than allowed, a deadline is a result, a halt leaves the rest unstarted", async () => {
  let now = 0;
  let most = 0;
  const r = await mapBounded(Array.from({ length: 12 }, (_, i) => i), { concurrency: 3 }, async (i) => {
    most = Math.max(most, ++now);
    await new Promise((res) => setImmediate(res));
    now--;
    return i * 2;
  });
  assert.equal(most, 3);
  assert.deepEqual(r.map((x) => (x?.ok ? x.value : undefined)), Array.from({ length: 12 }, (_, i) => i * 2));
  let aborted = false;
  const t = await mapBounded(["hangs", "answers"], { concurrency: 2, timeoutMs: 50 }, (x, signal) =>
    x === "answers" ? Promise.resolve(x) : new Promise<string>(() => signal.addEventListener("abort", () => (aborted = true))),
  );
  assert.ok(t[0] && !t[0].ok && t[0].timedOut && /no answer within 0\.1 s/.test(t[0].error.message), JSON.stringify(t[0]));
  assert.ok(aborted, "the timed-out work was told to stop");
  assert.ok(t[1]?.ok);
  let started = 0;
  const h = await mapBounded([1, 2, 3, 4], { concurrency: 1, canStart: () => started < 2 }, async () => ++started);
  assert.deepEqual(h.map((x) => x?.ok ?? "not started"), [true, true, "not started", "not started"]);
});

test("examples/fleet.yaml reads, and every router's config resolves over examples/router.yaml", () => {
  const file = join(fileURLToPath(new URL("../../examples/", import.meta.url)), "fleet.yaml");
  const i = parseInventory(readFileSync(file, "utf8"), file);
  assert.deepEqual(i.routers.map((r) => r.name), ["gw-hq", "branch-01", "branch-02", "dc-edge"]);
  const shared = loadSharedConfig(i.config!);
  assert.ok(shared.warnings.some((w) => /router: is not used by the fleet commands/.test(w)));
  const c = routerConfig(shared, router(i, "dc-edge"), { version: "7.22.3", arch: "x86" });
  assert.deepEqual([c.container.name, c.container.hostname, c.arch.name], ["ts", "dc-edge", "amd64"]);
  assert.deepEqual(routerConfig(shared, router(i, "branch-02"), { version: "7.24", arch: "arm" }).tailscale.advertiseRoutes.map((p) => p.text), ["192.168.10.0/24"]);
  assert.deepEqual(router(i, "branch-01").settings.password, { env: "ROUTEROS_PASSWORD_BRANCH" });
});

test("what upgrade would change for a file image: its version compared with the container's; a name without the -mt build matches only as far as it tells", () => {
  const c = (imageVersion: string) => ({ state: "running", tag: `mikrotik-tailscale:${imageVersion}-arm64`, imageVersion });
  const url = (version?: string) => ({ kind: "url" as const, what: "https://files.example/x.tar", ...(version ? { version } : {}) });
  assert.deepEqual(upgradeNeed(c("v1.104.2-mt.3"), url("v1.104.2-mt.3"), "tailscale"), { needed: false, from: "v1.104.2-mt.3", to: "v1.104.2-mt.3", text: "none" });
  const loose = upgradeNeed(c("v1.104.2-mt.3"), url("v1.104.2"), "tailscale");
  assert.equal(loose.needed, false, "not replaced on every run");
  assert.match(loose.text, /^none \(the file name gives v1\.104\.2, not its build\)$/);
  assert.deepEqual(upgradeNeed(c("v1.104.2-mt.3"), url("v1.104.2-mt.4"), "tailscale"), { needed: true, from: "v1.104.2-mt.3", to: "v1.104.2-mt.4", text: "v1.104.2-mt.3 -> v1.104.2-mt.4" });
  assert.equal(upgradeNeed(c("v1.104.2-mt.3"), url("v1.104.3"), "tailscale").needed, true);
  assert.equal(upgradeNeed(c("v1.104.20-mt.1"), url("v1.104.2"), "tailscale").needed, true, "v1.104.2 is not a prefix match of v1.104.20");
  assert.match(upgradeNeed(c("v1.104.2-mt.3"), url(), "tailscale").text, /names no version/);
});
