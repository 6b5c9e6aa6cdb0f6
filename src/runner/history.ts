/**
 * The history of a project's runs: each run's summary per case and metric (median and sample count
 * of every timed phase, with the commit, the time and the machine's fingerprint), appended to one
 * JSON file so a metric's series can be followed run after run and its change points found
 * (src/stats/changepoints.ts).
 *
 *     { "schema": "expbench/history@1",
 *       "points": [ { "key": "table2 › onnxruntime/cpu", "metric": "train", "median": 5.5, "n": 3,
 *                     "commit": "1a2b3c…", "time": "2026-12-02T13:00:00.000Z", "machine": "3f9c…",
 *                     "runId": "20261202T130000Z-ab12cd" }, … ] }
 *
 * One JSON file rather than an embedded database: a few hundred bytes per case and run, read whole by
 * `expbench history`, diffable and easy to cache between CI runs. Appends hold an exclusive lock
 * (proper-lockfile) for the read–modify–write and write atomically (temporary file, then rename), so
 * concurrent runs never lose or tear points and a reader never sees half a file. A run appended twice
 * replaces its own points.
 */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { ExpbenchError } from '../errors.ts';
import { median, sortSamples } from '../stats/summary.ts';
import { TIMED_PHASES } from '../vocab/phases.ts';
import { readJsonIfExists, writeJsonAtomic } from './atomic.ts';
import type { ResultRecord } from './record.ts';

export const HISTORY_SCHEMA = 'expbench/history@1' as const;

export interface HistoryPoint {
  /** Case key, `<experiment> › <backend>`. */
  key: string;
  /** A timed phase (`buildInit`, `train`, `infer`, in seconds) or `accuracy` (fraction). */
  metric: string;
  median: number;
  /** Samples behind the median. */
  n: number;
  /** The commit measured, when known (`GITHUB_SHA`, else `git rev-parse HEAD`). */
  commit: string | null;
  /** When the case finished. */
  time: string;
  /** Hardware fingerprint: a series is one case, metric and machine. */
  machine: string;
  runId: string;
}

export interface HistoryFile {
  schema: typeof HISTORY_SCHEMA;
  points: HistoryPoint[];
}

const HINT = 'restore the file from a backup or delete it to start a new history';

/** The commit the working tree is at: `GITHUB_SHA` in GitHub Actions, else git's HEAD; null if neither. */
export function currentCommit(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.GITHUB_SHA) return env.GITHUB_SHA;
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || null
    );
  } catch {
    return null;
  }
}

/** The summary points of records: one per timed phase with samples, and accuracy. Pure. */
export function historyPoints(records: readonly ResultRecord[], commit: string | null): HistoryPoint[] {
  const out: HistoryPoint[] = [];
  for (const r of records) {
    if (r.status === 'skipped' || r.status === 'crashed' || r.status === 'partial') continue;
    const base = { key: r.key, commit, time: r.finishedAt, machine: r.env.fingerprint, runId: r.runId };
    for (const phase of TIMED_PHASES) {
      const s = r.phases[phase]?.samples ?? [];
      if (s.length > 0) out.push({ ...base, metric: phase, median: median(sortSamples(s)), n: s.length });
    }
    const acc = r.accuracy?.samples ?? [];
    if (acc.length > 0) out.push({ ...base, metric: 'accuracy', median: median(sortSamples(acc)), n: acc.length });
  }
  return out;
}

/** Reads a history file; an empty history when it does not exist; a located error when it is not one. */
export async function readHistory(path: string): Promise<HistoryFile> {
  const raw = await readJsonIfExists(path, { code: 'HISTORY', what: 'history file', hint: HINT });
  if (raw === undefined) return { schema: HISTORY_SCHEMA, points: [] };
  const o = raw as Partial<HistoryFile>;
  if (typeof raw !== 'object' || raw === null || o.schema !== HISTORY_SCHEMA || !Array.isArray(o.points)) {
    throw new ExpbenchError(
      'HISTORY',
      `${path}: not an expbench history (expected "schema": "${HISTORY_SCHEMA}" and "points": [...])`,
      {
        hint: HINT,
      },
    );
  }
  o.points.forEach((p, i) => {
    if (
      typeof p?.key !== 'string' ||
      typeof p.metric !== 'string' ||
      typeof p.median !== 'number' ||
      typeof p.time !== 'string'
    ) {
      throw new ExpbenchError('HISTORY', `${path}: points[${i}] is not a history point (key, metric, median, time)`, {
        hint: HINT,
      });
    }
  });
  return raw as HistoryFile;
}

/**
 * Appends `points` to the history at `path` (created if absent) under an exclusive lock, written
 * atomically; points of a run already there (same run id, case and metric) are replaced. Returns the
 * number of points in the file afterwards.
 */
export async function appendHistory(path: string, points: readonly HistoryPoint[]): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      stale: 5_000,
      retries: { retries: 200, factor: 1.3, minTimeout: 10, maxTimeout: 250, randomize: true },
    });
  } catch (e) {
    throw new ExpbenchError('HISTORY', `${path}: could not lock the history (${(e as Error).message})`, {
      hint: `if no expbench process is running, delete ${path}.lock`,
      cause: e,
    });
  }
  try {
    const file = await readHistory(path);
    const id = (p: HistoryPoint) => `${p.runId}\u0000${p.key}\u0000${p.metric}`;
    const fresh = new Set(points.map(id));
    const all = [...file.points.filter((p) => !fresh.has(id(p))), ...points].sort(
      (a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    await writeJsonAtomic(path, { schema: HISTORY_SCHEMA, points: all } satisfies HistoryFile);
    return all.length;
  } finally {
    await release();
  }
}

/** One metric's series: a case, a metric, a machine, its points in time order. */
export interface HistorySeries {
  key: string;
  metric: string;
  machine: string;
  points: HistoryPoint[];
}

/** The series of a history, sorted by case, metric and machine. */
export function historySeries(file: HistoryFile): HistorySeries[] {
  const by = new Map<string, HistorySeries>();
  for (const p of file.points) {
    const k = `${p.key}\u0000${p.metric}\u0000${p.machine}`;
    const s = by.get(k) ?? { key: p.key, metric: p.metric, machine: p.machine, points: [] };
    by.set(k, s);
    s.points.push(p);
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...by.values()]
    .map((s) => ({ ...s, points: [...s.points].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)) }))
    .sort((a, b) => cmp(a.key, b.key) || cmp(a.metric, b.metric) || cmp(a.machine, b.machine));
}
