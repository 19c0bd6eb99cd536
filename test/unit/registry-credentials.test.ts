/**
 * Registry credentials as container tools find them: Docker's config.json
 * (`auths`, `credHelpers`, `credsStore` through docker-credential-*
 * programs, Docker Hub's legacy key) and podman's auth.json, with a real
 * (fake) helper program speaking the helper protocol.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { credentialsFromAuthFile, DOCKER_HUB_KEY, resolveCredentials } from "../../src/release/credentials.js";
import { InvalidInputError } from "../../src/errors.js";
import { fakeCredentialHelper } from "../support/fake-credential-helper.js";

const SECRET = "s3cret-not-for-logs";

function withPath<T>(bin: string, f: () => T): T {
  const old = process.env.PATH;
  process.env.PATH = `${bin}${delimiter}${old}`;
  try {
    return f();
  } finally {
    process.env.PATH = old;
  }
}

test("credHelpers names the helper for a registry; credsStore serves the rest; auths is the fallback", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-creds-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  fakeCredentialHelper(bin, "perhost", "registry.example.com", "alice", SECRET);
  fakeCredentialHelper(bin, "store", "other.example.com:5000", "bob", SECRET);
  const cfg = JSON.stringify({
    credHelpers: { "registry.example.com": "perhost" },
    credsStore: "store",
    auths: { "third.example.com": { auth: Buffer.from(`carol:${SECRET}`).toString("base64") } },
  });
  withPath(bin, () => {
    const a = credentialsFromAuthFile(cfg, "registry.example.com", "config.json")!;
    assert.deepEqual([a.username, a.password], ["alice", SECRET]);
    assert.match(a.source, /credHelpers: docker-credential-perhost/);
    const b = credentialsFromAuthFile(cfg, "other.example.com:5000", "config.json")!;
    assert.deepEqual([b.username, b.password], ["bob", SECRET]);
    assert.match(b.source, /credsStore: docker-credential-store/);
    const c = credentialsFromAuthFile(cfg, "third.example.com", "config.json")!;
    assert.equal(c.username, "carol", "the store has nothing for it: auths");
    assert.equal(credentialsFromAuthFile(cfg, "nowhere.example.com", "config.json"), undefined);
  });
  assert.equal(readFileSync(join(bin, "perhost.log"), "utf8"), "registry.example.com\n");
  assert.match(readFileSync(join(bin, "store.log"), "utf8"), /^other\.example\.com:5000\n/);
});

test("Docker Hub: the legacy key https://index.docker.io/v1/ in auths and for helpers", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-creds-hub-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const auths = JSON.stringify({ auths: { [DOCKER_HUB_KEY]: { auth: Buffer.from(`hubuser:${SECRET}`).toString("base64") } } });
  for (const name of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
    assert.equal(credentialsFromAuthFile(auths, name, "config.json")?.username, "hubuser", name);
  }
  const bin = join(dir, "bin");
  fakeCredentialHelper(bin, "hub", DOCKER_HUB_KEY, "hubuser", SECRET);
  const c = withPath(bin, () => credentialsFromAuthFile(JSON.stringify({ credsStore: "hub" }), "registry-1.docker.io", "config.json"));
  assert.equal(c?.password, SECRET);
  assert.equal(readFileSync(join(bin, "hub.log"), "utf8"), `${DOCKER_HUB_KEY}\n`, "helpers are asked for Hub by its legacy key");
});

test("podman's auth.json (XDG_RUNTIME_DIR, then XDG_CONFIG_HOME) comes before Docker's config.json", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-creds-podman-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (user: string) => JSON.stringify({ auths: { "registry.example.com": { auth: Buffer.from(`${user}:${SECRET}`).toString("base64") } } });
  const put = (p: string, text: string) => {
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
  };
  put(join(dir, "docker", "config.json"), entry("docker-user"));
  const env = { DOCKER_CONFIG: join(dir, "docker"), XDG_CONFIG_HOME: join(dir, "config"), XDG_RUNTIME_DIR: join(dir, "run") };
  const who = () => resolveCredentials({ registry: "registry.example.com", env, home: join(dir, "home") })?.username;
  assert.equal(who(), "docker-user");
  put(join(dir, "config", "containers", "auth.json"), entry("podman-config-user"));
  assert.equal(who(), "podman-config-user");
  put(join(dir, "run", "containers", "auth.json"), entry("podman-run-user"));
  assert.equal(who(), "podman-run-user");
});

test("helper failures are one clear error naming the helper, never the secret", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mt-creds-err-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  fakeCredentialHelper(bin, "tok", "registry.example.com", "<token>", SECRET);
  const check = (cfg: object, re: RegExp) =>
    withPath(bin, () =>
      assert.throws(
        () => credentialsFromAuthFile(JSON.stringify(cfg), "registry.example.com", "config.json"),
        (e: unknown) => e instanceof InvalidInputError && re.test(e.message) && !e.message.includes(SECRET),
      ),
    );
  check({ credHelpers: { "registry.example.com": "missing-helper" } }, /credential helper docker-credential-missing-helper is not installed/);
  check({ credHelpers: { "registry.example.com": "tok" } }, /docker-credential-tok holds an identity token for registry\.example\.com/);
  check({ credHelpers: { "registry.example.com": "../evil" } }, /is not a program name/);
});
