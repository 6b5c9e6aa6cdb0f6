/**
 * The committed baseline: per machine (hardware fingerprint), per case key, per phase, the timing
 * SAMPLES of an accepted run — samples, not medians, because the gate's rank test needs them.
 *
 *     {
 *       "schema": "expbench/baseline@1",
 *       "machines": {
 *         "<fingerprint>": {
 *           "env": { "cpu": "…", "cores": 8, "memoryBytes": …, "gpu": "…", "os": "…", "node": "v20…" },
 *           "cases": { "<experiment> › <backend>": { "train": { "samples": [ … ], … } } }
 *         }
 *       }
 *     }
 *
 * Runs are compared only with the baseline of the same hardware, the same workload (model, sizes,
 * epochs, batch) and the same backend actually used; anything else is `incomparable`, with a message
 * that says what differs. Updates are serialised across processes with proper-lockfile and written
 * atomically, so concurrent `vitest` shards can update one file without losing or tearing entries.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { ExpbenchError } from '../errors.ts';
import type { PhaseName } from '../config/types.ts';
import { type OpGrowth, type OpTimes, opGrowth, opTimesOf } from '../vocab/op-profile.ts';
import { PHASE_NAMES, PHASE_SHORT_LABELS, TIMED_PHASES } from '../vocab/phases.ts';
import { readJsonIfExists, writeJsonAtomic } from './atomic.ts';
import { describeMachine } from './env.ts';
import { compareToBaseline, incomparable, type GateOptions, type GateVerdict } from './gate.ts';
import type { EnvironmentInfo, ResultRecord } from './record.ts';

export const BASELINE_SCHEMA = 'expbench/baseline@1' as const;

/** Phases the gate compares unless told otherwise (warm-up is first-compile noise, reported only). */
export const GATED_PHASES: readonly PhaseName[] = TIMED_PHASES;

const ALL_PHASES: readonly PhaseName[] = PHASE_NAMES;

/** A corrupt, unreadable or foreign baseline file. The file is never modified when this is thrown. */
export class BaselineError extends ExpbenchError {
  constructor(
    message: string,
    opts: { hint?: string; cause?: unknown; location?: { file: string; line: number; col: number } } = {},
  ) {
    super('BASELINE', message, opts);
    this.name = 'BaselineError';
  }
}

/** What makes two runs of a case comparable besides the hardware. */
export interface BaselineWorkload {
  arch: string;
  trainExamples: number;
  testExamples: number;
  epochs: number;
  batchSize: number;
}

export interface BaselineEntry {
  /** Seconds, every repeat of the accepted run. */
  samples: number[];
  /** Backend that actually ran (e.g. after a fallback). */
  backend: string;
  workload: BaselineWorkload;
  runId: string;
  recordedAt: string;
  experimentHash: string;
  /**
   * The train entry of a run profiled per operator (`profile: true`): time per step by operator type,
   * so a slower run can name the operators whose time grew.
   */
  ops?: OpTimes;
}

export interface BaselineMachine {
  env: Pick<EnvironmentInfo, 'cpu' | 'cores' | 'memoryBytes' | 'gpu' | 'driver' | 'os' | 'node'>;
  cases: Record<string, Partial<Record<PhaseName, BaselineEntry>>>;
}

export interface BaselineFile {
  schema: typeof BASELINE_SCHEMA;
  machines: Record<string, BaselineMachine>;
}

const HINT_CORRUPT =
  'restore the file from version control (git checkout -- <file>), or delete it and record a new baseline with `expbench baseline update`';

/**
 * Reads and validates a baseline file. `undefined` when it does not exist (no baseline yet); a
 * {@link BaselineError} naming the file — and line:col for a syntax error, or the offending field —
 * when it is corrupt or belongs to something else. Read-only.
 */
export async function readBaseline(path: string): Promise<BaselineFile | undefined> {
  const raw = await readJsonIfExists(path, { code: 'BASELINE', what: 'baseline file', hint: HINT_CORRUPT }).catch(
    (e: unknown) => {
      if (e instanceof ExpbenchError)
        throw new BaselineError(e.message, { hint: e.hint, cause: e.cause, location: e.location });
      throw e;
    },
  );
  if (raw === undefined) return undefined;
  return validateBaseline(raw, path);
}

/** Checks the shape of a parsed baseline; throws {@link BaselineError} at the first bad field. */
export function validateBaseline(raw: unknown, file: string): BaselineFile {
  const fail = (where: string, what: string): never => {
    throw new BaselineError(`${file}: ${where}: ${what}; ${HINT_CORRUPT}`, { hint: HINT_CORRUPT });
  };
  if (!isObject(raw))
    return fail('top level', `expected a JSON object with "schema": "${BASELINE_SCHEMA}", got ${kind(raw)}`);
  if (raw.schema !== BASELINE_SCHEMA) {
    const got =
      typeof raw.schema === 'string'
        ? `"${raw.schema}"`
        : raw.schema === undefined
          ? 'no "schema" field'
          : kind(raw.schema);
    throw new BaselineError(
      `${file}: not an expbench baseline of this version (schema ${got}, expected "${BASELINE_SCHEMA}"); refusing to read or overwrite it. ` +
        'Point the baseline option at another path, or move this file away',
      { hint: 'point the baseline option at another path, or move this file away' },
    );
  }
  if (!isObject(raw.machines)) return fail('"machines"', `expected an object, got ${kind(raw.machines)}`);
  for (const [fp, m] of Object.entries(raw.machines)) {
    const at = `machines["${fp}"]`;
    if (!isObject(m)) return fail(at, `expected an object, got ${kind(m)}`);
    if (
      !isObject(m.env) ||
      typeof m.env.cpu !== 'string' ||
      typeof m.env.cores !== 'number' ||
      typeof m.env.memoryBytes !== 'number'
    ) {
      return fail(`${at}.env`, 'expected { cpu: string, cores: number, memoryBytes: number, … }');
    }
    if (!isObject(m.cases)) return fail(`${at}.cases`, `expected an object, got ${kind(m.cases)}`);
    for (const [key, phases] of Object.entries(m.cases)) {
      const cat = `${at}.cases["${key}"]`;
      if (!isObject(phases)) return fail(cat, `expected an object of phases, got ${kind(phases)}`);
      for (const [phase, e] of Object.entries(phases)) {
        const pat = `${cat}.${phase}`;
        if (!(ALL_PHASES as readonly string[]).includes(phase))
          return fail(pat, `unknown phase (expected one of ${ALL_PHASES.join(', ')})`);
        if (!isObject(e)) return fail(pat, `expected an object, got ${kind(e)}`);
        if (!Array.isArray(e.samples) || e.samples.length === 0)
          return fail(`${pat}.samples`, 'expected a non-empty array of seconds');
        e.samples.forEach((v, i) => {
          if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
            fail(`${pat}.samples[${i}]`, `expected a positive number of seconds, got ${JSON.stringify(v)}`);
        });
        if (typeof e.backend !== 'string') return fail(`${pat}.backend`, 'expected a string');
        const w = e.workload;
        if (
          !isObject(w) ||
          typeof w.arch !== 'string' ||
          !['trainExamples', 'testExamples', 'epochs', 'batchSize'].every((k) => typeof w[k] === 'number')
        ) {
          return fail(`${pat}.workload`, 'expected { arch, trainExamples, testExamples, epochs, batchSize }');
        }
        if (e.ops !== undefined) {
          const o = e.ops;
          if (
            !isObject(o) ||
            typeof o.source !== 'string' ||
            typeof o.batchSize !== 'number' ||
            !isObject(o.ms) ||
            !Object.values(o.ms).every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)
          )
            return fail(
              `${pat}.ops`,
              'expected { source: string, batchSize: number, ms: { <operator>: milliseconds } }',
            );
        }
      }
    }
  }
  return raw as unknown as BaselineFile;
}

export interface UpdateSummary {
  /** Entries written, as `key` + phase. */
  written: { key: string; phase: PhaseName; samples: number }[];
  /** Records not used, and why. */
  skipped: { key: string; reason: string }[];
}

/**
 * Merges the timing samples of `records` into the baseline at `path` (created if absent): each
 * (machine, case, phase) entry is replaced by the record's samples; everything else is kept. Holds an
 * exclusive lock for the read–modify–write and writes atomically. A corrupt or foreign existing file is
 * reported ({@link BaselineError}) and left untouched.
 */
export async function updateBaseline(path: string, records: readonly ResultRecord[]): Promise<UpdateSummary> {
  await mkdir(dirname(path), { recursive: true });
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(path, {
      realpath: false, // the file may not exist yet
      stale: 5_000, // a writer killed while holding the lock blocks others for at most this long
      retries: { retries: 200, factor: 1.3, minTimeout: 10, maxTimeout: 250, randomize: true },
    });
  } catch (e) {
    throw new BaselineError(
      `${path}: could not lock the baseline for update (${(e as Error).message}); another process holds ${path}.lock`,
      {
        hint: `if no expbench process is running, delete ${path}.lock`,
        cause: e,
      },
    );
  }
  try {
    const file: BaselineFile = (await readBaseline(path)) ?? { schema: BASELINE_SCHEMA, machines: {} };
    const summary = mergeRecords(file, records);
    if (summary.written.length > 0) await writeJsonAtomic(path, sortFile(file));
    return summary;
  } finally {
    await release();
  }
}

/** Pure part of {@link updateBaseline}: merges `records` into `file` in place. */
export function mergeRecords(file: BaselineFile, records: readonly ResultRecord[]): UpdateSummary {
  const summary: UpdateSummary = { written: [], skipped: [] };
  for (const r of records) {
    if (r.status === 'skipped' || r.status === 'crashed') {
      summary.skipped.push({ key: r.key, reason: `status ${r.status}` });
      continue;
    }
    const phases = ALL_PHASES.filter((p) => {
      const s = r.phases[p]?.samples;
      return s !== undefined && s.length > 0 && s.every((v) => Number.isFinite(v) && v > 0);
    });
    if (phases.length === 0) {
      summary.skipped.push({ key: r.key, reason: 'no phase with valid samples' });
      continue;
    }
    const fp = r.env.fingerprint;
    const machine = file.machines[fp] ?? { env: machineEnv(r.env), cases: {} };
    file.machines[fp] = machine;
    machine.env = machineEnv(r.env);
    const entries = machine.cases[r.key] ?? {};
    machine.cases[r.key] = entries;
    for (const p of phases) {
      const samples = [...r.phases[p]!.samples];
      entries[p] = {
        samples,
        backend: r.backend.session?.backend ?? r.backend.requested,
        workload: workloadOf(r),
        runId: r.runId,
        recordedAt: r.finishedAt,
        experimentHash: r.experiment.hash,
        ...(p === 'train' && r.opProfile ? { ops: opTimesOf(r.opProfile) } : {}),
      };
      summary.written.push({ key: r.key, phase: p, samples: samples.length });
    }
  }
  return summary;
}

export type BaselineLookup =
  | { kind: 'found'; entry: BaselineEntry; machine: BaselineMachine }
  | { kind: 'none' }
  | { kind: 'incomparable'; reason: string; entry?: BaselineEntry };

/** Finds the baseline entry a record's phase may be compared with, or says why there is none. */
export function lookupBaseline(file: BaselineFile | undefined, record: ResultRecord, phase: PhaseName): BaselineLookup {
  if (!file) return { kind: 'none' };
  const machine = file.machines[record.env.fingerprint];
  const entry = machine?.cases[record.key]?.[phase];
  if (!machine || !entry) {
    const elsewhere = Object.values(file.machines).filter((m) => m.cases[record.key]?.[phase]);
    if (elsewhere.length === 0) return { kind: 'none' };
    const where = elsewhere.map((m) => describeMachine(m.env)).join('; ');
    return {
      kind: 'incomparable',
      reason: `baseline recorded on ${where}; this machine is ${describeMachine(record.env)}: not compared`,
    };
  }
  const now = workloadOf(record);
  const diffs = (Object.keys(now) as (keyof BaselineWorkload)[]).filter((k) => now[k] !== entry.workload[k]);
  if (diffs.length > 0) {
    const show = (w: BaselineWorkload) => diffs.map((k) => `${k} ${w[k]}`).join(', ');
    return {
      kind: 'incomparable',
      entry,
      reason: `baseline measured ${show(entry.workload)}; this run ${show(now)}: not compared (record a new baseline for the changed workload)`,
    };
  }
  const backend = record.backend.session?.backend ?? record.backend.requested;
  if (backend !== entry.backend) {
    return {
      kind: 'incomparable',
      entry,
      reason: `baseline ran on backend ${entry.backend}; this run on ${backend}: not compared`,
    };
  }
  return { kind: 'found', entry, machine };
}

export interface PhaseVerdict extends GateVerdict {
  phase: PhaseName;
  /** Training only, when the baseline and this run were both profiled comparably: the operators whose time grew. */
  ops?: OpGrowth[];
}

/**
 * Gates every phase of `record` that has samples against the baseline (pure; read the file with
 * {@link readBaseline} first). Phases without current samples are left out.
 */
export function gateRecord(
  record: ResultRecord,
  file: BaselineFile | undefined,
  opts: GateOptions & { phases?: readonly PhaseName[] },
): PhaseVerdict[] {
  const out: PhaseVerdict[] = [];
  for (const phase of opts.phases ?? GATED_PHASES) {
    const current = record.phases[phase]?.samples;
    if (!current || current.length === 0) continue;
    const metric = `${record.key} ${PHASE_SHORT_LABELS[phase]} time`;
    const found = lookupBaseline(file, record, phase);
    let verdict: GateVerdict;
    let ops: OpGrowth[] | undefined;
    if (found.kind === 'found') {
      verdict = compareToBaseline(current, found.entry.samples, { ...opts, metric, unit: 's' });
      if (found.entry.ops && record.opProfile) ops = opGrowth(found.entry.ops, opTimesOf(record.opProfile));
    } else if (found.kind === 'none') verdict = compareToBaseline(current, [], { ...opts, metric, unit: 's' });
    else verdict = incomparable(`${metric}: ${found.reason}`, current, found.entry?.samples ?? [], opts);
    out.push({ ...verdict, phase, ...(ops ? { ops } : {}) });
  }
  return out;
}

function workloadOf(r: ResultRecord): BaselineWorkload {
  const e = r.experiment;
  return {
    arch: e.arch,
    trainExamples: e.trainExamples,
    testExamples: e.testExamples,
    epochs: e.epochs,
    batchSize: e.batchSize,
  };
}

function machineEnv(env: EnvironmentInfo): BaselineMachine['env'] {
  // The hostname stays out: the file is committed, and the fingerprint, not the name, decides matching.
  const m: BaselineMachine['env'] = {
    cpu: env.cpu,
    cores: env.cores,
    memoryBytes: env.memoryBytes,
    os: env.os,
    node: env.node,
  };
  if (env.gpu) m.gpu = env.gpu;
  if (env.driver) m.driver = env.driver;
  return m;
}

/** Keys sorted, so the committed file diffs cleanly. */
function sortFile(file: BaselineFile): BaselineFile {
  const sortObj = <T>(o: Record<string, T>, f: (v: T) => T = (v) => v): Record<string, T> =>
    Object.fromEntries(
      Object.entries(o)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, f(v)]),
    );
  return {
    schema: file.schema,
    machines: sortObj(file.machines, (m) => ({
      env: m.env,
      cases: sortObj(m.cases, (phases) => {
        const ordered: Partial<Record<PhaseName, BaselineEntry>> = {};
        for (const p of ALL_PHASES) if (phases[p]) ordered[p] = phases[p];
        return ordered;
      }),
    })),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
