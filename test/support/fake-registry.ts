import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/*
 * (testing) A registry on 127.0.0.1 that serves /v2/ and the manifest of one
 * tag, `stable`: an image index whose per-platform digests a test sets. What
 * `upgrade --if-changed` and the fleet ask a registry; nothing else.
 */

export const REPO = "owner/mikrotik-tailscale";

/** Serves /v2/ and the manifest of `stable`: an index whose per-platform digests the test sets. */
export async function fakeRegistry(): Promise<{ host: string; set(d: Record<string, string>): void; hits: () => number; close(): Promise<void> }> {
  let digests: Record<string, string> = {};
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.url === "/v2/") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    if (req.url === `/v2/${REPO}/manifests/stable`) {
      hits++;
      const manifests = Object.entries(digests).map(([p, digest]) => {
        const [architecture, variant] = p.split("/");
        return { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: 654, platform: { os: "linux", architecture, ...(variant ? { variant } : {}) } };
      });
      const body = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.index.v1+json",
        "docker-content-digest": `sha256:${createHash("sha256").update(body).digest("hex")}`,
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (d) => (digests = d),
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

