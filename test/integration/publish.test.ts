/**
 * `publish` against a real registry: Debian's docker-registry (distribution
 * 2.8) started here on 127.0.0.1 with a random port and a temporary storage
 * folder, with htpasswd Basic auth or bearer tokens from a token server in
 * this process. The image is the OCI layout the suite's build step wrote
 * (dist/oci); skopeo pulls every architecture back and the digests must be
 * ours. A counting proxy in front of the registry proves no blob is sent
 * twice.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { OciLayoutReader, type Descriptor } from "../../src/release/layout.js";
import { parseImageVersion, formatImageVersion } from "../../src/release/version.js";
import { startLocalRegistry, type LocalRegistry } from "../support/local-registry.js";
import { DIST } from "../support/dist.js";

const bin = join(projectRoot, "bin", "mikrotik-tailscale.js");
const REPO = "owner/mikrotik-tailscale";
const USER = "alice";
const PASSWORD = "correct horse battery staple";

let work = "";
let layout = "";
let version = "";
let local: { index: string; platforms: { arch: string; variant?: string; digest: string; config: string; layers: string[] }[] };

interface CliResult {
  code: number;
  out: string;
  err: string;
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(e)) if (k.startsWith("MIKROTIK_TAILSCALE_REGISTRY_") || k === "REGISTRY_AUTH_FILE" || k === "DOCKER_CONFIG") delete e[k];
    e.DOCKER_CONFIG = join(work, "no-docker-config");
    e.XDG_RUNTIME_DIR = join(work, "no-runtime-dir");
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete e[k];
      else e[k] = v;
    }
    const child = spawn(process.execPath, [bin, ...args], { env: e, cwd: projectRoot });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const creds = { MIKROTIK_TAILSCALE_REGISTRY_USER: USER, MIKROTIK_TAILSCALE_REGISTRY_PASSWORD: PASSWORD };

function skopeo(args: string[]): string {
  const r = spawnSync("skopeo", args, { encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `skopeo ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A counting HTTP proxy in front of a registry: which blob digests were uploaded, how often. */
async function countingProxy(target: string): Promise<{ host: string; uploads: Map<string, number>; requests: string[]; close(): Promise<void> }> {
  const uploads = new Map<string, number>();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const u = new URL(req.url ?? "/", "http://x");
    if (req.method === "PUT" && u.pathname.includes("/blobs/uploads/")) {
      const d = u.searchParams.get("digest") ?? "?";
      uploads.set(d, (uploads.get(d) ?? 0) + 1);
    }
    const [host, port] = target.split(":");
    const up = http.request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    uploads,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A copy of the layout with rewritten JSON: `ref` renames the image (and its
 * per-arch refs), `config` edits every image config. Blobs are re-hashed and
 * every descriptor above them follows.
 */
async function deriveLayout(dst: string, opts: { ref?: string; config?: (c: Record<string, any>) => void }): Promise<string> {
  rmSync(dst, { recursive: true, force: true });
  cpSync(layout, dst, { recursive: true });
  const reader = await OciLayoutReader.open(layout);
  const put = (obj: unknown): Descriptor & { bytes: Buffer } => {
    const bytes = Buffer.from(JSON.stringify(obj));
    const digest = sha(bytes);
    writeFileSync(join(dst, "blobs", "sha256", digest.slice(7)), bytes);
    return { mediaType: "", digest, size: bytes.length, bytes };
  };
  const newRef = opts.ref ?? version;
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const img = await reader.image(version);
  const top = await reader.json(img.top);
  const remap = new Map<string, Descriptor>();
  for (const p of img.platforms) {
    const m = (await reader.json(p.descriptor)) as Record<string, any>;
    if (opts.config) {
      const cfg = JSON.parse((await reader.blob(m.config.digest)).toString("utf8"));
      opts.config(cfg);
      const c = put(cfg);
      m.config = { ...m.config, digest: c.digest, size: c.size };
    }
    if (m.annotations?.["org.opencontainers.image.version"]) m.annotations["org.opencontainers.image.version"] = newRef;
    const nm = put(m);
    remap.set(p.descriptor.digest, { ...p.descriptor, digest: nm.digest, size: nm.size });
  }
  const topJson = top as Record<string, any>;
  topJson.manifests = (topJson.manifests as Descriptor[]).map((d) => remap.get(d.digest) ?? d);
  if (topJson.annotations) topJson.annotations["org.opencontainers.image.version"] = newRef;
  const nt = put(topJson);
  const manifests: Descriptor[] = [];
  for (const d of index.manifests) {
    const name = d.annotations?.["org.opencontainers.image.ref.name"];
    if (d.digest === img.top.digest) manifests.push({ ...d, digest: nt.digest, size: nt.size, annotations: { "org.opencontainers.image.ref.name": newRef } });
    else if (remap.has(d.digest)) manifests.push({ ...remap.get(d.digest)!, annotations: { "org.opencontainers.image.ref.name": name!.replace(version, newRef) } });
    // SBOM artifacts name the old manifests as subject: left out of derived layouts.
  }
  writeFileSync(join(dst, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
  return dst;
}

before(async () => {
  const src = join(DIST, "oci");
  if (!existsSync(join(src, "index.json"))) throw new Error(`${src} is missing: run 'node bin/mikrotik-tailscale.js build' first (scripts/test.sh does)`);
  work = mkdtempSync(join(tmpdir(), "mt-publish-"));
  // A private copy: a concurrent rebuild of dist/ must not change the image under the test.
  layout = join(work, "oci");
  cpSync(src, layout, { recursive: true });
  const reader = await OciLayoutReader.open(layout);
  const refs = reader.indexRefs();
  assert.equal(refs.length, 1, `dist/oci should hold one multi-arch image, has ${refs.join(", ")}`);
  version = refs[0]!;
  assert.ok(parseImageVersion(version), `the image is versioned v<tailscale>-mt.<N>, got ${version}`);
  const img = await reader.image(version);
  local = {
    index: img.top.digest,
    platforms: img.platforms.map((p) => ({
      arch: p.descriptor.platform!.architecture,
      ...(p.descriptor.platform!.variant ? { variant: p.descriptor.platform!.variant } : {}),
      digest: p.descriptor.digest,
      config: p.configDigest,
      layers: p.layerDigests,
    })),
  };
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("publish pushes every architecture; skopeo pulls each back with our digests; the channel and version tags name the index", async () => {
  const reg = await startLocalRegistry({ auth: "basic", users: { [USER]: PASSWORD } });
  try {
    const target = `${reg.host}/${REPO}`;
    const r = await cli(["publish", target, "--oci", layout, "--json"], creds);
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.equal(res.status, "published");
    assert.equal(res.version, version);
    assert.equal(res.digest, local.index);
    assert.ok(res.tags.includes(version) && res.tags.includes("stable"), res.tags.join(","));

    const skopeoCreds = ["--creds", `${USER}:${PASSWORD}`, "--tls-verify=false"];
    for (const tag of [version, "stable"]) {
      const raw = skopeo(["inspect", ...skopeoCreds, "--raw", `docker://${target}:${tag}`]);
      assert.equal(sha(raw), local.index, `${tag} names our image index`);
    }
    assert.ok(local.platforms.length >= 1);
    for (const p of local.platforms) {
      const dest = join(work, `pull-${p.arch}${p.variant ?? ""}`);
      skopeo([
        "--override-os", "linux", "--override-arch", p.arch, ...(p.variant ? ["--override-variant", p.variant] : []),
        "copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", `${USER}:${PASSWORD}`,
        `docker://${target}:stable`, `oci:${dest}:pulled`,
      ]);
      const idx = JSON.parse(readFileSync(join(dest, "index.json"), "utf8")) as { manifests: Descriptor[] };
      assert.equal(idx.manifests.length, 1);
      assert.equal(idx.manifests[0]!.digest, p.digest, `${p.arch}${p.variant ?? ""}: the pulled manifest is ours`);
      const m = JSON.parse(readFileSync(join(dest, "blobs", "sha256", p.digest.slice(7)), "utf8")) as { config: Descriptor; layers: Descriptor[] };
      assert.equal(m.config.digest, p.config);
      assert.deepEqual(m.layers.map((l) => l.digest), p.layers);
      for (const l of m.layers) assert.equal(sha(readFileSync(join(dest, "blobs", "sha256", l.digest.slice(7)))), l.digest, "layer bytes match their digest");
    }
    // Per-architecture tags name the per-architecture manifests.
    const one = local.platforms[0]!;
    const perArch = (await OciLayoutReader.open(layout)).refs().find((x) => x.descriptor.digest === one.digest)!.name;
    assert.equal(sha(skopeo(["inspect", ...skopeoCreds, "--raw", `docker://${target}:${perArch}`])), one.digest);
  } finally {
    await reg.close();
  }
});

test("publishing again uploads no blob twice; a new revision with the same layers uploads none", async () => {
  const reg = await startLocalRegistry({ auth: "none" });
  const proxy = await countingProxy(reg.host);
  try {
    const target = `${proxy.host}/${REPO}`;
    const first = await cli(["publish", target, "--oci", layout, "--json"]);
    assert.equal(first.code, 0, first.err);
    const r1 = JSON.parse(first.out);
    assert.ok(r1.uploaded.length >= 2, "configs and layers were uploaded");
    assert.equal(proxy.uploads.size, r1.uploaded.length);
    for (const [d, n] of proxy.uploads) assert.equal(n, 1, `${d} uploaded once`);

    const again = await cli(["publish", target, "--oci", layout, "--json"]);
    assert.equal(again.code, 0, again.err);
    const r2 = JSON.parse(again.out);
    assert.equal(r2.status, "unchanged");
    assert.equal(r2.uploaded.length, 0);
    for (const [d, n] of proxy.uploads) assert.equal(n, 1, `${d} still uploaded only once`);

    const v = parseImageVersion(version)!;
    const next = formatImageVersion(v.tailscale, v.revision + 1);
    const nextLayout = await deriveLayout(join(work, "oci-next"), { ref: next });
    const third = await cli(["publish", target, "--oci", nextLayout, "--json"]);
    assert.equal(third.code, 0, third.err);
    const r3 = JSON.parse(third.out);
    assert.equal(r3.status, "published");
    assert.equal(r3.version, next);
    assert.deepEqual(r3.tags.filter((t: string) => t === next || t === "stable"), [next, "stable"]);
    // The derived image reuses every blob but the rewritten manifests; nothing went up twice.
    for (const [d, n] of proxy.uploads) assert.equal(n, 1, `${d} uploaded once over three publishes`);
    assert.ok(r3.skipped.length >= 2, "the registry's blobs were recognised");

    // The channel never moves back to an older release.
    const back = await cli(["publish", target, "--oci", layout]);
    assert.equal(back.code, 1);
    assert.match(back.err, new RegExp(`stable already points to ${next.replace(/\./g, "\\.")}, newer than`));
  } finally {
    await proxy.close();
    await reg.close();
  }
});

test("a rebuild that changes only metadata is recognised as already published; other contents under the same tag are refused", async () => {
  const reg = await startLocalRegistry({ auth: "none" });
  try {
    const target = `${reg.host}/${REPO}`;
    const r = await cli(["publish", target, "--oci", layout]);
    assert.equal(r.code, 0, r.err);
    const relabelled = await deriveLayout(join(work, "oci-relabelled"), {
      config: (c) => {
        c.config.Labels["org.opencontainers.image.revision"] = "0123456789abcdef0123456789abcdef01234567";
        c.created = "2031-01-01T00:00:00Z";
      },
    });
    const same = await cli(["publish", target, "--oci", relabelled, "--json"]);
    assert.equal(same.code, 0, same.err);
    const s = JSON.parse(same.out);
    assert.equal(s.status, "same-content");
    assert.equal(s.digest, local.index, "the published release is left as it was");
    assert.equal(s.uploaded.length, 0);

    // A config-only change (one more Env entry, same layers) is a new image, not metadata.
    const envOnly = await deriveLayout(join(work, "oci-env"), {
      config: (c) => {
        c.config.Env.push("TS_DEBUG_EXTRA=1");
      },
    });
    const envRefused = await cli(["publish", target, "--oci", envOnly]);
    assert.equal(envRefused.code, 1, envRefused.out);
    assert.match(envRefused.err, /already in .* with different contents .*differing: linux\/amd64, linux\/arm\/v5, linux\/arm\/v7, linux\/arm64\/v8\): release tags are immutable/);

    const other = await deriveLayout(join(work, "oci-other"), {
      config: (c) => {
        c.rootfs.diff_ids = [`sha256:${"ab".repeat(32)}`];
      },
    });
    const refused = await cli(["publish", target, "--oci", other]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /already in .* with different contents .*release tags are immutable.*mikrotik-tailscale release/);
    const forced = await cli(["publish", target, "--oci", other, "--force", "--json"]);
    assert.equal(forced.code, 0, forced.err);
    assert.equal(JSON.parse(forced.out).status, "published");
  } finally {
    await reg.close();
  }
});

test("bearer-token auth: a token server issues the tokens; wrong or missing credentials are clear errors", async () => {
  const reg = await startLocalRegistry({ auth: "token", users: { [USER]: PASSWORD }, anonymousPull: true });
  try {
    const target = `${reg.host}/${REPO}`;
    const ok = await cli(["publish", target, "--oci", layout, "--json"], creds);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).status, "published");
    assert.ok(reg.tokens.issued >= 1);

    const wrong = await cli(["publish", target, "--oci", layout], { ...creds, MIKROTIK_TAILSCALE_REGISTRY_PASSWORD: "wrong" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /error: the token service of 127\.0\.0\.1:\d+ \(127\.0\.0\.1:\d+\) refused user alice .*HTTP 401/);
    assert.ok(!wrong.err.includes("wrong"), "the password is not printed");

    // Anonymous clients get pull-only tokens: pushing needs credentials (to a repository it is not in yet;
    // re-publishing the same release anonymously is a no-op that only reads).
    const anon = await cli(["publish", `${reg.host}/owner/elsewhere`, "--oci", layout]);
    assert.equal(anon.code, 1);
    assert.match(anon.err, /error: registry 127\.0\.0\.1:\d+ needs credentials/);

    // A password file works as well as the environment.
    const pw = join(work, "registry-password");
    writeFileSync(pw, PASSWORD + "\n", { mode: 0o600 });
    const viaFile = await cli(["publish", target, "--oci", layout, "--user", USER, "--password-file", pw]);
    assert.equal(viaFile.code, 0, viaFile.err);
    assert.match(viaFile.out, /was already published/);
  } finally {
    await reg.close();
  }
});

test("Basic auth: wrong credentials and none at all are clear errors; an auth file is read", async () => {
  const reg = await startLocalRegistry({ auth: "basic", users: { [USER]: PASSWORD } });
  try {
    const target = `${reg.host}/${REPO}`;
    const wrong = await cli(["publish", target, "--oci", layout], { ...creds, MIKROTIK_TAILSCALE_REGISTRY_PASSWORD: "nope" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /error: registry 127\.0\.0\.1:\d+ refused user alice .*HTTP 401/);
    const none = await cli(["publish", target, "--oci", layout]);
    assert.equal(none.code, 1);
    assert.match(none.err, /error: registry 127\.0\.0\.1:\d+ needs a user name and password/);
    const authFile = join(work, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } } }));
    const ok = await cli(["publish", target, "--oci", layout], { REGISTRY_AUTH_FILE: authFile });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^published v/);
  } finally {
    await reg.close();
  }
});

test("an unreachable registry is a one-line error naming it", async () => {
  const reg = await startLocalRegistry({ auth: "none" });
  const host = reg.host;
  await reg.close(); // nothing listens on its port any more
  const r = await cli(["publish", `${host}/${REPO}`, "--oci", layout]);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`error: cannot reach the registry at http://${host.replace(/\./g, "\\.")}: connection refused`));
});

test("the router update script, run on a simulated router of each architecture against the registry: anonymous token, index, this platform's digest recorded", async () => {
  const reg = await startLocalRegistry({ auth: "token", users: { [USER]: PASSWORD }, anonymousPull: true });
  try {
    const target = `${reg.host}/${REPO}`;
    const pub = await cli(["publish", target, "--oci", layout], creds);
    assert.equal(pub.code, 0, pub.err);
    const { parseRouterConfig } = await import("../../src/routeros/config.js");
    const { buildPlan } = await import("../../src/routeros/plan.js");
    const { renderScript } = await import("../../src/routeros/rsc.js");
    const { renderUpdateInstaller, scriptName } = await import("../../src/routeros/update-script.js");
    const { recordedDigest } = await import("../../src/routeros/update-check.js");
    const { anonymousPullTokenUrl } = await import("../../src/release/registry.js");
    const { scriptBed } = await import("../support/routeros-scripts.js");
    const { makeFixtureImage } = await import("../support/routeros-fixture.js");
    const tokenUrl = await anonymousPullTokenUrl(reg.host, REPO, { plainHttp: true });
    assert.ok(tokenUrl, "the token registry names a realm");
    for (const p of local.platforms) {
      const arch = p.arch === "amd64" ? "amd64" : p.arch === "arm64" ? "arm64" : p.variant === "v5" ? "armv5" : "armv7";
      const routerArch = { amd64: "x86", arm64: "arm64", armv5: "arm32v5", armv7: "arm" }[arch];
      const ref = `${target}:stable`;
      const yaml = `
routeros: { version: "7.22", arch: ${routerArch} }
image: { remote: "${ref}" }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: usb1/tailscale/root, stateDir: usb1/tailscale/state }
`;
      const config = parseRouterConfig(yaml, "router.yaml", work);
      const plan = buildPlan(config, { resolveSecrets: false });
      // The simulator pulls its images from a map; the script asks the real registry which digest is current.
      const bed = scriptBed({ version: "7.22", arch: routerArch, registry: { [ref]: makeFixtureImage({ arch, tailscaleVersion: "1.104.2" }) } });
      try {
        const setup = await bed.importScript(renderScript(config, plan));
        assert.equal(setup.error, undefined, setup.output.join(" | "));
        const install = await bed.importScript(renderUpdateInstaller(config, plan, { tokenUrl, plainHttp: true }));
        assert.equal(install.error, undefined, install.output.join(" | "));
        const run = await bed.sim.scripts.runNamed(scriptName(plan)).done;
        assert.equal(run.error, undefined, `${routerArch}: ${run.error}; log: ${bed.sim.logLines().slice(-3).map((l) => l.message).join(" | ")}`);
        const [c] = bed.sim.containers.all;
        assert.equal(recordedDigest(c!.rec.comment), p.digest, `${routerArch}: the script picked exactly its platform's manifest, and recorded it once the new container ran`);
        assert.equal(c!.state, "running");
        // Run again: the registry has not changed, so nothing happens.
        const again = await bed.sim.scripts.runNamed(scriptName(plan)).done;
        assert.equal(again.error, undefined);
        assert.ok(bed.sim.logLines().some((l) => /runs the current image .*nothing to do/.test(l.message)));
        assert.equal(bed.sim.containers.all[0], c, "the same container");
      } finally {
        bed.close();
      }
    }
  } finally {
    await reg.close();
  }
});

