import { test, describe } from "node:test";
import { stateOf } from "../../src/routeros/schema/state.js";
import assert from "node:assert/strict";
import { deploy, status, upgrade, formatStatus, type RunOptions } from "../../src/routeros/deploy.js";
import type { RosRecord } from "../../src/routeros/rest.js";
import { dropArgs, withTestbed, type Testbed } from "../support/routeros-testbed.js";
import type { TreeNode } from "../../src/routeros/schema/tree.js";
import { WRITTEN_COMMANDS } from "../../src/routeros/schema/model.js";

/*
 * deploy, upgrade and status on each line of RouterOS whose container menus
 * differ, and on routers newer than every command tree the tool has: there it
 * must use what the router's own /console/inspect says. The simulator's menus
 * come from the same trees (a router of the future is a tree with edits).
 */

function yaml(version: string, extra = ""): string {
  return `
routeros: { version: "${version}", arch: arm64 }
image: { file: "mikrotik-tailscale-1.98.5-{arch}.tar" }
container: { hostname: office-gw, memoryLimit: 96M, tmpfs: { /tmp: 16M } }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
tailscale: { advertiseRoutes: [192.168.88.0/24], authKey: { env: TS_AUTHKEY } }
${extra}`;
}

const withBed = withTestbed;

function opts(tb: Testbed, text: string, imageOverride?: string): RunOptions {
  return { client: tb.client, config: tb.config(text), planOptions: tb.planOptions({ imageOverride }), pollMs: 10, settleMs: 60, extractTimeoutMs: 5000, startTimeoutMs: 5000, swapPoll: "20ms" };
}

async function theContainer(tb: Testbed): Promise<RosRecord> {
  const all = await tb.client.get<RosRecord[]>("container");
  assert.equal(all.length, 1, `one container: ${JSON.stringify(all.map((c) => c.name))}`);
  return all[0]!;
}

interface Expect {
  key: "name" | "comment";
  restart?: Record<string, string>;
  memory: Record<string, string>;
  health: boolean;
  entrypoint: boolean;
  tmpfs: boolean;
}

const MIB = 1024 * 1024;
const cases: [string, Expect][] = [
  ["7.16", { key: "comment", memory: {}, health: false, entrypoint: false, tmpfs: false }],
  ["7.19", { key: "name", memory: {}, health: false, entrypoint: false, tmpfs: false }],
  ["7.21.2", { key: "name", restart: { "auto-restart-interval": "10s" }, memory: { "memory-high": String(96 * MIB) }, health: false, entrypoint: false, tmpfs: true }],
  // Releases with their own readable data: containers report flags, no status.
  ["7.21.5", { key: "name", restart: { "auto-restart-interval": "10s" }, memory: { "memory-high": String(96 * MIB) }, health: false, entrypoint: false, tmpfs: true }],
  // 7.22's tree takes healthcheck-*, but MikroTik's manual starts health checks at 7.23: none written.
  ["7.22", { key: "name", restart: { "auto-restart-interval": "10s" }, memory: { "memory-high": String(96 * MIB) }, health: false, entrypoint: true, tmpfs: true }],
  ["7.23", { key: "name", restart: { "restart-policy": "on-failure", "restart-interval": "10s", "restart-max-count": "10" }, memory: { "memory-max": String(96 * MIB), "memory-high": String(84 * MIB) }, health: true, entrypoint: true, tmpfs: true }],
  ["7.23.3", { key: "name", restart: { "restart-policy": "on-failure", "restart-interval": "10s", "restart-max-count": "10" }, memory: { "memory-max": String(96 * MIB), "memory-high": String(84 * MIB) }, health: true, entrypoint: true, tmpfs: true }],
  ["7.24", { key: "name", restart: { "restart-policy": "on-failure", "restart-interval": "10s", "restart-max-count": "10" }, memory: { "memory-max": String(96 * MIB), "memory-high": String(84 * MIB) }, health: true, entrypoint: true, tmpfs: true }],
  // Newer than every release: the simulator runs the 7.25 nightly's tree, the tool knows up to 7.24.
  ["7.25.1", { key: "name", restart: { "restart-policy": "on-failure", "restart-interval": "10s", "restart-max-count": "10" }, memory: { "memory-max": String(96 * MIB), "memory-high": String(84 * MIB) }, health: true, entrypoint: true, tmpfs: true }],
];

describe("deploy, upgrade and status on every line of RouterOS", () => {
  for (const [version, want] of cases) {
    test(`RouterOS ${version}`, async () => {
      await withBed({ version }, async (tb) => {
        tb.image({ tailscaleVersion: "1.98.5" });
        const r = await deploy(opts(tb, yaml(version)));
        assert.equal(r.status, "running");
        assert.equal(r.facts.model.source.kind, "router", "the menus came from the router's own /console/inspect");
        const inspected = tb.running.sim.requests.filter((q) => q.path === "/rest/console/inspect").length;
        // Each command the plan writes with, and once what containers report (their state's form).
        assert.equal(inspected, WRITTEN_COMMANDS.length + 1);
        let c = await theContainer(tb);
        if (want.key === "comment") {
          assert.equal(c.comment, "mikrotik-tailscale:tailscale");
          assert.notEqual(c.name, "tailscale", "RouterOS before 7.19 names containers itself");
        } else {
          assert.equal(c.name, "tailscale");
        }
        for (const [k, v] of Object.entries({ ...want.restart, ...want.memory })) assert.equal(c[k], v, `${version}: ${k}`);
        for (const k of ["restart-policy", "auto-restart-interval", "memory-max", "memory-high"]) {
          if (!(k in { ...want.restart, ...want.memory })) assert.ok(c[k] === undefined || c[k] === "" || c[k] === "no" || c[k] === "unlimited", `${version}: ${k} is not set (${c[k]})`);
        }
        assert.equal(c.entrypoint === "/usr/local/bin/entrypoint", want.entrypoint, `${version}: entrypoint`);
        assert.equal(c.tmpfs === "16M@/tmp", want.tmpfs, `${version}: tmpfs`);
        assert.equal(!!c["healthcheck-cmd"], want.health, `${version}: health check`);
        if (!want.memory["memory-high"] && !want.memory["memory-max"]) {
          assert.equal((await tb.client.get<RosRecord>("container/config"))["ram-high"], String(96 * MIB), `${version}: only ram-high for all containers`);
        }
        const mounts = await tb.client.get<RosRecord[]>("container/mounts");
        assert.equal(mounts[0]!.src, "tailscale/state");
        if (version >= "7.23") assert.equal(mounts[0]!.mode, "rw");

        assert.deepEqual((await deploy(opts(tb, yaml(version)))).changes, [], `${version}: a second deploy changes nothing`);

        const next = tb.image({ tailscaleVersion: "1.98.6" });
        const u = await upgrade(opts(tb, yaml(version), next));
        assert.equal(u.to, "v1.98.6-mt.1");
        c = await theContainer(tb);
        assert.equal(stateOf(c), "running");
        assert.equal(c["root-dir"], "tailscale/root-b");
        assert.match(c.tag!, /v1\.98\.6/);
        if (want.key === "comment") assert.equal(c.comment, "mikrotik-tailscale:tailscale");

        const s = await status(tb.client, "tailscale");
        assert.equal(s.container?.status, "running");
        assert.equal(s.container?.imageVersion, "v1.98.6-mt.1");
        const text = formatStatus(s, "tailscale");
        if (want.health) {
          await new Promise((r) => setTimeout(r, 100));
          const s2 = await status(tb.client, "tailscale");
          assert.equal(s2.container?.health, "healthy: Running");
          assert.match(formatStatus(s2, "tailscale"), /health: +healthy: Running \(RouterOS runs \/usr\/local\/bin\/healthcheck\)/);
        } else {
          assert.doesNotMatch(text, /health:/);
        }
        if (want.restart?.["restart-policy"]) assert.match(text, /restart: +on-failure after 10s \(at most 10 restarts within 10s\)/);
        else if (want.restart) assert.match(text, /restart: +after any exit, every 10s/);
        else assert.match(text, /restart: +never \(a crashed tailscaled stays down\)/);
      });
    });
  }
});

describe("a router newer than every command tree", () => {
  test("the tool uses what the router says it has, not the newest tree", async () => {
    // A future release without restart-policy and memory-max: the tool must not send them.
    const editTree = (t: TreeNode) => dropArgs(t, "container/add", ["restart-policy", "restart-interval", "restart-max-count", "memory-max"]);
    await withBed({ version: "7.27", editTree }, async (tb) => {
      tb.image({ tailscaleVersion: "1.98.5" });
      const r = await deploy(opts(tb, yaml("7.24")));
      assert.equal(r.status, "running");
      const c = await theContainer(tb);
      assert.equal(c["restart-policy"], undefined);
      assert.equal(c["memory-high"], String(96 * MIB), "without memory-max the limit goes to memory-high");
      assert.ok(r.notes.some((n) => /RouterOS 7\.27 cannot restart a container that exits/.test(n)), r.notes.join("\n"));
      assert.ok(r.notes.some((n) => /the config names RouterOS 7\.24, the router runs 7\.27/.test(n)));
    });
  });

  test("a router that will not answer /console/inspect: its release's tree (the newest), and a note", async () => {
    await withBed({ version: "7.25.1", noInspect: true }, async (tb) => {
      tb.image({ tailscaleVersion: "1.98.5" });
      const r = await deploy(opts(tb, yaml("7.25.1")));
      assert.equal(r.status, "running");
      assert.equal(r.facts.model.source.kind, "tree");
      assert.ok(r.notes.some((n) => /did not answer \/console\/inspect .*using RouterOS 7\.24's command tree/.test(n)), r.notes.join("\n"));
      assert.ok(r.notes.some((n) => /7\.25\.1 is newer than the newest release/.test(n)));
    });
  });
});


