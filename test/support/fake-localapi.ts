import http from "node:http";
import { rmSync } from "node:fs";

/*
 * (testing) tailscaled's LocalAPI on a unix socket, reduced to what the
 * image's health checker asks: GET /localapi/v0/status?peers=false. The test
 * decides each answer; every request line is recorded.
 */

export interface LocalApiAnswer {
  /** HTTP status; 200 unless set. */
  status?: number;
  /** The body as it is (e.g. JSON without a BackendState). */
  raw?: string;
  /** The backend state to report in a status body like tailscaled's. */
  state?: string;
  /** Health warnings for the status body. */
  health?: string[];
}

export interface FakeLocalApi {
  path: string;
  /** Request lines seen ("GET /localapi/v0/status?peers=false"), in order. */
  requests: string[];
  close(): Promise<void>;
}

/** A status body shaped like tailscaled's (indented as its LocalAPI writes it). */
export function statusBody(state: string, health: string[] = []): string {
  return `${JSON.stringify({ Version: "fake", TUN: true, BackendState: state, HaveNodeKey: state !== "NeedsLogin", Health: health, Self: { ID: "", HostName: "fake" } }, null, "\t")}\n`;
}

/** Listens on `path` (replaced if it exists); `answer` decides each reply. */
export async function fakeLocalApi(path: string, answer: (requestLine: string) => LocalApiAnswer): Promise<FakeLocalApi> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    const a = answer(line);
    const body = a.raw ?? statusBody(a.state ?? "NoState", a.health);
    res.writeHead(a.status ?? 200, { "content-type": "application/json" });
    res.end(body);
  });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, resolve);
  });
  return {
    path,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
