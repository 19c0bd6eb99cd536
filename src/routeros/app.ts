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
    ...(h.enabled
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
  const L: string[] = [];
  L.push(`# mikrotik-tailscale: RouterOS /app "${name}" (RouterOS ${config.version.text}, from ${describeSource(config.model)})`);
  L.push("# Adds the app, waits for its container, then routes the tailnet through it and");
  L.push("# forwards tailnet names to MagicDNS. Safe to run again. Run with: /import file-name=<this file>");
  for (const n of notes) L.push(`# NOTE: ${n}`);
  L.push(`:local yaml ${rosString(yaml)}`);
  L.push(`:if ([:len [/app/find where name=${rosString(name)}]] = 0) do={ /app/add yaml=$yaml } else={ /app/set [/app/find where name=${rosString(name)}] yaml=$yaml }`);
  L.push(":local c \"\"");
  L.push(":local n 0");
  L.push(`:while ([:len $c] = 0 && $n < 600) do={ :set c [/container/find where name=${rosString(name)}]; :if ([:len $c] = 0) do={ :delay 1s; :set n ($n + 1) } }`);
  L.push(`:if ([:len $c] = 0) do={ :error ${rosString(`${name}: the app made no container within 600 s; see /log/print where topics~"container"`)} }`);
  L.push(":local addr [/interface/veth/get [/container/get $c interface] address]");
  L.push(':local ip [:pick $addr 0 [:find $addr "/"]]');
  L.push(`:if ([:len [/ip/route/find where dst-address=${rosString(TAILNET_V4)} comment=${rosString(tag)}]] = 0) do={`);
  L.push(`${IND}/ip/route/add dst-address=${TAILNET_V4} gateway=$ip comment=${rosValue(tag)}`);
  L.push("} else={");
  L.push(`${IND}/ip/route/set [/ip/route/find where dst-address=${rosString(TAILNET_V4)} comment=${rosString(tag)}] gateway=$ip`);
  L.push("}");
  for (const p of config.tailscale.acceptRoutes) {
    L.push(`:if ([:len [/ip/route/find where dst-address=${rosString(p.text)} comment=${rosString(tag)}]] = 0) do={ /ip/route/add dst-address=${p.text} gateway=$ip comment=${rosValue(tag)} } else={ /ip/route/set [/ip/route/find where dst-address=${rosString(p.text)} comment=${rosString(tag)}] gateway=$ip }`);
  }
  for (const d of config.dns.forward) {
    L.push(`:if ([:len [/ip/dns/static/find where name=${rosString(d)} type="FWD"]] = 0) do={ /ip/dns/static/add name=${rosValue(d)} type=FWD forward-to=${MAGIC_DNS} match-subdomain=yes comment=${rosValue(tag)} }`);
  }
  L.push(`:put (${rosString(`${name}: app installed; container at `)} . $ip)`);
  return { yaml, script: L.join("\n") + "\n", notes };
}

