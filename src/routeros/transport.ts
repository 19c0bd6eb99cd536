import { FailureError } from "../errors.js";
import type { ImageInfo } from "./image.js";
import type { Fields, PlannedImage } from "./plan.js";
import type { RestClient, RosRecord } from "./rest.js";
import { localAddressFor, serveFile } from "./serve.js";
import { say, type RunOptions } from "./session.js";

/*
 * Getting an image to the router: a registry reference it pulls itself, a
 * file already there, a URL it fetches, or a local file this machine serves
 * for a moment while the router fetches it.
 */

export interface ProvidedImage {
  /** file= or remote-image= for /container/add. */
  field: Fields;
  /** After a good extraction: removes the fetched file unless the config keeps it. */
  cleanup(): Promise<void>;
  /** After a failure: removes the file if this run fetched it, whatever the config says. */
  discard(): Promise<void>;
}

export async function findFile(client: RestClient, name: string): Promise<RosRecord | undefined> {
  const files = await client.getList("file");
  return files.find((f) => f.name === name);
}

/** Puts the image where /container/add can use it. */
export async function provideImage(o: RunOptions, image: PlannedImage, info: ImageInfo | undefined, removeAfter: boolean): Promise<ProvidedImage> {
  const client = o.client;
  const remove = async (path: string) => {
    const f = await findFile(client, path);
    if (f) await client.delete(`file/${f[".id"]}`);
  };
  const removeFile = async (path: string) => {
    if (removeAfter) await remove(path);
  };
  const none = async () => {};
  switch (image.kind) {
    case "remote":
      return { field: { "remote-image": image.ref }, cleanup: none, discard: none };
    case "routerFile": {
      if (!(await findFile(client, image.routerPath))) throw new FailureError(`image file ${image.routerPath} is not on the router`);
      return { field: { file: image.routerPath }, cleanup: none, discard: none };
    }
    case "url": {
      say(o, `fetching ${image.url} on the router to ${image.routerPath}`);
      await client.post("tool/fetch", { url: image.url, "dst-path": image.routerPath, "check-certificate": "yes" });
      if (!(await findFile(client, image.routerPath))) throw new FailureError(`the router's fetch of ${image.url} left no file at ${image.routerPath}`);
      return { field: { file: image.routerPath }, cleanup: () => removeFile(image.routerPath), discard: () => remove(image.routerPath) };
    }
    case "file": {
      const host = new URL(client.origin).hostname;
      const bind = o.serveAddress ?? (await localAddressFor(host));
      const served = await serveFile(image.localPath, image.fileName, bind, o.servePort ?? 0);
      try {
        say(o, `serving ${image.fileName} at ${served.url.replace(/\/[0-9a-f]{24}\//, "/<token>/")} for the router to fetch`);
        await client.post("tool/fetch", { url: served.url, "dst-path": image.routerPath, mode: "http" });
      } finally {
        await served.close();
      }
      const f = await findFile(client, image.routerPath);
      if (!f) throw new FailureError(`the router fetched ${image.fileName} but there is no ${image.routerPath}`);
      if (info && f.size !== undefined && Number(f.size) !== info.size) {
        await remove(image.routerPath).catch(() => undefined);
        throw new FailureError(`${image.routerPath} on the router had ${f.size} bytes, expected ${info.size}: the transfer was cut short (the partial file was removed)`);
      }
      return { field: { file: image.routerPath }, cleanup: () => removeFile(image.routerPath), discard: () => remove(image.routerPath) };
    }
  }
}

/**
 * Image files this tool left on the router earlier (a transfer cut short, a
 * swap undone by an older version) that no container uses: on 16 MB of flash
 * they matter. Only `mikrotik-tailscale-*.tar` beside where the plan puts
 * its own image is touched.
 */
export async function sweepStaleImages(o: RunOptions, image: PlannedImage): Promise<string[]> {
  if (image.kind !== "file" && image.kind !== "url") return [];
  const { client } = o;
  const dir = image.routerPath.includes("/") ? image.routerPath.slice(0, image.routerPath.lastIndexOf("/") + 1) : "";
  const used = new Set((await client.getList("container")).map((c) => (c.file ?? "").replace(/^\/+/, "")));
  const stale = (await client.getList("file")).filter((f) => {
    const n = (f.name ?? "").replace(/^\/+/, "");
    if (!n.startsWith(dir) || n.slice(dir.length).includes("/")) return false;
    return /^mikrotik-tailscale-[^/]*\.tar$/.test(n.slice(dir.length)) && !used.has(n);
  });
  const gone: string[] = [];
  for (const f of stale) {
    if (o.dryRun) {
      gone.push(`${f.name} (would be removed)`);
      continue;
    }
    await client.delete(`file/${f[".id"]}`);
    gone.push(f.name!);
  }
  return gone;
}
