import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MikrotikTailscaleError } from "../../src/errors.js";
import { RestClient } from "../../src/routeros/rest.js";

/*
 * A router (or whatever answers on its address: a captive portal, a proxy, a
 * broken firmware) whose REST replies do not have the shape the API promises.
 * Each one must end as one line naming the request, never as a stack trace
 * such as "packages.find is not a function".
 */

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "bin", "mikrotik-tailscale.js");

interface Reply {
  status?: number;
  type?: string;
  body: string;
}

const GOOD: Record<string, Reply> = {
  "/rest/system/resource": { body: JSON.stringify({ version: "7.22 (stable)", "architecture-name": "arm64", "board-name": "RB5009UG+S+" }) },
  "/rest/system/package": { body: JSON.stringify([{ ".id": "*1", name: "routeros", disabled: "false" }, { ".id": "*2", name: "container", disabled: "false" }]) },
  "/rest/system/device-mode": { body: JSON.stringify({ container: "yes" }) },
  "/rest/container": { body: "[]" },
  "/rest/ip/route": { body: "[]" },
  "/rest/log": { body: "[]" },
};

/** An HTTP server standing in for the router; `replies` overrides GOOD per path. */
async function fakeRouter(replies: Record<string, Reply>): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]!;
    const r = replies[path] ?? GOOD[path] ?? { status: 404, body: JSON.stringify({ error: 404, message: "Not Found" }) };
    res.writeHead(r.status ?? 200, { "content-type": r.type ?? "application/json" });
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const MALFORMED: Array<[string, Reply]> = [
  ["an object where a list is expected", { body: JSON.stringify({ ".id": "*1", name: "container" }) }],
  ["an HTML page", { type: "text/html", body: "<html><body><h1>Welcome to the hotel Wi-Fi</h1></body></html>" }],
  ["invalid JSON", { body: '[{"name": "container"' }],
  ["a list of non-objects", { body: JSON.stringify(["container", 3]) }],
  ["a list with null in it", { body: "[null]" }],
  ["a list of lists", { body: "[[]]" }],
  ["records whose values are not strings", { body: JSON.stringify([{ ".id": "*1", name: 5 }]) }],
  ["an empty body", { body: "" }],
  ["JSON null", { body: "null" }],
];

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const k of ["ROUTEROS_URL", "ROUTEROS_PASSWORD_FILE", "ROUTEROS_CA_FILE", "ROUTEROS_TLS_FINGERPRINT", "ROUTEROS_TLS_SERVER_NAME"]) delete e[k];
    const child = spawn(process.execPath, [bin, ...args], { env: e, cwd: root });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** stderr without the plain-http warning the fake router's http:// earns. */
const errorLines = (err: string) => err.split("\n").filter((l) => l.trim() && !/^warning: plain http/.test(l));

test("getList and getRecord: a reply of the wrong shape is one line naming the request", async () => {
  for (const [what, reply] of MALFORMED) {
    const { origin, server } = await fakeRouter({ "/rest/system/package": reply, "/rest/system/resource": reply });
    const c = new RestClient({ origin, user: "admin", password: "pw" });
    try {
      await assert.rejects(c.getList("system/package"), (e: Error) => {
        assert.ok(e instanceof MikrotikTailscaleError, `${what}: ${e.constructor.name}: ${e.message}`);
        assert.equal(e.exitCode, 1, what);
        assert.match(e.message, /GET \/rest\/system\/package/, what);
        assert.doesNotMatch(e.message, /\n/, `${what}: one line`);
        return true;
      });
      // An object of strings is a fine record; every other reply here is not one.
      if (what !== "an object where a list is expected") {
        await assert.rejects(c.getRecord("system/resource"), (e: Error) => {
          assert.ok(e instanceof MikrotikTailscaleError, `${what}: ${e.constructor.name}: ${e.message}`);
          assert.match(e.message, /GET \/rest\/system\/resource/, what);
          assert.doesNotMatch(e.message, /\n/, `${what}: one line`);
          return true;
        });
      }
    } finally {
      c.close();
      server.close();
    }
  }
  // A list for a record is wrong too; good replies pass through.
  const { origin, server } = await fakeRouter({ "/rest/system/resource": { body: "[]" } });
  const c = new RestClient({ origin, user: "admin", password: "pw" });
  try {
    await assert.rejects(c.getRecord("system/resource"), /GET \/rest\/system\/resource: expected a record \(a JSON object\), got a list/);
    await assert.rejects(c.getList("system/device-mode"), /GET \/rest\/system\/device-mode: expected a list of records, got an object/);
    assert.deepEqual((await c.getList("system/package")).map((p) => p.name), ["routeros", "container"]);
    assert.deepEqual(await c.getRecord("system/device-mode"), { container: "yes" });
  } finally {
    c.close();
    server.close();
  }
});

test("routeros status and deploy: a malformed list from the router is one error line naming the request, exit 1, no stack", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mt-rest-replies-"));
  try {
    const config = join(dir, "router.yaml");
    writeFileSync(
      config,
      `routeros: { version: "7.22", arch: arm64 }
image: { remote: "registry.example.com/owner/mikrotik-tailscale:stable" }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: usb1/tailscale/root, stateDir: usb1/tailscale/state }
`,
    );
    for (const [what, reply] of MALFORMED) {
      for (const [cmd, path] of [
        ["status", "/rest/container"],
        ["status", "/rest/ip/route"],
        ["deploy", "/rest/system/package"],
      ] as const) {
        const { origin, server } = await fakeRouter({ [path]: reply });
        try {
          const r = await run(["routeros", cmd, "-c", config, "--router", `${origin.replace("http://", "http://admin@")}`], { ROUTEROS_PASSWORD: "pw" });
          const lines = errorLines(r.err);
          const label = `${cmd} with ${what} at ${path}`;
          assert.equal(r.code, 1, `${label}: ${r.err}`);
          assert.equal(r.out, "", `${label}: no partial output`);
          assert.equal(lines.length, 1, `${label}: one line, not:\n${r.err}`);
          assert.match(lines[0]!, /^mikrotik-tailscale: error: /, label);
          assert.ok(lines[0]!.includes(`GET ${path}`), `${label}: ${lines[0]}`);
          assert.doesNotMatch(r.err, /is not a function|internal error|\n\s+at /, label);
        } finally {
          server.close();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
