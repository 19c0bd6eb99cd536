import { InvalidInputError } from "../errors.js";
import { featureAllowlist, loadImageSpec } from "../image/spec.js";

export interface FeatureAllowlist {
  features: { name: string; reason: string }[];
}

/** Parses an allowlist in lines: `<feature>  # why it is in` (bump's fixtures use it). */
export function parseFeatureAllowlist(text: string, source = "features.txt"): FeatureAllowlist {
  const features: FeatureAllowlist["features"] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const m = /^([a-z0-9_]+)\s*(?:#\s*(.*))?$/.exec(trimmed);
    const where = `${source}:${i + 1}`;
    if (!m) throw new InvalidInputError(`${where}: expected '<feature>  # reason', got '${trimmed}'`);
    const name = m[1]!;
    if (!m[2]?.trim()) throw new InvalidInputError(`${where}: feature '${name}' needs a one-line reason after '#'`);
    if (seen.has(name)) throw new InvalidInputError(`${where}: feature '${name}' listed twice`);
    seen.add(name);
    features.push({ name, reason: m[2].trim() });
  });
  if (features.length === 0) throw new InvalidInputError(`${source}: no features listed`);
  return { features };
}

/** The allowlist config/image.yaml declares (tailscale.features). */
export async function loadFeatureAllowlist(): Promise<FeatureAllowlist> {
  return featureAllowlist(loadImageSpec());
}

/** Parses `featuretags --list` output: `   name: description`. */
export function parseFeatureList(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const r = /^\s*([a-z0-9_]+):\s*(.*)$/.exec(line);
    if (r) m.set(r[1]!, r[2]!);
  }
  return m;
}

/** Every allowlisted feature must exist in the pinned Tailscale: a typo or a removed feature is an error. */
export function checkAllowlistKnown(allow: FeatureAllowlist, known: Map<string, string>, tailscaleVersion: string): void {
  const unknown = allow.features.map((f) => f.name).filter((n) => !known.has(n));
  if (unknown.length) {
    throw new InvalidInputError(
      `config/image.yaml: tailscale.features: Tailscale ${tailscaleVersion} has no feature named ${unknown.map((u) => `'${u}'`).join(", ")} (see 'go run tailscale.com/cmd/featuretags --list' in go/)`,
    );
  }
}

/**
 * The full `go build -tags` list: the CLI linked into tailscaled, plus the
 * omit tags that the pinned release's own featuretags tool printed.
 */
export function buildTags(featuretagsOutput: string): string[] {
  const omit = featuretagsOutput
    .trim()
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const t of omit) {
    if (!/^ts_omit_[a-z0-9_]+$/.test(t)) throw new InvalidInputError(`featuretags printed an unexpected tag '${t}'`);
  }
  return ["ts_include_cli", ...omit];
}

/** Features the tag list leaves in, given every feature the release knows. */
export function includedFeatures(tags: readonly string[], known: Map<string, string>): { included: string[]; omitted: string[] } {
  const omitted = new Set(tags.filter((t) => t.startsWith("ts_omit_")).map((t) => t.slice("ts_omit_".length)));
  const all = [...known.keys()].sort();
  const included = all.filter((f) => !omitted.has(f) && f !== "cli");
  if (tags.includes("ts_include_cli")) included.push("cli");
  return { included: included.sort(), omitted: all.filter((f) => omitted.has(f)) };
}
