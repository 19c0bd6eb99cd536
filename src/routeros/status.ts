import { HEALTHCHECK_COMMAND, ownerTag } from "./plan.js";
import { versionFromText } from "./image.js";
import type { RestClient, RosRecord } from "./rest.js";
import { healthOf, stateOf } from "./schema/state.js";
import { hasKey } from "./lifecycle.js";
import { RUNNING } from "./session.js";
import { recordedDigest } from "./swap.js";

/*
 * `routeros status`: what the REST API can tell about the container and the
 * node, whichever way the release reports container state.
 */

export interface StatusReport {
  router: { version: string; arch: string; board: string };
  container?: {
    name: string;
    status: string;
    tag: string;
    imageVersion?: string;
    /** The registry digest recorded on the container (upgrade of a registry image, the self-update). */
    digest?: string;
    rootDir: string;
    interface: string;
    /** RouterOS's health check verdict (7.22+ with healthcheck-cmd), as the router words it. */
    health?: string;
    /** How RouterOS restarts it after a crash, e.g. "on-failure every 10s (at most 10)". */
    restart?: string;
    /** How often RouterOS has restarted it (7.23+ reports it). */
    restarts?: number;
  };
  tailscale: {
    /** Version tailscaled printed at start, from the router log. */
    version?: string;
    /** Last ipn state from the router log (Running, NeedsLogin, ...). */
    state?: string;
    loginUrl?: string;
    /** The health checker's own line from healthcheck-status, e.g. "NeedsLogin: not logged in". */
    checked?: string;
  };
  /** The 100.64.0.0/10 route via the container: active, inactive or missing. */
  tailnetRoute: "active" | "inactive" | "missing";
  /** true/false when known; undefined when the log says nothing. */
  nodeUp?: boolean;
  /** The router's TLS certificate (pin it with --tls-fingerprint). */
  tlsFingerprint?: string;
}

/** status: what the REST API can tell about the container and the node. */
export async function status(client: RestClient, name: string): Promise<StatusReport> {
  const res = await client.getRecord("system/resource");
  const report: StatusReport = {
    router: { version: res.version ?? "?", arch: res["architecture-name"] ?? "?", board: res["board-name"] ?? "?" },
    tailscale: {},
    tailnetRoute: "missing",
  };
  const all = await client.getList("container");
  const c = all.find((x) => x.name === name) ?? all.find((x) => hasKey(x, "comment", ownerTag(name)));
  if (c) {
    report.container = {
      name,
      status: stateOf(c),
      tag: c.tag ?? "",
      imageVersion: versionFromText(c.tag),
      ...(recordedDigest(c.comment) ? { digest: recordedDigest(c.comment) } : {}),
      rootDir: c["root-dir"] ?? "",
      interface: c.interface ?? "",
    };
    if (c["healthcheck-cmd"]) {
      // The verdict is in the healthy/unhealthy flags (7.23+); healthcheck-status carries the check's output.
      const verdict = healthOf(c);
      const detail = c["healthcheck-status"] ?? "";
      const output = /output:\s*(.*)$/.exec(detail)?.[1]?.trim();
      report.container.health = verdict ? `${verdict}${output ? `: ${output}` : ""}` : detail || "not reported yet";
      if (output) report.tailscale.checked = output;
    }
    if (c["restart-count"] !== undefined) report.container.restarts = Number(c["restart-count"]);
    const policy = c["restart-policy"];
    if (policy && policy !== "no") {
      const max = c["restart-max-count"];
      // MikroTik's manual: restart-max-count is the most restarts "within the restart-interval time frame".
      const every = c["restart-interval"] ?? "?";
      report.container.restart = `${policy} after ${every}${max && max !== "0" ? ` (at most ${max} restarts within ${every})` : ""}`;
    } else if (c["auto-restart-interval"] && !["0s", "0", "none", ""].includes(c["auto-restart-interval"])) {
      report.container.restart = `after any exit, every ${c["auto-restart-interval"]}`;
    } else {
      report.container.restart = "never (a crashed tailscaled stays down)";
    }
  }
  const routes = await client.getList("ip/route");
  const r = routes.find((x) => x["dst-address"] === "100.64.0.0/10");
  if (r) report.tailnetRoute = r.active === "true" ? "active" : "inactive";
  // tailscaled's own log lines, as the router logs them with logging=yes.
  const log = await client.getList("log").catch(() => [] as RosRecord[]);
  for (const l of log) {
    if (!(l.topics ?? "").includes("container")) continue;
    const m = l.message ?? "";
    const start = /Program starting: (v\S+?),/.exec(m);
    if (start) {
      report.tailscale.version = start[1];
      report.tailscale.state = undefined;
      report.tailscale.loginUrl = undefined;
    }
    const st = /Switching ipn state \S+ -> (\S+)/.exec(m);
    if (st) report.tailscale.state = st[1];
    const url = /To authenticate, visit:\s*(\S+)/.exec(m);
    if (url) report.tailscale.loginUrl = url[1];
  }
  // The checker asked tailscaled itself: newer than any log line.
  const checkedState = /^(?:starting: )?(Running|NeedsLogin|NeedsMachineAuth|Stopped|Starting|NoState)\b/.exec(report.tailscale.checked ?? "")?.[1];
  if (checkedState) report.tailscale.state = checkedState;
  if (report.tailscale.state === "Running") report.tailscale.loginUrl = undefined;
  if (!c || stateOf(c) !== RUNNING) report.nodeUp = false;
  // RouterOS's own verdict (7.23+) is newer than any log line: unhealthy means not up, whatever tailscaled last logged.
  else if (healthOf(c) === "unhealthy") report.nodeUp = false;
  else if (report.tailscale.state) report.nodeUp = report.tailscale.state === "Running";
  return report;
}

export function formatStatus(s: StatusReport, name: string): string {
  const L: string[] = [];
  L.push(`router:     ${s.router.board}, RouterOS ${s.router.version}, ${s.router.arch}`);
  if (!s.container) {
    L.push(`container:  no container named '${name}'`);
  } else {
    const c = s.container;
    L.push(`container:  ${c.name}: ${c.status} (interface ${c.interface}, root-dir ${c.rootDir})`);
    L.push(`image:      ${c.tag || "(no tag)"}${c.imageVersion ? ` -> version ${c.imageVersion}` : " (version unknown)"}`);
    if (c.health) L.push(`health:     ${c.health} (RouterOS runs ${HEALTHCHECK_COMMAND})`);
    if (c.restart) L.push(`restart:    ${c.restart}${c.restarts !== undefined ? `; restarted ${c.restarts} time${c.restarts === 1 ? "" : "s"} so far` : ""}`);
  }
  L.push(`tailscaled: ${s.tailscale.version ?? "version unknown (not in the router log)"}`);
  L.push(`route:      100.64.0.0/10 via the container: ${s.tailnetRoute}`);
  const up =
    s.nodeUp === true
      ? "up (tailscaled reports Running)"
      : s.nodeUp === false
        ? `down${s.tailscale.checked ? ` (health check: ${s.tailscale.checked})` : s.tailscale.state ? ` (tailscaled reports ${s.tailscale.state})` : s.container ? ` (container ${s.container.status})` : ""}`
        : "unknown (no tailscaled state in the router log; is logging on?)";
  L.push(`node:       ${up}`);
  if (s.tailscale.loginUrl) L.push(`login:      ${s.tailscale.loginUrl}`);
  if (s.tlsFingerprint) L.push(`tls:        ${s.tlsFingerprint} (pin it with --tls-fingerprint ${s.tlsFingerprint})`);
  return L.join("\n");
}
