/**
 * The docker-archive format (what `docker save` wrote before Docker 25 and
 * what RouterOS `/container/add file=` accepts on every 7.x): one platform,
 * one uncompressed layer. Pure.
 *
 *   <v1id>/                 directory
 *   <v1id>/VERSION          "1.0"
 *   <v1id>/json             legacy v1 layer metadata
 *   <v1id>/layer.tar        the layer, uncompressed
 *   <config hex>.json       the image config
 *   manifest.json           [{"Config","RepoTags","Layers"}]
 *   repositories            {"<name>":{"<tag>":"<v1id>"}}
 *
 * Both the manifest.json readers (skopeo, Docker >= 1.10) and the older
 * repositories + v1 readers find everything. Entries are sorted by name and
 * have no leading `./`; owner 0/0, modes 0644/0755, mtime SOURCE_DATE_EPOCH.
 */
import { canonicalJson, digestHex, digestOf } from "./digest.js";
import type { Blob } from "./config.js";
import { comparePaths } from "./layer.js";
import { writeTar, type TarEntry } from "./tar.js";

export interface DockerArchiveInput {
  /** `name:tag` */
  repoTag: string;
  /** The image config (its bytes go in as `<hex>.json`). */
  config: Blob;
  /** The uncompressed layer tar. */
  layer: Uint8Array;
  /** sha256 of `layer`, as in the config's diff_ids. */
  diffId: string;
  mtime: number;
}

const enc = new TextEncoder();

/** The legacy layer ID: stable for a given config and layer. */
export function v1LayerId(configDigest: string, diffId: string): string {
  return digestHex(digestOf(canonicalJson({ config: configDigest, diff_id: diffId })));
}

export function dockerArchive(input: DockerArchiveInput): Uint8Array {
  if (digestOf(input.layer) !== input.diffId) throw new Error("docker archive: layer bytes do not match diffId");
  const colon = input.repoTag.lastIndexOf(":");
  if (colon <= 0 || input.repoTag.includes("@")) throw new Error(`docker archive: repo tag must be name:tag, got ${input.repoTag}`);
  const name = input.repoTag.slice(0, colon);
  const tag = input.repoTag.slice(colon + 1);

  const config = JSON.parse(new TextDecoder().decode(input.config.bytes)) as {
    architecture: string;
    variant?: string;
    os: string;
    created: string;
    config: unknown;
  };
  const id = v1LayerId(input.config.digest, input.diffId);
  const configName = `${digestHex(input.config.digest)}.json`;
  const layerPath = `${id}/layer.tar`;

  const v1json = canonicalJson({
    id,
    created: config.created,
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
    config: config.config,
  });
  const manifest = canonicalJson([{ Config: configName, RepoTags: [input.repoTag], Layers: [layerPath] }]);
  const repositories = canonicalJson({ [name]: { [tag]: id } });

  const file = (path: string, data: Uint8Array): TarEntry => ({ path, type: "file", mode: 0o644, data, mtime: input.mtime });
  const entries: TarEntry[] = [
    { path: id, type: "dir", mode: 0o755, mtime: input.mtime },
    file(`${id}/VERSION`, enc.encode("1.0")),
    file(`${id}/json`, v1json),
    file(layerPath, input.layer),
    file(configName, input.config.bytes),
    file("manifest.json", manifest),
    file("repositories", repositories),
  ];
  entries.sort((a, b) => comparePaths(a.path, b.path));
  return writeTar(entries);
}
