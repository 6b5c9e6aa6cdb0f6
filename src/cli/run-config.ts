/**
 * The Vitest configuration `expbench run` runs with: exactly the experiment files it was given
 * (`EXPBENCH_RUN_FILES`, a JSON list of absolute paths), wherever they are, so a user's file outside
 * `experiments/` runs, and a project needs no Vitest configuration of its own.
 */
import { dirname, relative, sep } from 'node:path';
import { defineConfig } from 'vitest/config';
import { expbench } from '../plugin/index.ts';
import { RUN_FILES_ENV } from '../plugin/settings.ts';
import { ExpbenchReporter } from '../plugin/reporter.ts';

/** The deepest folder that contains every file. */
export function commonFolder(files: string[]): string {
  let dir = dirname(files[0] ?? process.cwd());
  for (const f of files) while (relative(dir, f).startsWith('..')) dir = dirname(dir);
  return dir;
}

/** A path as a glob that matches only itself (glob characters escaped, forward slashes). */
export function literalGlob(path: string): string {
  return path
    .split(sep)
    .join('/')
    .replace(/[*?[\]{}()!+@\\]/g, '\\$&');
}

const files = JSON.parse(process.env[RUN_FILES_ENV] || '[]') as string[];
const dir = commonFolder(files);

export default defineConfig({
  plugins: [expbench()],
  test: {
    dir,
    include: files.map((f) => literalGlob(relative(dir, f))),
    reporters: ['default', new ExpbenchReporter()],
    // One file at a time, so timings are not taken while other files compete for the same cores.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
  },
});
