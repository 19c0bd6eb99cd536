/**
 * A machine without the Go that go/go.mod pins: the preinstalled Go is hidden
 * from PATH. `doctor` and `build` name what is missing and the fix;
 * scripts/install-go.sh then fetches the pinned toolchain with Debian's own
 * Go (golang-1.23-go from bookworm-backports, which scripts/setup-host.sh
 * installs) through the machine's module proxy, and `doctor` is content; so
 * is it with Debian's Go alone, since every go command asks for the pinned
 * release by GOTOOLCHAIN.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { projectRoot } from "../../src/paths.js";

const bin = join(projectRoot, "bin", "mikrotik-tailscale.js");
const gomod = readFileSync(join(projectRoot, "go", "go.mod"), "utf8");
const want = /^toolchain go(\S+)$/m.exec(gomod)?.[1] ?? /^go (\S+)$/m.exec(gomod)![1]!;

/** PATH without any directory that holds a `go` (node itself stays reachable). */
function pathWithoutGo(): string {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter((d) => d && !existsSync(join(d, "go")))
    .join(delimiter);
}

function run(cmd: string, args: string[], PATH: string, extra: NodeJS.ProcessEnv = {}, cwd = projectRoot) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH, ...extra };
  delete env.GOROOT;
  delete env.GOTOOLCHAIN;
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 600_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("without Go on PATH: doctor and build name it; install-go.sh fetches the pinned toolchain with Debian's Go", (t) => {
  const noGo = pathWithoutGo();
  assert.notEqual(spawnSync("sh", ["-c", "command -v go"], { env: { PATH: noGo } }).status, 0, "go is hidden");

  const doctor = run(process.execPath, [bin, "doctor"], noGo);
  assert.equal(doctor.code, 1, doctor.out + doctor.err);
  assert.match(doctor.out, /MISSING +go +build +missing$/m);
  assert.match(doctor.out, /^ {2}bash scripts\/install-go\.sh$/m);
  const build = run(process.execPath, [bin, "build", "--arch", "amd64", "--out", join(tmpdir(), "mt-never-written")], noGo);
  assert.equal(build.code, 1);
  assert.match(build.err, /^mikrotik-tailscale: error: .*\bgo\b.*doctor --fix/m);
  assert.equal(existsSync(join(tmpdir(), "mt-never-written")), false);

  const dir = mkdtempSync(join(tmpdir(), "mt-fresh-go-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inst = run("bash", [join(projectRoot, "scripts", "install-go.sh")], noGo, { MT_GO_PREFIX: join(dir, "lib"), MT_GO_BINDIR: join(dir, "bin") });
  assert.equal(inst.code, 0, inst.err);
  assert.match(inst.err, /fetching go\S+ with \/usr\/lib\/go-1\.\d+\/bin\/go/, "the bootstrap is Debian's Go, not a hidden one");
  const withGo = `${join(dir, "bin")}${delimiter}${noGo}`;
  const v = run("go", ["env", "GOVERSION"], withGo, { GOTOOLCHAIN: "local" });
  assert.equal(v.out.trim(), `go${want}`);
  // The pinned module builds its graph with it, toolchain switching off.
  const list = run("go", ["list", "-m", "tailscale.com"], withGo, { GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" }, join(projectRoot, "go"));
  assert.equal(list.code, 0, list.err);
  const again = run("bash", [join(projectRoot, "scripts", "install-go.sh")], withGo, { MT_GO_PREFIX: join(dir, "lib"), MT_GO_BINDIR: join(dir, "bin") });
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /new enough/);
  const ok = run(process.execPath, [bin, "doctor"], withGo);
  assert.match(ok.out, new RegExp(`^ok +go +build +go version go${want.replace(/\./g, "\\.")} `, "m"), ok.out);
  assert.match(ok.out, new RegExp(`^ok +go${want.replace(/\./g, "\\.")} \\(go/go\\.mod\\) +build +available$`, "m"), ok.out);

  // Debian's own Go alone is enough: every go command asks for the pinned release by GOTOOLCHAIN.
  const debianGo = readdirSync("/usr/lib").filter((d) => /^go-1\.\d+$/.test(d)).map((d) => join("/usr/lib", d, "bin"))[0];
  assert.ok(debianGo, "setup-host.sh installs a Debian Go");
  const boot = run(process.execPath, [bin, "doctor"], `${debianGo}${delimiter}${noGo}`);
  assert.match(boot.out, /^ok +go +build +go version go1\.2\d/m, boot.out);
  assert.match(boot.out, new RegExp(`^ok +go${want.replace(/\./g, "\\.")} \\(go/go\\.mod\\) +build +available$`, "m"), boot.out);
});
