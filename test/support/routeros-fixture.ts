import { createHash } from "node:crypto";
import { architecture, type ArchName } from "../../src/arch.js";
import { VERSION_LABEL } from "../../src/routeros/image.js";
import { writeTar, type TarEntry } from "../../src/image/tar.js";

/*
 * Tiny docker-archive images for the simulator and the tests: the layout our
 * build writes (manifest.json, repositories, a config blob, one layer), with
 * a placeholder file instead of the real binaries.
 */

export interface FixtureImage {
  arch: ArchName;
  /** Tailscale version without the v, e.g. 1.98.5. */
  tailscaleVersion: string;
  /** The -mt.N release number. */
  release?: number;
  /** Override the platform written into the config (to make a wrong-arch image). */
  platform?: { architecture: string; variant?: string };
}

export function fixtureFileName(f: FixtureImage): string {
  return `mikrotik-tailscale-${f.tailscaleVersion}-${f.arch}.tar`;
}

export function makeFixtureImage(f: FixtureImage): Buffer {
  const a = architecture(f.arch);
  const version = `v${f.tailscaleVersion}-mt.${f.release ?? 1}`;
  const layer = writeTar([dir("etc"), file("etc/mikrotik-tailscale-release", `${version}\n`)]);
  const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
  const platform = f.platform ?? a.platform;
  const config = {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: "linux",
    config: {
      Entrypoint: ["/bin/containerboot"],
      Env: ["PATH=/bin"],
      Labels: { [VERSION_LABEL]: version, "org.opencontainers.image.title": "mikrotik-tailscale" },
    },
    rootfs: { type: "layers", diff_ids: [diffId] },
  };
  const configJson = Buffer.from(JSON.stringify(config));
  const configName = `${createHash("sha256").update(configJson).digest("hex")}.json`;
  const layerName = `${diffId.slice(7)}/layer.tar`;
  // The build tags images name:<image version>-<arch>.
  const repoTag = `mikrotik-tailscale:${version}-${f.arch}`;
  const manifest = [{ Config: configName, RepoTags: [repoTag], Layers: [layerName] }];
  return Buffer.from(
    writeTar([
      file(configName, configJson),
      dir(diffId.slice(7)),
      file(layerName, layer),
      file("manifest.json", JSON.stringify(manifest)),
      file("repositories", JSON.stringify({ "mikrotik-tailscale": { [version]: diffId.slice(7) } })),
    ]),
  );
}

function dir(path: string): TarEntry {
  return { path, type: "dir", mode: 0o755, mtime: 0 };
}

function file(path: string, data: string | Uint8Array): TarEntry {
  return { path, type: "file", mode: 0o644, mtime: 0, data: typeof data === "string" ? Buffer.from(data) : data };
}
