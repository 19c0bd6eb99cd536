/**
 * `publish` against a real registry (docker-registry with Basic auth) with
 * the password only in a credential helper: Docker's config.json naming it in
 * `credHelpers`, then as `credsStore`; a helper that knows nothing means an
 * anonymous push, which the registry refuses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { allArchitectures } from "../../src/arch.js";
import { writeImages } from "../../src/image/index.js";
import { projectRoot } from "../../src/paths.js";
import { silentProgress } from "../../src/util/progress.js";
import { fakeCredentialHelper } from "../support/fake-credential-helper.js";
import { fakeBuild } from "../support/fake-rootfs.js";
import { startLocalRegistry } from "../support/local-registry.js";

const bin = join(projectRoot, "bin", "mikrotik-tailscale.js");
const USER = "helper-user";
const PASSWORD = "helper-held-password-0123";

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const k of Object.keys(e)) if (k.startsWith("MIKROTIK_TAILSCALE_REGISTRY_") || k === "REGISTRY_AUTH_FILE") delete e[k];
    const child = spawn(process.execPath, [bin, ...args], { env: e, cwd: projectRoot });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test("publish takes the password from docker-credential-* helpers named by credHelpers and credsStore", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-publish-helper-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const records = allArchitectures().map((a) => fakeBuild(dir, a.name));
  await writeImages({
    distDir: join(dir, "dist"),
    records,
    rootfsDir: (a) => join(dir, "rootfs", a),
    sourceDateEpoch: 1_700_000_000,
    revision: "0".repeat(40),
    imageVersion: "v1.102.5-mt.1",
    progress: silentProgress,
    source: "https://example.invalid/x",
  });
  const layout = join(dir, "dist", "oci");
  const reg = await startLocalRegistry({ auth: "basic", users: { [USER]: PASSWORD } });
  t.after(() => reg.close());
  const helpers = join(dir, "helpers");
  fakeCredentialHelper(helpers, "mtfake", reg.host, USER, PASSWORD);
  const docker = join(dir, "docker");
  mkdirSync(docker);
  const env = {
    PATH: `${helpers}${delimiter}${process.env.PATH}`,
    DOCKER_CONFIG: docker,
    XDG_RUNTIME_DIR: join(dir, "no-run"),
    XDG_CONFIG_HOME: join(dir, "no-config"),
  };
  const config = (c: object) => writeFileSync(join(docker, "config.json"), JSON.stringify(c));

  config({ auths: { [reg.host]: {} }, credHelpers: { [reg.host]: "mtfake" } });
  const viaHelper = await cli(["publish", `${reg.host}/owner/a`, "--oci", layout], env);
  assert.equal(viaHelper.code, 0, viaHelper.err);
  assert.match(viaHelper.out, /published v1\.102\.5-mt\.1/);

  config({ credsStore: "mtfake" });
  const viaStore = await cli(["publish", `${reg.host}/owner/b`, "--oci", layout], env);
  assert.equal(viaStore.code, 0, viaStore.err);
  assert.equal(readFileSync(join(helpers, "mtfake.log"), "utf8"), `${reg.host}\n${reg.host}\n`, "the helper was asked for this registry, once per run");

  // A helper that has nothing for this registry: anonymous, refused by the registry.
  fakeCredentialHelper(helpers, "mtfake", "elsewhere.example.com", USER, PASSWORD);
  const none = await cli(["publish", `${reg.host}/owner/c`, "--oci", layout], env);
  assert.equal(none.code, 1);
  assert.match(none.err, /needs a user name and password/);
  for (const r of [viaHelper, viaStore, none]) assert.ok(!(r.out + r.err).includes(PASSWORD), "the password is never printed");
});
