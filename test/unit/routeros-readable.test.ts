import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { forVersion, loadRouterConfig, parseRouterConfig } from "../../src/routeros/config.js";
import { deploy, preflight, prepare } from "../../src/routeros/deploy.js";
import { buildPlan } from "../../src/routeros/plan.js";
import { renderScript } from "../../src/routeros/rsc.js";
import { renderApp } from "../../src/routeros/app.js";
import { renderUpdateInstaller } from "../../src/routeros/update-script.js";
import { containerStateForms, enumValues, readableFiles, readableFor, releasesWithReadable } from "../../src/routeros/schema/readable.js";
import { scriptStateFormFor } from "../../src/routeros/schema/state.js";
import { RouterSimulator } from "../../src/routeros/simulator/router.js";
import { parseRouterOsVersion } from "../../src/routeros/version.js";
import { embeddedSources, scriptBed, scriptReads } from "../support/routeros-scripts.js";
import { withTestbed } from "../support/routeros-testbed.js";

/*
 * The read side against RouterOS's own data (data/routeros-schema/readable):
 * what each release reports when asked (the completion of `get value-name=`)
 * and the values its enum arguments take. Generated scripts read nothing a
 * release cannot report; the simulator reports nothing a release's data
 * lacks and takes only the enum values the data lists.
 */

const goldenDir = fileURLToPath(new URL("../golden/routeros/", import.meta.url));
/** Releases whose data lists what containers report. */
const WITH_DATA = releasesWithReadable("container");

test("the data covers the releases the issue names, and every file says where it comes from", () => {
  assert.deepEqual(WITH_DATA, ["7.21.5", "7.23.3", "7.24", "7.26beta1"]);
  for (const f of readableFiles()) assert.match(f.source, /^tikoci\/restraml:docs\/.+@[0-9a-f]{40}$/, f.version);
  // What the data says about container state, which the tool rests on.
  for (const v of WITH_DATA) {
    const r = readableFor(parseRouterOsVersion(v), "container", new RouterSimulator({ version: v }).tree)!;
    assert.equal(r.basis.kind, "data");
    assert.ok(!r.props.has("status"), `${v} has no container status`);
    for (const f of ["running", "stopped", "downloading/extracting", "download/extract failed", "tag"]) assert.ok(r.props.has(f), `${v} reports ${f}`);
  }
  assert.deepEqual(containerStateForms(parseRouterOsVersion("7.19")).forms, ["status"]);
  assert.deepEqual(containerStateForms(parseRouterOsVersion("7.20")).forms, ["status", "flags"]);
  assert.deepEqual(containerStateForms(parseRouterOsVersion("7.22")).forms, ["flags"]);
  // Scripts use the release's own form where it has data, and try both where it has none.
  assert.equal(scriptStateFormFor(parseRouterOsVersion("7.24")), "flags");
  assert.equal(scriptStateFormFor(parseRouterOsVersion("7.19")), "either");
  assert.equal(scriptStateFormFor(parseRouterOsVersion("7.22")), "either");
});

/** Every script the tool writes for a release (the update script inside its installer included). */
function generatedScripts(version: string): { what: string; text: string }[] {
  const out: { what: string; text: string }[] = [];
  const config = forVersion(loadRouterConfig(`${goldenDir}router.yaml`), version);
  out.push({ what: "routeros script", text: renderScript(config, buildPlan(config, { resolveSecrets: false })) });
  const remote = forVersion(
    parseRouterConfig(
      `
routeros: { version: "7.24", arch: arm64 }
image: { remote: registry.example.com/owner/mikrotik-tailscale:stable }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
tailscale: { acceptRoutes: [10.20.0.0/16] }
`,
      "r.yaml",
      goldenDir,
    ),
    version,
  );
  // Custom /app came in 7.22.
  if (remote.model.args("app/add")?.has("yaml")) out.push({ what: "routeros app", text: renderApp(remote, { resolveSecrets: false }).script });
  const installer = renderUpdateInstaller(remote, buildPlan(remote, { resolveSecrets: false }), { interval: "1d" });
  out.push({ what: "update-script installer", text: installer });
  for (const body of embeddedSources(installer)) out.push({ what: "update script", text: body });
  return out;
}

/** Reads of a menu that a release cannot report, checked against its own data (or the inference where a menu has none). */
function unreadable(version: string, text: string): string[] {
  const v = parseRouterOsVersion(version);
  const tree = new RouterSimulator({ version }).tree;
  const bad: string[] = [];
  for (const r of scriptReads(text)) {
    const readable = readableFor(v, r.menu, tree);
    if (!readable) continue;
    if (!readable.props.has(r.prop)) bad.push(`line ${r.line}: ${r.how} /${r.menu} ${r.prop} (${readable.basis.kind === "data" ? `${version}'s data` : readable.basis.kind === "inferred" ? readable.basis.why : "the router"})`);
  }
  return bad;
}

test("no generated script reads a property its release cannot report (every release with data)", () => {
  for (const version of WITH_DATA) {
    const scripts = generatedScripts(version);
    assert.ok(scripts.some((s) => s.what === "update script"), "the update script itself is checked");
    for (const s of scripts) {
      const reads = scriptReads(s.text);
      assert.ok(reads.length > 0, `${version} ${s.what}: reads were found`);
      assert.deepEqual(unreadable(version, s.text), [], `${version} ${s.what}`);
    }
  }
});

test("a container status read put back into a 7.24 script is caught: by the check against the data and by running it", async () => {
  const { text } = generatedScripts("7.24")[0]!;
  const broken = text.replace("[/container/get $1 running]", "[/container/get $1 status]");
  assert.notEqual(broken, text);
  assert.match(unreadable("7.24", broken).join("\n"), /get \/container status \(7\.24's data\)/);
  // Run, it fails: the 7.24 simulator's get of status is an error, as on the router.
  const config = forVersion(loadRouterConfig(`${goldenDir}router.yaml`), "7.24");
  const plan = buildPlan(config, { resolveSecrets: false });
  const bed = scriptBed({ version: "7.24" });
  try {
    bed.sim.files.write((plan.container.image as { routerPath: string }).routerPath, Buffer.from(""));
    const r = await bed.importScript(broken);
    assert.match(r.error ?? "", /input does not match any value of value-name \(status\)/);
  } finally {
    bed.close();
  }
});

test("the simulator reports only what each release's data lists; 7.24's GET /rest/container has no status", async () => {
  for (const version of WITH_DATA) {
    await withTestbed({ version }, async (tb) => {
      tb.image({ tailscaleVersion: "1.98.5" });
      const yaml = `
routeros: { version: "${version}", arch: arm64 }
image: { file: "mikrotik-tailscale-1.98.5-{arch}.tar" }
container: { memoryLimit: 96M }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 }, interfaceList: LAN }
storage: { ramDisk: { size: 64M }, rootDir: tailscale/root, stateDir: tailscale/state, tmpDir: ramdisk/pull }
tailscale: { acceptRoutes: [10.20.0.0/16], authKey: { env: TS_AUTHKEY } }
`;
      await deploy({ client: tb.client, config: tb.config(yaml), planOptions: tb.planOptions(), pollMs: 10, settleMs: 50, extractTimeoutMs: 5000, startTimeoutMs: 5000 });
      const v = parseRouterOsVersion(version);
      const data = readableFiles().find((f) => f.version === version)!;
      let menus = 0;
      for (const [menu, m] of Object.entries(data.menus)) {
        if (!m.readable || ["container/layers", "container/log", "app/network", "certificate", "tool/fetch", "ipv6/route"].includes(menu)) continue;
        let reply: unknown;
        try {
          reply = await tb.client.get(menu);
        } catch {
          continue;
        }
        menus++;
        const rows = Array.isArray(reply) ? reply : [reply];
        const allowed = new Set(m.readable);
        for (const row of rows as Record<string, string>[]) {
          for (const k of Object.keys(row)) if (k !== ".id") assert.ok(allowed.has(k), `${version} GET /rest/${menu}: '${k}' is not in its data`);
        }
      }
      assert.ok(menus >= (["7.21.5", "7.24"].includes(version) ? 15 : 4), `${version}: ${menus} menus compared`);
      const [c] = await tb.client.get<Record<string, string>[]>("container");
      assert.equal(c!.status, undefined, `${version}: no status`);
      assert.equal(c!.running, "true");
      assert.equal(c!.stopped, undefined, "REST shows no stopped key (tikoci/routeros-skills)");
      // A script's get of what the release reports works; of what it does not, fails.
      const sim = tb.running.sim;
      assert.equal(sim.readable("container")!.basis.kind, "data");
      assert.ok(readableFor(v, "container", sim.tree)!.props.has("running"));
    });
  }
});

test("enum values come from the data: restart-policy always|no|on-failure, mounts mode ro|ro,noexec|rw|rw,noexec; anything else is refused", async () => {
  for (const version of ["7.23.3", "7.24", "7.26beta1"]) {
    const v = parseRouterOsVersion(version);
    assert.deepEqual(enumValues(v, "container", "restart-policy")?.values, ["always", "no", "on-failure"]);
    assert.deepEqual(enumValues(v, "container/mounts", "mode")?.values, ["ro", "ro,noexec", "rw", "rw,noexec"]);
    const sim = new RouterSimulator({ version });
    try {
      await sim.addItem("interface/veth", { name: "v", address: "172.17.0.2/24", gateway: "172.17.0.1" });
      for (const policy of ["always", "no", "on-failure"]) {
        await sim.addItem("container", { name: `c-${policy}`, "remote-image": "x/y:z", interface: "v", "restart-policy": policy });
      }
      await assert.rejects(sim.addItem("container", { name: "bad", "remote-image": "x/y:z", interface: "v", "restart-policy": "unless-stopped" }), /input does not match any value of restart-policy/);
      for (const mode of ["ro", "ro,noexec", "rw", "rw,noexec"]) await sim.addItem("container/mounts", { list: `m-${mode}`, src: "a", dst: "/a", mode });
      await assert.rejects(sim.addItem("container/mounts", { list: "bad", src: "a", dst: "/a", mode: "rshared" }), /input does not match any value of mode/);
    } finally {
      sim.close();
    }
  }
});

test("/console/inspect answers what a release reports (completion of get value-name) and an enum's values", async () => {
  await withTestbed({ version: "7.24" }, async (tb) => {
    const rows = await tb.client.post<{ completion: string; style: string }[]>("console/inspect", { request: "completion", path: "container,get,value-name" });
    const names = rows.map((r) => r.completion);
    assert.ok(names.includes("running") && names.includes("healthcheck-status") && !names.includes("status"));
    const policy = await tb.client.post<{ completion: string }[]>("console/inspect", { request: "completion", path: "container,add,restart-policy" });
    assert.deepEqual(policy.map((r) => r.completion), ["always", "no", "on-failure"]);
  });
  await withTestbed({ version: "7.19" }, async (tb) => {
    const rows = await tb.client.post<{ completion: string }[]>("console/inspect", { request: "completion", path: "container,get,value-name" });
    const names = rows.map((r) => r.completion);
    assert.ok(names.includes("status") && !names.includes("running"), "7.19 (inferred) reports status");
  });
});

test("where the data cannot tell (7.20), the tool asks the router how it reports container state; a router that does not answer gets scripts that try both", async () => {
  const yaml = (v: string) => `
routeros: { version: "${v}", arch: arm64 }
image: { remote: registry.example.com/owner/mikrotik-tailscale:stable }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
`;
  for (const [form, noInspect, want] of [
    ["status", false, "status"],
    ["flags", false, "flags"],
    ["flags", true, "either"],
  ] as const) {
    await withTestbed({ version: "7.20", stateForm: form, noInspect }, async (tb) => {
      const facts = await preflight(tb.client, tb.config(yaml("7.20")));
      assert.equal(facts.stateForm, want, `7.20 reporting ${form}${noInspect ? ", /console/inspect refused" : ""}`);
      const prepared = await prepare({ client: tb.client, config: tb.config(yaml("7.20")), planOptions: tb.planOptions() });
      assert.equal(prepared.plan.stateForm, want, "plans (and the scripts installed from them) use it");
    });
  }
  // A release with data needs no question, but the router's answer agrees with it.
  await withTestbed({ version: "7.24", noInspect: true }, async (tb) => {
    assert.equal((await preflight(tb.client, tb.config(yaml("7.24")))).stateForm, "flags");
  });
});
