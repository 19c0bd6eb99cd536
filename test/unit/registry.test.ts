/**
 * The registry client's pure parts and the OCI layout reader: references,
 * auth challenges, credentials (environment, files, auth files), the
 * anonymous token URL a router script uses, and a layout whose blobs are
 * checked before anything is sent. The real registry is exercised in
 * test/integration/publish.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { blob } from "../../src/image/config.js";
import { ociLayout } from "../../src/image/oci.js";
import { credentialsFromAuthFile, resolveCredentials } from "../../src/release/credentials.js";
import { OciLayoutReader } from "../../src/release/layout.js";
import { chooseRef } from "../../src/release/publish.js";
import { formatReference, isLoopbackRegistry, parseReference, registryBaseUrl } from "../../src/release/reference.js";
import { anonymousPullTokenUrl, parseChallenge, registryErrorText } from "../../src/release/registry.js";

test("references name the registry host; tags and digests are checked", () => {
  assert.deepEqual(parseReference("registry.example.com/owner/mikrotik-tailscale:stable"), {
    registry: "registry.example.com",
    repository: "owner/mikrotik-tailscale",
    tag: "stable",
  });
  assert.deepEqual(parseReference("127.0.0.1:5000/a/b/c"), { registry: "127.0.0.1:5000", repository: "a/b/c" });
  assert.deepEqual(parseReference("localhost/x:v1.102.5-mt.1"), { registry: "localhost", repository: "x", tag: "v1.102.5-mt.1" });
  const d = `sha256:${"a".repeat(64)}`;
  assert.equal(parseReference(`r.example/x@${d}`).digest, d);
  assert.equal(formatReference(parseReference("R.Example:443/x/y:t")), "r.example:443/x/y:t");
  assert.throws(() => parseReference("owner/mikrotik-tailscale:stable"), /name the registry host first/);
  assert.throws(() => parseReference("https://r.example/x"), /without a scheme/);
  assert.throws(() => parseReference("r.example/Owner/x"), /not a repository name/);
  assert.throws(() => parseReference("r.example/x:bad/tag"), /not a repository name|not a valid tag/);
  assert.throws(() => parseReference("r.example/x:-bad"), /not a valid tag/);
  assert.throws(() => parseReference("r.example/x@sha256:1234"), /not a sha256 digest/);
  assert.ok(isLoopbackRegistry("127.0.0.1:5000") && isLoopbackRegistry("localhost") && isLoopbackRegistry("[::1]:5000"));
  assert.ok(!isLoopbackRegistry("registry.example.com"));
  assert.equal(registryBaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
  assert.equal(registryBaseUrl("registry.example.com"), "https://registry.example.com");
  assert.equal(registryBaseUrl("registry.example.com", true), "http://registry.example.com");
});

test("auth challenges and error bodies", () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"'), {
    scheme: "bearer",
    params: { realm: "https://auth.example.com/token", service: "registry.example.com", scope: "repository:a/b:pull" },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: "basic", params: { realm: "Registry Realm" } });
  assert.equal(parseChallenge(null), undefined);
  assert.equal(registryErrorText('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'), "DENIED: requested access to the resource is denied");
  assert.equal(registryErrorText('{"details":"incorrect username or password"}'), "incorrect username or password");
  assert.equal(registryErrorText("plain text"), "plain text");
});

test("credentials: environment, password file, auth file; never half given", () => {
  const dir = mkdtempSync(join(tmpdir(), "mt-creds-"));
  try {
    const env = (e: Record<string, string>) => ({ ...e, HOME: dir });
    assert.equal(resolveCredentials({ registry: "r.example", env: env({}), home: dir }), undefined, "anonymous");
    assert.deepEqual(
      resolveCredentials({ registry: "r.example", env: env({ MIKROTIK_TAILSCALE_REGISTRY_USER: "u", MIKROTIK_TAILSCALE_REGISTRY_PASSWORD: "p" }), home: dir }),
      { username: "u", password: "p", source: "user u, password from MIKROTIK_TAILSCALE_REGISTRY_PASSWORD" },
    );
    writeFileSync(join(dir, "pw"), "s3cret\n");
    assert.equal(resolveCredentials({ registry: "r.example", user: "u", passwordFile: join(dir, "pw"), env: env({}), home: dir })!.password, "s3cret");
    assert.throws(() => resolveCredentials({ registry: "r.example", env: env({ MIKROTIK_TAILSCALE_REGISTRY_USER: "u" }), home: dir }), /no password for registry user u/);
    assert.throws(() => resolveCredentials({ registry: "r.example", env: env({ MIKROTIK_TAILSCALE_REGISTRY_PASSWORD: "p" }), home: dir }), /password is set but no user/);
    assert.throws(() => resolveCredentials({ registry: "r.example", passwordFile: join(dir, "pw"), env: env({}), home: dir }), /needs a user name/);
    // The docker/podman/skopeo auth file, found in the usual place.
    const auth = { auths: { "https://r.example/v2/": { auth: Buffer.from("me:tok:en").toString("base64") }, "other.example": { auth: "eDp5" } } };
    mkdirSync(join(dir, ".docker"));
    writeFileSync(join(dir, ".docker", "config.json"), JSON.stringify(auth));
    const c = resolveCredentials({ registry: "r.example", env: env({}), home: dir })!;
    assert.deepEqual([c.username, c.password], ["me", "tok:en"]);
    assert.equal(c.source, join(dir, ".docker", "config.json"));
    assert.equal(resolveCredentials({ registry: "third.example", env: env({}), home: dir }), undefined);
    assert.throws(() => resolveCredentials({ registry: "r.example", authFile: join(dir, "missing.json"), env: env({}), home: dir }), /cannot read auth file/);
    assert.throws(() => credentialsFromAuthFile("{", "r.example", "f.json"), /f\.json: not valid JSON/);
    assert.throws(() => credentialsFromAuthFile(JSON.stringify({ auths: { "r.example": { identitytoken: "x" } } }), "r.example", "f"), /identity token/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the token URL anonymous pulls use (what the router script fetches)", async () => {
  let mode: "bearer" | "basic" | "open" = "bearer";
  const server = http.createServer((req, res) => {
    if (mode === "open") res.writeHead(200);
    else if (mode === "basic") res.writeHead(401, { "www-authenticate": 'Basic realm="r"' });
    else res.writeHead(401, { "www-authenticate": 'Bearer realm="https://auth.example.com/token",service="registry.example.com"' });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal(await anonymousPullTokenUrl(host, "owner/x"), "https://auth.example.com/token?service=registry.example.com&scope=repository:owner/x:pull");
    mode = "open";
    assert.equal(await anonymousPullTokenUrl(host, "owner/x"), undefined);
    mode = "basic";
    await assert.rejects(anonymousPullTokenUrl(host, "owner/x"), /wants a user name and password .* even to pull/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  // A port nothing listens on (never connected to, so no pooled connection either).
  const idle = http.createServer();
  await new Promise<void>((resolve) => idle.listen(0, "127.0.0.1", resolve));
  const free = `127.0.0.1:${(idle.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => idle.close(() => resolve()));
  await assert.rejects(anonymousPullTokenUrl(free, "owner/x"), /cannot reach the registry at http:\/\/127\.0\.0\.1:\d+: connection refused/);
});

function writeLayout(dir: string): { version: string } {
  const version = "v1.102.5-mt.1";
  const cfg = (arch: string, variant?: string) =>
    blob("application/vnd.oci.image.config.v1+json", new TextEncoder().encode(JSON.stringify({ architecture: arch, ...(variant ? { variant } : {}), os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"d".repeat(64)}`] } })));
  const layout = ociLayout({
    tag: version,
    images: [
      { arch: "amd64", platform: { os: "linux", architecture: "amd64" }, config: cfg("amd64"), layerGzip: new Uint8Array([1, 2, 3]), sbom: new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}') },
      { arch: "arm64", platform: { os: "linux", architecture: "arm64", variant: "v8" }, config: cfg("arm64", "v8"), layerGzip: new Uint8Array([4, 5, 6]) },
    ],
    annotations: { "org.opencontainers.image.version": version },
  });
  for (const [rel, bytes] of layout.files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
  }
  return { version };
}

test("the layout reader finds the image, its platforms, blobs and SBOMs, and refuses corrupt blobs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mt-layout-"));
  try {
    const { version } = writeLayout(dir);
    const r = await OciLayoutReader.open(dir);
    assert.deepEqual(r.indexRefs(), [version]);
    assert.equal(chooseRef(r.indexRefs()), version);
    assert.throws(() => chooseRef([]), /holds no multi-arch image/);
    assert.throws(() => chooseRef(["a", "b"]), /several images \(a, b\); choose one with --ref/);
    const img = await r.image(version);
    assert.equal(img.version, version);
    assert.deepEqual(img.platforms.map((p) => p.ref), [`${version}-amd64`, `${version}-arm64`]);
    assert.equal(img.artifacts.length, 1, "one SBOM (amd64)");
    // 2 configs + 2 layers + the SBOM's empty config and its payload.
    assert.equal(img.blobs.length, 6);
    await assert.rejects(r.image("nope"), /has no ref 'nope'/);
    // Flip a byte of a layer: the reader refuses before anything could be uploaded.
    const layer = img.platforms[1]!.layerDigests[0]!;
    const p = join(dir, "blobs", "sha256", layer.slice(7));
    const bytes = readFileSync(p);
    bytes[0] ^= 0xff;
    writeFileSync(p, bytes);
    const again = await OciLayoutReader.open(dir);
    await assert.rejects(again.image(version), /blob sha256:[0-9a-f]{64} is corrupt/);
    await assert.rejects(OciLayoutReader.open(join(dir, "nowhere")), /not an OCI image layout \(no oci-layout file\); build first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
