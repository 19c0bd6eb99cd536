import { contains, parseInterfaceAddress, parseIp, parsePrefix } from "../net.js";
import type { Syntax } from "../schema/model.js";
import type { RouterSimulator } from "./router.js";

/*
 * The plain list menus the simulator keeps (everything but containers,
 * files, scripts and the scheduler): which fields are required or unique,
 * what a new row shows, and the checks RouterOS makes on values. The
 * properties each menu accepts come from the release's command tree; the
 * values' kinds from the catalogue (src/routeros/schema/catalogue.ts).
 */

export type Rec = Record<string, string>;

export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
  ) {
    super(detail ?? String(status));
  }
}

export const bad = (detail: string) => new SimError(400, detail);

export interface MenuDef {
  required?: string[];
  defaults?: Rec;
  /** Field sets that must be unique together. */
  unique?: string[][];
  validate?(item: Rec, sim: RouterSimulator, existing?: Rec): void;
  /** Values RouterOS computes (a route's active flag). */
  computed?(item: Rec, sim: RouterSimulator): Rec;
}

export function listMenus(syntax: Syntax): Record<string, MenuDef> {
  const iface = (name: string, sim: RouterSimulator) =>
    sim.list("interface/veth").some((i) => i.name === name) ||
    sim.list("interface/bridge").some((i) => i.name === name) ||
    sim.list("interface/ethernet").some((i) => i.name === name);
  return {
    "interface/ethernet": { required: ["name"], unique: [["name"]], defaults: { disabled: "false", running: "true" } },
    "interface/veth": {
      required: ["name"],
      unique: [["name"]],
      defaults: { disabled: "false", running: "true", gateway: "", gateway6: "" },
      validate(i) {
        for (const a of (i.address ?? "").split(",").filter(Boolean)) {
          if (!parseInterfaceAddress(a)) throw bad(`invalid value for argument address: ${a}`);
        }
        if (i.gateway && !parseIp(i.gateway)) throw bad(`invalid value for argument gateway: ${i.gateway}`);
      },
    },
    "interface/bridge": {
      required: ["name"],
      unique: [["name"]],
      defaults: { disabled: "false", "protocol-mode": "rstp", "vlan-filtering": "false", running: "true" },
    },
    "interface/bridge/port": {
      required: ["bridge", "interface"],
      unique: [["interface"]],
      defaults: { disabled: "false", pvid: "1" },
      validate(i, sim) {
        if (!sim.list("interface/bridge").some((b) => b.name === i.bridge)) throw bad(`input does not match any value of bridge`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
      },
    },
    "interface/list": { required: ["name"], unique: [["name"]] },
    "interface/list/member": {
      required: ["list", "interface"],
      unique: [["list", "interface"]],
      defaults: { disabled: "false" },
      validate(i, sim) {
        if (!sim.list("interface/list").some((l) => l.name === i.list)) throw bad(`input does not match any value of list`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
      },
    },
    "ip/address": {
      required: ["address", "interface"],
      defaults: { disabled: "false", dynamic: "false", invalid: "false" },
      validate(i, sim) {
        const a = parseInterfaceAddress(i.address ?? "");
        if (!a || a.family !== 4) throw bad(`invalid value for argument address: ${i.address}`);
        if (!iface(i.interface!, sim)) throw bad(`input does not match any value of interface`);
        i.network = a.prefix.text.split("/")[0]!;
        i["actual-interface"] = i.interface!;
      },
    },
    "ip/route": {
      required: ["gateway"],
      defaults: { "dst-address": "0.0.0.0/0", distance: "1", disabled: "false", "routing-table": "main", dynamic: "false", static: "true" },
      validate(i) {
        if (!parsePrefix(i["dst-address"] ?? "")) throw bad(`invalid value for argument dst-address: ${i["dst-address"]}`);
      },
      computed(i, sim) {
        const gw = parseIp(i.gateway ?? "");
        const reachable =
          !!gw &&
          sim.list("ip/address").some((a) => {
            const p = parseInterfaceAddress(a.address ?? "");
            return !!p && contains(p.prefix, gw.family, gw.value);
          });
        return { active: String(reachable && i.disabled !== "true"), "immediate-gw": reachable ? `${i.gateway}%${sim.ifaceFor(i.gateway!)}` : "" };
      },
    },
    "ip/dns/static": {
      required: ["name"],
      defaults: { type: "A", disabled: "false", "match-subdomain": "false", ttl: "1d" },
      validate(i) {
        if (i.type === "FWD" && !i["forward-to"]) throw bad("missing forward-to for type FWD");
      },
    },
    disk: {
      required: ["type"],
      unique: [["slot"]],
      validate(i, sim, existing) {
        if (existing && existing.type !== i.type) throw bad("failure: cannot change disk type");
        if (i.type !== "tmpfs") throw bad("only type=tmpfs disks can be added");
        if (!i.slot) i.slot = `tmpfs${sim.list("disk").length + 1}`;
        i.size = i["tmpfs-max-size"] ?? "0";
        i.fs = "tmpfs";
      },
    },
    "container/envs": {
      required: [syntax.envsListKey, "key"],
      unique: [[syntax.envsListKey, "key"]],
      defaults: { value: "", disabled: "false" },
    },
    "container/mounts": {
      required: [syntax.mountsListKey, "src", "dst"],
      unique: syntax.mountsListKey === "name" ? [["name"]] : [["list", "dst"]],
      defaults: { disabled: "false", ...(syntax.mountAccess === "mode" ? { mode: "rw" } : { "read-only": "false" }) },
      validate(i) {
        if (!i.dst!.startsWith("/")) throw bad("dst must be an absolute path");
      },
    },
  };
}
