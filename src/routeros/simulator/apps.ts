import { parse as parseYaml } from "yaml";
import type { Container } from "./containers.js";
import { bad, type Rec } from "./menus.js";
import type { RouterSimulator } from "./router.js";

/*
 * A custom /app (7.22+): its YAML's services become containers on a veth of
 * the app's own, `veth-app-<name>` (FIELD-NOTES section 12: the /app row's
 * `interface` reports it), addressed from a network /app picks (the
 * 172.19.0.0/24 here is made up, as is the containers' naming: a script must
 * find them through the app's interface, not by name). /app needs
 * /app/settings disk first, and starts what it extracted.
 */

export interface App {
  rec: Rec;
  containers: Container[];
}

export class Apps {
  readonly all: App[] = [];

  constructor(private readonly sim: RouterSimulator) {}

  byId(id: string): App {
    const a = this.all.find((x) => x.rec[".id"] === id);
    if (!a) throw bad(`no such item (${id})`);
    return a;
  }

  add(rec: Rec): string {
    const disk = this.sim.singleView("app/settings", "rest").disk;
    if (!disk) throw bad("failure: set /app/settings disk first");
    if (!rec.yaml) throw bad("missing value(s) of argument(s) yaml");
    const app: App = { rec: { ".id": this.sim.newId("app"), name: "", disabled: "false", yaml: rec.yaml, network: rec.network ?? "default" }, containers: [] };
    this.replace(app, rec.yaml);
    if (this.all.some((a) => a.rec.name === app.rec.name)) throw bad(`failure: app ${app.rec.name} already exists`);
    this.all.push(app);
    return app.rec[".id"]!;
  }

  replace(app: App, yaml: string): void {
    const sim = this.sim;
    let doc: { name?: string; services?: Record<string, { image?: string }> };
    try {
      doc = parseYaml(yaml) as typeof doc;
    } catch (e) {
      throw bad(`failure: invalid yaml: ${(e as Error).message}`);
    }
    if (!doc?.name || !doc.services || typeof doc.services !== "object") throw bad("failure: invalid yaml: name and services are required");
    if (app.rec.name && app.rec.name !== doc.name) throw bad("failure: the app's name cannot change");
    this.dropContainers(app);
    app.rec.name = doc.name;
    app.rec.yaml = yaml;
    const veth = `veth-app-${doc.name}`;
    const n = this.all.indexOf(app) >= 0 ? this.all.indexOf(app) : this.all.length;
    const address = `172.19.0.${n + 2}/24`;
    if (!sim.list("interface/veth").some((v) => v.name === veth)) sim.list("interface/veth").push({ ".id": sim.newId("interface/veth"), disabled: "false", running: "true", name: veth, address, gateway: "172.19.0.1", gateway6: "" });
    app.rec.interface = veth;
    app.rec["ip-address"] = address.split("/")[0]!;
    const disk = sim.singleView("app/settings", "rest").disk!;
    for (const [service, s] of Object.entries(doc.services)) {
      if (!s?.image) throw bad(`failure: invalid yaml: service ${service} has no image`);
      const c = sim.containers.add(
        { name: `app-${doc.name}-${service}`, "remote-image": s.image, interface: veth, "root-dir": `${disk}/apps/${doc.name}/${service}`, logging: "true", "start-on-boot": "true" },
        { app: doc.name },
      );
      app.containers.push(c);
      const startWhenExtracted = () => {
        if (!sim.containers.all.includes(c)) return;
        if (c.state === "extracting") c.timer = sim.clock.setTimer(50, startWhenExtracted);
        else if (c.state === "stopped") sim.containers.start(c);
      };
      sim.clock.setTimer((sim.opts.extractMs ?? 300) + 1, startWhenExtracted);
    }
  }

  remove(app: App): void {
    this.dropContainers(app);
    this.all.splice(this.all.indexOf(app), 1);
  }

  private dropContainers(app: App): void {
    for (const c of app.containers) {
      if (!this.sim.containers.all.includes(c)) continue;
      if (c.timer) this.sim.clock.clearTimer(c.timer);
      c.state = "stopped";
      this.sim.containers.remove(c);
    }
    app.containers = [];
  }

  view(a: App): Rec {
    const running = a.containers.length > 0 && a.containers.every((c) => c.state === "running");
    const failed = a.containers.some((c) => c.state === "error");
    return { ...a.rec, running: String(running), status: failed ? "error" : running ? "running" : "starting" };
  }
}
