import { spawn } from "node:child_process";
import { CommandError, MissingToolError } from "../errors.js";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called for each line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Bytes to write to the child's stdin. */
  input?: string | Uint8Array;
  /** How much output to keep for error messages. */
  tailLines?: number;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(quote).join(" ");
}

/** Runs a program to completion; throws CommandError with the output's tail on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const tail: string[] = [];
    const keep = opts.tailLines ?? 30;
    const partial = { stdout: "", stderr: "" };
    const feed = (stream: "stdout" | "stderr", chunk: Buffer) => {
      (stream === "stdout" ? out : err).push(chunk);
      const text = partial[stream] + chunk.toString("utf8");
      const lines = text.split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > keep) tail.shift();
        opts.onLine?.(line, stream);
      }
    };
    child.stdout!.on("data", (c: Buffer) => feed("stdout", c));
    child.stderr!.on("data", (c: Buffer) => feed("stderr", c));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (e.code === "ENOENT") reject(new MissingToolError(cmd, "not found on PATH", "mikrotik-tailscale doctor --fix"));
      else reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      for (const s of ["stdout", "stderr"] as const) {
        if (partial[s]) {
          tail.push(partial[s]);
          if (tail.length > keep) tail.shift();
          opts.onLine?.(partial[s], s);
        }
      }
      const result = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
      if (code === 0) resolve(result);
      else reject(new CommandError(commandLine(cmd, args), signal ? null : code, tail.join("\n")));
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like run, but returns null instead of throwing when the program is missing or fails. */
export async function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult | null> {
  try {
    return await run(cmd, args, opts);
  } catch {
    return null;
  }
}
