/**
 * Messages between the runner (parent, inside the Vitest worker or the CLI) and a case's child
 * process, over Node's IPC channel. Plain JSON: records must survive a process boundary anyway.
 */
import type { Availability, BackendId } from '../backends/types.ts';
import type { Experiment } from '../config/types.ts';
import type { ProgressInfo as ProgressLine } from './progress.ts';
import type { CaseError, ResultRecord } from './record.ts';

export type WorkerPhase = NonNullable<CaseError['phase']>;

export interface RunJob {
  experiment: Experiment;
  backend: BackendId;
  key: string;
  runId: string;
  /** Timed rounds this process runs (after `experiment.warmup` warm-up rounds). */
  timedRounds: number;
  /** Run the parity check (the first process of a case does). */
  parity: boolean;
  /** 0-based index of this process among the case's processes, for progress. */
  part: number;
  parts: number;
  /** Where this process keeps its trained weights (`training.keepWeights`, first process only). */
  weightsFile?: string;
}

export type ParentMessage = { type: 'run'; job: RunJob } | { type: 'probe'; backends: BackendId[] };

/** A training step's progress as the child reports it: the printed line's fields, and which repeat. */
export interface ProgressInfo extends Omit<ProgressLine, 'label'> {
  repeat: number;
  repeats: number;
  imagesPerSecond: number;
}

export type ChildMessage =
  | { type: 'phase'; phase: WorkerPhase }
  | { type: 'progress'; info: ProgressInfo }
  | { type: 'record'; record: ResultRecord }
  | { type: 'probed'; results: Record<string, Availability> };
