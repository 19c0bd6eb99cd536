import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { allArchitectures, type ArchName } from "../../src/arch.js";
import type { BuildRecord } from "../../src/build/record.js";
import { inspectPath } from "../../src/cli/commands/inspect.js";
import { FailureError, InvalidInputError, UsageError } from "../../src/errors.js";
import { defaultSourceDateEpoch, gitRevision, imageFiles, writeImages } from "../../src/image/index.js";
import { readTree } from "../../src/rootfs/read-tree.js";
import { silentProgress } from "../../src/util/progress.js";
import { fakeRecord } from "../support/records.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SDE = 1_700_000_000;

function record(arch: ArchName): BuildRecord {
  return fakeRecord(arch, {
    tailscale: { tags: ["ts_include_cli"], features: ["osrouter"], omittedFeatures: [], modules: [{ path: "golang.org/x/net", version: "v0.40.0", sum: "h1:n=" }] },
  });
}

/** A root filesystem on disk shaped like the build's. */
function makeRootfs(root: string, arch: string, bigBytes = 0): void {
  const w = (p: string, data: string | Uint8Array, mode: number) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
    chmodSync(join(root, p), mode);
  };
  w("usr/local/bin/tailscale.combined", bigBytes ? pseudoRandom(bigBytes, arch) : `tailscale ${arch}`, 0o755);
  symlinkSync("tailscale.combined", join(root, "usr/local/bin/tailscale"));
  symlinkSync("tailscale.combined", join(root, "usr/local/bin/tailscaled"));
  w("usr/local/bin/entrypoint", "#!/bin/sh\nexec tailscaled\n", 0o755);
  w("bin/busybox", `busybox ${arch}`, 0o755);
  for (const applet of ["sh", "ls", "cat"]) symlinkSync("busybox", join(root, "bin", applet));
  w("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n", 0o644);
  w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644);
  for (const d of ["var/lib/tailscale", "var/run/tailscale", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
}

/** Incompressible but reproducible bytes. */
function pseudoRandom(n: number, seed: string): Uint8Array {
  const out = new Uint8Array(n);
  let block = createHash("sha256").update(seed).digest();
  for (let off = 0; off < n; off += 32) {
    out.set(block.subarray(0, Math.min(32, n - off)), off);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

function setup(bigBytes = 0, arches: ArchName[] = ["amd64", "arm64", "armv7", "armv5"]) {
  const base = mkdtempSync(join(tmpdir(), "write-images-"));
  for (const a of arches) makeRootfs(join(base, "rootfs", a), a, bigBytes);
  const opts = (distDir: string, sourceDateEpoch = SDE) => ({
    distDir,
    records: arches.map(record),
    rootfsDir: (a: ArchName) => join(base, "rootfs", a),
    sourceDateEpoch,
    revision: "0123456789abcdef0123456789abcdef01234567",
    imageVersion: "v1.102.5-mt.1",
    progress: silentProgress,
    source: "https://example.invalid/mikrotik-tailscale",
  });
  return { base, opts };
}

test("readTree: sorted entries with types, modes, link targets, contents and hard links", async () => {
  const dir = mkdtempSync(join(tmpdir(), "read-tree-"));
  try {
    makeRootfs(dir, "x");
    linkSync(join(dir, "bin/busybox"), join(dir, "bin/zz-hardlink"));
    mkdirSync(join(dir, "root"), { mode: 0o700 });
    chmodSync(join(dir, "root"), 0o700);
    const t = await readTree(dir);
    const paths = t.map((e) => e.path);
    assert.deepEqual(paths, [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const by = new Map(t.map((e) => [e.path, e]));
    assert.equal(by.get("bin")!.type, "dir");
    assert.equal(by.get("bin/sh")!.type, "symlink");
    assert.equal(by.get("bin/sh")!.target, "busybox");
    assert.equal(by.get("bin/busybox")!.type, "file");
    assert.equal(by.get("bin/busybox")!.mode, 0o755);
    assert.equal(Buffer.from(by.get("bin/busybox")!.data!).toString(), "busybox x");
    assert.deepEqual(by.get("bin/zz-hardlink"), { path: "bin/zz-hardlink", type: "hardlink", mode: 0o755, target: "bin/busybox" });
    assert.equal(by.get("tmp")!.mode, 0o1777);
    assert.equal(by.get("root")!.mode, 0o700);
    assert.equal(by.get("var/lib/tailscale")!.type, "dir");
    assert.ok(!paths.includes(""), "the root itself is not an entry");

    spawnSync("mkfifo", [join(dir, "fifo")]);
    await assert.rejects(readTree(dir), (e: unknown) => e instanceof InvalidInputError && /unsupported file type/.test(e.message));
    await assert.rejects(readTree(join(dir, "missing")), InvalidInputError);
    await assert.rejects(readTree(join(dir, "etc/passwd")), /not a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writeImages writes the files it promises, and two runs are byte-identical", async () => {
  const { base, opts } = setup();
  try {
    const r1 = await writeImages(opts(join(base, "dist1")));
    const r2 = await writeImages(opts(join(base, "dist2")));
    const names = [
      ...["amd64", "arm64", "armv7", "armv5"].flatMap((a) => [imageFiles.dockerArchive("v1.102.5-mt.1", a), imageFiles.sbom("v1.102.5-mt.1", a)]),
      "oci",
      imageFiles.ociArchive("v1.102.5-mt.1"),
    ];
    assert.deepEqual(r1.files.map((f) => relative(join(base, "dist1"), f)).sort(), [...names].sort());
    assert.equal(r1.files.length, r2.files.length);
    const files1 = listFiles(join(base, "dist1"));
    const files2 = listFiles(join(base, "dist2"));
    assert.deepEqual(files1, files2);
    assert.ok(files1.includes("mikrotik-tailscale-v1.102.5-mt.1-armv5.tar"));
    assert.ok(files1.every((f) => !/\.tmp$|(^|\/)\./.test(f)), `no temporary files left: ${files1.join(" ")}`);
    for (const f of files1) assert.equal(sha(join(base, "dist2", f)), sha(join(base, "dist1", f)), f);

    const r3 = await writeImages(opts(join(base, "dist3"), SDE + 60));
    assert.equal(r3.files.length, r1.files.length);
    assert.notEqual(sha(join(base, "dist3", "mikrotik-tailscale-v1.102.5-mt.1-amd64.tar")), sha(join(base, "dist1", "mikrotik-tailscale-v1.102.5-mt.1-amd64.tar")));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("what writeImages wrote reads back as the trees it came from", async () => {
  const { base, opts } = setup();
  try {
    await writeImages(opts(join(base, "dist")));
    const oci = inspectPath(join(base, "dist", "oci"));
    assert.equal(oci.images.length, 4);
    for (const a of allArchitectures()) {
      const r = inspectPath(join(base, "dist", imageFiles.dockerArchive("v1.102.5-mt.1", a.name)));
      assert.equal(r.format, "docker-archive");
      assert.deepEqual(r.warnings, []);
      const img = r.images[0]!;
      assert.deepEqual(img.names, [`mikrotik-tailscale:v1.102.5-mt.1-${a.name}`]);
      assert.equal(img.platform.architecture, a.platform.architecture);
      assert.equal(img.platform.variant, a.platform.variant);
      assert.ok(img.sbom, "the SBOM beside the tar is found and matches");
      const tree = await readTree(join(base, "rootfs", a.name));
      assert.deepEqual(
        img.layers[0]!.files.map((f) => [f.path, f.type, f.mode, f.target]),
        tree.map((e) => [e.path, e.type, e.mode, e.target]),
      );
      for (const e of tree.filter((x) => x.type === "file")) {
        const f = img.layers[0]!.files.find((x) => x.path === e.path)!;
        assert.equal(f.digest, `sha256:${createHash("sha256").update(e.data!).digest("hex")}`);
      }
      const ociImg = oci.images.find((i) => i.names.includes(`v1.102.5-mt.1-${a.name}`))!;
      assert.equal(ociImg.layers[0]!.diffId, img.layers[0]!.diffId, "docker-archive and OCI carry the same layer");
      assert.equal(ociImg.config.digest, img.config.digest, "and the same config");
      assert.ok(ociImg.sbom);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("writeImages refuses bad input with a clear error", async () => {
  const { base, opts } = setup(0, ["amd64"]);
  try {
    await assert.rejects(writeImages({ ...opts(join(base, "d")), records: [] }), FailureError);
    const wrong = record("amd64");
    wrong.platform = { os: "linux", architecture: "arm", variant: "v7" };
    await assert.rejects(writeImages({ ...opts(join(base, "d")), records: [wrong] }), /does not match/);
    await assert.rejects(writeImages({ ...opts(join(base, "d")), records: [record("amd64"), { ...record("arm64"), tailscale: { ...record("arm64").tailscale, version: "v9" } }] }), /disagree/);
    await assert.rejects(writeImages({ ...opts(join(base, "d")), rootfsDir: () => join(base, "nope") }), (e: unknown) => e instanceof InvalidInputError && /does not exist/.test(e.message));
    writeFileSync(join(base, "rootfs", "amd64", ".wh.bad"), "");
    await assert.rejects(writeImages(opts(join(base, "d"))), (e: unknown) => e instanceof FailureError && /whiteout/.test(e.message));
    assert.ok(!existsSync(join(base, "d", imageFiles.dockerArchive("v1.102.5-mt.1", "amd64"))), "nothing written on failure");
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("an interrupted build never leaves a file under its final name that is not the complete one", async () => {
  // One arch with a 24 MB incompressible binary: the .tar, the OCI blob and the OCI .tar are each > 24 MB.
  const { base, opts } = setup(24 * 1024 * 1024, ["amd64"]);
  try {
    const refDir = join(base, "ref");
    await writeImages(opts(refDir));
    const reference = new Map(listFiles(refDir).map((f) => [f, sha(join(refDir, f))]));
    const script = join(base, "write.mts");
    writeFileSync(
      script,
      [
        `import { writeImages } from ${JSON.stringify(join(repoRoot, "src/image/index.ts"))};`,
        `import { silentProgress } from ${JSON.stringify(join(repoRoot, "src/util/progress.ts"))};`,
        `const o = JSON.parse(process.argv[2]);`,
        `await writeImages({ ...o, rootfs: undefined, rootfsDir: (a) => o.rootfs + "/" + a, progress: silentProgress });`,
        `process.stdout.write("DONE");`,
      ].join("\n"),
    );
    /** Runs writeImages in a child; `fileLimitKiB` makes a write fail part-way (EFBIG), `killAfterMs` kills it. */
    const attempt = async (dist: string, limit: { fileLimitKiB?: number; killAfterMs?: number }) => {
      const o = JSON.stringify({ ...opts(dist), rootfs: join(base, "rootfs") });
      const ulimit = limit.fileLimitKiB ? `ulimit -f ${limit.fileLimitKiB * 2} && ` : "";
      const child = spawn("sh", ["-c", `${ulimit}exec "$0" "$@"`, process.execPath, "--import", "tsx", script, o], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (err += c));
      const timer = limit.killAfterMs ? setTimeout(() => child.kill("SIGKILL"), limit.killAfterMs) : undefined;
      await new Promise((res) => child.on("close", res));
      if (timer) clearTimeout(timer);
      return { done: out.includes("DONE"), err };
    };
    const check = (dist: string, what: string) => {
      if (!existsSync(dist)) return;
      for (const f of listFiles(dist)) {
        if (f.split("/").some((c) => c.startsWith("."))) continue; // temporary names (.x.<pid>.<rand>.tmp) never look like results
        assert.ok(reference.has(f), `unexpected file ${f} (${what})`);
        assert.equal(sha(join(dist, f)), reference.get(f), `${f} is not the complete file (${what})`);
      }
    };
    // Writes that fail part-way through: each limit cuts a different file short.
    // The SBOM is written first, then the .tar: one limit cuts the SBOM short, the other lets it through and cuts the .tar.
    const sbomSize = statSync(join(refDir, imageFiles.sbom("v1.102.5-mt.1", "amd64"))).size;
    const tarSize = statSync(join(refDir, imageFiles.dockerArchive("v1.102.5-mt.1", "amd64"))).size;
    assert.ok(sbomSize > 2048, "the SBOM is big enough to cut");
    for (const kib of [1, Math.floor(tarSize / 1024) - 64]) {
      const dist = join(base, `dist-limit-${kib}`);
      const r = await attempt(dist, { fileLimitKiB: kib });
      assert.ok(!r.done && /EFBIG/.test(r.err) && existsSync(dist), `the run with a ${kib} KiB limit failed writing into dist: ${r.err.slice(0, 400)}`);
      check(dist, `file size limit ${kib} KiB`);
    }
    // Kills at arbitrary moments.
    let killed = 0;
    for (const ms of [400, 900, 1400, 2000]) {
      const dist = join(base, `dist-kill-${ms}`);
      if (!(await attempt(dist, { killAfterMs: ms })).done) killed++;
      check(dist, `killed after ${ms} ms`);
    }
    assert.ok(killed >= 1, "at least one run was killed before it finished");
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("defaultSourceDateEpoch: the environment, else the last commit's time, else a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sde-"));
  try {
    assert.equal(await defaultSourceDateEpoch(dir, { SOURCE_DATE_EPOCH: "1234567890" }), 1234567890);
    await assert.rejects(defaultSourceDateEpoch(dir, { SOURCE_DATE_EPOCH: "yesterday" }), UsageError);
    await assert.rejects(defaultSourceDateEpoch(dir, { SOURCE_DATE_EPOCH: "-5" }), UsageError);
    await assert.rejects(defaultSourceDateEpoch(dir, {}), (e: unknown) => e instanceof FailureError && /SOURCE_DATE_EPOCH/.test(e.message));
    assert.equal(await gitRevision(dir), "unknown");
    const git = (...args: string[]) => {
      const r = spawnSync("git", ["-C", dir, ...args], {
        env: { ...process.env, GIT_AUTHOR_DATE: "@1600000000 +0000", GIT_COMMITTER_DATE: "@1650000000 +0000", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid" },
      });
      assert.equal(r.status, 0, String(r.stderr));
      return r.stdout.toString().trim();
    };
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "x");
    assert.equal(await defaultSourceDateEpoch(dir, {}), 1650000000, "the committer time of HEAD");
    assert.equal(await gitRevision(dir), git("rev-parse", "HEAD"));
    assert.equal(await defaultSourceDateEpoch(dir, { SOURCE_DATE_EPOCH: "42" }), 42, "the environment wins");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
