/**
 * Reads a root filesystem directory into sorted in-memory entries for the
 * image writer. The only impure step between the build's tree and the layer.
 *
 * Regular files (contents read), directories, symlinks (target as stored)
 * and hard links (a file sharing an inode with one that sorts before it) are
 * kept; anything else (devices, fifos, sockets) is refused, as is a tree that
 * is not a directory. Modes are returned as found (permission bits only); the
 * layer writer normalises them.
 */
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { InvalidInputError } from "../errors.js";
import { comparePaths, type TreeEntry } from "../image/layer.js";

export async function readTree(root: string): Promise<TreeEntry[]> {
  let st;
  try {
    st = await lstat(root);
  } catch {
    throw new InvalidInputError(`root filesystem ${root} does not exist`);
  }
  if (!st.isDirectory()) throw new InvalidInputError(`root filesystem ${root} is not a directory`);

  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(rel ? join(root, rel) : root)).sort(comparePaths);
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const s = await lstat(abs, { bigint: true });
      const mode = Number(s.mode & 0o7777n);
      if (s.isDirectory()) {
        out.push({ path, type: "dir", mode });
        await walk(path);
      } else if (s.isSymbolicLink()) {
        out.push({ path, type: "symlink", mode, target: await readlink(abs) });
      } else if (s.isFile()) {
        out.push({ path, type: "file", mode, data: new Uint8Array(await readFile(abs)), ...inodeKey(s) });
      } else {
        throw new InvalidInputError(`${abs}: unsupported file type (only files, directories and symlinks go into an image)`);
      }
    }
  };
  await walk("");
  out.sort((a, b) => comparePaths(a.path, b.path));

  // Hard links: the first path (in sorted order) of an inode keeps the data,
  // later ones become links to it.
  const firstOfInode = new Map<string, string>();
  return out.map((e) => {
    const key = (e as TreeEntry & { inode?: string }).inode;
    const clean: TreeEntry = { path: e.path, type: e.type, mode: e.mode };
    if (e.data) clean.data = e.data;
    if (e.target !== undefined) clean.target = e.target;
    if (key === undefined) return clean;
    const first = firstOfInode.get(key);
    if (first === undefined) {
      firstOfInode.set(key, e.path);
      return clean;
    }
    return { path: e.path, type: "hardlink", mode: e.mode, target: first };
  });
}

function inodeKey(s: { nlink: bigint; dev: bigint; ino: bigint }): { inode?: string } {
  return s.nlink > 1n ? { inode: `${s.dev}:${s.ino}` } : {};
}
