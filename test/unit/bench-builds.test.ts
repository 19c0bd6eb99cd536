/** The benchmark's build helpers (bench/src/builds.ts, flash.ts) on made-up output folders: no compiler runs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareOutputs, reproducibleFiles, sha256File, stockLdflags } from "../../bench/src/builds.js";
import { ourFlashRow, stockFlashRow } from "../../bench/src/flash.js";
import { referenceTags } from "../../bench/src/recipes.js";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "bench-builds-"));
}

function put(path: string, body: string | number): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, typeof body === "number" ? Buffer.alloc(body, 1) : body);
}

/** An output folder as `build` leaves it for one architecture. */
function fakeOut(dir: string, profile: "small" | "fast"): void {
  const root = join(dir, "rootfs", "arm64");
  put(join(root, "usr/local/bin/tailscale.combined"), 3000);
  symlinkSync("tailscale.combined", join(root, "usr/local/bin/tailscaled"));
  put(join(root, "usr/local/bin/entrypoint"), 100);
  put(join(root, "bin/busybox"), 200);
  symlinkSync("busybox", join(root, "bin/sh"));
  put(join(root, "etc/ssl/certs/ca-certificates.crt"), 50);
  put(join(root, "etc/passwd"), 10);
  put(join(root, "usr/local/bin/healthcheck"), 20);
  mkdirSync(join(root, "var/lib/tailscale"), { recursive: true });
  put(join(dir, "rootfs", "arm64.build.json"), JSON.stringify({ schema: 3, arch: "arm64", profile, tailscale: { version: "v1.2.3" } }));
  put(join(dir, "mikrotik-tailscale-v1.2.3-arm64.tar"), 4096);
}

test("stock ldflags: stripped, with the version stamped like upstream's build script", () => {
  assert.equal(stockLdflags("v1.102.5"), "-s -w -X tailscale.com/version.longStamp=1.102.5 -X tailscale.com/version.shortStamp=1.102.5");
});

test("flash rows: our build measured from its root filesystem; stock counts its two binaries plus the same rest", async () => {
  const dir = tmp();
  try {
    fakeOut(dir, "fast");
    const fast = await ourFlashRow("fast", dir, "arm64");
    assert.deepEqual(fast, {
      variant: "fast",
      arch: "arm64",
      tailscale: 3000,
      tailscaleFiles: { "tailscale.combined": 3000 },
      busybox: 200,
      caBundle: 50,
      other: 130,
      total: 3380,
      imageTar: 4096,
    });
    await assert.rejects(ourFlashRow("small", dir, "arm64"), /holds a fast build of arm64, expected small/);
    const stock = stockFlashRow("arm64", { tailscaled: 9000, tailscale: 7000 }, fast);
    assert.deepEqual(stock, {
      variant: "stock",
      arch: "arm64",
      tailscale: 16000,
      tailscaleFiles: { tailscaled: 9000, tailscale: 7000 },
      busybox: 200,
      caBundle: 50,
      other: 130,
      total: 16380,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reproducibility: image files and the OCI index compared by sha256, a missing file never counts as the same", async () => {
  const dir = tmp();
  try {
    const a = join(dir, "a");
    const b = join(dir, "b");
    for (const d of [a, b]) {
      put(join(d, "x-amd64.tar"), "same layer");
      put(join(d, "x-amd64.spdx.json"), "{}");
      put(join(d, "rootfs/amd64/bin/busybox"), "not compared");
    }
    put(join(a, "oci/index.json"), '{"v":1}');
    put(join(b, "oci/index.json"), '{"v":2}');
    put(join(a, "x-arm64.tar"), "only in a");
    assert.deepEqual(await reproducibleFiles(a), ["x-amd64.spdx.json", "x-amd64.tar", "x-arm64.tar", "oci/index.json"]);
    const cmp = await compareOutputs(a, b);
    assert.deepEqual(
      cmp.map((c) => [c.file, c.same]),
      [
        ["oci/index.json", false],
        ["x-amd64.spdx.json", true],
        ["x-amd64.tar", true],
        ["x-arm64.tar", false],
      ],
    );
    assert.equal(cmp.find((c) => c.file === "x-arm64.tar")!.b, "(missing)");
    assert.equal(cmp.find((c) => c.file === "x-amd64.tar")!.a, await sha256File(join(a, "x-amd64.tar")));
    assert.equal(await sha256File(join(a, "x-amd64.spdx.json")), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the reference recipe's tags: --min's list without its opt-ins (1.104's udptransport and nattraversal among them), plus the CLI", () => {
  assert.deepEqual(referenceTags("ts_omit_aws,ts_omit_dns,ts_omit_udptransport,ts_omit_nattraversal,ts_omit_ssh\n"), ["ts_include_cli", "ts_omit_aws", "ts_omit_ssh"]);
  assert.throws(() => referenceTags("usage: featuretags ..."), /printed something unexpected/);
});
