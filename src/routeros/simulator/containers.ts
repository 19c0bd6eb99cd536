import { randomBytes } from "node:crypto";
import { routerArchitecture } from "../config.js";
import { imageMatchesArch, imagePlatform, parseDockerArchive, type ImageInfo } from "../image.js";
import type { ContainerState } from "../schema/state.js";
import { FLAG, STATUS_PROP } from "../schema/state.js";
import type { Timer } from "./clock.js";
import { bad, type Rec } from "./menus.js";
import type { RouterSimulator } from "./router.js";

/*
 * Containers on the simulated router: added (the image is read from a file
 * or a registry), extracted, started, stopped, removed, with RouterOS's
 * rules: a running container is stopped before it changes or goes; an
 * interface serves one running container; a container needs DNS to start.
 *
 * Internally a container has one state; what a reply shows depends on the
 * release: `status` up to 7.19, flags from 7.20/7.21 on. Over REST a flags
 * release shows `running` as "true"/"false" and no `stopped` key (the one
 * REST detail on record, tikoci/routeros-skills routeros-container); that
 * the other flags appear only while set is inferred. A script `get` of any
 * flag the release's data lists returns true or false.
 */

export interface Container {
  /** Configuration as set (normalized strings), plus .id and name. */
  rec: Rec;
  state: ContainerState;
  image?: ImageInfo;
  /** What the router read from the image: tag, os, arch, image-id. */
  info: Rec;
  health?: "starting" | "healthy" | "unhealthy";
  healthOutput?: string;
  restartCount: number;
  timer?: Timer;
  /** Set by /app: the app that owns it. */
  app?: string;
}

export class Containers {
  readonly all: Container[] = [];

  constructor(private readonly sim: RouterSimulator) {}

  byId(id: string | undefined): Container {
    const c = this.all.find((x) => x.rec[".id"] === id || x.rec.name === id);
    if (!c) throw bad(`no such item (${id ?? "missing .id"})`);
    return c;
  }

  /** Flags a release reports, true or false, from a container's one state. */
  private flags(c: Container): Record<string, boolean> {
    const s = c.state;
    const f: Record<string, boolean> = {
      [FLAG.running]: s === "running",
      [FLAG.stopped]: s === "stopped",
      [FLAG.starting]: s === "starting",
      [FLAG.stopping]: s === "stopping",
      [FLAG.extracting]: s === "extracting",
      [FLAG.extractFailed]: s === "error",
      [FLAG.deleting]: s === "deleting",
    };
    if (c.rec["healthcheck-cmd"]) {
      f[FLAG.healthy] = s === "running" && c.health === "healthy";
      f[FLAG.unhealthy] = s === "running" && c.health === "unhealthy";
      f[FLAG.startingWithHealthcheck] = s === "running" && c.health === "starting";
    }
    return f;
  }

  /** Everything the router knows about a container, before the release's readable list filters it. */
  private facts(c: Container): Rec {
    const out: Rec = { ...c.rec, ...c.info, "restart-count": String(c.restartCount) };
    if (c.state === "running") out["memory-current"] = String(24 * 1024 * 1024);
    if (c.rec["healthcheck-cmd"]) {
      out["healthcheck-status"] = c.health === "healthy" ? `good, output: ${c.healthOutput ?? ""}` : c.health === "unhealthy" ? `bad, output: ${c.healthOutput ?? ""}` : "";
    }
    return out;
  }

  /** A container as a REST reply shows it. */
  restView(c: Container): Rec {
    const out = this.facts(c);
    if (this.sim.stateForm === "status") out[STATUS_PROP] = c.state === "deleting" ? "stopping" : c.state;
    else {
      for (const [k, v] of Object.entries(this.flags(c))) {
        if (k === FLAG.running) out[k] = String(v);
        else if (v && k !== FLAG.stopped) out[k] = "true";
      }
    }
    return this.sim.readableView("container", out);
  }

  /** A container as a script's `get` and `print as-value` see it: flags as booleans. */
  scriptView(c: Container): Record<string, string | boolean> {
    const out: Record<string, string | boolean> = this.facts(c);
    if (this.sim.stateForm === "status") out[STATUS_PROP] = c.state;
    else Object.assign(out, this.flags(c));
    const allowed = this.sim.readable("container");
    if (!allowed) return out;
    const view: Record<string, string | boolean> = { ".id": c.rec[".id"]! };
    for (const [k, v] of Object.entries(out)) if (allowed.props.has(k)) view[k] = v;
    // A flag the release reports but this container lacks (health without a check) reads false.
    for (const f of Object.values(FLAG)) if (allowed.props.has(f) && !(f in view) && this.sim.stateForm === "flags") view[f] = false;
    return view;
  }

  add(rec: Rec, opts: { app?: string } = {}): Container {
    const sim = this.sim;
    if ((rec.file ? 1 : 0) + (rec["remote-image"] ? 1 : 0) !== 1) throw bad("give exactly one of file or remote-image");
    if (!rec.interface || !sim.list("interface/veth").some((v) => v.name === rec.interface)) throw bad("input does not match any value of interface");
    if (rec.file) {
      rec.file = rec.file.replace(/^\/+/, "");
      if (!sim.files.find(rec.file)) throw bad(`failure: file ${rec.file} does not exist`);
    }
    // Before 7.19 a container cannot be named: RouterOS makes its name up.
    rec.name ||= sim.syntax.containerKey === "name" ? `container${this.all.length + 1}` : randomBytes(8).toString("hex");
    rec["root-dir"] = (rec["root-dir"] || `containers/${rec.name}`).replace(/^\/+/, "");
    if (this.all.some((c) => c.rec.name === rec.name)) throw bad(`failure: container with name ${rec.name} already exists`);
    if (this.all.some((c) => c.rec["root-dir"] === rec["root-dir"])) throw bad(`failure: root-dir ${rec["root-dir"]} is used by another container`);
    const full: Rec = { ".id": sim.newId("container"), name: rec.name, ...this.defaults(), ...rec };
    const c: Container = { rec: full, state: "extracting", info: { tag: "", os: "", arch: "", "image-id": "" }, restartCount: 0, app: opts.app };
    this.all.push(c);
    sim.log("container,info", `${full.name}: import started`);
    c.timer = sim.clock.setTimer(sim.opts.extractMs ?? 300, () => this.finishExtract(c));
    return c;
  }

  /** Empty values a fresh container shows for what this release has. */
  private defaults(): Rec {
    const out: Rec = {};
    for (const k of this.sim.accepted("container/add")) {
      if (k === "file" || k === "remote-image") continue;
      out[k] = /^(memory-|swap-max|shm-size)/.test(k) ? "unlimited" : k === "restart-policy" ? "no" : "";
    }
    for (const k of ["logging", "start-on-boot"]) if (k in out) out[k] = "false";
    return out;
  }

  set(c: Container, body: Rec): void {
    const keys = Object.keys(body).filter((k) => k !== ".id");
    if (c.state !== "stopped" && c.state !== "error" && keys.some((k) => k !== "comment")) {
      throw bad(`failure: container ${c.rec.name} is ${c.state}; stop it first`);
    }
    for (const k of keys) {
      if (k === "file" || k === "remote-image" || k === "root-dir") throw bad(`failure: ${k} cannot be changed; remove and add the container again`);
      const v = body[k]!;
      if (k === "name" && this.all.some((x) => x !== c && x.rec.name === v)) throw bad(`failure: container with name ${v} already exists`);
      if (k === "interface" && !this.sim.list("interface/veth").some((x) => x.name === v)) throw bad("input does not match any value of interface");
      c.rec[k] = v;
    }
  }

  remove(c: Container): void {
    if (["running", "starting", "stopping"].includes(c.state)) throw bad(`failure: container ${c.rec.name} is ${c.state}; stop it first`);
    if (c.timer) this.sim.clock.clearTimer(c.timer);
    this.all.splice(this.all.indexOf(c), 1);
    this.sim.files.removeTree(c.rec["root-dir"]!);
  }

  private finishExtract(c: Container): void {
    const sim = this.sim;
    if (!this.all.includes(c)) return;
    let buf: Buffer | undefined;
    if (c.rec.file) buf = sim.files.find(c.rec.file)?.data;
    else buf = sim.opts.registry?.[c.rec["remote-image"]!];
    if (!buf) {
      c.state = "error";
      sim.log("container,error", `${c.rec.name}: ${c.rec.file ? `could not read ${c.rec.file}` : `could not pull ${c.rec["remote-image"]}`}`);
      return;
    }
    try {
      c.image = parseDockerArchive(buf, c.rec.file ?? c.rec["remote-image"]);
    } catch (e) {
      c.state = "error";
      sim.log("container,error", `${c.rec.name}: import failed: ${(e as Error).message}`);
      return;
    }
    c.info.tag = c.rec["remote-image"] ?? c.image.repoTags[0] ?? "";
    c.info.os = c.image.os;
    c.info.arch = c.image.architecture + (c.image.variant ? `/${c.image.variant}` : "");
    c.info["image-id"] = c.image.configDigest ?? "";
    c.state = "stopped";
    sim.files.addDir(c.rec["root-dir"]!);
    sim.log("container,info", `${c.rec.name}: import successful`);
  }

  private envFor(c: Container): Rec {
    const s = this.sim.syntax;
    const lists = (c.rec[s.containerEnvField] ?? "").split(",").filter(Boolean);
    const env: Rec = {};
    for (const e of this.sim.list("container/envs")) if (lists.includes(e[s.envsListKey]!)) env[e.key!] = e.value ?? "";
    return env;
  }

  start(c: Container): void {
    const sim = this.sim;
    if (c.state === "running" || c.state === "starting") return;
    if (c.state !== "stopped") throw bad(`failure: container ${c.rec.name} is ${c.state}`);
    if (!sim.hasDns() && !c.rec.dns) throw bad("failure: no DNS servers: set /ip/dns servers or the container's dns");
    const busy = this.all.find((x) => x !== c && x.rec.interface === c.rec.interface && ["running", "starting"].includes(x.state));
    if (busy) throw bad(`failure: interface ${c.rec.interface} is in use by container ${busy.rec.name}`);
    const s = sim.syntax;
    for (const m of sim.list("container/mounts")) {
      const lists = (c.rec[s.containerMountsField] ?? "").split(",");
      if (lists.includes(m[s.mountsListKey]!)) sim.files.addDir(m.src!.replace(/^\/+/, ""));
    }
    c.state = "starting";
    c.timer = sim.clock.setTimer(sim.opts.startMs ?? 200, () => {
      if (c.state !== "starting") return;
      const archOk = !c.image || imageMatchesArch(c.image, routerArchitecture(sim.arch)!);
      const reason = !archOk ? `exec format error (image is ${imagePlatform(c.image!)})` : sim.opts.failStart?.({ ...c.rec, ...c.info }, c.image);
      if (reason) {
        c.state = "stopped";
        if (c.rec.logging === "true") sim.log("container,info,debug", `${c.rec.name}: ${reason}`);
        sim.log("container,info", `${c.rec.name}: exited with status 1`);
        return;
      }
      c.state = "running";
      sim.log("container,info", `${c.rec.name}: started`);
      if (c.rec.logging === "true") this.tailscaleLogs(c);
      if (c.rec["healthcheck-cmd"]) {
        c.health = "starting";
        sim.clock.setTimer(sim.opts.startMs ?? 200, () => {
          if (c.state !== "running") return;
          const failing = sim.opts.failHealth?.({ ...c.rec, ...c.info }, c.image);
          c.health = failing ? "unhealthy" : "healthy";
          c.healthOutput = typeof failing === "string" ? failing : failing ? "tailscaled not answering (no reply within 5s)" : "Running";
        });
      }
    });
  }

  private tailscaleLogs(c: Container): void {
    const env = this.envFor(c);
    const v = /^v?(\d+\.\d+\.\d+)/.exec(c.image?.version ?? "")?.[1] ?? "0.0.0";
    const say = (m: string) => this.sim.log("container,info,debug", m);
    say(`Program starting: v${v}, Go 1.26.0: ["tailscaled" "--state=/var/lib/tailscale/tailscaled.state"]`);
    if (env.TS_AUTHKEY) {
      say("Switching ipn state NoState -> Starting (WantRunning=true, nm=true)");
      say("Switching ipn state Starting -> Running (WantRunning=true, nm=true)");
    } else {
      say("Switching ipn state NoState -> NeedsLogin (WantRunning=false, nm=false)");
      say(`To authenticate, visit: https://login.example.invalid/a/${randomBytes(6).toString("hex")}`);
    }
  }

  stop(c: Container): void {
    const sim = this.sim;
    if (c.state === "stopped") return;
    if (c.state !== "running" && c.state !== "starting") throw bad(`failure: container ${c.rec.name} is ${c.state}`);
    if (c.timer) sim.clock.clearTimer(c.timer);
    c.state = "stopping";
    c.health = undefined;
    c.timer = sim.clock.setTimer(sim.opts.stopMs ?? 100, () => {
      c.state = "stopped";
      sim.log("container,info", `${c.rec.name}: stopped`);
    });
  }
}
