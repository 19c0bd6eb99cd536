/**
 * One SPDX 2.3 JSON document per image: the image, Tailscale with every Go
 * module linked into it (from the build record, i.e. `go version -m` before
 * packing), the Go standard library, busybox with its tarball hash, and the
 * CA bundle's source module and version. Pure and deterministic: no random
 * namespace, the creation time is SOURCE_DATE_EPOCH.
 */
import type { BuildRecord } from "../build/record.js";
import { rfc3339 } from "./config.js";
import { canonicalJson, digestHex, digestOf } from "./digest.js";

export interface SbomInput {
  record: BuildRecord;
  imageVersion: string;
  /** e.g. mikrotik-tailscale:v1.102.5-mt.1-amd64 */
  repoTag: string;
  revision: string;
  source: string;
  sourceDateEpoch: number;
  /** This tool's version, for creationInfo.creators. */
  toolVersion: string;
  /** The layer's diff_id: ties the document to one exact root filesystem. */
  layerDiffId: string;
}

interface SpdxPackage {
  name: string;
  SPDXID: string;
  versionInfo: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: string;
  primaryPackagePurpose: string;
  checksums?: { algorithm: string; checksumValue: string }[];
  externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
  comment?: string;
  sourceInfo?: string;
}

/** purl for a Go module: each path segment percent-encoded, as the purl spec asks. */
export function goPurl(path: string, version: string): string {
  return `pkg:golang/${path.split("/").map(encodeURIComponent).join("/")}@${encodeURIComponent(version)}`;
}

function spdxId(kind: string, name: string): string {
  return `SPDXRef-${kind}-${name.replace(/[^A-Za-z0-9.-]+/g, "-")}`;
}

function purlRef(locator: string): SpdxPackage["externalRefs"] {
  return [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: locator }];
}

export function spdxDocument(input: SbomInput): Uint8Array {
  const r = input.record;
  const ts = r.tailscale;
  const tailscaleModule = ts.modules.find((m) => m.path === "tailscale.com");
  const packages: SpdxPackage[] = [];
  const relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[] = [];

  const imageId = "SPDXRef-Image";
  packages.push({
    name: input.repoTag,
    SPDXID: imageId,
    versionInfo: input.imageVersion,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "NOASSERTION",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "CONTAINER",
    sourceInfo: `built from ${input.source} at revision ${input.revision}`,
    comment:
      `platform ${r.platform.os}/${r.platform.architecture}${r.platform.variant ? `/${r.platform.variant}` : ""}; ` +
      `profile ${r.profile}; layer diff_id ${input.layerDiffId}`,
  });
  relationships.push({ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: imageId });

  const tailscaleId = "SPDXRef-Tailscale";
  packages.push({
    name: "tailscale.com",
    SPDXID: tailscaleId,
    versionInfo: ts.version,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "BSD-3-Clause",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "APPLICATION",
    externalRefs: purlRef(goPurl("tailscale.com", ts.version)),
    comment: [
      `tailscaled with the CLI linked in (ts_include_cli), installed as /usr/local/bin/tailscale.combined`,
      ts.commit ? `upstream commit ${ts.commit}` : undefined,
      tailscaleModule ? `go.sum ${tailscaleModule.sum}` : undefined,
      `go ${ts.goVersion}`,
      `build tags: ${ts.tags.join(",")}`,
      `features: ${ts.features.join(",")}`,
      `ldflags: ${ts.ldflags}`,
      `gcflags: ${ts.gcflags.length ? ts.gcflags.map((g) => `-gcflags=${g}`).join(" ") : "(none)"}`,
      `upx: ${ts.upx ? (ts.upxArgs ?? []).join(" ") || "yes" : "no"}`,
      ...(ts.sourcePatches ?? []).map((p) => `source patch ${p.module}/${p.file} (sha256 ${p.sha256} -> ${p.patchedSha256}): ${p.why}`),
    ]
      .filter((x) => x !== undefined)
      .join("; "),
  });
  relationships.push({ spdxElementId: imageId, relationshipType: "CONTAINS", relatedSpdxElement: tailscaleId });

  const stdlibId = "SPDXRef-GoStdlib";
  packages.push({
    name: "stdlib",
    SPDXID: stdlibId,
    versionInfo: ts.goVersion,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "BSD-3-Clause",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "LIBRARY",
    externalRefs: purlRef(goPurl("stdlib", ts.goVersion)),
    comment: "the Go standard library and runtime linked into tailscale.combined",
  });
  relationships.push({ spdxElementId: tailscaleId, relationshipType: "DEPENDS_ON", relatedSpdxElement: stdlibId });

  const mods = [...ts.modules].filter((m) => m.path !== "tailscale.com").sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const ids = new Set<string>();
  for (const m of mods) {
    let id = spdxId("GoModule", `${m.path}-${m.version}`);
    for (let n = 2; ids.has(id); n++) id = spdxId("GoModule", `${m.path}-${m.version}-${n}`);
    ids.add(id);
    // A replaced module is listed as the code actually linked; the comment keeps what was required.
    const linked = m.replacedBy ?? m;
    packages.push({
      name: linked.path,
      SPDXID: id,
      versionInfo: linked.version,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      primaryPackagePurpose: "LIBRARY",
      externalRefs: purlRef(goPurl(linked.path, linked.version)),
      comment: m.replacedBy ? `go.sum ${linked.sum}; replaces ${m.path}@${m.version} (go.mod replace)` : `go.sum ${m.sum}`,
    });
    relationships.push({ spdxElementId: tailscaleId, relationshipType: "DEPENDS_ON", relatedSpdxElement: id });
  }

  const busyboxId = "SPDXRef-Busybox";
  packages.push({
    name: "busybox",
    SPDXID: busyboxId,
    versionInfo: r.busybox.version,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "GPL-2.0-only",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "APPLICATION",
    checksums: [{ algorithm: "SHA256", checksumValue: r.busybox.tarballSha256 }],
    externalRefs: purlRef(`pkg:generic/busybox@${encodeURIComponent(r.busybox.version)}?checksum=sha256:${r.busybox.tarballSha256}`),
    comment:
      `static build from the release tarball busybox-${r.busybox.version}.tar.bz2 (checksum is the tarball's); ` +
      `upx: ${r.busybox.upx ? (r.busybox.upxArgs ?? []).join(" ") || "yes" : "no"}; applets: ${r.busybox.applets.join(",")}`,
  });
  relationships.push({ spdxElementId: imageId, relationshipType: "CONTAINS", relatedSpdxElement: busyboxId });

  const caId = "SPDXRef-CABundle";
  packages.push({
    name: "ca-certificates.crt",
    SPDXID: caId,
    versionInfo: r.caBundle.version,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "NOASSERTION",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "FILE",
    checksums: [{ algorithm: "SHA256", checksumValue: r.caBundle.sha256 }],
    externalRefs: purlRef(goPurl(r.caBundle.module, r.caBundle.version)),
    sourceInfo: `PEM bundle generated from the Mozilla roots embedded in Go module ${r.caBundle.module}@${r.caBundle.version} (go.sum ${r.caBundle.sum})`,
    comment: `/etc/ssl/certs/ca-certificates.crt; ${r.caBundle.included} roots included, ${r.caBundle.droppedDistrustAfter} dropped for a distrust-after date`,
  });
  relationships.push({ spdxElementId: imageId, relationshipType: "CONTAINS", relatedSpdxElement: caId });

  const hcId = "SPDXRef-Healthcheck";
  packages.push({
    name: "mikrotik-tailscale-healthcheck",
    SPDXID: hcId,
    versionInfo: r.healthcheck.sourceSha256.slice(0, 12),
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "BSD-3-Clause",
    copyrightText: "NOASSERTION",
    primaryPackagePurpose: "APPLICATION",
    checksums: [{ algorithm: "SHA256", checksumValue: r.healthcheck.sourceSha256 }],
    sourceInfo: `static musl build of this project's healthcheck C source (checksum is the source's) with ${r.healthcheck.toolchain}`,
    comment: `/usr/local/bin/healthcheck, RouterOS's healthcheck-cmd; gcc ${r.healthcheck.gccArgs.join(" ")}`,
  });
  relationships.push({ spdxElementId: imageId, relationshipType: "CONTAINS", relatedSpdxElement: hcId });

  const name = `${input.repoTag.replace(":", "-")}`;
  const body = {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name,
    creationInfo: { created: rfc3339(input.sourceDateEpoch), creators: [`Tool: mikrotik-tailscale-${input.toolVersion}`] },
    packages,
    relationships,
  };
  // A namespace that is unique for different content and the same for the same content.
  const namespace = `https://spdx.org/spdxdocs/${encodeURIComponent(name)}-${digestHex(digestOf(canonicalJson(body))).slice(0, 32)}`;
  return canonicalJson({ ...body, documentNamespace: namespace });
}
