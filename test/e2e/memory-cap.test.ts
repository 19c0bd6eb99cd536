/**
 * End to end, amd64: the entrypoint bounds tailscaled's memory by the
 * container's own limit. Two nodes of dist/'s image, each in a runc container
 * whose memory cgroup is capped (what RouterOS's memory-max does), join a
 * real headscale; then one sends to the other as fast as this machine goes,
 * many times what a router pushes. Both must come through without an OOM
 * kill, and the entrypoint must have said what GOMEMLIMIT it set and why.
 * The same runs, with and without the limit and at more caps, are the bench's
 * cap step (bench/REPORT.md). Needs root; about a minute.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCaps } from "../../bench/src/runtime.js";
import { imageFile } from "../support/container.js";
import { ensureHeadscale } from "../support/headscale.js";

const CAP_MIB = 64;
const TRAFFIC_SECONDS = 15;
const log = (s: string) => process.stderr.write(`[memory-cap] ${s}\n`);

test(`under a ${CAP_MIB} MiB memory cap, unthrottled traffic through two nodes ends without an OOM kill`, { timeout: 10 * 60_000 }, async () => {
  const tar = imageFile("amd64");
  const headscaleBin = await ensureHeadscale(log);
  const { runs } = await runCaps({
    runs: [{ source: { variant: "small", tar }, capMiB: CAP_MIB, gomemlimit: "auto" }],
    headscaleBin,
    trafficSeconds: TRAFFIC_SECONDS,
    log,
  });
  const r = runs[0]!;
  assert.equal(r.error, undefined, `the run failed: ${r.error}`);
  assert.match(r.logged ?? "", new RegExp(`^GOMEMLIMIT=\\d+MiB \\(container limit ${CAP_MIB} MiB from /sys/fs/cgroup/\\S+`), `the entrypoint's memory line: ${r.logged}`);
  assert.deepEqual(r.killed, [], `killed during the traffic: ${r.killed.join(", ")}`);
  assert.equal(r.oomKills, 0, "the cgroups counted OOM kills");
  assert.ok((r.trafficMbps ?? 0) > 50, `the traffic ran at ${r.trafficMbps} Mbit/s: not a load test`);
  // The cap held: nothing charged more than the limit, and the heap did grow under the traffic.
  for (const n of ["a", "b"] as const) {
    assert.ok((r.peakKiB[n] ?? 0) <= CAP_MIB * 1024, `node ${n} peaked at ${r.peakKiB[n]} KiB`);
    assert.ok((r.hwmKiB[n] ?? 0) > 10 * 1024, `node ${n}'s tailscaled peak RSS ${r.hwmKiB[n]} KiB: was it measured?`);
  }
  assert.equal(r.survived, true);
});
