/**
 * The router VMs' initramfs pieces (test/support/cpio.ts, vm.ts): the newc
 * archive is read back by a real cpio (busybox), and module dependencies
 * come from a module's .modinfo `depends=`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpio, S_IFDIR, S_IFREG, treeEntries } from "../support/cpio.js";
import { runCmd } from "../support/netns.js";
import { moduleDepends } from "../support/vm.js";

test("cpio: a real cpio unpacks our newc archive: directories, modes, file bytes (odd lengths), symlinks; a second archive appended", async (t) => {
  const src = mkdtempSync(join(tmpdir(), "mt-cpio-src-"));
  t.after(() => rmSync(src, { recursive: true, force: true }));
  mkdirSync(join(src, "bin"));
  writeFileSync(join(src, "bin", "tool"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  writeFileSync(join(src, "odd"), Buffer.from([1, 2, 3, 4, 5]), { mode: 0o640 });
  symlinkSync("tool", join(src, "bin", "link"));
  const base = cpio(treeEntries(src));
  const extra = cpio([
    { name: "vm", mode: S_IFDIR | 0o755 },
    { name: "vm/config.json", mode: S_IFREG | 0o644, data: Buffer.from('{"a":1}') },
  ]);
  assert.equal(base.length % 4, 0, "newc archives stay 4-byte aligned");
  const out = mkdtempSync(join(tmpdir(), "mt-cpio-out-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  for (const [i, a] of [base, extra].entries()) {
    const f = join(out, `..${i}.cpio`);
    writeFileSync(f, a);
    const r = await runCmd("sh", ["-c", `cd "$1" && busybox cpio -i -d -m < "$2"`, "x", out, f]);
    assert.equal(r.code, 0, `busybox cpio -i failed: ${r.stderr}`);
  }
  assert.equal(readFileSync(join(out, "bin", "tool"), "utf8"), "#!/bin/sh\necho hi\n");
  assert.equal(statSync(join(out, "bin", "tool")).mode & 0o777, 0o755);
  assert.deepEqual([...readFileSync(join(out, "odd"))], [1, 2, 3, 4, 5]);
  assert.equal(statSync(join(out, "odd")).mode & 0o777, 0o640);
  assert.equal(readlinkSync(join(out, "bin", "link")), "tool");
  assert.equal(readFileSync(join(out, "vm", "config.json"), "utf8"), '{"a":1}');
});

test("module dependencies come from .modinfo depends= (dashes as underscores); none is empty", () => {
  const ko = Buffer.concat([Buffer.from("\x7fELF...junk"), Buffer.from("\0license=GPL\0depends=failover,net-failover\0vermagic=6.1.0 SMP\0")]);
  assert.deepEqual(moduleDepends(ko), ["failover", "net_failover"]);
  assert.deepEqual(moduleDepends(Buffer.from("\0depends=\0name=tun\0")), []);
  assert.deepEqual(moduleDepends(Buffer.from("\0name=tun\0")), []);
});
