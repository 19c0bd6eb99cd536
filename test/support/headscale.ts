/**
 * Headscale, the open-source Tailscale control server, as the control plane of
 * end-to-end tests. The version is pinned in config/pins.json and by checksum
 * in tools/headscale/go.sum; the binary is built once with `go install` into
 * the user cache, keyed by version and go.sum.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, projectRoot } from "../../src/paths.js";
import { loadPins } from "../../src/pins.js";
import { mustRun, runCmd, StopWaiting, waitFor, type Lab, type LabProcess } from "./netns.js";

const TOOL_DIR = join(projectRoot, "tools", "headscale");

/** Where the pinned headscale binary lives in the cache (it may not exist yet). */
export function headscaleCachePath(): { version: string; path: string } {
  const { module, version } = loadPins().headscale;
  const goMod = readFileSync(join(TOOL_DIR, "go.mod"), "utf8");
  const required = new RegExp(`^\\s*${module.replace(/\./g, "\\.")}\\s+(v\\S+)`, "m").exec(goMod)?.[1];
  if (required !== version) {
    throw new Error(
      `tools/headscale/go.mod requires ${module} ${required ?? "(nothing)"} but config/pins.json pins ${version}: ` +
        `run 'go get ${module}@${version} && go mod tidy' in tools/headscale`,
    );
  }
  const sum = createHash("sha256").update(readFileSync(join(TOOL_DIR, "go.sum"))).digest("hex").slice(0, 12);
  return { version, path: join(cacheRoot(), "tools", `headscale-${version}-${sum}`, "headscale") };
}

/** Returns the pinned headscale binary, building it first when the cache lacks it (a few minutes). */
export async function ensureHeadscale(log: (s: string) => void = () => {}): Promise<string> {
  const { version, path } = headscaleCachePath();
  if (!existsSync(path)) {
    const dir = join(path, "..");
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    log(`building headscale ${version} into ${dir} (once; go install in tools/headscale)`);
    const r = await runCmd("go", ["install", "github.com/juanfont/headscale/cmd/headscale"], {
      timeoutMs: 25 * 60_000,
      env: { ...process.env, GOBIN: tmp, GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
      cwd: TOOL_DIR,
    });
    if (r.code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`could not build headscale ${version}: ${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  const out = await mustRun(path, ["version"]);
  if (!out.includes(version)) throw new Error(`${path} reports '${out.trim()}', expected ${version}`);
  return path;
}

export interface HsNode {
  id: number;
  name: string;
  givenName: string;
  ipAddresses: string[];
  nodeKey: string;
  online: boolean;
  availableRoutes: string[];
  approvedRoutes: string[];
  subnetRoutes: string[];
}

// The CLI prints protobuf messages as JSON; accept both field spellings.
function pick<T>(o: Record<string, unknown>, ...keys: string[]): T | undefined {
  for (const k of keys) if (o[k] !== undefined) return o[k] as T;
  return undefined;
}

function toNode(o: Record<string, unknown>): HsNode {
  return {
    id: Number(pick(o, "id") ?? 0),
    name: pick<string>(o, "name") ?? "",
    givenName: pick<string>(o, "given_name", "givenName") ?? "",
    ipAddresses: pick<string[]>(o, "ip_addresses", "ipAddresses") ?? [],
    nodeKey: pick<string>(o, "node_key", "nodeKey") ?? "",
    online: pick<boolean>(o, "online") ?? false,
    availableRoutes: pick<string[]>(o, "available_routes", "availableRoutes") ?? [],
    approvedRoutes: pick<string[]>(o, "approved_routes", "approvedRoutes") ?? [],
    subnetRoutes: pick<string[]>(o, "subnet_routes", "subnetRoutes") ?? [],
  };
}

export interface HeadscaleOptions {
  /** Namespace role it runs in. */
  role: string;
  /** Its address in that namespace: RFC 1918, so clients speak plain HTTP to it. */
  ip: string;
  port?: number;
  /** MagicDNS suffix. */
  baseDomain?: string;
}

export class Headscale {
  readonly url: string;
  readonly baseDomain: string;
  private readonly dir: string;
  private readonly config: string;
  private proc?: LabProcess;

  constructor(
    private readonly lab: Lab,
    private readonly bin: string,
    private readonly opts: HeadscaleOptions,
  ) {
    const port = opts.port ?? 8080;
    this.url = `http://${opts.ip}:${port}`;
    this.baseDomain = opts.baseDomain ?? "tailnet.test";
    this.dir = join(lab.dir, "headscale");
    this.config = join(this.dir, "config.yaml");
    mkdirSync(this.dir, { recursive: true });
    // server_url must be an RFC 1918 address literal with http: clients then
    // use plain HTTP (tailscale#15008). The embedded DERP server is the
    // lab's relay, reached over plain HTTP by nodes with TS_DEBUG_USE_DERP_HTTP
    // (test/e2e/lab.ts); traffic still goes direct between the namespaces.
    const d = this.dir;
    writeFileSync(
      this.config,
      [
        `server_url: ${this.url}`,
        `listen_addr: ${opts.ip}:${port}`,
        `metrics_listen_addr: 127.0.0.1:${port + 1010}`,
        `grpc_listen_addr: 127.0.0.1:${port + 42363}`,
        "grpc_allow_insecure: false",
        "noise:",
        `  private_key_path: ${d}/noise_private.key`,
        "prefixes:",
        "  v4: 100.64.0.0/10",
        "  v6: fd7a:115c:a1e0::/48",
        "  allocation: sequential",
        "derp:",
        "  server:",
        "    enabled: true",
        "    region_id: 999",
        "    region_code: lab",
        "    region_name: lab",
        "    verify_clients: true",
        `    stun_listen_addr: ${opts.ip}:3478`,
        `    private_key_path: ${d}/derp_server_private.key`,
        "    automatically_add_embedded_derp_region: true",
        `    ipv4: ${opts.ip}`,
        "  urls: []",
        "  paths: []",
        "  auto_update_enabled: false",
        "disable_check_updates: true",
        "node:",
        "  expiry: 0",
        "database:",
        "  type: sqlite",
        "  sqlite:",
        `    path: ${d}/db.sqlite`,
        "    write_ahead_log: true",
        "log:",
        "  level: info",
        "  format: text",
        "policy:",
        "  mode: file",
        '  path: ""',
        "dns:",
        "  magic_dns: true",
        `  base_domain: ${this.baseDomain}`,
        "  override_local_dns: false",
        "  nameservers:",
        "    global: []",
        "unix_socket: " + `${d}/headscale.sock`,
        'unix_socket_permission: "0770"',
        "logtail:",
        "  enabled: false",
        "",
      ].join("\n"),
    );
  }

  async start(): Promise<void> {
    this.proc = this.lab.spawn("headscale", this.opts.role, [this.bin, "serve", "-c", this.config]);
    await waitFor("headscale did not start answering on its unix socket", 30_000, async () => {
      if (this.proc!.child.exitCode !== null) throw new StopWaiting(`headscale exited: ${this.output().slice(-2000)}`);
      const r = await runCmd(this.bin, ["-c", this.config, "users", "list", "-o", "json"], { timeoutMs: 5_000 });
      return r.code === 0 ? true : undefined;
    });
  }

  output(): string {
    return this.proc?.output() ?? "";
  }

  /** Runs the headscale CLI (over its unix socket: no namespace needed) and parses JSON output. */
  async cli<T = unknown>(args: string[]): Promise<T> {
    const out = await mustRun(this.bin, ["-c", this.config, ...args, "-o", "json"], { timeoutMs: 15_000 });
    return JSON.parse(out) as T;
  }

  async createUser(name: string): Promise<number> {
    await this.cli(["users", "create", name]);
    const users = await this.cli<Array<Record<string, unknown>>>(["users", "list"]);
    const u = users.find((x) => x.name === name);
    if (!u) throw new Error(`headscale: user ${name} missing after create`);
    return Number(u.id);
  }

  async preAuthKey(userId: number, opts: { reusable?: boolean; tags?: string[] } = {}): Promise<string> {
    const args = ["preauthkeys", "create", "--user", String(userId), "--expiration", "1h"];
    if (opts.reusable) args.push("--reusable");
    if (opts.tags?.length) args.push("--tags", opts.tags.join(","));
    const out = await this.cli<Record<string, unknown> | string>(args);
    const key = typeof out === "string" ? out : (pick<string>(out, "key") ?? "");
    if (!key) throw new Error(`headscale: no key in ${JSON.stringify(out)}`);
    return key;
  }

  async nodes(): Promise<HsNode[]> {
    const list = await this.cli<Array<Record<string, unknown>> | null>(["nodes", "list"]);
    return (list ?? []).map(toNode);
  }

  async node(name: string): Promise<HsNode | undefined> {
    return (await this.nodes()).find((n) => n.givenName === name || n.name === name);
  }

  /** Approves exactly `routes` for the node (the list replaces what was approved). */
  async approveRoutes(id: number, routes: string[]): Promise<void> {
    await this.cli(["nodes", "approve-routes", "--identifier", String(id), "--routes", routes.join(",")]);
  }

  /** Expires the node's key now: the node must log in again. */
  async expire(id: number): Promise<void> {
    await this.cli(["nodes", "expire", "--identifier", String(id)]);
  }

  /** Gives the node a new name (its MagicDNS name); every peer hears of it through the control server. */
  async rename(id: number, name: string): Promise<void> {
    await this.cli(["nodes", "rename", "--identifier", String(id), name]);
  }
}
