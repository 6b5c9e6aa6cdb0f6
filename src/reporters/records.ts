/**
 * Loading and merging result records. Records are the unit of merge: the result folders of
 * `vitest --shard=1/2` and `--shard=2/2` (or of several machines' runs) load into the same set of
 * records an unsharded run writes, one per case key.
 *
 * Accepted inputs: record files (`expbench/result@2`, and `expbench/result@1` migrated — see
 * migrate.ts), folders searched recursively for `*.json`,
 * and `results.json` bundles written by the JSON reporter (`expbench/report@1`), so a published
 * report can be merged again.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExpbenchError } from '../errors.ts';
import { type CaseStatus, RECORD_SCHEMA, type ResultRecord } from '../runner/record.ts';
import { MIGRATED_SCHEMAS, migrateRecord } from './migrate.ts';
import { newer } from './newest.ts';

/** Schema tag of the JSON reporter's `results.json`, which carries merged records. */
export const REPORT_SCHEMA = 'expbench/report@1' as const;

const STATUSES: readonly CaseStatus[] = ['passed', 'failed', 'skipped', 'crashed', 'partial'];

/** A record file that cannot be used: wrong schema version, not JSON, missing fields. */
export class RecordError extends ExpbenchError {
  /** One line per rejected file, each starting with the file name. */
  readonly problems: string[];
  constructor(problems: string[]) {
    const head = problems.length === 1 ? 'a result file was rejected' : `${problems.length} result files were rejected`;
    super('RECORD', `${head}:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'remove or regenerate the files named above, or leave them out of the inputs',
    });
    this.name = 'RecordError';
    this.problems = problems;
  }
}

export interface LoadRecordsOptions {
  /**
   * What to do with a file that is not a usable record (another schema version, broken JSON,
   * missing fields): throw one {@link RecordError} listing every such file after reading them all,
   * or turn each into a warning and go on with the rest.
   * @default 'throw'
   */
  onInvalid?: 'throw' | 'warn';
  /** Only records this accepts take part (before the newest record of each case is chosen). */
  keep?: (record: ResultRecord) => boolean;
}

export interface LoadedRecords {
  /** One record per case key, sorted by key. */
  records: ResultRecord[];
  /** Duplicates resolved, files ignored or skipped; each names the file(s) concerned. */
  warnings: string[];
}

interface Candidate {
  record: ResultRecord;
  file: string;
}

/**
 * Reads records from files and folders (folders recursively, `*.json` only), validates their schema
 * and merges them: one record per key. The same key and run twice (overlapping shards, a file copied
 * into two folders) keeps one and warns; the same key from different runs keeps the most recently
 * finished and says which.
 */
export async function loadRecords(paths: string[], opts: LoadRecordsOptions = {}): Promise<LoadedRecords> {
  const warnings: string[] = [];
  const problems: string[] = [];
  const candidates: Candidate[] = [];

  for (const input of paths) {
    let files: { file: string; explicit: boolean }[];
    try {
      files = await expand(input);
    } catch (err) {
      problems.push(
        `${input}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path`,
      );
      continue;
    }
    if (files.length === 0) warnings.push(`${input}: no *.json files found`);
    for (const { file, explicit } of files) {
      const parsed = await readJson(file);
      if ('problem' in parsed) {
        problems.push(parsed.problem);
        continue;
      }
      const found = classify(file, parsed.value, explicit);
      if (found.kind === 'ignored') warnings.push(found.message);
      else if (found.kind === 'rejected') problems.push(...found.problems);
      else for (const record of found.records) if (opts.keep?.(record) ?? true) candidates.push({ record, file });
    }
  }

  if (problems.length > 0) {
    if ((opts.onInvalid ?? 'throw') === 'throw') throw new RecordError(problems);
    warnings.push(...problems.map((p) => `skipped ${p}`));
  }

  const chosen = new Map<string, Candidate>();
  const superseded = new Map<string, { keep: Candidate; drop: Candidate }[]>();
  for (const c of candidates) {
    const prev = chosen.get(c.record.key);
    if (prev === undefined) {
      chosen.set(c.record.key, c);
      continue;
    }
    const keep = newerCandidate(prev, c);
    chosen.set(c.record.key, keep);
    const drop = keep === prev ? c : prev;
    if (prev.record.runId === c.record.runId) {
      const same = JSON.stringify(prev.record) === JSON.stringify(c.record);
      warnings.push(
        same
          ? `"${c.record.key}" of run ${c.record.runId} appears twice (${prev.file} and ${c.file}; overlapping shards?); kept one`
          : `"${c.record.key}" of run ${c.record.runId} appears twice with different contents (${prev.file} and ${c.file}); kept the one finished at ${keep.record.finishedAt} (${keep.file})`,
      );
    } else {
      const pair = `${drop.record.runId}\u0000${keep.record.runId}`;
      const list = superseded.get(pair);
      if (list) list.push({ keep, drop });
      else superseded.set(pair, [{ keep, drop }]);
    }
  }
  // Re-running a suite over an old results folder supersedes every case of the older run: one line
  // per pair of runs rather than one per case.
  for (const list of superseded.values()) {
    const { keep, drop } = list[0] as { keep: Candidate; drop: Candidate };
    if (list.length === 1) {
      warnings.push(
        `"${keep.record.key}" has records from runs ${drop.record.runId} (finished ${drop.record.finishedAt}, ${drop.file}) and ${keep.record.runId} (finished ${keep.record.finishedAt}, ${keep.file}); kept the newest, run ${keep.record.runId}`,
      );
    } else {
      const keys = list.map((x) => `"${x.keep.record.key}"`).sort(compare);
      warnings.push(
        `${list.length} cases have records from runs ${drop.record.runId} and ${keep.record.runId}; kept the newest, run ${keep.record.runId}, for each: ${keys.length > 6 ? `${keys.slice(0, 6).join(', ')}, …` : keys.join(', ')}`,
      );
    }
  }

  const records = [...chosen.values()].map((c) => c.record).sort((a, b) => compare(a.key, b.key));
  return { records, warnings };
}

/** The candidate holding the newer record (`src/reporters/newest.ts`). */
function newerCandidate(a: Candidate, b: Candidate): Candidate {
  return newer(a.record, b.record) === a.record ? a : b;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function expand(input: string): Promise<{ file: string; explicit: boolean }[]> {
  const st = await stat(input);
  if (!st.isDirectory()) return [{ file: input, explicit: true }];
  const entries = await readdir(input, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => join(e.parentPath, e.name))
    .sort(compare)
    .map((file) => ({ file, explicit: false }));
}

async function readJson(file: string): Promise<{ value: unknown } | { problem: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { problem: `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return {
      problem: `${file}: not valid JSON (${(err as Error).message}); the file may be truncated by an interrupted run, re-run its case`,
    };
  }
}

type Classified =
  | { kind: 'records'; records: ResultRecord[] }
  | { kind: 'ignored'; message: string }
  | { kind: 'rejected'; problems: string[] };

/** A record of the current schema, or of one this version migrates; else why not. */
function readRecord(value: unknown): { record: ResultRecord } | { problem: string } {
  const schema = isObject(value) && typeof value.schema === 'string' ? value.schema : undefined;
  if (schema !== RECORD_SCHEMA && (schema === undefined || !MIGRATED_SCHEMAS.includes(schema)))
    return { problem: versionProblem(schema) };
  const problem = invalidRecord(value);
  if (problem !== undefined) return { problem: `not a valid ${schema} record: ${problem}` };
  const v = value as Record<string, unknown>;
  return { record: schema === RECORD_SCHEMA ? (v as unknown as ResultRecord) : migrateRecord(v) };
}

function classify(file: string, value: unknown, explicit: boolean): Classified {
  const schema = isObject(value) && typeof value.schema === 'string' ? value.schema : undefined;
  if (schema?.startsWith('expbench/result@')) {
    const read = readRecord(value);
    return 'record' in read
      ? { kind: 'records', records: [read.record] }
      : { kind: 'rejected', problems: [`${file}: ${read.problem}`] };
  }
  if (schema === REPORT_SCHEMA && isObject(value) && Array.isArray(value.records)) {
    const records: ResultRecord[] = [];
    const problems: string[] = [];
    value.records.forEach((r: unknown, i: number) => {
      const read = readRecord(r);
      if ('record' in read) records.push(read.record);
      else problems.push(`${file}: records[${i}]: ${read.problem}`);
    });
    return problems.length > 0 ? { kind: 'rejected', problems } : { kind: 'records', records };
  }
  if (schema?.startsWith('expbench/report@')) {
    return { kind: 'rejected', problems: [`${file}: ${versionProblem(schema)}`] };
  }
  const what = schema === undefined ? 'has no "schema" field' : `has schema "${schema}"`;
  if (explicit) {
    return {
      kind: 'rejected',
      problems: [
        `${file}: not an expbench result record (${what}); pass result folders or record files written by expbench`,
      ],
    };
  }
  return { kind: 'ignored', message: `${file}: ignored, not an expbench result record (${what})` };
}

function versionProblem(schema: string | undefined): string {
  if (schema === undefined) return `no "schema" field; expected "${RECORD_SCHEMA}"`;
  return (
    `schema "${schema}" is not supported; this version of expbench reads "${RECORD_SCHEMA}" ` +
    `(migrating ${MIGRATED_SCHEMAS.map((m) => `"${m}"`).join(', ')}; and "${REPORT_SCHEMA}" bundles). Re-run the experiments with this version, or render these ` +
    `results with the expbench version that wrote them`
  );
}

/** The first missing or mistyped field a reporter relies on, or undefined when the record is usable. */
function invalidRecord(r: unknown): string | undefined {
  if (!isObject(r)) return 'not an object';
  for (const f of ['runId', 'key', 'status', 'startedAt', 'finishedAt'] as const) {
    if (typeof r[f] !== 'string') return `"${f}" is missing or not a string`;
  }
  if (!STATUSES.includes(r.status as CaseStatus))
    return `"status" is "${String(r.status)}", expected one of ${STATUSES.join(', ')}`;
  if (Number.isNaN(Date.parse(r.finishedAt as string))) return `"finishedAt" is not a date: "${String(r.finishedAt)}"`;
  if (r.status === 'skipped' && typeof r.skipReason !== 'string') return 'status "skipped" without a "skipReason"';
  if (r.status !== 'passed' && r.status !== 'skipped') {
    if (!isObject(r.error) || typeof r.error.code !== 'string' || typeof r.error.message !== 'string')
      return `status "${r.status}" without an "error" with "code" and "message"`;
  }
  const exp = r.experiment;
  if (!isObject(exp) || typeof exp.name !== 'string' || typeof exp.arch !== 'string') {
    return '"experiment.name" / "experiment.arch" missing';
  }
  if (!isObject(r.backend) || typeof r.backend.requested !== 'string') return '"backend.requested" missing';
  if (!isObject(r.env)) return '"env" missing';
  if (!isObject(r.phases)) return '"phases" missing';
  if (!isObject(r.memory)) return '"memory" missing';
  for (const [phase, p] of Object.entries(r.phases)) {
    if (!isObject(p) || !Array.isArray(p.samples) || !p.samples.every((x) => typeof x === 'number')) {
      return `"phases.${phase}.samples" is not an array of numbers`;
    }
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
