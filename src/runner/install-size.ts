/**
 * How much disk a backend's packages take once installed: the bytes of every file under each
 * package's folder in `node_modules` (apparent sizes, symbolic links not followed, nested
 * dependencies of the package included, since they install with it). Measured once per case, in the
 * runner, for the packages the backend's session reports using (`session.versions`), so the record
 * says what that backend costs to install.
 */
import { lstat, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of package `name` in the nearest `node_modules` above `from`, if there is one. */
async function packageDir(name: string, from: string): Promise<string | undefined> {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if ((await lstat(candidate).catch(() => undefined))?.isDirectory()) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Bytes of the files under `dir`, recursively, symbolic links not followed. */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/**
 * Install size of each named package (bytes), looked up from `from` (default: this project); a
 * package not found is left out.
 */
export async function packageSizes(
  names: readonly string[],
  from = dirname(fileURLToPath(import.meta.url)),
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of [...new Set(names)].sort()) {
    const dir = await packageDir(name, from);
    if (dir) out[name] = await folderBytes(dir);
  }
  return out;
}
