/**
 * The result record: one JSON file per case and run, the only thing reporters render from.
 * Versioned by `schema`; readers migrate older versions they know (src/reporters/migrate.ts) and reject
 * others with a clear message. New optional fields do not need a new version; a field whose absence
 * would change what a reader concludes (as `checks` did for the status) does.
 */
import type { BackendId, SessionInfo } from '../backends/types.ts';
import type { Experiment, PhaseName } from '../config/types.ts';
import type { FigureSpec } from '../config/figures.ts';
import type { MatrixValue } from '../config/matrix.ts';
import type { MetricUnit } from '../vocab/metric-registry.ts';
import type { DeviceMemoryMethod } from '../vocab/metrics.ts';
import type { OpGrowth, OpProfile } from '../vocab/op-profile.ts';
import type { MemoryPhase } from '../vocab/phases.ts';
import type { RecipeRecordFields } from './recipe-record.ts';
import type { MetricsRecord } from './metric-record.ts';

export const RECORD_SCHEMA = 'expbench/result@2' as const;

/** How a case that did not pass ended: a check failed, its process died, or it was interrupted. */
export type FailureStatus = 'failed' | 'crashed' | 'partial';
export type CaseStatus = 'passed' | 'skipped' | FailureStatus;

/** Timings of one phase: every repeat's sample in seconds, warm-up excluded. */
export interface PhaseSamples {
  samples: number[];
  /** Training only: images per second per sample. */
  imagesPerSecond?: number[];
}

/** One memory figure with where it came from and whether it can be trusted. */
export interface MemoryFigure {
  /** One of `MEMORY_METRICS` (`src/vocab/metrics.ts`); a string, since records outlive the list. */
  metric: string;
  bytes: number;
  /** e.g. `/proc/self/status VmHWM`, `process.memoryUsage()`, `tf.memory()`, `nvidia-smi`. */
  source: string;
  reliable: boolean;
  note?: string;
  /** Readings a sampled figure is the maximum of (kept out of `source`, which names the method only). */
  readings?: number;
  /** Phase measurements (rounds and repeats) this figure is the worst of; absent means one. */
  measurements?: number;
  /** Device figures (`device`, `device-total`): how the figure was obtained. */
  method?: DeviceMemoryMethod;
}

/** A memory source that gave no figure in a phase, and why (e.g. `nvidia-smi not found`). */
export interface AbsentMemory {
  metric: string;
  reason: string;
}

export interface EnvironmentInfo {
  os: string;
  cpu: string;
  cores: number;
  memoryBytes: number;
  gpu?: string;
  driver?: string;
  node: string;
  packages: Record<string, string>;
  /** Stable hash of the hardware (CPU model, core count, GPU), for baseline matching. */
  fingerprint: string;
  hostname?: string;
}

/**
 * Trained weights a case kept (`training.keepWeights`): the model as ONNX with its trained weights as
 * initializers, in a file beside the record, taken from the first repeat's last timed round.
 */
export interface KeptWeights {
  /** File name, in the record's folder. */
  file: string;
  format: 'onnx';
  /** Seed of that repeat's initial weights and data order. */
  seed: number;
  /** Trainable parameters in the file. */
  params: number;
  bytes: number;
}

export interface CaseError {
  code: string;
  message: string;
  /** Phase the case was in when it failed. */
  phase?: PhaseName | 'load-data' | 'parity' | 'evaluate' | 'latency' | 'startup' | 'profile' | 'keep-weights';
  signal?: string | null;
  exitCode?: number | null;
  stderrTail?: string;
  /** Numeric failures: the 0-based step within the epoch and the 0-based epoch. */
  step?: number;
  epoch?: number;
}

export interface ParityResult {
  reference: BackendId;
  maxAbs: number;
  maxRel: number;
  tolerance: number;
  passed: boolean;
  examples: number;
}

/** Error code of a case whose measurements completed but a check failed. */
export const CHECK_FAILED = 'CHECK_FAILED';

/** What a check judges. */
export type CheckKind = 'accuracy' | 'time' | 'memory' | 'regression' | 'parity' | 'metric';

/**
 * How the regression gate saw one metric, in the words a pull request reads: `slower` (the gate
 * fails), `faster`, `same`, `too-noisy` (spread above what the threshold allows), `not-comparable`
 * (another machine, workload or backend), `no-baseline`.
 */
export type GateOutcome = 'slower' | 'faster' | 'same' | 'too-noisy' | 'not-comparable' | 'no-baseline';

/** The regression gate's comparison behind a `regression` check (null where not compared). */
export interface GateDetail {
  outcome: GateOutcome;
  /** Hodges–Lehmann estimate of current / baseline. */
  ratio: number | null;
  /** Median over median. */
  medianRatio: number | null;
  /** One-sided Mann–Whitney p in the direction of the change. */
  pValue: number | null;
  current: { n: number; median: number | null };
  baseline: { n: number; median: number | null };
  threshold: number;
  alpha: number;
}

/**
 * One check of a case — the accuracy floor, a time or memory budget, the regression gate on one
 * phase, parity — with what was measured, the limit, the verdict and why. The Vitest tests assert on
 * these, and every reporter shows them, so the test run and the reports cannot disagree.
 */
export interface CaseCheck {
  kind: CheckKind;
  /**
   * Stable within a record: `accuracy`, `time.train`, `memory.train`, `memory.device`, `regression.train`,
   * `parity`, `metric.<name>` (a bound of `expect:` on a declared metric, `metric.latency.p99`).
   */
  id: string;
  phase?: PhaseName;
  /** What was checked, in words: `train time`, `train peak RSS`, `regression of train time`. */
  metric: string;
  /** `ratio`: current / baseline (regression); a relative error (parity). */
  unit: 'fraction' | 's' | 'bytes' | 'ratio' | 'relative-error' | MetricUnit;
  /** Null when nothing was measured. */
  measured: number | null;
  /** Null when the check has no numeric limit. */
  limit: number | null;
  /** `skipped`: not judged, and `reason` says why (no baseline, nothing on a device, parity disabled). */
  verdict: 'passed' | 'failed' | 'skipped';
  reason: string;
  /** Samples the measured figure came from. */
  samples?: number[];
  gate?: GateDetail;
  /** A slower training phase whose run and baseline were both profiled: the operators whose time grew most. */
  ops?: OpGrowth[];
}

/** What every record carries, whatever its status (the status and its details: {@link Outcome}). */
export interface RecordCommon extends RecipeRecordFields {
  schema: typeof RECORD_SCHEMA;
  /** Identifies one `vitest run` / `expbench run` invocation; records of a run share it. */
  runId: string;
  /** `<experiment> › <backend>`. */
  key: string;
  experiment: {
    name: string;
    file: string;
    hash: string;
    profile: string | null;
    artefact?: string;
    arch: string;
    /** Channel multiplier of the convolution widths (1 = the published widths); absent in @1 records. */
    width?: number;
    batchNorm?: boolean;
    /** Seed of the initial weights and the epoch order. */
    seed?: number;
    /** The comparisons the experiment declares (`compare:`), `[a, b]` for a ratio column `a : b`. */
    compare?: string[][];
    /** The YAML's reference data (the study's figures), passed through. */
    reference?: Record<string, unknown>;
    /** The data: kind (`synthetic`, `cifar10`, `image-folder`) and where it came from. */
    dataset?: { kind: string; source: string; image?: { height: number; width: number; channels: number } };
    /** Sizes actually used. */
    trainExamples: number;
    testExamples: number;
    epochs: number;
    batchSize: number;
    repeats: number;
    paramCount?: number;
    /**
     * Multiply-adds of one example's forward pass (conv and dense nodes, `src/models/cost.ts`): with
     * a phase's images per second, the achieved FLOP rate.
     */
    multiplyAddsPerExample?: number;
    /** The case's matrix point: the value of each axis (`inference.batchSize: 8`). */
    point?: Record<string, MatrixValue>;
    /** Figures the experiment declares, drawn by the reporters. */
    figures?: FigureSpec[];
  };
  backend: {
    requested: BackendId;
    session?: SessionInfo;
    /** Bytes on disk of the packages the session used (`session.versions`), as installed here. */
    installBytes?: Record<string, number>;
  };
  env: EnvironmentInfo;
  phases: Partial<Record<PhaseName, PhaseSamples>>;
  /** Test accuracy per repeat. */
  accuracy?: { samples: number[] };
  /** Loss per epoch of the last repeat. */
  loss?: number[];
  memory: Partial<Record<MemoryPhase, MemoryFigure[]>>;
  /** Memory sources that gave no figure, per phase, with the reason: a missing figure is never silent. */
  memoryAbsent?: Partial<Record<MemoryPhase, AbsentMemory[]>>;
  parity?: ParityResult;
  /** Why the parity check did not run (disabled, this backend is the reference, reference unavailable). */
  paritySkipped?: string;
  /** Per-operator profile of the training step, taken after the timed phases (`profile: true`). */
  opProfile?: OpProfile;
  /** Why a requested profile is missing. */
  opProfileSkipped?: string;
  /**
   * Every check of the case with its verdict; a failed one makes the status `failed` (error code
   * `CHECK_FAILED`). Absent where no check ran: a skipped case, or a record migrated from
   * `expbench/result@1`, which kept none.
   */
  checks?: CaseCheck[];
  /** The schema the record was written in, when a reader migrated it (e.g. `expbench/result@1`). */
  migratedFrom?: string;
  /** Raw results of the metrics the experiment declared (`metrics:`); absent when it declared none. */
  metrics?: MetricsRecord;
  /** The trained weights kept beside the record (`training.keepWeights`); absent when none were kept. */
  weights?: KeptWeights;
  startedAt: string;
  finishedAt: string;
}

/**
 * How a case ended, the part of a record that depends on its status: a skipped case has the reason
 * it was skipped, a failed, crashed or interrupted one the error; a passed one neither. Narrowing on
 * `status` gives the field, so no reader asserts it exists.
 */
export type Outcome =
  | { status: 'passed'; skipReason?: never; error?: never }
  | { status: 'skipped'; skipReason: string; error?: never }
  | { status: FailureStatus; error: CaseError; skipReason?: never };

/** The result record, a union on `status` (the JSON on disk is one object with these fields). */
export type ResultRecord = RecordCommon & Outcome;

/** The outcome part of a record. */
export function outcomeOf(r: ResultRecord): Outcome {
  if (r.status === 'passed') return { status: 'passed' };
  if (r.status === 'skipped') return { status: 'skipped', skipReason: r.skipReason };
  return { status: r.status, error: r.error };
}

/**
 * `r` with another outcome: the status replaced in place (the JSON keeps its key order) and the
 * previous outcome's reason or error dropped.
 */
export function withOutcome(r: ResultRecord, outcome: Outcome): ResultRecord {
  const { skipReason: _skipReason, error: _error, ...common } = r;
  return { ...common, ...outcome } as ResultRecord;
}

/**
 * A record for a case before anything ran: the experiment's identity and sizes as configured (the
 * worker replaces the sizes with those of the data actually loaded). Everything that writes a record,
 * finished or not, starts from this.
 */
export function newRecord(
  exp: Experiment,
  backend: BackendId,
  key: string,
  runId: string,
  env: EnvironmentInfo,
  startedAt = new Date().toISOString(),
): ResultRecord {
  return {
    schema: RECORD_SCHEMA,
    runId,
    key,
    experiment: {
      name: exp.name,
      file: exp.file,
      hash: exp.hash,
      profile: exp.profile,
      artefact: exp.artefact,
      arch: exp.model.arch,
      width: exp.model.width,
      batchNorm: exp.model.batchNorm,
      seed: exp.trains ? exp.training.seed : exp.inference.seed,
      ...(exp.compare ? { compare: exp.compare.map((p) => [...p]) } : {}),
      reference: exp.reference,
      trainExamples: exp.dataset.train,
      testExamples: exp.dataset.test,
      // An experiment without training: no epochs, and the batch is the inference batch.
      epochs: exp.trains ? exp.training.epochs : 0,
      batchSize: exp.trains ? exp.training.batchSize : exp.inference.batchSize,
      repeats: exp.repeats,
      ...(exp.point ? { point: exp.point.values } : {}),
      ...(exp.figures ? { figures: exp.figures } : {}),
    },
    backend: { requested: backend },
    status: 'passed',
    env,
    phases: {},
    memory: {},
    startedAt,
    finishedAt: startedAt,
  };
}

/** The absent memory sources of `a` and `b`, per phase, each (metric, reason) once. */
export function absentUnion(
  a: RecordCommon['memoryAbsent'],
  b: RecordCommon['memoryAbsent'],
): Partial<Record<MemoryPhase, AbsentMemory[]>> {
  const out: Partial<Record<MemoryPhase, AbsentMemory[]>> = {};
  for (const side of [a, b]) {
    for (const [phase, list] of Object.entries(side ?? {}) as [MemoryPhase, AbsentMemory[]][]) {
      const cur = out[phase] ?? [];
      out[phase] = cur;
      for (const x of list) {
        if (!cur.some((y) => y.metric === x.metric && y.reason === x.reason)) cur.push({ ...x });
      }
    }
  }
  return out;
}

/**
 * Merges the memory figures of several measurements of one phase (rounds in a process, repeats in
 * separate processes) the way budgets judge them: per metric — what a figure measures, whatever source
 * gave it — the worst (highest) figure, with `measurements` counting the figures it is the worst of.
 * Keyed by the metric alone, so figures that differ only in how many readings a sampler took are one
 * figure, not several.
 */
export function peakFigures(lists: Iterable<readonly MemoryFigure[]>): MemoryFigure[] {
  const worst = new Map<string, MemoryFigure>();
  for (const figures of lists) {
    for (const f of figures) {
      const n = f.measurements ?? 1;
      const cur = worst.get(f.metric);
      if (!cur) worst.set(f.metric, { ...f, measurements: n });
      else {
        const total = (cur.measurements ?? 1) + n;
        worst.set(f.metric, f.bytes > cur.bytes ? { ...f, measurements: total } : { ...cur, measurements: total });
      }
    }
  }
  return [...worst.values()];
}
