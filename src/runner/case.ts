/**
 * Runs one case (an experiment on one backend) in its own child process and returns its result
 * record, whatever happens to the child: a crash, a signal, a hang past the timeout or a memory
 * budget blown mid-phase all become a `crashed` record with the cause, the last phase and the tail of
 * stderr, and the record is written atomically before this returns.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { join } from 'node:path';
import type { Availability, BackendId } from '../backends/types.ts';
import type { Case } from '../config/types.ts';
import { writeJsonAtomic } from './atomic.ts';
import { collectEnvironment } from './env.ts';
import { packageSizes } from './install-size.ts';
import { nvidiaSmiPath, parseComputeApps } from './memory.ts';
import { mergeMetrics } from './metric-record.ts';
import { spawnWorker } from './child.ts';
import type { ChildMessage, ProgressInfo, WorkerPhase } from './protocol.ts';
import { mergeRecipeFields } from './recipe-record.ts';
import {
  absentUnion,
  newRecord,
  outcomeOf,
  peakFigures,
  withOutcome,
  type CaseError,
  type ResultRecord,
} from './record.ts';

/** Longest time a case's process may take to load before it takes its job. */
const STARTUP_LIMIT_MS = 120_000;

export interface RunCaseOptions {
  runId: string;
  /** Folder for this run's records (one JSON file per case). */
  resultsDir: string;
  /** Called with progress from the child (throttled there). */
  onProgress?(info: ProgressInfo): void;
  /** Forward the child's stderr. */
  echo?: boolean;
  /**
   * Completes the merged record before it is written (the suite judges its checks here), so the
   * stored record is the one the tests assert on.
   */
  evaluate?(record: ResultRecord): ResultRecord | Promise<ResultRecord>;
}

/** File name of a case's record: the key made filesystem-safe. */
export function recordFileName(key: string): string {
  return `${key.replace(/\s*›\s*/g, '__').replace(/[^A-Za-z0-9._-]+/g, '-')}.json`;
}

/** File name of the trained weights a case keeps beside its record (`training.keepWeights`). */
export function weightsFileName(key: string): string {
  return recordFileName(key).replace(/\.json$/, '.weights.onnx');
}

/** Reads the resident set of a process in bytes (Linux), or undefined. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The resident-set limit in force during `phase`: a phase's memory budget holds while that phase runs
 * (the budget of `train` during training, of `infer` during inference); other phases are unbudgeted.
 */
export function rssLimit(c: Case, phase: WorkerPhase): number | undefined {
  const m = c.experiment.expect.memory;
  return phase === 'train' ? m?.train : phase === 'infer' ? m?.infer : undefined;
}

/** Device memory the driver attributes to `pid` (nvidia-smi), or undefined where there is no such query. */
function deviceMemoryOf(pid: number): Promise<number | undefined> {
  const smi = nvidiaSmiPath();
  return new Promise((resolve) => {
    execFile(
      smi,
      ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
      { timeout: 5000 },
      (err, stdout) => resolve(err ? undefined : parseComputeApps(stdout, pid)),
    );
  });
}

/**
 * Runs a case: one child process per timed repeat (each after its own warm-up rounds), merged into
 * one record. Separate processes make repeats independent samples of what a user's next run will see:
 * measured here, repeats inside one process share its allocator, JIT and thread-pool state, and the
 * regression gate's false alarms rose from ~0% to ~3% when they did (bench/gate-noise.ts). The first
 * process also runs the parity check. A failure stops the case at that repeat.
 */
export async function runCase(c: Case, opts: RunCaseOptions): Promise<ResultRecord> {
  const parts = c.experiment.repeats;
  const records: ResultRecord[] = [];
  const file = join(opts.resultsDir, recordFileName(c.key));
  const startedAt = new Date().toISOString();
  const inFlight: InFlight = { c, opts, records, file, startedAt };
  mkdirSync(opts.resultsDir, { recursive: true });
  running.add(inFlight);
  installInterruptHandlers();
  try {
    for (let part = 0; part < parts; part++) {
      const keep = part === 0 && c.experiment.trains && c.experiment.training.keepWeights;
      const weightsFile = keep ? { weightsFile: join(opts.resultsDir, weightsFileName(c.key)) } : {};
      const r = await runCaseProcess(
        c,
        opts,
        { timedRounds: 1, parity: part === 0, part, parts, ...weightsFile },
        inFlight,
      );
      records.push(r);
      if (r.status !== 'passed') break;
    }
    const merged = mergeRecords(records);
    const used = Object.keys(merged.backend.session?.versions ?? {});
    if (used.length > 0) merged.backend.installBytes = await packageSizes(used);
    const record = opts.evaluate ? await opts.evaluate(merged) : merged;
    await writeJsonAtomic(file, record);
    return record;
  } finally {
    running.delete(inFlight);
  }
}

// ---------------------------------------------------------------------------------------------------
// Interruption. On SIGINT/SIGTERM the runner stops its cases' processes and writes, for each case in
// flight, a record marked `partial` holding the repeats that finished, synchronously and atomically,
// then lets the signal take its normal course. A record on disk is thus always whole: either a
// finished case, or a partial one that says so.

interface InFlight {
  c: Case;
  opts: RunCaseOptions;
  records: ResultRecord[];
  file: string;
  startedAt: string;
  child?: import('node:child_process').ChildProcess;
  phase?: WorkerPhase;
}

const running = new Set<InFlight>();
let handlersInstalled = false;

function installInterruptHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const f of running) {
        f.child?.kill('SIGKILL');
        writeFileAtomic.sync(f.file, `${JSON.stringify(partialRecord(f, signal), null, 2)}\n`);
      }
      running.clear();
      process.kill(process.pid, signal);
    });
  }
}

/** The record of a case interrupted by `signal`: finished repeats kept, marked partial. */
export function partialRecord(f: InFlight, signal: NodeJS.Signals): ResultRecord {
  const error: CaseError = {
    code: 'INTERRUPTED',
    message: `interrupted by ${signal} during repeat ${f.records.length + 1} of ${f.c.experiment.repeats}${f.phase ? ` (phase ${f.phase})` : ''}; ${f.records.length} repeat(s) finished`,
    signal,
  };
  if (f.phase) error.phase = f.phase;
  const base =
    f.records.length > 0
      ? mergeRecords(f.records)
      : crashedRecord(f.c, f.opts.runId, f.startedAt, error, fallbackEnv());
  return { ...withOutcome(base, { status: 'partial', error }), finishedAt: new Date().toISOString() };
}

/** Environment of a record written from a signal handler, where nothing may be awaited. */
function fallbackEnv(): ResultRecord['env'] {
  return {
    os: process.platform,
    cpu: 'unknown',
    cores: 0,
    memoryBytes: 0,
    node: process.version,
    packages: {},
    fingerprint: 'unknown',
  };
}

/** Concatenates the samples of a case's processes; the first process's parity, the worst memory. */
export function mergeRecords(parts: ResultRecord[]): ResultRecord {
  const [first, ...rest] = parts;
  if (!first) throw new Error('mergeRecords: no records');
  let out: ResultRecord = structuredClone(first);
  for (const r of rest) {
    for (const [phase, s] of Object.entries(r.phases) as [
      keyof ResultRecord['phases'],
      ResultRecord['phases'][keyof ResultRecord['phases']],
    ][]) {
      if (!s) continue;
      const cur = out.phases[phase] ?? { samples: [] };
      out.phases[phase] = cur;
      cur.samples.push(...s.samples);
      if (s.imagesPerSecond) cur.imagesPerSecond = [...(cur.imagesPerSecond ?? []), ...s.imagesPerSecond];
    }
    if (r.accuracy) out.accuracy = { samples: [...(out.accuracy?.samples ?? []), ...r.accuracy.samples] };
    for (const [phase, figs] of Object.entries(r.memory) as [
      keyof ResultRecord['memory'],
      ResultRecord['memory'][keyof ResultRecord['memory']],
    ][]) {
      out.memory[phase] = peakFigures([out.memory[phase] ?? [], figs ?? []]);
    }
    if (r.memoryAbsent) out.memoryAbsent = absentUnion(out.memoryAbsent, r.memoryAbsent);
    if (r.loss) out.loss = r.loss;
    mergeRecipeFields(out, r);
    const metrics = mergeMetrics(out.metrics, r.metrics);
    if (metrics) out.metrics = metrics;
    if (r.backend.session) out.backend.session = r.backend.session;
    if (r.status !== 'passed') out = withOutcome(out, outcomeOf(r));
    out.finishedAt = r.finishedAt;
  }
  return out;
}

async function runCaseProcess(
  c: Case,
  opts: RunCaseOptions,
  part: { timedRounds: number; parity: boolean; part: number; parts: number; weightsFile?: string },
  inFlight?: InFlight,
): Promise<ResultRecord> {
  const startedAt = new Date().toISOString();
  const { child, stderr } = spawnWorker({ echo: opts.echo });
  if (inFlight) inFlight.child = child;
  let phase: WorkerPhase = 'startup';
  let record: ResultRecord | undefined;
  let killedFor: CaseError | undefined;
  const timeoutMs = c.experiment.timeout * 1000;
  const budgets = c.experiment.expect.memory;
  const deviceLimit = budgets?.device;

  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => {
      killedFor ??= { code: 'WORKER_CRASH', message: `could not start the case's process: ${e.message}`, phase };
      resolve({ code: null, signal: null });
    });
  });
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'phase') {
      phase = m.phase;
      if (inFlight) inFlight.phase = m.phase;
    } else if (m.type === 'progress') opts.onProgress?.(m.info);
    else if (m.type === 'record') record = m.record;
  });

  // The case's clock starts when the child has loaded its modules and taken the job (its first
  // message); loading is bounded separately, so a busy machine's slow start is not charged to the
  // case, while a child that hangs before it starts is still stopped.
  let timer = setTimeout(() => {
    killedFor = {
      code: 'WORKER_TIMEOUT',
      message: `the case's process did not start within ${STARTUP_LIMIT_MS / 1000} s`,
      phase,
    };
    child.kill('SIGKILL');
  }, STARTUP_LIMIT_MS);
  child.once('message', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      killedFor = {
        code: 'WORKER_TIMEOUT',
        message: `case timed out after ${c.experiment.timeout} s in phase ${phase}; raise \`timeout\` in the experiment if this is expected`,
        phase,
      };
      child.kill('SIGKILL');
    }, timeoutMs);
  });
  const stop = (why: string): void => {
    killedFor = { code: 'BUDGET', message: `${why} in phase ${phase}; the case was stopped`, phase };
    child.kill('SIGKILL');
  };
  const watchdog =
    (budgets?.train === undefined && budgets?.infer === undefined) || !child.pid
      ? undefined
      : setInterval(() => {
          const limit = rssLimit(c, phase);
          if (limit === undefined) return;
          const rss = rssOf(child.pid!);
          if (rss !== undefined && rss > limit)
            stop(
              `memory budget exceeded: resident set ${(rss / 1e6).toFixed(0)} MB > limit ${(limit / 1e6).toFixed(0)} MB`,
            );
        }, 50);
  // Device memory is polled less often: each query starts the driver tool.
  let deviceBusy = false;
  const deviceWatch =
    deviceLimit === undefined || !child.pid
      ? undefined
      : setInterval(() => {
          if (deviceBusy) return;
          deviceBusy = true;
          void deviceMemoryOf(child.pid!).then((bytes) => {
            deviceBusy = false;
            if (bytes !== undefined && bytes > deviceLimit && !killedFor) {
              stop(
                `device memory budget exceeded: ${(bytes / 1e6).toFixed(0)} MB on the GPU (nvidia-smi) > limit ${(deviceLimit / 1e6).toFixed(0)} MB`,
              );
            }
          });
        }, 500);

  child.send({
    type: 'run',
    job: { experiment: c.experiment, backend: c.backend, key: c.key, runId: opts.runId, ...part },
  });
  const { code, signal } = await done;
  clearTimeout(timer);
  if (watchdog) clearInterval(watchdog);
  if (deviceWatch) clearInterval(deviceWatch);

  if (!record || killedFor) {
    const error: CaseError = killedFor ?? {
      code: 'WORKER_CRASH',
      message: `the case's process ${signal ? `was killed by ${signal}` : `exited with code ${code}`} in phase ${phase} before reporting a result`,
      phase,
    };
    error.signal = signal;
    error.exitCode = code;
    error.stderrTail = stderr.toString();
    record = crashedRecord(c, opts.runId, startedAt, error, await collectEnvironment());
  }
  return record;
}

/** A record for a case whose process died or was stopped before it could report. */
export function crashedRecord(
  c: Case,
  runId: string,
  startedAt: string,
  error: CaseError,
  env: ResultRecord['env'],
): ResultRecord {
  const r = withOutcome(newRecord(c.experiment, c.backend, c.key, runId, env, startedAt), { status: 'crashed', error });
  return { ...r, finishedAt: new Date().toISOString() };
}

/** A record for a backend that is not available here, so reports show it as skipped with the reason. */
export function skippedRecord(c: Case, runId: string, reason: string, env: ResultRecord['env']): ResultRecord {
  const now = new Date().toISOString();
  return withOutcome(newRecord(c.experiment, c.backend, c.key, runId, env, now), {
    status: 'skipped',
    skipReason: reason,
  });
}

/** Probes backends in a child process (so a runtime that crashes on load cannot take the caller down). */
export async function probeInChild(backends: BackendId[], timeoutMs = 60_000): Promise<Record<string, Availability>> {
  const { child, stderr } = spawnWorker();
  return new Promise((resolve) => {
    const fallback = (why: string): Record<string, Availability> =>
      Object.fromEntries(backends.map((b) => [b, { available: false, reason: why }]));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(fallback(`probing backends timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'probed') {
        clearTimeout(timer);
        resolve(m.results);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(
        fallback(`probing crashed (${signal ?? `exit ${code}`}): ${stderr.toString().trim().split('\n').pop() ?? ''}`),
      );
    });
    child.send({ type: 'probe', backends });
  });
}
