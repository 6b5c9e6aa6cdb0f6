/**
 * The result record: one JSON file per case and run, the only thing reporters render from.
 * Versioned by `schema`; a reader rejects other versions with a clear message.
 */
import type { BackendId, SessionInfo } from '../backends/types.ts';
import type { Experiment, PhaseName } from '../config/types.ts';
import type { OpProfile } from '../vocab/op-profile.ts';
import type { MemoryPhase } from '../vocab/phases.ts';

export const RECORD_SCHEMA = 'expbench/result@1' as const;

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

export interface CaseError {
  code: string;
  message: string;
  /** Phase the case was in when it failed. */
  phase?: PhaseName | 'load-data' | 'parity' | 'evaluate' | 'startup' | 'profile';
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

/** What every record carries, whatever its status (the status and its details: {@link Outcome}). */
export interface RecordCommon {
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
    /** The YAML's reference data (the study's figures), passed through. */
    reference?: Record<string, unknown>;
    /** The data: kind (`synthetic`, `cifar10`, `image-folder`) and where it came from. */
    dataset?: { kind: string; source: string };
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
  };
  backend: { requested: BackendId; session?: SessionInfo };
  env: EnvironmentInfo;
  phases: Partial<Record<PhaseName, PhaseSamples>>;
  /** Test accuracy per repeat. */
  accuracy?: { samples: number[] };
  /** Loss per epoch of the last repeat. */
  loss?: number[];
  memory: Partial<Record<MemoryPhase, MemoryFigure[]>>;
  parity?: ParityResult;
  /** Why the parity check did not run (disabled, this backend is the reference, reference unavailable). */
  paritySkipped?: string;
  /** Per-operator profile of the training step, taken after the timed phases (`profile: true`). */
  opProfile?: OpProfile;
  /** Why a requested profile is missing. */
  opProfileSkipped?: string;
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
      reference: exp.reference,
      trainExamples: exp.dataset.train,
      testExamples: exp.dataset.test,
      epochs: exp.training.epochs,
      batchSize: exp.training.batchSize,
      repeats: exp.repeats,
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
