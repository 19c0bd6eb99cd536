/**
 * `fleet status` over many simulated routers: the wall time and the peak
 * memory of the tool (the CLI as a user runs it, in its own process), with
 * the routers simulated in this one, each on its own HTTPS port. The routers
 * are deployed first (by the library), so every status read finds a
 * container, an env list and tailscaled's log lines, as on a real fleet.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRouterConfig } from "../../src/routeros/config.js";
import { deploy } from "../../src/routeros/deploy.js";
import { mapBounded } from "../../src/routeros/fleet/runner.js";
import { passwordEnvName } from "../../src/routeros/fleet/settings.js";
import { RestClient } from "../../src/routeros/rest.js";
import { selfSignedCertificate } from "../../src/routeros/simulator/cert.js";
import { startSimulator, type RunningSimulator } from "../../src/routeros/simulator/server.js";
import { fixtureFileName, makeFixtureImage } from "../../test/support/routeros-fixture.js";

export interface FleetRun {
  /** From spawning the CLI to its exit: node's start, tsx, reading the inventory, every router. */
  wallMs: number;
  /** The CLI process's peak resident set (getrusage ru_maxrss). */
  maxRssKiB: number;
  rowsRead: number;
  exitCode: number;
}

export interface FleetSectionData {
  routers: number;
  concurrency: number;
  versions: string[];
  arches: string[];
  runs: FleetRun[];
  /** `routeros fleet --help`: what starting the tool alone costs. */
  startup: FleetRun;
  /** How the routers were simulated. */
  note: string;
}

const LINES = ["7.19", "7.19.4", "7.20", "7.20.8", "7.21.2", "7.21.5", "7.22", "7.22.3", "7.23", "7.23.3", "7.24", "7.25.1", "7.26beta1"];
const ARCHES = ["arm64", "arm", "x86", "arm32v5"];
const ARCH_NAME: Record<string, "arm64" | "armv7" | "amd64" | "armv5"> = { arm64: "arm64", arm: "armv7", x86: "amd64", arm32v5: "armv5" };
// Reports the process's own rusage on fd 3 as it exits: the tool's peak memory, not the benchmark's.
const RUSAGE_HOOK = `data:text/javascript,${encodeURIComponent('import { writeSync } from "node:fs"; process.on("exit", () => { try { writeSync(3, JSON.stringify(process.resourceUsage())); } catch {} });')}`;

function runCli(cliDir: string, args: string[], env: NodeJS.ProcessEnv): Promise<FleetRun & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ["--import", RUSAGE_HOOK, "bin/mikrotik-tailscale.js", ...args], { cwd: cliDir, env, stdio: ["ignore", "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let usage = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (c) => (usage += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      let maxRssKiB = 0;
      try {
        maxRssKiB = (JSON.parse(usage) as { maxRSS: number }).maxRSS;
      } catch {
        reject(new Error(`the CLI reported no resource usage (exit ${code}): ${stderr.slice(-500)}`));
        return;
      }
      let rowsRead = 0;
      try {
        rowsRead = (JSON.parse(stdout) as { routers: { ok: boolean }[] }).routers.filter((r) => r.ok).length;
      } catch {
        // --help prints no JSON
      }
      resolve({ wallMs, maxRssKiB, rowsRead, exitCode: code ?? -1, stdout, stderr });
    });
  });
}

export async function measureFleetStatus(o: { cliDir: string; routers: number; runs: number; concurrency: number; log: (s: string) => void }): Promise<FleetSectionData> {
  const dir = await mkdtemp(join(tmpdir(), "mt-bench-fleet-"));
  const tls = selfSignedCertificate(["127.0.0.1", "localhost"]);
  const sims: RunningSimulator[] = [];
  try {
    await writeFile(join(dir, "ca.pem"), tls.cert);
    for (const a of Object.values(ARCH_NAME)) {
      for (const v of ["1.104.1", "1.104.2"]) await writeFile(join(dir, fixtureFileName({ arch: a, tailscaleVersion: v })), makeFixtureImage({ arch: a, tailscaleVersion: v }));
    }
    const config = `
image: { file: "mikrotik-tailscale-1.104.1-{arch}.tar" }
network: { veth: { address: 172.17.0.2/24, gateway: 172.17.0.1 } }
storage: { rootDir: tailscale/root, stateDir: tailscale/state }
tailscale: { authKey: { env: TS_AUTHKEY } }
dns: { forward: [] }
`;
    await writeFile(join(dir, "router.yaml"), config);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TS_AUTHKEY: "tskey-auth-bench" };
    o.log(`  starting ${o.routers} simulated routers`);
    const specs = Array.from({ length: o.routers }, (_, i) => ({ name: `gw-${String(i + 1).padStart(3, "0")}`, version: LINES[i % LINES.length]!, arch: ARCHES[i % ARCHES.length]! }));
    for (const s of specs) {
      const password = `pw-${s.name}`;
      env[passwordEnvName(s.name)] = password;
      sims.push(await startSimulator({ tls, version: s.version, arch: s.arch, user: "admin", password, extractMs: 20, startMs: 20, stopMs: 10 }));
    }
    o.log(`  deploying the container on each (library, 16 at a time)`);
    const deployed = await mapBounded(specs, { concurrency: 16 }, async (s) => {
      const i = specs.indexOf(s);
      const client = new RestClient({ origin: sims[i]!.origin, user: "admin", password: `pw-${s.name}`, ca: tls.cert });
      try {
        const c = parseRouterConfig(`${config}routeros: { version: "${s.version}", arch: ${s.arch} }\n`, "router.yaml", dir);
        await deploy({ client, config: c, planOptions: { resolveSecrets: true, env }, settleMs: 0, pollMs: 20 });
      } finally {
        client.close();
      }
    });
    const bad = deployed.filter((d) => !d?.ok);
    if (bad.length) throw new Error(`${bad.length} routers could not be deployed: ${bad.map((d) => (d && !d.ok ? d.error.message : "not started")).slice(0, 3).join("; ")}`);
    const inventory = join(dir, "fleet.yaml");
    await writeFile(inventory, `config: router.yaml\ndefaults: { ca_file: ca.pem }\nrouters:\n${specs.map((s, i) => `  ${s.name}: { address: "${sims[i]!.origin}" }`).join("\n")}\n`);
    const args = ["routeros", "fleet", "status", "-i", inventory, "--image", join(dir, "mikrotik-tailscale-1.104.2-{arch}.tar"), "--json", "--concurrency", String(o.concurrency)];
    const startup = await runCli(o.cliDir, ["routeros", "fleet", "--help"], env);
    o.log(`  startup alone (routeros fleet --help): ${(startup.wallMs / 1000).toFixed(2)} s, ${(startup.maxRssKiB / 1024).toFixed(1)} MiB`);
    const runs: FleetRun[] = [];
    for (let k = 0; k < o.runs; k++) {
      const r = await runCli(o.cliDir, args, env);
      if (r.rowsRead !== o.routers) throw new Error(`fleet status read ${r.rowsRead} of ${o.routers} routers (exit ${r.exitCode}): ${r.stderr.slice(-500)}`);
      o.log(`  run ${k + 1}: ${(r.wallMs / 1000).toFixed(2)} s, peak RSS ${(r.maxRssKiB / 1024).toFixed(1)} MiB, ${r.rowsRead} rows`);
      runs.push({ wallMs: r.wallMs, maxRssKiB: r.maxRssKiB, rowsRead: r.rowsRead, exitCode: r.exitCode });
    }
    return {
      routers: o.routers,
      concurrency: o.concurrency,
      versions: [...new Set(specs.map((s) => s.version))],
      arches: ARCHES,
      runs,
      startup: { wallMs: startup.wallMs, maxRssKiB: startup.maxRssKiB, rowsRead: 0, exitCode: startup.exitCode },
      note:
        "the routers are RouterOS REST simulators (src/routeros/simulator), all in the benchmark's own process on one event loop, each on its own HTTPS port with a deployed container; " +
        "the tool runs as `bin/mikrotik-tailscale.js` from a clone of the commit (TypeScript through tsx, as in a checkout), its peak RSS from getrusage at its exit",
    };
  } finally {
    await Promise.all(sims.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  }
}
