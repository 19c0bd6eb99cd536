import { existsSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { loadInventory, selectRouters, type Inventory } from "./inventory.js";
import { fleetRouter, loadSharedConfig, routerConfig, type FleetRouter, type SharedConfig, type TargetDefaults } from "./routers.js";

/*
 * Many routers from one inventory: `routeros fleet status|deploy|upgrade`.
 * Everything a run needs is read and checked here, before any router is
 * asked anything: the inventory, the shared config with each router's
 * settings, and each router's credentials.
 */

export { loadInventory, parseInventory, selectRouters, type Inventory, type InventoryRouter } from "./inventory.js";
export { loadSharedConfig, routerConfig, fleetRouter, type FleetRouter, type SharedConfig } from "./routers.js";
export { readFleet, readRouter, Targets, type FleetRow, type Target } from "./read.js";
export { rollout, type RolloutOptions, type RolloutResult, type RouterResult, type RolloutEvent } from "./rollout.js";
export { parseAmount, planRollout, type Amount } from "./plan.js";
export { formatFleetStatus, formatRollout, rolloutAdvice } from "./table.js";
export { mapBounded } from "./runner.js";
export { passwordEnvName } from "./settings.js";

export interface FleetLoadOptions extends TargetDefaults {
  inventory: string;
  /** -c: the shared config; else the inventory's `config:`, else router.yaml if there is one. */
  config?: string;
  limit?: string;
  /** deploy and upgrade cannot do without the shared config; status can (it then has no target). */
  requireConfig: boolean;
}

export interface Fleet {
  inventory: Inventory;
  shared?: SharedConfig;
  routers: FleetRouter[];
  warnings: string[];
}

export function loadFleet(o: FleetLoadOptions): Fleet {
  const inventory = loadInventory(o.inventory);
  const routers = selectRouters(inventory, o.limit);
  const configPath = o.config ?? inventory.config ?? (existsSync("router.yaml") ? "router.yaml" : undefined);
  if (!configPath && o.requireConfig) throw new UsageError(`no shared router config: pass -c router.yaml, or name it in ${o.inventory} (config: router.yaml)`);
  const shared = configPath ? loadSharedConfig(configPath) : undefined;
  const warnings = [...inventory.warnings, ...(shared?.warnings ?? [])];
  const out: FleetRouter[] = [];
  for (const r of routers) {
    // Each router's settings on the shared config, checked before anything talks to a router.
    if (shared) routerConfig(shared, r);
    const fr = fleetRouter(r, inventory.baseDir, o);
    warnings.push(...fr.warnings);
    out.push(fr);
  }
  return { inventory, shared, routers: out, warnings };
}
