import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { resolveTarget } from "../../src/routeros/credentials.js";
import { CredentialsUsageError, RouterTlsError } from "../../src/routeros/errors.js";
import { RestClient, type RosRecord } from "../../src/routeros/rest.js";
import { selfSignedCertificate } from "../../src/routeros/simulator/cert.js";
import { startSimulator, type RunningSimulator } from "../../src/routeros/simulator/server.js";
import { status, formatStatus } from "../../src/routeros/deploy.js";

/*
 * REST over TLS without --insecure: a pinned certificate fingerprint (what a
 * first `routeros status` prints), and a certificate that names the router
 * by something other than the address it is reached at (--tls-server-name).
 */

async function withSim(names: string[], fn: (s: RunningSimulator, fingerprint: string) => Promise<void>): Promise<void> {
  const cert = selfSignedCertificate(names);
  const s = await startSimulator({ tls: cert, user: "admin", password: "pw" });
  const fp = `sha256:${new X509Certificate(cert.cert).fingerprint256}`;
  try {
    await fn(s, fp);
  } finally {
    await s.close();
  }
}

test("a pinned fingerprint is trusted without a CA; any other certificate is refused before the password is sent", async () => {
  await withSim(["router.example"], async (s, fp) => {
    const ok = new RestClient({ origin: s.origin, user: "admin", password: "pw", fingerprint: fp });
    try {
      const res = await ok.get<RosRecord>("system/resource");
      assert.equal(res["architecture-name"], "arm64");
      assert.equal(ok.peerFingerprint, fp);
    } finally {
      ok.close();
    }
    const wrong = `sha256:${"00:".repeat(31)}00`;
    const bad = new RestClient({ origin: s.origin, user: "admin", password: "pw", fingerprint: wrong });
    const before = s.sim.requests.length;
    try {
      await assert.rejects(bad.get("system/resource"), (e: Error) => {
        assert.ok(e instanceof RouterTlsError, `${e.constructor.name}: ${e.message}`);
        assert.match(e.message, new RegExp(`is not the pinned one: it shows ${fp.replace(/[:]/g, ":")}, --tls-fingerprint says ${wrong}; nothing was sent`));
        return true;
      });
      assert.equal(s.sim.requests.length, before, "the simulator saw no request");
    } finally {
      bad.close();
    }
  });
});

test("an untrusted certificate: the error names the fingerprint to pin; status prints it once trusted", async () => {
  await withSim(["127.0.0.1", "localhost"], async (s, fp) => {
    const c = new RestClient({ origin: s.origin, user: "admin", password: "pw" });
    try {
      await assert.rejects(c.get("system/resource"), (e: Error) => {
        assert.ok(e instanceof RouterTlsError);
        assert.ok(e.message.includes(`--tls-fingerprint ${fp}`), e.message);
        return true;
      });
    } finally {
      c.close();
    }
    const pinned = new RestClient({ origin: s.origin, user: "admin", password: "pw", fingerprint: fp });
    try {
      const st = await status(pinned, "tailscale");
      st.tlsFingerprint = pinned.peerFingerprint;
      assert.match(formatStatus(st, "tailscale"), new RegExp(`tls: +${fp} \\(pin it with --tls-fingerprint ${fp}\\)`));
    } finally {
      pinned.close();
    }
  });
});

test("--tls-server-name checks the certificate against the router's name instead of its address", async () => {
  await withSim(["router.example"], async (s) => {
    const ca = s.certificate!;
    const byAddress = new RestClient({ origin: s.origin, user: "admin", password: "pw", ca });
    try {
      await assert.rejects(byAddress.get("system/resource"), (e: Error) => {
        assert.ok(e instanceof RouterTlsError);
        assert.match(e.message, /ERR_TLS_CERT_ALTNAME_INVALID.*--tls-server-name NAME if the certificate names the router differently/);
        return true;
      });
    } finally {
      byAddress.close();
    }
    const byName = new RestClient({ origin: s.origin, user: "admin", password: "pw", ca, servername: "router.example" });
    try {
      assert.equal((await byName.get<RosRecord>("system/resource"))["board-name"], "RB5009UG+S+");
    } finally {
      byName.close();
    }
  });
});

test("options: a fingerprint must be one, and not together with --insecure; --insecure still works with a warning", () => {
  const env = { ROUTEROS_PASSWORD: "pw" };
  assert.throws(() => resolveTarget({ router: "https://admin@r", tlsFingerprint: "abc", env }), /--tls-fingerprint: 'abc' is not a SHA-256 fingerprint/);
  const fp = `sha256:${"AB:".repeat(31)}AB`;
  assert.throws(() => resolveTarget({ router: "https://admin@r", tlsFingerprint: fp, insecure: true, env }), /give --tls-fingerprint or --insecure, not both/);
  assert.equal(resolveTarget({ router: "https://admin@r", tlsFingerprint: fp.toLowerCase().replace("sha256:", ""), env }).target.fingerprint, fp.toLowerCase().replace("sha256:", ""));
  const r = resolveTarget({ router: "https://admin@r", insecure: true, env });
  assert.ok(r.warnings.some((w) => /--insecure: the TLS certificate of r is not verified/.test(w)));
});

test("TLS options cannot go with an http:// router: a usage error naming the option or variable, before the password is read", () => {
  const fp = `sha256:${"AB:".repeat(31)}AB`;
  const env = { ROUTEROS_PASSWORD_FILE: "/nonexistent/password" };
  const usage = (o: Parameters<typeof resolveTarget>[0], re: RegExp) =>
    assert.throws(() => resolveTarget(o), (e: Error) => {
      assert.ok(e instanceof CredentialsUsageError, `${e.constructor.name}: ${e.message}`);
      assert.equal((e as CredentialsUsageError).exitCode, 2);
      assert.match(e.message, re);
      return true;
    });
  usage({ router: "http://admin@r", tlsFingerprint: fp, env }, /^--tls-fingerprint has no effect with an http:\/\/ router: use https:\/\/, or leave it out$/);
  usage({ router: "http://admin@r", caFile: "/nonexistent/ca.pem", env }, /^--ca-file has no effect/);
  usage({ router: "http://admin@r", tlsServerName: "r.example", env }, /^--tls-server-name has no effect/);
  usage({ router: "http://admin@r", env: { ...env, ROUTEROS_TLS_FINGERPRINT: fp, ROUTEROS_TLS_SERVER_NAME: "r.example" } }, /^ROUTEROS_TLS_FINGERPRINT and ROUTEROS_TLS_SERVER_NAME have no effect/);
  usage({ configRouter: "http://admin@r", env: { ...env, ROUTEROS_CA_FILE: "/nonexistent/ca.pem" } }, /^ROUTEROS_CA_FILE has no effect/);
  usage({ router: "http://admin@r", insecure: true, env }, /^--insecure has no effect with an http:\/\/ router/);
  usage({ router: "http://admin@r", insecure: true, caFile: "/nonexistent/ca.pem", env }, /^--ca-file and --insecure have no effect/);
  // Plain http without them still works, with its warning.
  const r = resolveTarget({ router: "http://admin@r", env: { ROUTEROS_PASSWORD: "pw" } });
  assert.equal(r.target.origin, "http://r");
  assert.ok(r.warnings.some((w) => /plain http/.test(w)));
});
