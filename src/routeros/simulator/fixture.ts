import { createHash } from "node:crypto";
import { architecture, type ArchName } from "../../arch.js";
import { VERSION_LABEL } from "../image.js";
import { writeTar } from "../tar.js";

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
  const layer = writeTar([
    { name: "etc", dir: true },
    { name: "etc/mikrotik-tailscale-release", data: `${version}\n` },
  ]);
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
  return writeTar([
    { name: configName, data: configJson },
    { name: diffId.slice(7), dir: true },
    { name: layerName, data: layer },
    { name: "manifest.json", data: JSON.stringify(manifest) },
    { name: "repositories", data: JSON.stringify({ "mikrotik-tailscale": { [version]: diffId.slice(7) } }) },
  ]);
}
