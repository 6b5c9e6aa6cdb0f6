/**
 * Settings of one run, read from the environment so that the Vitest config, its workers and the
 * `expbench` command agree without passing objects across process boundaries.
 *
 * | variable                | meaning                                              | default                              |
 * |-------------------------|------------------------------------------------------|--------------------------------------|
 * | EXPBENCH_PROFILE        | profile applied to every experiment                  | none (the file's base values)        |
 * | EXPBENCH_RUN_ID         | id shared by the records of one run                  | set once per run by the config       |
 * | EXPBENCH_RESULTS_DIR    | where this run's records go                          | .expbench/results/<run id>           |
 * | EXPBENCH_BACKENDS       | comma list of backend ids or devices to run          | all                                  |
 * | EXPBENCH_BASELINE       | baseline file                                        | baselines/baseline.json              |
 * | EXPBENCH_REPORT_DIR     | where the end-of-run report is written               | .expbench/report                     |
 * | EXPBENCH_HISTORY        | history file each run's summaries are appended to    | .expbench/history.json               |
 * | EXPBENCH_PROGRESS       | 1: live progress even in CI; 0: never                | on for a terminal, off in CI         |
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { didYouMean } from '../config/validate.ts';
import { ExpbenchError } from '../errors.ts';
import { BACKEND_IDS, knownBackendIds } from '../vocab/backends.ts';

/** Carries `expbench run`'s experiment files (a JSON list of absolute paths) to its Vitest configuration. */
export const RUN_FILES_ENV = 'EXPBENCH_RUN_FILES';

export interface RunSettings {
  profile: string | null;
  runId: string;
  resultsDir: string;
  baselineFile: string;
  reportDir: string;
  historyFile: string;
  echo: boolean;
  backendFilter(id: string): boolean;
}

/** A run id: sortable by time, unique across machines. */
export function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Ensures the process (and the workers it starts later) share one run id. */
export function ensureRunId(env: NodeJS.ProcessEnv = process.env): string {
  env.EXPBENCH_RUN_ID ||= newRunId();
  return env.EXPBENCH_RUN_ID;
}

/** Does filter entry `f` (an id, a framework or a device) select backend `id`? */
const selects = (f: string, id: string): boolean => f === id || id.endsWith(`/${f}`) || id.startsWith(`${f}/`);

/**
 * The entries of a backend filter (`EXPBENCH_BACKENDS`, `--backends`): ids, frameworks or devices,
 * comma separated. An entry that selects no known backend is a typo that would skip every case, so it
 * is an error naming the closest word and the known ones (test-only backends are accepted, not listed).
 */
export function parseBackendFilter(value: string, source = 'EXPBENCH_BACKENDS'): string[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = knownBackendIds();
  const unknown = entries.filter((f) => !known.some((id) => selects(f, id)));
  if (unknown.length === 0) return entries;
  const words = [...new Set(BACKEND_IDS.flatMap((id) => [id, ...id.split('/')]))];
  const guesses = unknown.map((f) => didYouMean(f, words)).filter((g): g is string => g !== undefined);
  throw new ExpbenchError(
    'USAGE',
    `${source}=${value}: ${unknown.map((f) => `"${f}"`).join(', ')} matches no backend id, framework or device`,
    {
      hint: `${guesses.length ? `did you mean ${guesses.map((g) => `"${g}"`).join(', ')}? ` : ''}known: ${BACKEND_IDS.join(', ')} (or a framework such as tfjs, or a device such as cpu)`,
    },
  );
}

export function runSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): RunSettings {
  const runId = ensureRunId(env);
  const filter = parseBackendFilter(env.EXPBENCH_BACKENDS ?? '');
  return {
    profile: env.EXPBENCH_PROFILE || null,
    runId,
    resultsDir: resolve(cwd, env.EXPBENCH_RESULTS_DIR || join('.expbench', 'results', runId)),
    baselineFile: resolve(cwd, env.EXPBENCH_BASELINE || join('baselines', 'baseline.json')),
    reportDir: resolve(cwd, env.EXPBENCH_REPORT_DIR || join('.expbench', 'report')),
    historyFile: resolve(cwd, env.EXPBENCH_HISTORY || join('.expbench', 'history.json')),
    echo: env.EXPBENCH_ECHO === '1',
    backendFilter: (id) => filter.length === 0 || filter.some((f) => selects(f, id)),
  };
}
