/**
 * Where datasets are looked for: the experiment's `path` (relative to the experiment file's folder),
 * else the folder in the `EXPBENCH_DATA` environment variable, else the per-user cache
 * (`$XDG_CACHE_HOME/expbench`, or `~/.cache/expbench`), which is where `expbench data cifar10`
 * downloads to by default.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Environment variable naming a data folder. */
export const DATA_ENV = 'EXPBENCH_DATA';

/** Folder name of the extracted official CIFAR-10 binary release. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
/** File name of the official CIFAR-10 binary archive. */
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';

/** The per-user cache folder for expbench's data (not created here). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'expbench');
}

/** Resolves a config path against the experiment file's folder. */
export function resolveDataPath(p: string, baseDir: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Folders searched when the config gives no path, in order, each with where it came from. */
export function defaultDataDirs(env: NodeJS.ProcessEnv = process.env): { dir: string; from: string }[] {
  const dirs: { dir: string; from: string }[] = [];
  const fromEnv = env[DATA_ENV];
  if (fromEnv) dirs.push({ dir: resolve(fromEnv), from: `$${DATA_ENV}` });
  dirs.push({ dir: cacheDir(env), from: 'the cache folder' });
  return dirs;
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function exists(p: string): boolean {
  return existsSync(p);
}

/** True for names of archives the loaders can stream. */
export function isArchiveName(p: string): boolean {
  return /\.(tar\.gz|tgz|tar)$/i.test(p);
}
