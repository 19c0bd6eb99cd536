/**
 * A throw-away network lab for end-to-end tests: network namespaces joined by
 * veth pairs, with addresses only inside them. Every namespace, link, process
 * and directory a Lab creates carries its unique prefix and is removed by
 * `cleanup()`, which is safe to call more than once and also runs when the
 * test process is interrupted. Needs root.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with a hard time limit; never throws for a non-zero exit. */
export function runCmd(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? { ...process.env, PATH: `${process.env.PATH ?? ""}:${SYS_PATH}` },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: stderr + String(e) });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like runCmd, but a non-zero exit is an error naming the command and its output. */
export async function mustRun(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await runCmd(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.signal ?? `exit ${r.code}`}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Thrown from a waitFor check: stop polling at once (the thing waited for cannot happen any more). */
export class StopWaiting extends Error {}

/** Polls `check` until it returns a value that is not undefined, or throws `message` after `timeoutMs`. */
export async function waitFor<T>(message: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof StopWaiting) throw new Error(`${message}: ${e.message}`);
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`${message} (gave up after ${Math.round(timeoutMs / 1000)}s${last ? `; last error: ${(last as Error).message ?? last}` : ""})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface LabProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code (or signal name) once it ended. */
  readonly exited: Promise<number | string>;
}

const live = new Set<Lab>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const sync = () => {
    for (const lab of live) lab.cleanupSync();
  };
  process.on("exit", sync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      sync();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

export class Lab {
  /** Short unique prefix: namespace names start with it, link names too (Linux allows 15 characters). */
  readonly prefix: string;
  /** A private temporary directory, removed by cleanup. */
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs: LabProcess[] = [];
  private readonly cleanups: Array<{ sync: () => void }> = [];
  private done = false;

  constructor(tag = "mte") {
    this.prefix = `${tag}${randomBytes(2).toString("hex")}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    live.add(this);
    hookExit();
  }

  /** The full namespace name for a short role name. */
  ns(role: string): string {
    return `${this.prefix}-${role}`;
  }

  async addNamespace(role: string, opts: { forwarding?: boolean } = {}): Promise<string> {
    const name = this.ns(role);
    await mustRun("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    await this.exec(role, ["ip", "link", "set", "lo", "up"]);
    if (opts.forwarding) {
      await this.exec(role, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    }
    return name;
  }

  /**
   * Joins two namespaces with a veth pair. `a` and `b` are "role=address/len"
   * ("role=" for no address: a link to bridge into a VM); the link in each is
   * named <prefix><tag><0|1>.
   */
  async link(tag: string, a: string, b: string): Promise<{ ifA: string; ifB: string }> {
    const [roleA, addrA] = a.split("=") as [string, string];
    const [roleB, addrB] = b.split("=") as [string, string];
    const ifA = `${this.prefix}${tag}0`;
    const ifB = `${this.prefix}${tag}1`;
    if (ifA.length > 15) throw new Error(`link name ${ifA} is too long`);
    await mustRun("ip", ["link", "add", ifA, "netns", this.ns(roleA), "type", "veth", "peer", "name", ifB, "netns", this.ns(roleB)]);
    for (const [role, ifc, addr] of [
      [roleA, ifA, addrA],
      [roleB, ifB, addrB],
    ] as const) {
      if (addr) await this.exec(role, ["ip", "addr", "add", addr, "dev", ifc]);
      await this.exec(role, ["ip", "link", "set", ifc, "up"]);
    }
    return { ifA, ifB };
  }

  /** Runs a command inside a namespace; throws on a non-zero exit. */
  exec(role: string, argv: readonly string[], timeoutMs = 30_000): Promise<string> {
    return mustRun("ip", ["netns", "exec", this.ns(role), ...argv], { timeoutMs });
  }

  /** Like exec, but returns the result instead of throwing. */
  tryExec(role: string, argv: readonly string[], timeoutMs = 30_000): Promise<CmdResult> {
    return runCmd("ip", ["netns", "exec", this.ns(role), ...argv], { timeoutMs });
  }

  /**
   * Starts a long-running process (inside a namespace when `role` is given)
   * in its own process group; cleanup kills exactly that group.
   */
  spawn(name: string, role: string | null, argv: readonly string[], env?: NodeJS.ProcessEnv): LabProcess {
    const full = role ? ["ip", "netns", "exec", this.ns(role), ...argv] : [...argv];
    const child = spawn(full[0]!, full.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      env: env ?? { ...process.env, PATH: `${process.env.PATH ?? ""}:${SYS_PATH}` },
    });
    let out = "";
    const keep = (d: Buffer) => {
      out += d.toString("utf8");
      if (out.length > 4_000_000) out = out.slice(-2_000_000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const exited = new Promise<number | string>((resolve) => {
      child.on("error", (e) => {
        out += `\n[spawn error: ${String(e)}]`;
        resolve(127);
      });
      child.on("close", (code, signal) => resolve(code ?? signal ?? -1));
    });
    const p: LabProcess = { name, child, output: () => out, exited };
    this.procs.push(p);
    return p;
  }

  /** Registers extra synchronous cleanup (runs before namespaces are deleted, in reverse order). */
  onCleanup(sync: () => void): void {
    this.cleanups.push({ sync });
  }

  /** Kills every process this lab started, runs registered cleanups, deletes its namespaces and directory. */
  async cleanup(): Promise<void> {
    this.cleanupSync();
  }

  cleanupSync(): void {
    if (this.done) return;
    this.done = true;
    live.delete(this);
    for (const c of [...this.cleanups].reverse()) {
      try {
        c.sync();
      } catch {
        /* keep cleaning */
      }
    }
    for (const p of this.procs) {
      if (p.child.pid && p.child.exitCode === null && p.child.signalCode === null) {
        try {
          process.kill(-p.child.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
    for (const ns of this.namespaces.reverse()) {
      // Processes we did not start cannot live in these namespaces, but a
      // straggler of ours (a container's child) might: kill what is there.
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8", env: { PATH: SYS_PATH } }).stdout ?? "";
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* gone */
        }
      }
      spawnSync("ip", ["netns", "del", ns], { env: { PATH: SYS_PATH } });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
