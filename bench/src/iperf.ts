/**
 * iperf3's JSON output (`iperf3 -c ... -J`), reduced to what the benchmark
 * reports. Only TCP client runs are expected.
 */

export interface IperfRun {
  /** What the receiver got, bits per second (the figure iperf3 prints as "receiver"). */
  receivedBps: number;
  /** What the sender pushed, bits per second. */
  sentBps: number;
  /** TCP retransmissions on the sender, when the kernel reports them. */
  retransmits?: number;
  /** Length of the measured interval, seconds (omitted warm-up excluded). */
  seconds: number;
  localHost: string;
  remoteHost: string;
  /** CPU use of the iperf3 client and server, percent of one machine. */
  cpuClientPct?: number;
  cpuServerPct?: number;
  /** CPU seconds both tailscaled processes used during the run (filled in by the benchmark, not iperf3). */
  tailscaledCpuSeconds?: number;
  /** Bytes the receiver got. */
  receivedBytes?: number;
}

export class IperfError extends Error {}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Parses `iperf3 -J` client output; throws IperfError with iperf3's own message when the run failed. */
export function parseIperf3Json(text: string): IperfRun {
  let doc: Record<string, unknown> | undefined;
  try {
    doc = obj(JSON.parse(text));
  } catch {
    // iperf3 prints plain text when it fails before it starts its JSON writer.
    const line = text.trim().split("\n").filter(Boolean).pop() ?? "(no output)";
    throw new IperfError(`iperf3 did not print JSON: ${line}`);
  }
  if (!doc) throw new IperfError("iperf3 printed JSON that is not an object");
  if (typeof doc.error === "string") throw new IperfError(`iperf3: ${doc.error}`);
  const start = obj(doc.start);
  const end = obj(doc.end);
  const received = obj(end?.sum_received);
  const sent = obj(end?.sum_sent);
  const receivedBps = num(received?.bits_per_second);
  const sentBps = num(sent?.bits_per_second);
  if (receivedBps === undefined || sentBps === undefined) {
    throw new IperfError("iperf3 JSON has no end.sum_received/sum_sent bits_per_second (not a finished TCP test?)");
  }
  const connected = Array.isArray(start?.connected) ? obj(start!.connected[0]) : undefined;
  const seconds = num(received?.seconds) ?? (num(received?.end) ?? 0) - (num(received?.start) ?? 0);
  const cpu = obj(end?.cpu_utilization_percent);
  return {
    receivedBps,
    sentBps,
    retransmits: num(sent?.retransmits),
    seconds,
    localHost: typeof connected?.local_host === "string" ? connected.local_host : "",
    remoteHost: typeof connected?.remote_host === "string" ? connected.remote_host : "",
    receivedBytes: num(received?.bytes),
    cpuClientPct: num(cpu?.host_total),
    cpuServerPct: num(cpu?.remote_total),
  };
}

/** Megabits per second, for people. */
export function mbps(bps: number): number {
  return bps / 1e6;
}

/** tailscaled CPU seconds (both nodes) per gigabyte delivered: the cost of the tunnel, less sensitive than Mbit/s to other work on the machine. */
export function cpuSecondsPerGB(run: IperfRun): number | undefined {
  if (run.tailscaledCpuSeconds === undefined || !run.receivedBytes) return undefined;
  return run.tailscaledCpuSeconds / (run.receivedBytes / 1e9);
}
