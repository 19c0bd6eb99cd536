import { ConsoleHost } from "./console.js";
import type { Timer } from "./clock.js";
import { bad, type Rec } from "./menus.js";
import type { RouterSimulator } from "./router.js";
import { Interpreter, type RunResult } from "./script/run.js";
import { parseTime, type Value } from "./script/value.js";

/*
 * /system/script, /system/script/job and /system/scheduler on the simulated
 * router, and the scripts they run (src/routeros/simulator/script/). A run
 * is a job while it lasts; a reboot cuts every run where it stands (the
 * next command it would run never starts) and then runs the scheduler
 * entries with start-time=startup, as RouterOS does at boot (MikroTik's
 * scheduler manual: "startup" runs the script 3 s after the system starts).
 */

export class Halted extends Error {
  constructor() {
    super("the router rebooted");
  }
}

interface Job {
  rec: Rec;
  generation: number;
}

export interface ScriptRun {
  /** Resolves when the run ends, however it ends. */
  done: Promise<RunResult>;
}

export class Scripts {
  readonly jobs: Job[] = [];
  /** :global variables; gone at reboot. */
  globals = new Map<string, Value>();
  /** Bumped by a reboot: runs of an older generation stop at their next command. */
  generation = 0;
  private readonly timers = new Map<string, Timer>();
  /** Every finished run, for tests. */
  readonly history: { name: string; result: RunResult }[] = [];
  /** Runs still going (tests wait for them). */
  readonly active = new Set<Promise<RunResult>>();
  /** Test hook, called before each command a script runs: may reboot the router there. */
  onStep?: (script: string, step: number) => void;

  constructor(private readonly sim: RouterSimulator) {}

  /** Runs source as a job; `name` is the /system/script it came from, if any. */
  run(source: string, name = "", mode: "script" | "import" = "script"): ScriptRun {
    const sim = this.sim;
    const generation = this.generation;
    const job: Job = { rec: { ".id": sim.newId("system/script/job"), script: name, type: "command", owner: "admin", started: sim.timestamp() }, generation };
    this.jobs.push(job);
    let steps = 0;
    const host = new ConsoleHost(sim, {
      step: () => {
        if (this.generation === generation) this.onStep?.(name, ++steps);
        if (this.generation !== generation) throw new Halted();
      },
    });
    const it = new Interpreter(host, this.globals);
    const done = (async (): Promise<RunResult> => {
      let result: RunResult;
      try {
        result = mode === "import" ? await it.runImport(source) : await it.runScript(source);
      } catch (e) {
        if (!(e instanceof Halted)) {
          this.finish(job);
          throw e;
        }
        result = { output: it.output, error: "cut short: the router rebooted" };
      }
      if (result.error && this.generation === generation) sim.log("script,error", `${name ? `${name}: ` : ""}${result.error}`);
      this.finish(job);
      this.history.push({ name, result });
      return result;
    })();
    this.active.add(done);
    const forget = () => this.active.delete(done);
    done.then(forget, forget);
    return { done };
  }

  private finish(job: Job): void {
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
  }

  /** /system/script/run: by name or id. */
  runNamed(ref: string): ScriptRun {
    const s = this.sim.list("system/script").find((x) => x.name === ref || x[".id"] === ref);
    if (!s) throw bad(`no such item (${ref})`);
    s["run-count"] = String(Number(s["run-count"] ?? "0") + 1);
    s["last-started"] = this.sim.timestamp();
    return this.run(s.source ?? "", s.name!);
  }

  /** Arms (or re-arms) a scheduler entry's interval. */
  schedule(entry: Rec): void {
    this.unschedule(entry[".id"]!);
    if (entry.disabled === "true") return;
    const every = parseTime(entry.interval ?? "") ?? 0;
    if (every <= 0) return;
    const fire = () => {
      const still = this.sim.list("system/scheduler").find((x) => x[".id"] === entry[".id"]);
      if (!still || still.disabled === "true") return;
      still["run-count"] = String(Number(still["run-count"] ?? "0") + 1);
      this.run(still["on-event"] ?? "", "").done.catch(() => undefined);
      this.timers.set(entry[".id"]!, this.sim.clock.setTimer(every, fire));
    };
    this.timers.set(entry[".id"]!, this.sim.clock.setTimer(every, fire));
  }

  unschedule(id: string): void {
    const t = this.timers.get(id);
    if (t) this.sim.clock.clearTimer(t);
    this.timers.delete(id);
  }

  /** What a reboot does to scripts: every run stops, globals go, startup entries run and intervals start again. */
  reboot(): ScriptRun[] {
    this.generation++;
    this.jobs.length = 0;
    this.globals = new Map();
    for (const t of this.timers.values()) this.sim.clock.clearTimer(t);
    this.timers.clear();
    const runs: ScriptRun[] = [];
    for (const e of this.sim.list("system/scheduler")) {
      if (e.disabled === "true") continue;
      if (e["start-time"] === "startup") runs.push(this.run(e["on-event"] ?? "", ""));
      else this.schedule(e);
    }
    return runs;
  }
}
