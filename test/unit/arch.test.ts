import { test } from "node:test";
import assert from "node:assert/strict";
import { allArchitectures, architecture, goEnv, parseArchList, platformString } from "../../src/arch.js";
import { UsageError } from "../../src/errors.js";

test("each architecture maps to its Go target and OCI platform", () => {
  const rows = allArchitectures().map((a) => [a.name, platformString(a), JSON.stringify(goEnv(a)), a.routerosArch]);
  assert.deepEqual(rows, [
    ["amd64", "linux/amd64", '{"GOOS":"linux","GOARCH":"amd64","CGO_ENABLED":"0"}', "x86"],
    ["arm64", "linux/arm64/v8", '{"GOOS":"linux","GOARCH":"arm64","CGO_ENABLED":"0"}', "arm64"],
    ["armv7", "linux/arm/v7", '{"GOOS":"linux","GOARCH":"arm","CGO_ENABLED":"0","GOARM":"7"}', "arm"],
    ["armv5", "linux/arm/v5", '{"GOOS":"linux","GOARCH":"arm","CGO_ENABLED":"0","GOARM":"5"}', "arm32v5"],
  ]);
});

test("armv5 uses the soft-float armel toolchain and an ARMv5TE CPU under qemu", () => {
  const a = architecture("armv5");
  assert.equal(a.gnuTriplet, "arm-linux-gnueabi");
  assert.equal(a.muslTriplet, "arm-linux-musleabi");
  assert.equal(a.qemuCpu, "arm926");
  assert.ok(a.cflags.includes("-march=armv5te"));
});

test("--arch lists: default all, comma lists, duplicates dropped, unknown names rejected", () => {
  assert.deepEqual(parseArchList(undefined).map((a) => a.name), ["amd64", "arm64", "armv7", "armv5"]);
  assert.deepEqual(parseArchList("all").map((a) => a.name), ["amd64", "arm64", "armv7", "armv5"]);
  assert.deepEqual(parseArchList("armv5, arm64,armv5").map((a) => a.name), ["armv5", "arm64"]);
  assert.throws(() => parseArchList("amd64,mips"), (e: unknown) => e instanceof UsageError && /unknown architecture 'mips'/.test(e.message));
  assert.throws(() => architecture("arm"), UsageError);
});
