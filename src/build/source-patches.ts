/**
 * Edits to pinned upstream Go sources, declared in go/source-patches.json and
 * applied to the vendored copy before every build. Each edit is pinned like a
 * module: the file's sha256 before and after, so a new upstream version (or a
 * different edit) stops the build instead of compiling something unreviewed.
 *
 * One kind of edit exists, the one needed so far: drop one `if` block that a
 * Linux build never runs, when it uses an API the module proxy's newest
 * served dependency lacks (shared/FIELD-NOTES.md section 9).
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { sha256 } from "../util/fsx.js";
import { parseJsonInput } from "../util/validate.js";

export const SOURCE_PATCHES_FILE = "source-patches.json";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

const PatchSchema = z.object({
  /** Module path as in go.mod, e.g. tailscale.com. */
  module: z.string().min(1),
  /** Slash-separated path inside the module. */
  file: z.string().regex(/^[\w.-]+(\/[\w.-]+)*\.go$/, "must be a .go file path inside the module"),
  why: z.string().min(10, "say why the edit is needed"),
  /** Removes the one block whose opening line is exactly this (after indentation) and whose body contains `containing`. */
  dropBlock: z.object({ opens: z.string().regex(/\{$/, "must be a line that opens a block"), containing: z.string().min(1) }),
  sha256: Sha256,
  patchedSha256: Sha256,
});

const PatchFileSchema = z.object({ $comment: z.string().optional(), patches: z.array(PatchSchema) });

export type SourcePatch = z.infer<typeof PatchSchema>;

export function parseSourcePatches(text: string, source = `go/${SOURCE_PATCHES_FILE}`): SourcePatch[] {
  return parseJsonInput(text, PatchFileSchema, source).patches;
}

/** The module's declared patches; none when the file does not exist. */
export function loadSourcePatches(moduleDir: string): SourcePatch[] {
  const p = join(moduleDir, SOURCE_PATCHES_FILE);
  return existsSync(p) ? parseSourcePatches(readFileSync(p, "utf8")) : [];
}

/** The file's text with the patch's block removed; throws unless exactly one block matches. */
export function dropBlock(text: string, patch: Pick<SourcePatch, "dropBlock" | "file">): string {
  const { opens, containing } = patch.dropBlock;
  const lines = text.split("\n");
  const found: Array<[number, number]> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== opens) continue;
    const indent = /^\s*/.exec(lines[i]!)![0];
    let end = -1;
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[j] === `${indent}}`) {
        end = j;
        break;
      }
      // A line at the opening's indentation or less that is not its closing brace: not a simple block.
      if (lines[j]!.trim() && !lines[j]!.startsWith(indent + "\t") && !lines[j]!.startsWith(indent + " ")) break;
    }
    if (end > i && lines.slice(i + 1, end).some((l) => l.includes(containing))) found.push([i, end]);
  }
  if (found.length !== 1) {
    throw new InvalidInputError(
      `source patch for ${patch.file}: expected exactly one block opened by "${opens}" containing "${containing}", found ${found.length}`,
    );
  }
  const [start, end] = found[0]!;
  return [...lines.slice(0, start), ...lines.slice(end + 1)].join("\n");
}

/** Applies one patch to its file text, checking the hashes before and after. */
export function applySourcePatch(text: string, patch: SourcePatch): string {
  const before = sha256(text);
  if (before !== patch.sha256) {
    throw new InvalidInputError(
      `source patch for ${patch.module}/${patch.file}: the file's sha256 is ${before}, go/${SOURCE_PATCHES_FILE} expects ${patch.sha256} (a new upstream version? review the edit, then update both hashes)`,
    );
  }
  const out = dropBlock(text, patch);
  const after = sha256(out);
  if (after !== patch.patchedSha256) {
    throw new InvalidInputError(`source patch for ${patch.module}/${patch.file}: the patched file's sha256 is ${after}, go/${SOURCE_PATCHES_FILE} expects ${patch.patchedSha256}`);
  }
  return out;
}

/** Patches a vendored module tree (`<dir>/vendor/<module>/<file>`) in place. */
export async function patchVendorTree(dir: string, patches: readonly SourcePatch[]): Promise<void> {
  for (const p of patches) {
    const path = join(dir, "vendor", p.module, ...p.file.split("/"));
    if (!existsSync(path)) throw new InvalidInputError(`source patch: ${p.module}/${p.file} is not in the vendored sources (is ${p.module} still a dependency?)`);
    const out = applySourcePatch(await readFile(path, "utf8"), p);
    await writeFile(`${path}.tmp`, out);
    await rename(`${path}.tmp`, path);
  }
}
