import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createSocket } from "node:dgram";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { FailureError } from "../errors.js";

/*
 * A short-lived HTTP server that hands one image file to the router: the
 * router's /tool/fetch pulls it, then the server closes. The URL carries a
 * random token; every other path gets 404.
 */

export interface ServedFile {
  url: string;
  /** Number of completed downloads. */
  downloads(): number;
  close(): Promise<void>;
}

/**
 * The local address a packet to `host` would leave from: connecting a UDP
 * socket sends nothing but makes the kernel pick a route and source address.
 */
export async function localAddressFor(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, "");
  const family = bare.includes(":") ? "udp6" : "udp4";
  const sock = createSocket(family);
  try {
    return await new Promise<string>((resolve, reject) => {
      sock.once("error", reject);
      sock.connect(9, bare, () => resolve(sock.address().address));
    });
  } catch (e) {
    throw new FailureError(`cannot tell which local address reaches ${host} (${(e as Error).message}); pass --serve-address`);
  } finally {
    sock.close();
  }
}

export async function serveFile(path: string, fileName: string, bindAddress: string, port = 0): Promise<ServedFile> {
  const size = (await stat(path)).size;
  const token = randomBytes(12).toString("hex");
  const wanted = `/${token}/${encodeURIComponent(fileName)}`;
  let downloads = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url !== wanted) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/x-tar", "content-length": size });
    const s = createReadStream(path);
    s.pipe(res);
    res.on("finish", () => downloads++);
    s.on("error", () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new FailureError(`cannot serve the image on ${bindAddress}:${port}: ${e.code ?? e.message}`)),
    );
    server.listen(port, bindAddress, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}${wanted}`,
    downloads: () => downloads,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
