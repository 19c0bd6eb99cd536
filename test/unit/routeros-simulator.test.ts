import { test } from "node:test";
import { stateOf } from "../../src/routeros/schema/state.js";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { startSimulator, type RunningSimulator } from "../../src/routeros/simulator/server.js";
import { makeFixtureImage } from "../support/routeros-fixture.js";
import { parseDockerArchive } from "../../src/routeros/image.js";
import { writeTar, type TarEntry } from "../../src/image/tar.js";
import { dockerArchive } from "../../src/image/docker-archive.js";
import { blob } from "../../src/image/config.js";
import { digestOf } from "../../src/image/digest.js";
import { versionFromText } from "../../src/routeros/image.js";

/*
 * The simulator's own behaviour, at the HTTP level: what the REST client and
 * the tests rely on. Plain HTTP here; TLS is covered by the deploy tests.
 */

const auth = `Basic ${Buffer.from("admin:pw").toString("base64")}`;

async function call(s: RunningSimulator, method: string, path: string, body?: unknown, authorization = auth): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.origin}/rest/${path}`, {
    method,
    headers: { authorization, ...(body ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function withSim(opts: Parameters<typeof startSimulator>[0], fn: (s: RunningSimulator) => Promise<void>) {
  const s = await startSimulator({ user: "admin", password: "pw", extractMs: 30, startMs: 30, stopMs: 10, ...opts });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function until(s: RunningSimulator, id: string, status: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const r = await call(s, "GET", `container/${id}`);
    if (stateOf(r.json) === status) return r.json;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`container never reached ${status}`);
}

test("string values, *N ids, PUT/GET/PATCH/DELETE", async () => {
  await withSim({}, async (s) => {
    const created = await call(s, "PUT", "interface/veth", { name: "veth1", address: "172.17.0.2/24", gateway: "172.17.0.1" });
    assert.equal(created.status, 200);
    assert.match(created.json[".id"], /^\*[0-9A-F]+$/);
    assert.equal(created.json.disabled, "false");
    const id = created.json[".id"];
    const list = await call(s, "GET", "interface/veth");
    assert.ok(Array.isArray(list.json));
    for (const v of Object.values(list.json[0])) assert.equal(typeof v, "string");
    const patched = await call(s, "PATCH", `interface/veth/${id}`, { address: "172.18.0.2/24" });
    assert.equal(patched.json.address, "172.18.0.2/24");
    assert.equal((await call(s, "DELETE", `interface/veth/${id}`)).status, 204);
    const gone = await call(s, "GET", `interface/veth/${id}`);
    assert.deepEqual(gone, { status: 404, json: { error: 404, message: "Not Found" } });
  });
});

test("errors: 401, 400 with error/message/detail, unknown and duplicate fields", async () => {
  await withSim({}, async (s) => {
    assert.deepEqual(await call(s, "GET", "system/resource", undefined, "Basic eDp5"), { status: 401, json: { error: 401, message: "Unauthorized" } });
    const unknown = await call(s, "PUT", "interface/veth", { name: "v", colour: "red" });
    assert.deepEqual(unknown, { status: 400, json: { error: 400, message: "Bad Request", detail: "unknown parameter colour" } });
    await call(s, "PUT", "interface/veth", { name: "v" });
    const dup = await call(s, "PUT", "interface/veth", { name: "v" });
    assert.equal(dup.status, 400);
    assert.match(dup.json.detail, /already have such name/);
    const nosuch = await call(s, "GET", "interface/wireless/frobnicate");
    assert.equal(nosuch.status, 400);
    assert.match(nosuch.json.detail, /no such command or directory/);
  });
});

test("field names depend on the version", async () => {
  await withSim({ version: "7.19" }, async (s) => {
    assert.equal((await call(s, "PUT", "container/envs", { name: "ts", key: "A", value: "1" })).status, 200);
    assert.equal((await call(s, "PUT", "container/envs", { list: "ts", key: "B", value: "1" })).json.detail, "unknown parameter list");
  });
  await withSim({ version: "7.20" }, async (s) => {
    assert.equal((await call(s, "PUT", "container/envs", { list: "ts", key: "A", value: "1" })).status, 200);
    assert.equal((await call(s, "PUT", "container/mounts", { name: "m", src: "a", dst: "/a" })).status, 200);
    assert.equal((await call(s, "PUT", "container/mounts", { list: "m", src: "a", dst: "/b" })).json.detail, "unknown parameter list");
  });
  await withSim({ version: "7.21.1" }, async (s) => {
    await call(s, "PUT", "interface/veth", { name: "v" });
    const r = await call(s, "PUT", "container", { name: "c", "remote-image": "x/y:z", interface: "v", tmpfs: "1M@/tmp" });
    assert.equal(r.json.detail, "unknown parameter tmpfs");
    const old = await call(s, "PUT", "container", { name: "c", "remote-image": "x/y:z", interface: "v", mounts: "m" });
    assert.equal(old.json.detail, "unknown parameter mounts");
  });
});

test("/tool/fetch really downloads, and a container goes extracting -> stopped -> running", async () => {
  const image = makeFixtureImage({ arch: "arm64", tailscaleVersion: "1.98.5" });
  const server = http.createServer((req, res) => {
    if (req.url === "/img.tar") res.end(image);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await withSim({}, async (s) => {
      const missing = await call(s, "POST", "tool/fetch", { url: `${base}/nope.tar`, "dst-path": "x.tar" });
      assert.equal(missing.status, 400);
      assert.match(missing.json.detail, /404/);
      const ok = await call(s, "POST", "tool/fetch", { url: `${base}/img.tar`, "dst-path": "disk1/img.tar" });
      assert.equal(ok.json[0].status, "finished");
      const files = (await call(s, "GET", "file")).json;
      assert.equal(files.find((f: any) => f.name === "disk1/img.tar").size, String(image.length));
      assert.deepEqual(s.sim.fileList().find((f) => f.rec.name === "disk1/img.tar")!.data, image);

      await call(s, "PUT", "interface/veth", { name: "v" });
      const c = (await call(s, "PUT", "container", { name: "ts", file: "disk1/img.tar", interface: "v", "root-dir": "disk1/ts", logging: "yes" })).json;
      assert.equal(stateOf(c), "extracting");
      assert.equal(c.status, undefined, "RouterOS 7.21.2 reports flags, not status");
      assert.equal(c["downloading/extracting"], "true");
      const stopped = await until(s, c[".id"], "stopped");
      assert.equal(stopped.tag, "mikrotik-tailscale:v1.98.5-mt.1-arm64");
      assert.equal(stopped.arch, "arm64/v8");
      assert.equal(stopped.logging, "true");
      assert.deepEqual((await call(s, "POST", "container/start", { ".id": c[".id"] })).json, []);
      await until(s, c[".id"], "running");
      const busy = await call(s, "DELETE", `container/${c[".id"]}`);
      assert.match(busy.json.detail, /stop it first/);
      await call(s, "POST", "container/stop", { ".id": c[".id"] });
      await until(s, c[".id"], "stopped");
      assert.equal((await call(s, "DELETE", `container/${c[".id"]}`)).status, 204);
      const log = (await call(s, "GET", "log")).json.map((l: any) => l.message).join("\n");
      assert.match(log, /Program starting: v1\.98\.5/);
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("docker-archive parsing: platform, version label, OCI layouts refused", () => {
  const info = parseDockerArchive(makeFixtureImage({ arch: "armv7", tailscaleVersion: "1.98.5", release: 3 }), "x.tar");
  assert.equal(info.architecture, "arm");
  assert.equal(info.variant, "v7");
  assert.equal(info.version, "v1.98.5-mt.3");
  assert.throws(() => parseDockerArchive(Buffer.from(writeTar([file("index.json", "{}"), file("oci-layout", "{}")])), "oci.tar"), /OCI layout/);
});

test("reads the docker-archive the image build writes (src/image)", () => {
  const layer = writeTar([{ path: "etc", type: "dir", mode: 0o755, mtime: 0 }]);
  const config = blob(
    "application/vnd.oci.image.config.v1+json",
    Buffer.from(JSON.stringify({ architecture: "arm", variant: "v5", os: "linux", created: "2026-01-01T00:00:00Z", config: { Labels: { "org.opencontainers.image.version": "v1.102.5-mt.2" } }, rootfs: { type: "layers", diff_ids: [digestOf(layer)] } })),
  );
  const tar = dockerArchive({ repoTag: "mikrotik-tailscale:v1.102.5-mt.2-armv5", config, layer, diffId: digestOf(layer), mtime: 0 });
  const info = parseDockerArchive(Buffer.from(tar), "mikrotik-tailscale-1.102.5-armv5.tar");
  assert.equal(info.architecture, "arm");
  assert.equal(info.variant, "v5");
  assert.equal(info.version, "v1.102.5-mt.2");
  assert.deepEqual(info.repoTags, ["mikrotik-tailscale:v1.102.5-mt.2-armv5"]);
  assert.equal(versionFromText(info.repoTags[0]), "v1.102.5-mt.2");
  assert.equal(versionFromText("mikrotik-tailscale-1.102.5-armv5.tar"), "v1.102.5");
  assert.equal(versionFromText("127.0.0.1:5000/owner/mikrotik-tailscale:stable"), undefined, "a registry's address is no version");
  assert.equal(versionFromText("10.1.2.3:5000/owner/mikrotik-tailscale:v1.104.2-mt.1"), "v1.104.2-mt.1");
  assert.equal(versionFromText("Program starting: v1.104.2, Go 1.26.0"), "v1.104.2");
});

function file(path: string, data: string): TarEntry {
  return { path, type: "file", mode: 0o644, mtime: 0, data: Buffer.from(data) };
}

test("menus come from the version's command tree: a property that release lacks is an unknown parameter", async () => {
  const veth = { name: "veth1", address: "172.17.0.2/24", gateway: "172.17.0.1" };
  const image = makeFixtureImage({ arch: "arm64", tailscaleVersion: "1.98.5" });
  for (const [version, prop, known] of [
    ["7.19", "memory-high", false],
    ["7.20", "memory-high", true],
    ["7.21.1", "tmpfs", false],
    ["7.21.2", "tmpfs", true],
    ["7.22.3", "restart-policy", false],
    ["7.23", "restart-policy", true],
    ["7.23", "auto-restart-interval", false],
    ["7.18", "name", false],
  ] as const) {
    await withSim({ version, registry: { "r.example/ts:1": image } }, async (s) => {
      await call(s, "PUT", "interface/veth", veth);
      const value = { "memory-high": "96M", tmpfs: "16M@/tmp", "restart-policy": "on-failure", "auto-restart-interval": "10s", name: "ts" }[prop];
      const r = await call(s, "PUT", "container", { "remote-image": "r.example/ts:1", interface: "veth1", [prop]: value });
      if (known) assert.equal(r.status, 200, `${version} ${prop}: ${JSON.stringify(r.json)}`);
      else assert.deepEqual([r.status, r.json.detail], [400, `unknown parameter ${prop}`], `${version} ${prop}`);
    });
  }
  await withSim({ version: "7.19" }, async (s) => {
    const r = await call(s, "POST", "container/mounts/add", {});
    assert.equal(r.status, 400);
    const m = await call(s, "PUT", "container/mounts", { name: "m", src: "a", dst: "/b", mode: "rw" });
    assert.deepEqual([m.status, m.json.detail], [400, "unknown parameter mode"], "mounts mode came in 7.23");
    const cfg = await call(s, "POST", "container/config/set", { "memory-high": "96M" });
    assert.deepEqual([cfg.status, cfg.json.detail], [400, "unknown parameter memory-high"], "7.19's /container/config has ram-high");
    assert.equal((await call(s, "POST", "container/config/set", { "ram-high": "96M" })).status, 200);
  });
});

test("/console/inspect answers from the tree: one self row, then the children", async () => {
  await withSim({ version: "7.24" }, async (s) => {
    const r = await call(s, "POST", "console/inspect", { request: "child", path: "container,add" });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json[0], { name: "add", "node-type": "cmd", type: "self" });
    const args = r.json.filter((x: any) => x.type === "child").map((x: any) => x.name);
    for (const a of ["restart-policy", "memory-max", "healthcheck-cmd", "envlists", "mountlists", "privileged"]) assert.ok(args.includes(a), a);
    assert.deepEqual((await call(s, "POST", "console/inspect", { request: "child", path: "container,nothing" })).json, []);
  });
  await withSim({ version: "7.24", containerPackage: false }, async (s) => {
    assert.deepEqual((await call(s, "POST", "console/inspect", { request: "child", path: "container,add" })).json, []);
  });
});
