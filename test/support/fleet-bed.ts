import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArchName } from "../../src/arch.js";
import { selfSignedCertificate } from "../../src/routeros/simulator/cert.js";
import { FastClock } from "../../src/routeros/simulator/clock.js";
import type { RouterSimulator, SimulatorOptions } from "../../src/routeros/simulator/router.js";
import { startSimulator, type RunningSimulator } from "../../src/routeros/simulator/server.js";
import { passwordEnvName } from "../../src/routeros/fleet/settings.js";
import type { Fleet, RolloutOptions } from "../../src/routeros/fleet/index.js";
import { fixtureFileName, makeFixtureImage } from "./routeros-fixture.js";

/*
 * (testing) A fleet of simulated routers in this process, each on its own
 * HTTPS port with one shared certificate (one CA file for the inventory),
 * each with its own password (ROUTEROS_PASSWORD_<NAME>), plus the faults a
 * fleet has that no single router shows: a port where nothing listens, one
 * that accepts and never answers, a wrong password, a slow link (a proxy
 * that holds every chunk for a while). The faults are network ones, made
 * here, outside the simulator. Every request to every router gets a number
 * from one counter, so tests can order what happened across routers.
 */

export type RouterKind = "ok" | "refused" | "silent" | "wrong-password" | "slow-link";

export interface RouterSpec {
  name: string;
  version?: string;
  /** RouterOS architecture name. */
  arch?: string;
  kind?: RouterKind;
  sim?: Omit<SimulatorOptions, "version" | "arch" | "user" | "password" | "clock">;
}

export interface BedRouter {
  spec: RouterSpec;
  /** What the inventory gives as its address. */
  origin: string;
  running?: RunningSimulator;
  sim?: RouterSimulator;
  /** Every request this router answered: [global sequence number, method, path]. */
  log: [number, string, string][];
}

export interface FleetBed {
  dir: string;
  caFile: string;
  routers: BedRouter[];
  router(name: string): BedRouter;
  /** Environment with each router's password (a wrong one where the spec says so). */
  env: NodeJS.ProcessEnv;
  /** Writes fixture images of `tailscaleVersion` for every architecture into dir. */
  images(tailscaleVersion: string): string;
  close(): Promise<void>;
}

export const ARCH_OF: Record<string, ArchName> = { arm64: "arm64", arm: "armv7", x86: "amd64", arm32v5: "armv5" };

let seq = 0;

/** A listener that accepts connections and never says a word. */
async function silentPort(): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on("close", () => socks.delete(s));
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP proxy whose every chunk, either way, arrives `delayMs` late (latency, not a bandwidth limit). */
async function slowLink(target: number, delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const pipe = (from: net.Socket, to: net.Socket) => {
    let last = 0;
    from.on("data", (c) => {
      const at = Math.max(Date.now() + delayMs, last);
      last = at;
      setTimeout(() => to.writable && to.write(c), at - Date.now());
    });
    from.on("end", () => setTimeout(() => to.end(), Math.max(0, last - Date.now())));
  };
  const server = net.createServer((client) => {
    const up = net.connect(target, "127.0.0.1");
    for (const s of [client, up]) {
      socks.add(s);
      s.on("close", () => socks.delete(s));
      s.on("error", () => (s === client ? up : client).destroy());
    }
    pipe(client, up);
    pipe(up, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function startFleetBed(specs: RouterSpec[], o: { slowLinkMs?: number } = {}): Promise<FleetBed> {
  const dir = mkdtempSync(join(tmpdir(), "mt-fleet-"));
  const tls = selfSignedCertificate(["127.0.0.1", "localhost"]);
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, tls.cert);
  const closers: (() => Promise<void>)[] = [];
  const env: NodeJS.ProcessEnv = {};
  const routers = await Promise.all(
    specs.map(async (spec): Promise<BedRouter> => {
      const kind = spec.kind ?? "ok";
      const password = `pw-${spec.name}`;
      env[passwordEnvName(spec.name)] = kind === "wrong-password" ? "not-the-password" : password;
      const log: BedRouter["log"] = [];
      if (kind === "refused") return { spec, origin: `https://127.0.0.1:${await refusedPort()}`, log };
      if (kind === "silent") {
        const s = await silentPort();
        closers.push(s.close);
        return { spec, origin: `https://127.0.0.1:${s.port}`, log };
      }
      const running = await startSimulator({
        extractMs: 3000,
        startMs: 2000,
        stopMs: 1000,
        ...spec.sim,
        tls,
        version: spec.version ?? "7.24",
        arch: spec.arch ?? "arm64",
        user: "admin",
        password,
        // The router's minutes pass in milliseconds; fewer, bigger ticks keep 30+ routers light on 2 cores.
        clock: new FastClock(500, 4),
      });
      closers.push(running.close);
      const sim = running.sim;
      const handle = sim.handle.bind(sim);
      sim.handle = (method, path, body, auth) => {
        log.push([++seq, method, path]);
        return handle(method, path, body, auth);
      };
      let origin = running.origin;
      if (kind === "slow-link") {
        const p = await slowLink(running.port, o.slowLinkMs ?? 15);
        closers.push(p.close);
        origin = `https://127.0.0.1:${p.port}`;
      }
      return { spec, origin, running, sim, log };
    }),
  );
  const written = new Set<string>();
  return {
    dir,
    caFile,
    routers,
    env,
    router(name) {
      const r = routers.find((x) => x.spec.name === name);
      if (!r) throw new Error(`no router ${name}`);
      return r;
    },
    images(v) {
      for (const arch of Object.values(ARCH_OF)) {
        const f = fixtureFileName({ arch, tailscaleVersion: v });
        if (!written.has(f)) writeFileSync(join(dir, f), makeFixtureImage({ arch, tailscaleVersion: v }));
        written.add(f);
      }
      return join(dir, `mikrotik-tailscale-${v}-{arch}.tar`);
    },
    async close() {
      await Promise.all(closers.map((c) => c()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The shared router config the fleet tests use (image: the given file pattern). */
export function sharedConfig(image: string): string {
  return `
image: { file: "${image}" }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
tailscale: { authKey: { env: TS_AUTHKEY } }
dns: { forward: [] }
`;
}

/**
 * fleet.yaml in the bed's folder, naming the shared config and the bed's CA:
 * every router (or `names`, in that order) by its address; `defaults` adds
 * settings (e.g. "version: auto, arch: auto"); `groups` puts routers in groups.
 */
export function writeInventory(bed: FleetBed, o: { names?: string[]; defaults?: string; groups?: Record<string, string[]> } = {}): string {
  const names = o.names ?? bed.routers.map((r) => r.spec.name);
  const groupsOf = (n: string) => Object.entries(o.groups ?? {}).filter(([, members]) => members.includes(n)).map(([g]) => g);
  const row = (n: string) => `  ${n}: { address: "${bed.router(n).origin}"${groupsOf(n).length ? `, groups: [${groupsOf(n).join(", ")}]` : ""} }`;
  const groups = o.groups ? `groups: { ${Object.keys(o.groups).map((g) => `${g}: {}`).join(", ")} }\n` : "";
  const path = join(bed.dir, "fleet.yaml");
  writeFileSync(path, `config: router.yaml\ndefaults: { ca_file: ca.pem${o.defaults ? `, ${o.defaults}` : ""} }\n${groups}routers:\n${names.map(row).join("\n")}\n`);
  return path;
}

/** A quick rollout over `f`'s routers: short settle times, one router per wave, no failure budget; `more` overrides. */
export function quickRollout(f: Fleet, dir: string, env: NodeJS.ProcessEnv, command: "deploy" | "upgrade", more: Partial<RolloutOptions> = {}): RolloutOptions {
  return {
    command,
    routers: f.routers,
    shared: f.shared!,
    canary: { count: 1 },
    waveSize: { count: 1 },
    maxFailures: { count: 0 },
    canarySettleMs: 50,
    waveSettleMs: 50,
    concurrency: 4,
    readTimeoutMs: 10_000,
    statePath: join(dir, "state.json"),
    env,
    run: { pollMs: 10, settleMs: 300, swapTimeoutMs: 20_000 },
    ...more,
  };
}
