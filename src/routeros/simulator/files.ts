import http from "node:http";
import https from "node:https";
import { bad, type Rec } from "./menus.js";
import type { RouterSimulator } from "./router.js";

/*
 * Files on the simulated router and /tool/fetch, which really downloads from
 * the URL it is given (RouterOS has no upload endpoint in its REST API: a
 * router pulls files, FIELD-NOTES section 4).
 */

export interface SimFile {
  rec: Rec;
  data?: Buffer;
}

const BOOL_TRUE = new Set(["yes", "true"]);

export class Files {
  readonly all: SimFile[] = [];

  constructor(private readonly sim: RouterSimulator) {}

  find(name: string): SimFile | undefined {
    return this.all.find((f) => f.rec.name === name);
  }

  byId(id: string): SimFile | undefined {
    return this.all.find((f) => f.rec[".id"] === id);
  }

  addDir(name: string): void {
    if (!name || this.find(name)) return;
    this.all.push({ rec: { ".id": this.sim.newId("file"), name, type: "directory", size: "0", "last-modified": this.sim.timestamp() } });
  }

  remove(f: SimFile): void {
    this.all.splice(this.all.indexOf(f), 1);
  }

  /** Removes a directory and everything under it (a container's root-dir). */
  removeTree(root: string): void {
    for (let i = this.all.length - 1; i >= 0; i--) {
      const n = this.all[i]!.rec.name!;
      if (n === root || n.startsWith(`${root}/`)) this.all.splice(i, 1);
    }
  }

  /** Bytes stored in files: what a full disk is measured against. */
  used(): number {
    return this.all.reduce((n, f) => n + (f.data?.length ?? 0), 0);
  }

  write(name: string, data: Buffer): void {
    const limit = this.sim.opts.diskBytes;
    const existing = this.find(name);
    if (limit !== undefined && this.used() - (existing?.data?.length ?? 0) + data.length > limit) {
      throw bad("failure: not enough disk space");
    }
    const rec: Rec = { name, type: name.endsWith(".tar") ? ".tar file" : "file", size: String(data.length), "last-modified": this.sim.timestamp() };
    if (existing) {
      Object.assign(existing.rec, rec);
      existing.data = data;
    } else {
      this.all.push({ rec: { ".id": this.sim.newId("file"), ...rec }, data });
    }
  }

  /** /tool/fetch: downloads url; with output=user the body is returned instead of stored. */
  async fetch(body: Record<string, string>): Promise<{ status: string; data?: string; downloaded: string; total: string; duration: string }> {
    const url = body.url ?? "";
    if (!url) throw bad("missing value(s) of argument(s) url");
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw bad(`failure: invalid URL ${url}`);
    }
    const toUser = body.output === "user";
    const dst = toUser ? "" : String(body["dst-path"] ?? decodeURIComponent(u.pathname.split("/").pop() ?? "")).replace(/^\/+/, "");
    if (!toUser && !dst) throw bad("failure: no dst-path");
    const injected = this.sim.opts.fetchFault?.(url);
    if (injected) throw bad(injected);
    const check = BOOL_TRUE.has(String(body["check-certificate"] ?? "no"));
    const headers: Record<string, string> = {};
    for (const h of (body["http-header-field"] ?? "").split(",").filter(Boolean)) {
      const i = h.indexOf(":");
      if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    const t0 = this.sim.clock.now();
    const data = await new Promise<Buffer>((resolve, reject) => {
      const lib = u.protocol === "https:" ? https : http;
      const req = lib.get(u, { rejectUnauthorized: check, timeout: 60_000, headers }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          reject(bad(`failure: closing connection: <${res.statusCode} ${res.statusMessage}> ${u.host}`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
        res.on("error", (e) => reject(bad(`failure: ${e.message}`)));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => reject(bad(`failure: ${e.code === "ECONNREFUSED" ? "connection refused" : e.message}`)));
    });
    const stored = this.sim.opts.fetchRewrite?.(url, data) ?? data;
    if (!toUser) {
      this.write(dst, stored);
      this.sim.log("fetch,info", `Download from ${u.host} to ${dst} FINISHED`);
    }
    const kib = String(Math.ceil(data.length / 1024));
    const duration = `${Math.max(1, Math.round((this.sim.clock.now() - t0) / 1000))}s`;
    return { status: "finished", downloaded: kib, total: kib, duration, ...(toUser ? { data: data.toString("utf8") } : {}) };
  }
}
