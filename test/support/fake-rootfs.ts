import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ArchName } from "../../src/arch.js";
import { recordPath, rootfsDir } from "../../src/build/index.js";
import type { BuildRecord } from "../../src/build/record.js";
import { fakeRecord, type RecordOverrides } from "./records.js";

/** A small root filesystem shaped like the build's (no real binaries). */
export function makeFakeRootfs(root: string, arch: string): void {
  const w = (p: string, data: string, mode: number) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
    chmodSync(join(root, p), mode);
  };
  w("usr/local/bin/tailscale.combined", `tailscale ${arch}`, 0o755);
  symlinkSync("tailscale.combined", join(root, "usr/local/bin/tailscale"));
  w("usr/local/bin/entrypoint", "#!/bin/sh\nexec tailscaled\n", 0o755);
  w("bin/busybox", `busybox ${arch}`, 0o755);
  symlinkSync("busybox", join(root, "bin/sh"));
  w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644);
  mkdirSync(join(root, "var/lib/tailscale"), { recursive: true });
}

/** What `build` leaves in an output folder for one architecture: its rootfs and build record. */
export function fakeBuild(outDir: string, arch: ArchName, over: RecordOverrides = {}): BuildRecord {
  makeFakeRootfs(rootfsDir(outDir, arch), arch);
  const record = fakeRecord(arch, over);
  writeFileSync(recordPath(outDir, arch), JSON.stringify(record, null, 2) + "\n");
  return record;
}
