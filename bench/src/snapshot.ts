/**
 * A clean clone of the project's committed HEAD to build from: others may
 * edit the working tree while the benchmark runs for half an hour, and the
 * reproducibility check needs both builds to see the very same sources.
 */
import { existsSync } from "node:fs";
import { rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { projectRoot } from "../../src/paths.js";
import { mustRun } from "../../test/support/netns.js";

export interface Snapshot {
  dir: string;
  commit: string;
  /** Commit time, seconds: the SOURCE_DATE_EPOCH the build would pick. */
  commitTime: number;
}

/** A clean clone of the project at `ref` (default: the committed HEAD) in `dest`, kept while it is still that commit. */
export async function snapshotHead(dest: string, ref = "HEAD"): Promise<Snapshot> {
  const r = await mustRun("git", ["-C", projectRoot, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`]).catch(() => "");
  const commit = r.trim();
  if (!commit) throw new Error(`${ref} is not a commit of this repository`);
  if (existsSync(join(dest, ".git"))) {
    const have = (await mustRun("git", ["-C", dest, "rev-parse", "HEAD"])).trim();
    const dirty = (await mustRun("git", ["-C", dest, "status", "--porcelain", "--untracked-files=no"])).trim();
    if (have !== commit || dirty) await rm(dest, { recursive: true, force: true });
  }
  if (!existsSync(join(dest, ".git"))) {
    await rm(dest, { recursive: true, force: true });
    await mustRun("git", ["clone", "-q", "--no-checkout", projectRoot, dest], { timeoutMs: 120_000 });
    await mustRun("git", ["-C", dest, "checkout", "-q", "--detach", commit], { timeoutMs: 120_000 });
  }
  if (!existsSync(join(dest, "node_modules"))) await symlink(join(projectRoot, "node_modules"), join(dest, "node_modules"));
  const commitTime = Number((await mustRun("git", ["-C", dest, "log", "-1", "--format=%ct"])).trim());
  return { dir: dest, commit, commitTime };
}
