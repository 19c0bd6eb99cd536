import { existsSync, readFileSync } from "node:fs";
import type { Architecture } from "../arch.js";
import { allArchitectures } from "../arch.js";
import { MissingToolError } from "../errors.js";
import { loadGoModPins } from "../pins.js";
import { tryRun } from "../util/exec.js";
import { muslSpecs } from "./busybox.js";
import { goCommandEnv } from "./tailscale.js";
import { parseUpxVersion, UPX_MIN_VERSION, versionAtLeast } from "./upx.js";

export const SETUP_COMMAND = "bash scripts/setup-host.sh";
/** Puts a Go on PATH that can run the one go/go.mod pins (any Go 1.21+ fetches it; setup-host.sh installs one). */
export const GO_FIX = "bash scripts/install-go.sh";

export interface ToolCheck {
  name: string;
  /** What it is needed for. */
  purpose: "build" | "test";
  ok: boolean;
  detail: string;
  /** The command that installs it on Debian. */
  fix: string;
}

function parseGoVersion(v: string): number[] {
  return (/go(\d+)\.(\d+)(?:\.(\d+))?/.exec(v) ?? []).slice(1).map((x) => Number(x ?? 0));
}

async function has(cmd: string, args: string[] = ["--version"], env?: NodeJS.ProcessEnv): Promise<string | null> {
  const r = await tryRun(cmd, args, env ? { env } : {});
  return r ? (r.stdout || r.stderr).split("\n")[0]!.trim() : null;
}

async function checkArch(a: Architecture, seenQemu: Set<string>): Promise<ToolCheck[]> {
  const gcc = `${a.gnuTriplet}-gcc`;
  const v = await has(gcc, ["-dumpfullversion"]);
  const crossPkg = a.name === "amd64" ? "gcc" : `gcc-${a.gnuTriplet}`;
  const out: ToolCheck[] = [
    { name: gcc, purpose: "build", ok: !!v, detail: v ?? "missing", fix: `apt-get install ${crossPkg}` },
  ];
  const specs = muslSpecs(a);
  const muslPkg = a.name === "amd64" ? "musl-dev" : `musl-dev:${a.debianArch}`;
  out.push({ name: `musl (${a.name})`, purpose: "build", ok: existsSync(specs), detail: existsSync(specs) ? specs : "missing", fix: a.name === "amd64" ? "apt-get install musl-dev" : `dpkg --add-architecture ${a.debianArch} && apt-get update && apt-get install ${muslPkg}` });
  const hdr = a.name === "amd64" ? "/usr/include/linux/if_tun.h" : `/usr/${a.gnuTriplet}/include/linux/if_tun.h`;
  out.push({ name: `kernel headers (${a.name})`, purpose: "build", ok: existsSync(hdr), detail: existsSync(hdr) ? "present" : "missing", fix: a.name === "amd64" ? "apt-get install linux-libc-dev" : `apt-get install linux-libc-dev-${a.debianArch}-cross` });
  if (a.qemu && !seenQemu.has(a.qemu)) {
    seenQemu.add(a.qemu);
    const q = await has(a.qemu, ["--version"]);
    out.push({ name: a.qemu, purpose: "test", ok: !!q, detail: q ?? "missing", fix: "apt-get install qemu-user-static" });
  }
  return out;
}

/** Every tool the build and the tests need, each with the command that installs it. */
export async function checkHost(): Promise<ToolCheck[]> {
  const checks: ToolCheck[] = [];
  const want = loadGoModPins().toolchainVersion;
  // GOTOOLCHAIN=local: the Go on PATH itself, which must be able to fetch toolchains (1.21+).
  const gov = await has("go", ["version"], { ...process.env, GOTOOLCHAIN: "local" });
  const goOk = !!gov && versionAtLeast(parseGoVersion(gov), [1, 21]);
  checks.push({ name: "go", purpose: "build", ok: goOk, detail: gov ? `${gov} (need go1.21+ to run the pinned go${want})` : "missing", fix: GO_FIX });
  if (goOk) {
    // The pinned toolchain itself, as every build runs it (fetched through the module proxy on first use).
    const pinned = await has("go", ["env", "GOVERSION"], goCommandEnv());
    const ok = pinned === `go${want}`;
    checks.push({ name: `go${want} (go/go.mod)`, purpose: "build", ok, detail: ok ? "available" : `not available (${pinned ?? "GOTOOLCHAIN=go" + want + " go env GOVERSION failed"})`, fix: GO_FIX });
  }
  for (const t of ["make", "tar", "bzip2"]) {
    const v = await has(t, ["--version"]);
    checks.push({ name: t, purpose: "build", ok: !!v, detail: v ?? "missing", fix: `apt-get install ${t}` });
  }
  const upx = await tryRun("upx", ["--version"]);
  const uv = upx ? parseUpxVersion(upx.stdout) : null;
  checks.push({
    name: "upx",
    purpose: "build",
    ok: !!uv && versionAtLeast(uv, UPX_MIN_VERSION),
    detail: uv ? `${uv.join(".")} (need ${UPX_MIN_VERSION.join(".")}+)` : "missing",
    fix: "apt-get install -t bookworm-backports upx-ucl",
  });
  const seenQemu = new Set<string>();
  for (const a of allArchitectures()) checks.push(...(await checkArch(a, seenQemu)));
  const binfmt = ["qemu-aarch64", "qemu-arm"].every((n) => existsSync(`/proc/sys/fs/binfmt_misc/${n}`));
  checks.push({ name: "binfmt_misc (qemu-aarch64, qemu-arm)", purpose: "test", ok: binfmt, detail: binfmt ? "registered" : "not registered", fix: SETUP_COMMAND });
  // The end-to-end router VMs (test/support/vm.ts).
  for (const t of ["qemu-system-aarch64", "qemu-system-arm"]) {
    const v = await has(t, ["--version"]);
    checks.push({ name: t, purpose: "test", ok: !!v, detail: v ?? "missing", fix: "apt-get install qemu-system-arm" });
  }
  for (const t of ["skopeo", "umoci", "runc", "iperf3"]) {
    const v = await has(t, ["--version"]);
    checks.push({ name: t, purpose: "test", ok: !!v, detail: v ?? "missing", fix: `apt-get install ${t}` });
  }
  return checks;
}

/** Fails before any work starts when a build tool is missing. */
export async function requireBuildTools(arches: readonly Architecture[]): Promise<void> {
  const checks = (await checkHost()).filter((c) => c.purpose === "build");
  const relevant = checks.filter((c) => {
    const m = /\((amd64|arm64|armv7|armv5)\)$/.exec(c.name);
    if (m) return arches.some((a) => a.name === m[1]);
    const gcc = /^(.*)-gcc$/.exec(c.name);
    if (gcc) return arches.some((a) => a.gnuTriplet === gcc[1]);
    return true;
  });
  const missing = relevant.filter((c) => !c.ok);
  if (missing.length) {
    const first = missing[0]!;
    throw new MissingToolError(
      first.name,
      `${first.detail}${missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1).map((m) => m.name).join(", ")})` : ""}`,
      "mikrotik-tailscale doctor --fix",
    );
  }
}

export function isDebianLike(): boolean {
  try {
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(readFileSync("/etc/os-release", "utf8"));
  } catch {
    return false;
  }
}
