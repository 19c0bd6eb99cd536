import { existsSync } from "node:fs";
import { FailureError, UsageError } from "../../errors.js";
import { boolOpt, stringOpt, type Command, type ParsedArgs } from "../command.js";
import { forVersion, loadRouterConfig, type RouterConfig } from "../../routeros/config.js";
import { resolveTarget } from "../../routeros/credentials.js";
import { deploy, formatChange, formatStatus, status, type RunOptions } from "../../routeros/deploy.js";
import { buildPlan } from "../../routeros/plan.js";
import { peerCertificateFingerprint, RestClient } from "../../routeros/rest.js";
import { renderScript } from "../../routeros/rsc.js";
import { renderApp } from "../../routeros/app.js";
import { atomicWriteFile, writeSecretFile } from "../../util/fsx.js";
import { startSimulator } from "../../routeros/simulator/server.js";
import { upgradeIfChanged, upgradeRecordingDigest } from "../../routeros/update-check.js";
import { updateScriptCommand } from "../../routeros/update-command.js";
import { fleetCommand } from "./fleet.js";
import { err, interruptible, seconds } from "./routeros-shared.js";

/*
 * `mikrotik-tailscale routeros ...`: a thin layer over src/routeros. Progress
 * goes to stderr, results to stdout. Passwords come from the environment or a
 * file, never from an option value.
 */

const configOpt = { config: { type: "string", short: "c" } } as const;
const routerOpts = {
  router: { type: "string" },
  "password-file": { type: "string" },
  "ca-file": { type: "string" },
  "tls-server-name": { type: "string" },
  "tls-fingerprint": { type: "string" },
  insecure: { type: "boolean" },
} as const;
const runOpts = {
  "dry-run": { type: "boolean" },
  "update-secrets": { type: "boolean" },
  "serve-address": { type: "string" },
  "serve-port": { type: "string" },
  timeout: { type: "string" },
  settle: { type: "string" },
} as const;

function configPath(args: ParsedArgs): string {
  return stringOpt(args, "config") ?? args.positionals[0] ?? "router.yaml";
}

function loadConfig(args: ParsedArgs): RouterConfig {
  let c = loadRouterConfig(configPath(args));
  const v = args.values["routeros-version"];
  if (typeof v === "string") c = forVersion(c, v);
  for (const w of c.warnings) err(`warning: ${w}`);
  return c;
}

function client(args: ParsedArgs, config?: RouterConfig): RestClient {
  const { target, warnings } = resolveTarget({
    router: stringOpt(args, "router"),
    configRouter: config?.router,
    passwordFile: stringOpt(args, "password-file"),
    caFile: stringOpt(args, "ca-file"),
    tlsServerName: stringOpt(args, "tls-server-name"),
    tlsFingerprint: stringOpt(args, "tls-fingerprint"),
    insecure: boolOpt(args, "insecure"),
  });
  for (const w of warnings) err(w);
  return new RestClient(target);
}

function runOptions(args: ParsedArgs, c: RestClient, config: RouterConfig, imageOverride?: string): RunOptions {
  const timeout = seconds(args, "timeout");
  const port = stringOpt(args, "serve-port");
  if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError(`--serve-port: expected a port number, got '${port}'`);
  return {
    client: c,
    config,
    planOptions: { resolveSecrets: true, imageOverride },
    dryRun: boolOpt(args, "dry-run"),
    updateSecrets: boolOpt(args, "update-secrets"),
    serveAddress: stringOpt(args, "serve-address"),
    servePort: port === undefined ? undefined : Number(port),
    extractTimeoutMs: timeout,
    startTimeoutMs: timeout,
    settleMs: seconds(args, "settle"),
    log: (l) => err(l),
  };
}

function summary(changes: number, dryRun: boolean): string {
  if (changes === 0) return "no changes: the router already matches the config";
  return `${changes} change${changes === 1 ? "" : "s"}${dryRun ? " would be made (dry run: nothing was changed)" : " made"}`;
}

const scriptCommand: Command = {
  name: "script",
  summary: "print a RouterOS script (.rsc) that sets everything up; safe to run twice",
  usage: ["script [-c router.yaml] [--routeros-version 7.21.2] [--show-secrets] [-o setup.rsc]"],
  options: { ...configOpt, "routeros-version": { type: "string" }, "show-secrets": { type: "boolean" }, output: { type: "string", short: "o" } },
  async run(args) {
    const config = loadConfig(args);
    const showSecrets = boolOpt(args, "show-secrets");
    const plan = buildPlan(config, { resolveSecrets: showSecrets });
    const text = renderScript(config, plan, { showSecrets });
    await emit(stringOpt(args, "output"), text, showSecrets);
  },
};

/** Writes to a file atomically (0600 when it holds a secret, whatever was there), or to stdout. */
async function emit(out: string | undefined, text: string, secret: boolean, what = "the auth key"): Promise<void> {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  if (secret) await writeSecretFile(out, text);
  else await atomicWriteFile(out, text);
  err(`wrote ${out}${secret ? ` (contains ${what}: keep it private)` : ""}`);
}

const appCommand: Command = {
  name: "app",
  summary: "write a RouterOS /app (7.22+) for a registry image, plus the route and DNS forward /app cannot express",
  usage: ["app [-c router.yaml] [--routeros-version 7.24] [--show-secrets] [-o tailscale-app.rsc] [--yaml-out tailscale-app.yaml]"],
  options: { ...configOpt, "routeros-version": { type: "string" }, "show-secrets": { type: "boolean" }, output: { type: "string", short: "o" }, "yaml-out": { type: "string" } },
  async run(args) {
    const config = loadConfig(args);
    const showSecrets = boolOpt(args, "show-secrets");
    const app = renderApp(config, { resolveSecrets: showSecrets, showSecrets });
    for (const n of app.notes) err(`note: ${n}`);
    const yamlOut = stringOpt(args, "yaml-out");
    if (yamlOut) await emit(yamlOut, app.yaml, showSecrets);
    await emit(stringOpt(args, "output"), app.script, showSecrets);
  },
};

const deployCommand: Command = {
  name: "deploy",
  summary: "set the router up through its REST API; changes only what differs",
  usage: [
    "deploy [-c router.yaml] --router https://user@host [--dry-run] [--ca-file ca.pem | --tls-fingerprint sha256:... | --insecure] [--tls-server-name NAME]",
    "deploy ... [--serve-address ADDR] [--serve-port N] [--timeout SECONDS] [--settle SECONDS] [--update-secrets]",
    "deploy ... --password-file FILE    (or ROUTEROS_PASSWORD / ROUTEROS_PASSWORD_FILE in the environment)",
  ],
  options: { ...configOpt, ...routerOpts, ...runOpts },
  async run(args) {
    const config = loadConfig(args);
    const c = client(args, config);
    const stop = interruptible();
    try {
      const o = { ...runOptions(args, c, config), signal: stop.signal };
      const r = await deploy(o);
      for (const n of r.notes) err(`note: ${n}`);
      process.stdout.write(`${summary(r.changes.length, !!o.dryRun)}; container ${config.container.name}: ${r.status}\n`);
    } finally {
      stop.done();
      c.close();
    }
  },
};

const upgradeCommand: Command = {
  name: "upgrade",
  summary: "replace the container's image, keep its state; roll back if it does not start",
  usage: [
    "upgrade [-c router.yaml] [--image dist/mikrotik-tailscale-<ver>-<arch>.tar | registry/ref:tag] [--force] --router https://user@host",
    "upgrade ... --if-changed   # only if the registry's image for the router differs from the one the container was made from",
  ],
  options: { ...configOpt, ...routerOpts, ...runOpts, image: { type: "string" }, force: { type: "boolean" }, "if-changed": { type: "boolean" } },
  async run(args) {
    const config = loadConfig(args);
    const c = client(args, config);
    const stop = interruptible();
    try {
      const o = { ...runOptions(args, c, config, stringOpt(args, "image")), force: boolOpt(args, "force"), signal: stop.signal };
      const r = boolOpt(args, "if-changed") ? await upgradeIfChanged(o) : await upgradeRecordingDigest(o);
      for (const n of r.notes) err(`note: ${n}`);
      if (r.changes.length === 0) {
        process.stdout.write(`no changes; container ${config.container.name}: ${r.status}\n`);
      } else {
        const last = r.changes.filter((ch) => ch.action === "container").pop();
        process.stdout.write(`${last ? formatChange(last) + "\n" : ""}${summary(r.changes.length, !!o.dryRun)}\n`);
      }
    } finally {
      stop.done();
      c.close();
    }
  },
};

const statusCommand: Command = {
  name: "status",
  summary: "show the container, the image version in it and whether the node is up",
  usage: [
    "status [-c router.yaml | --name tailscale] --router https://user@host [--json]",
    "status ...    (prints the router's TLS certificate fingerprint, for --tls-fingerprint)",
  ],
  options: { ...configOpt, ...routerOpts, name: { type: "string" }, json: { type: "boolean" } },
  async run(args) {
    const path = configPath(args);
    const config = stringOpt(args, "config") || args.positionals[0] || existsSync(path) ? loadConfig(args) : undefined;
    const name = stringOpt(args, "name") ?? config?.container.name ?? "tailscale";
    const c = client(args, config);
    try {
      const s = await status(c, name);
      if (c.peerFingerprint) s.tlsFingerprint = c.peerFingerprint;
      process.stdout.write((boolOpt(args, "json") ? JSON.stringify(s, null, 2) : formatStatus(s, name)) + "\n");
      return s.container ? 0 : 1;
    } finally {
      c.close();
    }
  },
};

const certificateCommand: Command = {
  name: "certificate",
  summary: "print the router's TLS certificate fingerprint, to pin with --tls-fingerprint (sends no credentials)",
  usage: ["certificate --router https://host [--tls-server-name NAME]"],
  options: { router: { type: "string" }, "tls-server-name": { type: "string" } },
  async run(args) {
    const raw = stringOpt(args, "router") ?? process.env.ROUTEROS_URL;
    if (!raw) throw new UsageError("no router given: use --router https://host or ROUTEROS_URL");
    let u: URL;
    try {
      u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `https://${raw}`);
    } catch {
      throw new UsageError(`--router: '${raw}' is not a URL (expected https://host)`);
    }
    if (u.protocol !== "https:") throw new UsageError("--router: a certificate needs https://");
    const fp = await peerCertificateFingerprint(u.origin, stringOpt(args, "tls-server-name"));
    if (!fp) throw new FailureError(`no TLS certificate from ${u.host}: is www-ssl enabled and the port right?`);
    process.stdout.write(`${fp}\n`);
    err(`the certificate ${u.host} shows; if /certificate print detail on the router shows the same fingerprint, pin it:`);
    err(`  export ROUTEROS_TLS_FINGERPRINT=${fp}    (or --tls-fingerprint ${fp})`);
  },
};

const simulateCommand: Command = {
  name: "simulate",
  summary: "(testing) run a RouterOS REST API simulator on 127.0.0.1 - not a router",
  usage: [
    "simulate [--routeros-version 7.21.2] [--arch arm64] [--port 8443] [--tls --cert-out sim.pem] [--fail-start REGEX]",
    "simulate ...    (user admin; password from ROUTEROS_PASSWORD, default empty)",
  ],
  options: {
    "routeros-version": { type: "string" },
    arch: { type: "string" },
    port: { type: "string" },
    tls: { type: "boolean" },
    "cert-out": { type: "string" },
    "fail-start": { type: "string" },
  },
  async run(args) {
    const fail = stringOpt(args, "fail-start");
    const re = fail ? new RegExp(fail) : undefined;
    const running = await startSimulator({
      version: stringOpt(args, "routeros-version") ?? "7.21.2",
      arch: stringOpt(args, "arch") ?? "arm64",
      port: Number(stringOpt(args, "port") ?? 0),
      tls: boolOpt(args, "tls"),
      user: "admin",
      password: process.env.ROUTEROS_PASSWORD ?? "",
      failStart: re ? (c) => (re.test(c.tag ?? "") ? "simulated start failure (--fail-start)" : undefined) : undefined,
    });
    const certOut = stringOpt(args, "cert-out");
    if (certOut && running.certificate) await atomicWriteFile(certOut, running.certificate);
    err("RouterOS REST simulator (a simulator written from the documentation, not RouterOS)");
    process.stdout.write(`${running.origin}\n`);
    if (running.certificate && !certOut) err("TLS certificate is self-signed: use --cert-out and pass it as --ca-file");
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await running.close();
  },
};

export const routerosCommand: Command = {
  name: "routeros",
  summary: "generate a router's setup, deploy, upgrade and check it (RouterOS REST API)",
  usage: ["routeros <script|app|deploy|upgrade|status> [options]", "routeros fleet <status|deploy|upgrade> -i inventory.yaml [options]", "routeros <command> --help"],
  subcommands: [scriptCommand, appCommand, deployCommand, upgradeCommand, statusCommand, certificateCommand, simulateCommand, updateScriptCommand, fleetCommand],
};
