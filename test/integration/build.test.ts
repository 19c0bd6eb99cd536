import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, lstatSync, statSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allArchitectures } from "../../src/arch.js";
import { featureAllowlist, loadImageSpec } from "../../src/image/spec.js";
import { parseGoVersionM } from "../../src/build/tailscale.js";
import { builtArch } from "../support/dist.js";

function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin`, ...env } });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "", signal: r.signal };
}

/** Runs a program inside the rootfs: foreign architectures go through qemu-user via binfmt_misc. */
function inRootfs(rootfs: string, argv: string[]) {
  return sh("chroot", [rootfs, ...argv]);
}

const allow = featureAllowlist(loadImageSpec()).features.map((f) => f.name);

for (const arch of allArchitectures()) {
  describe(`${arch.name} root filesystem`, () => {
    test("has one tailscale binary with two symlinks, busybox with its applets, CA bundle, entrypoint", () => {
      const { rootfs, record } = builtArch(arch.name);
      assert.equal(readlinkSync(join(rootfs, "usr/local/bin/tailscale")), "tailscale.combined");
      assert.equal(readlinkSync(join(rootfs, "usr/local/bin/tailscaled")), "tailscale.combined");
      assert.ok(lstatSync(join(rootfs, "usr/local/bin/tailscale.combined")).isFile());
      for (const a of record.busybox.applets) assert.equal(readlinkSync(join(rootfs, "bin", a)), "busybox", `/bin/${a}`);
      const ca = readFileSync(join(rootfs, "etc/ssl/certs/ca-certificates.crt"), "utf8");
      assert.ok((ca.match(/BEGIN CERTIFICATE/g) ?? []).length >= 100, "CA bundle has the Mozilla roots");
      assert.equal(statSync(join(rootfs, "tmp")).mode & 0o7777, 0o1777);
      assert.ok(statSync(join(rootfs, "usr/local/bin/entrypoint")).mode & 0o100, "entrypoint is executable");
      for (const d of ["var/lib/tailscale", "var/run/tailscale"]) assert.ok(statSync(join(rootfs, d)).isDirectory(), d);
      assert.match(readFileSync(join(rootfs, "etc/passwd"), "utf8"), /^root:x:0:0:/);
    });

    test("tailscale, tailscaled and busybox applets run" + (arch.qemu ? " under qemu-user" : ""), () => {
      const { rootfs, record } = builtArch(arch.name);
      const want = record.tailscale.version.replace(/^v/, "");
      const v = inRootfs(rootfs, ["/usr/local/bin/tailscale", "version"]);
      assert.equal(v.code, 0, v.err);
      assert.equal(v.out.split("\n")[0], want);
      const d = inRootfs(rootfs, ["/usr/local/bin/tailscaled", "--version"]);
      assert.equal(d.code, 0, d.err);
      assert.equal(d.out.split("\n")[0], want);
      const ls = inRootfs(rootfs, ["/bin/busybox", "sh", "-c", "ls / && echo ok"]);
      assert.equal(ls.code, 0, ls.err);
      assert.match(ls.out, /\busr\b[\s\S]*\bok\n$/);
      // Typed commands resolve through PATH -> /bin/<applet> symlink: the path UPX must not break.
      const script = "PATH=/bin; echo hello | sed s/hello/bye/; printf 'a\\nb\\n' | wc -l; grep -c root /etc/passwd; basename /x/y; expr 6 \\* 7; ip -o link show lo | grep -q LOOPBACK && echo ip-ok";
      const r = inRootfs(rootfs, ["/bin/sh", "-c", script]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(r.out.trim().split("\n"), ["bye", "2", "1", "y", "42", "ip-ok"]);
      const list = inRootfs(rootfs, ["/bin/busybox", "--list"]);
      assert.deepEqual(list.out.trim().split("\n").sort(), [...record.busybox.applets].sort());
      // The health checker: static, runs, and says tailscaled is not there (no daemon in this root).
      const hc = inRootfs(rootfs, ["/usr/local/bin/healthcheck", "-s", "/var/run/tailscale/none.sock"]);
      assert.equal(hc.code, 1, hc.err);
      assert.equal(hc.out, "tailscaled not running (no socket /var/run/tailscale/none.sock)\n");
    });

    if (arch.qemuCpu) {
      test(`runs on a ${arch.qemuCpu} CPU (qemu-user -cpu ${arch.qemuCpu}): no newer instructions`, () => {
        const { rootfs, record } = builtArch(arch.name);
        const q = (argv0: string, bin: string, ...args: string[]) =>
          sh(arch.qemu!, ["-cpu", arch.qemuCpu!, "-0", argv0, join(rootfs, bin), ...args]);
        const v = q("tailscale", "usr/local/bin/tailscale.combined", "version");
        assert.equal(v.code, 0, `tailscale version on ${arch.qemuCpu}: ${v.err} ${v.signal ?? ""}`);
        assert.equal(v.out.split("\n")[0], record.tailscale.version.replace(/^v/, ""));
        const d = q("tailscaled", "usr/local/bin/tailscale.combined", "--version");
        assert.equal(d.code, 0, d.err);
        const b = q("busybox", "bin/busybox", "sh", "-c", "echo $((6*7)); echo ok | tr o O");
        assert.equal(b.code, 0, b.err);
        assert.deepEqual(b.out.trim().split("\n"), ["42", "Ok"]);
        const ls = q("ls", "bin/busybox", join(rootfs, "usr/local/bin"));
        assert.match(ls.out, /tailscale\.combined/);
        const hc = q("healthcheck", "usr/local/bin/healthcheck", "-s", "/nonexistent/ts.sock");
        assert.equal(hc.code, 1, `healthcheck on ${arch.qemuCpu}: ${hc.err} ${hc.signal ?? ""}`);
        assert.equal(hc.out, "tailscaled not running (no socket /nonexistent/ts.sock)\n");
        // Control: the same check rejects an ARMv7 build, so passing above means something.
        const v7 = join(rootfs, "..", "armv7", "bin", "busybox");
        if (existsSync(v7)) {
          const r = sh(arch.qemu!, ["-cpu", arch.qemuCpu!, v7, "echo", "ok"]);
          assert.notEqual(r.code, 0, "an ARMv7 busybox should not run on an ARMv5 CPU model");
        }
      });
    }

    test("allowlisted features are compiled in, left-out ones are not (embedded build settings and CLI)", () => {
      const { rootfs, record } = builtArch(arch.name);
      let bin = join(rootfs, "usr/local/bin/tailscale.combined");
      const tmp = mkdtempSync(join(tmpdir(), "mt-feat-"));
      try {
        if (record.tailscale.upx) {
          // UPX hides Go's build info; unpack a copy to read it.
          const out = join(tmp, "unpacked");
          const u = sh("upx", ["-q", "-d", "-o", out, bin]);
          assert.equal(u.code, 0, u.err);
          bin = out;
        }
        const vm = sh("go", ["version", "-m", bin]);
        assert.equal(vm.code, 0, vm.err);
        const info = parseGoVersionM(vm.out);
        const tags = (info.settings.get("-tags") ?? "").split(",");
        assert.ok(tags.includes("ts_include_cli"));
        for (const f of allow) assert.ok(!tags.includes(`ts_omit_${f}`), `${f} is allowlisted but omitted`);
        for (const f of ["clientupdate", "cachenetmap", "logtail", "netlog", "ssh", "iptables", "taildrop", "drive", "webclient"]) {
          assert.ok(tags.includes(`ts_omit_${f}`), `${f} must be omitted`);
        }
        assert.equal(info.settings.get("GOARCH"), arch.goarch);
        if (arch.goarm) assert.equal(info.settings.get("GOARM"), arch.goarm);
        assert.equal(info.settings.get("CGO_ENABLED"), "0");
        assert.equal(info.settings.get("-trimpath"), "true");
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      if (arch.name === "amd64") {
        // The CLI reflects the tags: router flags present, omitted subcommands gone.
        const up = inRootfs(rootfs, ["/usr/local/bin/tailscale", "up", "--help"]);
        const help = up.out + up.err;
        for (const flag of ["--advertise-routes", "--advertise-exit-node", "--exit-node", "--accept-routes", "--login-server", "--auth-key"]) {
          assert.ok(help.includes(flag), `tailscale up --help lacks ${flag}`);
        }
        for (const sub of ["update", "file", "drive", "serve", "web", "lock"]) {
          const r = inRootfs(rootfs, ["/usr/local/bin/tailscale", sub, "--help"]);
          assert.notEqual(r.code, 0, `'tailscale ${sub}' should not exist in this build`);
        }
      }
    });
  });
}

test("the build recorded a size report for every architecture", () => {
  const sizes = JSON.parse(readFileSync(join(builtArch("amd64").rootfs, "..", "..", "sizes.json"), "utf8"));
  for (const a of allArchitectures()) {
    const s = sizes.arches[a.name];
    assert.ok(s, `sizes.json lacks ${a.name}`);
    assert.equal(s.total, s.tailscale + s.busybox + s.caBundle + s.healthcheck + s.other);
    assert.ok(existsSync(join(builtArch(a.name).rootfs)));
  }
});
