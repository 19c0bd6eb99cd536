import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { stringify as toYaml } from "yaml";
import type { RouterConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { MAGIC_DNS, TAILNET_V4 } from "./net.js";
import { containerEnv, HEALTHCHECK_COMMAND, ownerTag, readAuthKey, STATE_DIR_IN_CONTAINER, type PlanOptions } from "./plan.js";
import { rosString, rosValue } from "./rsc.js";
import { formatMissing, missingArgs } from "./schema/check.js";
import { describeSource } from "./schema/model.js";
import { SCHEMA_DIR } from "./schema/tree.js";
import { scriptStateFormFor, STATE_FUNCTION, stateFunction } from "./schema/state.js";

/*
 * A RouterOS /app (7.22+) for the Tailscale container: a compose-like YAML
 * that `/app/add yaml=...` installs from a registry image, plus the few
 * router-side commands /app cannot express (the tailnet route via the app's
 * container, the MagicDNS forward). /app picks the container's veth and
 * address itself, so the script reads them back after the app is added.
 */

export interface AppOutput {
  /** The /app YAML document. */
  yaml: string;
  /** A .rsc that adds (or replaces) the app, then the route and the DNS forward. */
  script: string;
  notes: string[];
}

let validator: ReturnType<Ajv["compile"]> | undefined;

/** Validates an /app document against RouterOS's /app YAML schema; returns the problems (empty when valid). */
export function validateAppDocument(doc: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat("uri", (s: string) => URL.canParse(s));
    validator = ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, "app-yaml-schema.json"), "utf8")) as object);
  }
  if (validator(doc)) return [];
  return (validator.errors ?? []).map((e) => `${e.instancePath || "(top)"} ${e.message ?? "is invalid"}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
}

/** The /app document for a config whose image is a registry reference. */
export function appDocument(config: RouterConfig, authKey: string | undefined): Record<string, unknown> {
  const name = config.container.name;
  const env: Record<string, string> = {};
  for (const e of containerEnv(config, authKey)) if (e.value !== undefined) env[e.key] = e.value;
  const h = config.container.healthcheck;
  const service: Record<string, unknown> = {
    image: config.image.source.kind === "remote" ? config.image.source.ref : "",
    container_name: name,
    ...(config.container.hostname ? { hostname: config.container.hostname } : {}),
    ...(config.container.entrypoint !== false ? { entrypoint: config.container.entrypoint } : {}),
    environment: env,
    volumes: [`${name}-state:${STATE_DIR_IN_CONTAINER}`],
    restart: config.container.restart.policy,
    ...(h.enabled && config.syntax.healthcheck
      ? {
          healthcheck: {
            test: ["CMD", ...HEALTHCHECK_COMMAND.split(" ")],
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.startPeriod,
          },
        }
      : {}),
  };
  return {
    name,
    descr: "Tailscale subnet router and exit node (mikrotik-tailscale)",
    category: "networking",
    services: { [name]: service },
    volumes: { [`${name}-state`]: {} },
  };
}

/** What /app cannot do that the config asks for: said as notes, not silently dropped. */
function appLimits(config: RouterConfig): string[] {
  const out: string[] = [];
  if (config.container.memoryLimit || config.container.memoryHigh) out.push("container.memoryLimit is not expressible in /app YAML: set memory-max/memory-high on the app's container afterwards, or use 'routeros script'");
  if (config.container.tmpfs.length) out.push("container.tmpfs is not expressible in /app YAML: the socket directory stays on the app's storage");
  if (config.container.dns.length) out.push("container.dns is not expressible in /app YAML: the container uses the router's DNS");
  if (config.storage.ramDisk || config.storage.tmpDir) out.push("storage.ramDisk and storage.tmpDir are not used by /app: it pulls and extracts where /app keeps its containers");
  if (config.network.interfaceList) out.push("network.interfaceList is not used: /app puts the container on its own network");
  return out;
}

export function renderApp(config: RouterConfig, opts: PlanOptions & { showSecrets?: boolean }): AppOutput {
  // MikroTik's /app runs on arm64 and x86 only (FIELD-NOTES section 12).
  if (!["arm64", "x86"].includes(config.arch.routerosArch)) {
    throw new ConfigError(`${config.source}: routeros.arch: /app runs only on arm64 and x86 routers, not ${config.arch.routerosArch}: use 'routeros script' (or 'deploy') for this router`);
  }
  if (config.image.source.kind !== "remote") {
    throw new ConfigError(`${config.source}: image: /app installs from a registry only; set image.remote (e.g. registry.example.com/owner/mikrotik-tailscale:stable), or use 'routeros script' for a .tar`);
  }
  const appAdd = config.model.args("app/add");
  if (!appAdd || !appAdd.has("yaml")) {
    throw new ConfigError(`RouterOS ${config.version.text} has no custom /app (${describeSource(config.model)} lacks /app/add yaml; it came in 7.22): use 'routeros script'`);
  }
  const a = config.tailscale.authKey;
  const authKey = opts.showSecrets || a.kind === "containerFile" ? readAuthKey(config, { ...opts, resolveSecrets: true }) : undefined;
  const doc = appDocument(config, authKey);
  const problems = validateAppDocument(doc);
  if (problems.length) throw new ConfigError(`the /app YAML for this config is not valid: ${problems.join("; ")}`);
  const yaml = toYaml(doc, { lineWidth: 0 });

  const name = config.container.name;
  const tag = ownerTag(name);
  const notes = appLimits(config);
  if ((a.kind === "env" || a.kind === "file") && !authKey) {
    notes.push("TS_AUTHKEY is left out of the YAML (a secret): add it with --show-secrets, or log in with the URL that 'routeros status' shows");
  }
  // The route and DNS forward are plain menus; they must exist in this version too.
  const extra = [
    { command: "app/add", args: ["yaml"], why: "the app" },
    { command: "ip/route/add", args: ["dst-address", "gateway", "comment"], why: `route ${TAILNET_V4}` },
    { command: "ip/dns/static/add", args: ["name", "type", "forward-to", "match-subdomain", "comment"], why: "the MagicDNS forward" },
  ];
  const missing = missingArgs(config.model, extra);
  if (missing.length) throw new ConfigError(`the /app setup cannot run on RouterOS ${config.version.text}: ${formatMissing(missing, config.model)}`);

  const IND = "    ";
  const q = rosString;
  const L: string[] = [];
  L.push(`# mikrotik-tailscale: RouterOS /app "${name}" (RouterOS ${config.version.text}, from ${describeSource(config.model)})`);
  L.push("# Adds the app, waits for its container, then routes the tailnet through it and");
  L.push("# forwards tailnet names to MagicDNS. Safe to run again. Run with: /import file-name=<this file>");
  for (const n of notes) L.push(`# NOTE: ${n}`);
  // One block: /import forgets a top-level :local on the next line.
  L.push("{");
  L.push(`${IND}:if ([:len [:tostr [/app/settings/get disk]]] = 0) do={ :error ${q("/app needs a disk first: /app/settings/set disk=<a disk from /disk print>")} }`);
  L.push(`${IND}:local yaml ${q(yaml)}`);
  L.push(`${IND}:if ([:len [/app/find where name=${q(name)}]] = 0) do={ /app/add yaml=$yaml } else={ /app/set [/app/find where name=${q(name)}] yaml=$yaml }`);
  // /app names the container and its veth itself: the app's row says which interface is its.
  L.push(`${IND}:local iface [:tostr [/app/get [/app/find where name=${q(name)}] interface]]`);
  L.push(`${IND}:local c ""`);
  L.push(`${IND}:local n 0`);
  L.push(`${IND}:while ([:len $c] = 0 && $n < 600) do={`);
  L.push(`${IND}${IND}:if ([:len $iface] > 0) do={ :set c [/container/find where interface=$iface] }`);
  L.push(`${IND}${IND}:if ([:len $c] = 0) do={ :delay 1s; :set n ($n + 1); :set iface [:tostr [/app/get [/app/find where name=${q(name)}] interface]] }`);
  L.push(`${IND}}`);
  L.push(`${IND}:if ([:len $c] = 0) do={ :error ${q(`${name}: the app made no container within 600 s; see /log/print where topics~"container"`)} }`);
  L.push(...stateFunction(scriptStateFormFor(config.version), IND));
  L.push(`${IND}:set n 0`);
  L.push(`${IND}:while ([$${STATE_FUNCTION} $c] != "running" && $n < 600) do={ :delay 1s; :set n ($n + 1) }`);
  L.push(`${IND}:if ([$${STATE_FUNCTION} $c] != "running") do={ :put (${q(`${name}: the app's container is `)} . [$${STATE_FUNCTION} $c] . ${q(`, not running yet; see /log/print where topics~"container"`)}) }`);
  L.push(`${IND}:local addr [/interface/veth/get [/interface/veth/find where name=$iface] address]`);
  L.push(`${IND}:local ip [:pick $addr 0 [:find $addr "/"]]`);
  const routes = [TAILNET_V4, ...config.tailscale.acceptRoutes.map((p) => p.text)];
  for (const dst of routes) {
    const find = `[/ip/route/find where dst-address=${q(dst)} comment=${q(tag)}]`;
    L.push(`${IND}:if ([:len ${find}] = 0) do={ /ip/route/add dst-address=${dst} gateway=$ip comment=${rosValue(tag)} } else={ /ip/route/set ${find} gateway=$ip }`);
  }
  for (const d of config.dns.forward) {
    L.push(`${IND}:if ([:len [/ip/dns/static/find where name=${q(d)} type="FWD"]] = 0) do={ /ip/dns/static/add name=${rosValue(d)} type=FWD forward-to=${MAGIC_DNS} match-subdomain=yes comment=${rosValue(tag)} }`);
  }
  L.push(`${IND}:put (${q(`${name}: app installed; container at `)} . $ip)`);
  L.push("}");
  return { yaml, script: L.join("\n") + "\n", notes };
}

