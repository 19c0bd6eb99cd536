import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { selfSignedCertificate, type SelfSigned } from "./cert.js";
import { RouterSimulator, type SimulatorOptions } from "./router.js";

export interface SimulatorServerOptions extends SimulatorOptions {
  host?: string;
  port?: number;
  /** Serve HTTPS: true makes a self-signed certificate for the host. */
  tls?: boolean | SelfSigned;
}

export interface RunningSimulator {
  sim: RouterSimulator;
  /** Origin to hand to --router, e.g. https://127.0.0.1:43211. */
  origin: string;
  port: number;
  /** The certificate (PEM) to trust, when serving HTTPS. */
  certificate?: string;
  close(): Promise<void>;
}

/** Starts the RouterOS REST simulator on a loopback port. */
export async function startSimulator(opts: SimulatorServerOptions = {}): Promise<RunningSimulator> {
  const sim = new RouterSimulator(opts);
  const host = opts.host ?? "127.0.0.1";
  const tls = opts.tls === true ? selfSignedCertificate([host, "localhost"]) : opts.tls || undefined;
  const handler: http.RequestListener = (req, res) => {
    if (!sim.linkUp()) {
      // The link is gone: no answer at all.
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = undefined;
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch {
          res.writeHead(400, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: 400, message: "Bad Request", detail: "JSON parse error" }));
          return;
        }
      }
      sim.handle(req.method ?? "GET", req.url ?? "/", body, req.headers.authorization).then(
        (r) => {
          if (r.body === undefined) {
            res.writeHead(r.status);
            res.end();
          } else {
            const out = JSON.stringify(r.body);
            res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
            res.end(out);
          }
        },
        (e: Error) => {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: 500, message: "Internal Server Error", detail: e.message }));
        },
      );
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const h = host.includes(":") ? `[${host}]` : host;
  return {
    sim,
    origin: `${tls ? "https" : "http"}://${h}:${port}`,
    port,
    certificate: tls?.cert,
    close: () =>
      new Promise<void>((resolve) => {
        sim.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
