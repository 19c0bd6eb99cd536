/**
 * The image as declared data (config/image.yaml): every field moves the
 * release fingerprint and is named as the changed input; comments do not;
 * the image config carries what the file declares; bad input is one error
 * naming the field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { imageConfig } from "../../src/image/config.js";
import { loadImageSpec, parseImageSpec, type ImageSpec } from "../../src/image/spec.js";
import { InvalidInputError } from "../../src/errors.js";
import { projectRoot } from "../../src/paths.js";
import { computeFingerprint } from "../../src/release/release.js";

const SPEC_TEXT = readFileSync(join(projectRoot, "config", "image.yaml"), "utf8");

/** A change to one field that keeps the file valid. */
function mutate(path: string, v: unknown): unknown {
  const special: Record<string, () => unknown> = {
    name: () => "mikrotik-tailscale-x",
    "config.env": () => [...(v as string[]), "TS_EXTRA=1"],
    "config.volumes": () => [...(v as string[]), "/var/run/tailscale"],
    "config.user": () => "0:0",
    "config.labels": () => ({ ...(v as object), "org.example.note": "x" }),
    "rootfs.files": () => (v as ImageSpec["rootfs"]["files"]).map((f, i) => (i === 0 ? { ...f, mode: "0750" } : f)),
    "rootfs.links": () => ({ ...(v as object), "usr/bin/tailscale": "usr/local/bin/tailscale.combined" }),
    "rootfs.dirs": () => ({ ...(v as object), "var/cache": "0755" }),
    "tailscale.features": () => ({ ...(v as object), drive: "a test" }),
    "busybox.options": () => ({ ...(v as object), FEATURE_VI_COLON: "y" }),
    "busybox.applets": () => [...(v as string[]), "nl"],
    "healthcheck.cflags": () => [...(v as string[]), "-O2"],
    "healthcheck.ldflags": () => [...(v as string[]), "-Wl,-O1"],
  };
  if (path in special) return special[path]!();
  if (typeof v === "string") return `${v}x`;
  if (Array.isArray(v)) return [...v, "/x"];
  if (path.startsWith("profiles.")) return { ...(v as object), gcflags: [...(v as { gcflags: string[] }).gcflags, "tailscale.com/net/...=-l"] };
  throw new Error(`no mutation for ${path}`);
}

/** Every field a test changes: top-level scalars and second-level keys of mappings. */
function fields(spec: ImageSpec): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(spec)) {
    if (v && typeof v === "object" && !Array.isArray(v)) for (const k2 of Object.keys(v)) out.push(`${k}.${k2}`);
    else out.push(k);
  }
  return out;
}

function get(o: Record<string, any>, path: string): unknown {
  return path.split(".").reduce((a, k) => a[k], o);
}
function set(o: Record<string, any>, path: string, v: unknown): void {
  const ks = path.split(".");
  const last = ks.pop()!;
  ks.reduce((a, k) => a[k], o)[last] = v;
}

test("each field of config/image.yaml moves the release fingerprint and is named; a comment does not", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "mt-image-spec-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ["rootfs", "config", "go/overlay", "go/cmd", "src/build", "healthcheck"]) cpSync(join(projectRoot, d), join(root, d), { recursive: true });
  for (const f of ["go/go.mod", "go/go.sum"]) cpSync(join(projectRoot, f), join(root, f));
  const specFile = join(root, "config", "image.yaml");
  const base = await computeFingerprint(root);

  writeFileSync(specFile, `# one more comment\n${SPEC_TEXT.replace(/^(\s+# .*)$/m, "$1 (reworded)")}`);
  assert.equal((await computeFingerprint(root)).digest, base.digest, "comments are not inputs");

  const spec = parseImageSpec(SPEC_TEXT);
  const all = fields(spec);
  for (const must of ["config.entrypoint", "config.cmd", "config.env", "config.volumes", "config.labels", "config.user", "rootfs.files", "rootfs.links", "rootfs.dirs", "busybox.applets", "busybox.options", "tailscale.features", "profiles.small", "profiles.fast", "healthcheck.source", "healthcheck.cflags", "healthcheck.ldflags"]) {
    assert.ok(all.includes(must), `${must} is a field`);
  }
  for (const field of all) {
    const changed = structuredClone(spec) as Record<string, any>;
    set(changed, field, mutate(field, get(changed, field)));
    const text = stringify(changed);
    parseImageSpec(text, field); // still a valid declaration
    writeFileSync(specFile, text);
    const fp = await computeFingerprint(root);
    assert.notEqual(fp.digest, base.digest, `changing ${field} must move the fingerprint`);
    const moved = Object.keys(fp.inputs).filter((k) => fp.inputs[k] !== base.inputs[k]);
    assert.deepEqual(moved, [`config/image.yaml#${field}`], `changing ${field} names exactly it`);
  }
});

test("the image config is what config/image.yaml declares: entrypoint, cmd, env, volumes, user, labels", () => {
  const spec = loadImageSpec();
  const build = (c?: ImageSpec["config"]) =>
    JSON.parse(Buffer.from(imageConfig({ platform: { architecture: "amd64" }, created: 0, diffIds: [], labels: { a: "b" }, createdBy: "t", container: c }).bytes).toString());
  const cfg = build().config;
  assert.deepEqual(cfg.Entrypoint, spec.config.entrypoint);
  assert.deepEqual(cfg.Env, spec.config.env);
  assert.deepEqual(Object.keys(cfg.Volumes), spec.config.volumes);
  assert.equal("User" in cfg, spec.config.user !== "");
  const other = build({ ...spec.config, env: [...spec.config.env, "X=1"], user: "65534", cmd: ["--x"] }).config;
  assert.deepEqual(other.Env.at(-1), "X=1");
  assert.equal(other.User, "65534");
  assert.deepEqual(other.Cmd, ["--x"]);
});

test("a bad declaration is one error naming the field", () => {
  const bad = (edit: (s: Record<string, any>) => void, re: RegExp) => {
    const s = parseImageSpec(SPEC_TEXT) as Record<string, any>;
    edit(s);
    assert.throws(() => parseImageSpec(stringify(s)), (e: unknown) => e instanceof InvalidInputError && re.test(e.message), re.source);
  };
  bad((s) => (s.config.env = ["no-equals"]), /config\.env\.0: must be NAME=value/);
  bad((s) => (s.rootfs.files[0].path = "../etc/x"), /rootfs\.files\.0\.path: must be a relative path/);
  bad((s) => (s.rootfs.links["bin/x"] = "bin/nowhere"), /rootfs\.links\.bin\/x: 'bin\/nowhere' is not one of rootfs\.files/);
  bad((s) => delete s.profiles.fast, /profiles: must be exactly small, fast/);
  bad((s) => (s.busybox.options.FEATURE_SH_STANDALONE = "y"), /CONFIG_FEATURE_SH_STANDALONE must stay off/);
  bad((s) => (s.tailscale.features.dns = " "), /tailscale\.features\.dns: needs a reason/);
  bad((s) => (s.extra = 1), /Unrecognized key/);
  assert.throws(() => parseImageSpec("name: a\nname: b\n"), /not valid YAML/);
});
