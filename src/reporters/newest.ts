/**
 * "The newest record wins": wherever several records could stand for one thing (a case measured in
 * several runs, a backend's cell, a machine's description, the study's reference figures), the one
 * finished last is taken. Ties go to the larger run id, then to the key that sorts first (the first
 * in a report's order), so the choice never depends on the order records were read in.
 */
import type { ResultRecord } from '../runner/record.ts';

/** Positive when `a` is newer than `b`, negative when older, 0 only for the same run and key. */
export function recency(a: ResultRecord, b: ResultRecord): number {
  return Date.parse(a.finishedAt) - Date.parse(b.finishedAt) || compare(a.runId, b.runId) || compare(b.key, a.key);
}

/** The newer of two records (`a` when they tie). */
export function newer<R extends ResultRecord>(a: R, b: R): R {
  return recency(b, a) > 0 ? b : a;
}

/** Records from newest to oldest. */
export function newestFirst(records: readonly ResultRecord[]): ResultRecord[] {
  return [...records].sort((a, b) => recency(b, a));
}

/** For each key `keyOf` gives, the newest record with that key. */
export function newestBy<K>(records: readonly ResultRecord[], keyOf: (r: ResultRecord) => K): Map<K, ResultRecord> {
  const out = new Map<K, ResultRecord>();
  for (const r of records) {
    const k = keyOf(r);
    const prev = out.get(k);
    out.set(k, prev === undefined ? r : newer(prev, r));
  }
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
