import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MissingToolError } from "../../src/errors.js";
import { selfSignedCertificate } from "../../src/routeros/simulator/cert.js";
import { run } from "../../src/util/exec.js";

/*
 * (testing) A real OCI registry on 127.0.0.1: Debian's docker-registry
 * (distribution 2.8) with its own config, a temporary storage folder and a
 * random port, optionally behind htpasswd Basic auth or bearer tokens from a
 * small token server written here. Loopback only; stopped by close().
 */

export type RegistryAuthMode = "none" | "basic" | "token";

export interface LocalRegistryOptions {
  auth?: RegistryAuthMode;
  /** Users allowed to push (basic and token modes). */
  users?: Record<string, string>;
  /** token mode: whether anonymous clients get pull tokens (as public repositories do). */
  anonymousPull?: boolean;
}

export interface LocalRegistry {
  /** 127.0.0.1:<port> */
  host: string;
  /** http://127.0.0.1:<port> */
  url: string;
  dir: string;
  /** token mode: how many tokens were issued / refused. */
  tokens: { issued: number; refused: number };
  log(): string;
  close(): Promise<void>;
}

/** Debian's package installs it on PATH as `docker-registry`. */
export const REGISTRY_BINARY = "docker-registry";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

/** The key ID docker's libtrust derives from a public key (what a registry matches a token's `kid` against). */
export function libtrustKeyId(publicKeyDer: Buffer): string {
  const bytes = createHash("sha256").update(publicKeyDer).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out.match(/.{1,4}/g)!.join(":");
}

function basicUser(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!m) return undefined;
  const s = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = s.indexOf(":");
  return i < 0 ? undefined : { user: s.slice(0, i), password: s.slice(i + 1) };
}

export async function startLocalRegistry(opts: LocalRegistryOptions = {}): Promise<LocalRegistry> {
  if (!(process.env.PATH ?? "").split(":").some((d) => d && existsSync(join(d, REGISTRY_BINARY)))) {
    throw new MissingToolError("docker-registry", "not found on PATH", "apt-get install docker-registry (or bash scripts/setup-host.sh)");
  }
  const mode = opts.auth ?? "none";
  const users = opts.users ?? {};
  const dir = await mkdtemp(join(tmpdir(), "mt-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokens = { issued: 0, refused: 0 };
  let tokenServer: http.Server | undefined;
  const cfg: string[] = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "storage")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString("hex")}`,
  ];
  if (mode === "basic") {
    const lines: string[] = [];
    for (const [u, p] of Object.entries(users)) {
      const r = await run("htpasswd", ["-nbB", u, p]).catch((e) => {
        throw new MissingToolError("htpasswd", `cannot make a bcrypt password file (${(e as Error).message})`, "apt-get install apache2-utils");
      });
      lines.push(r.stdout.trim());
    }
    await writeFile(join(dir, "htpasswd"), lines.join("\n") + "\n");
    cfg.push("auth:", "  htpasswd:", "    realm: mikrotik-tailscale-test", `    path: ${join(dir, "htpasswd")}`);
  } else if (mode === "token") {
    const cert = selfSignedCertificate(["127.0.0.1"], "mikrotik-tailscale-test-token-issuer");
    await writeFile(join(dir, "token-root.pem"), cert.cert);
    const key = createPrivateKey(cert.key);
    const kid = libtrustKeyId(createPublicKey(key).export({ type: "spki", format: "der" }));
    const service = "mikrotik-tailscale-test-registry";
    const issuer = "mikrotik-tailscale-test-issuer";
    tokenServer = http.createServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      const who = basicUser(req.headers.authorization);
      if (who && users[who.user] !== who.password) {
        tokens.refused++;
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ details: "incorrect username or password" }));
        return;
      }
      if (!who && !opts.anonymousPull) {
        tokens.refused++;
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="token"' });
        res.end(JSON.stringify({ details: "authentication required" }));
        return;
      }
      const access = u.searchParams.getAll("scope").flatMap((s) => {
        const [type, name, actions] = s.split(":");
        if (type !== "repository" || !name || !actions) return [];
        const wanted = actions.split(",");
        const granted = who ? wanted : wanted.filter((a) => a === "pull");
        return [{ type, name, actions: granted }];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: "JWT", alg: "ES256", kid };
      const claims = {
        iss: issuer,
        sub: who?.user ?? "",
        aud: u.searchParams.get("service") ?? service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString("hex"),
        access,
      };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
      const token = `${input}.${b64url(sig)}`;
      tokens.issued++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    });
    await new Promise<void>((resolve) => tokenServer!.listen(0, "127.0.0.1", resolve));
    const tport = (tokenServer.address() as AddressInfo).port;
    cfg.push(
      "auth:",
      "  token:",
      `    realm: http://127.0.0.1:${tport}/token`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${join(dir, "token-root.pem")}`,
    );
  }
  await writeFile(join(dir, "config.yml"), cfg.join("\n") + "\n");

  let output = "";
  let exited: number | null | undefined;
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exitedP = new Promise<void>((resolve) =>
    child.on("exit", (code) => {
      exited = code;
      resolve();
    }),
  );

  const close = async () => {
    if (exited === undefined) {
      child.kill("SIGTERM");
      await Promise.race([exitedP, sleep(5000)]);
      if (exited === undefined) {
        child.kill("SIGKILL");
        await exitedP;
      }
    }
    if (tokenServer) await new Promise<void>((resolve) => tokenServer!.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited !== undefined) {
      await close();
      throw new Error(`docker-registry exited (${exited}) before it was ready:\n${output.slice(-2000)}`);
    }
    try {
      const r = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.status === 200 || r.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`docker-registry did not answer on ${host} within 20 s:\n${output.slice(-2000)}`);
    }
    await sleep(100);
  }
  return { host, url: `http://${host}`, dir, tokens, log: () => output, close };
}
