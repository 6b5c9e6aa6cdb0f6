/**
 * The experiment as the runner sees it: parsed, validated, defaults filled and the chosen profile
 * applied. Every type here is derived from the format's one definition in `schema.ts` (the objects
 * `schema/experiment.schema.json` is written from), so the file format and the types cannot drift.
 */
import type { DatasetConfig } from '../data/config.ts';
import type { ModelConfig } from '../models/config.ts';
import type { PhaseName } from '../vocab/phases.ts';
import type { FigureSpec } from './figures.ts';
import type { MatrixAxis, MatrixPointSpec } from './matrix.ts';
import type { MetricBound, MetricsConfig } from './metrics-config.ts';
import type { FilledExperiment } from './schema.ts';

export type { DatasetConfig, ModelConfig, PhaseName };

export type TrainingConfig = FilledExperiment['training'];

/**
 * What must hold: `time` budgets in seconds (median of the repeats must stay below), `memory` budgets
 * in bytes (`train` / `infer`: peak RSS of the case's process in that phase; `device`: the GPU memory
 * the driver attributes to it), the regression gate against the stored baseline.
 */
export type Expectations = FilledExperiment['expect'] & {
  /** Bounds on declared metrics (`latency.p99: { max: 5ms }`), values in the metric's unit. */
  metrics?: MetricBound[];
};

/** Backend whose logits the case's are compared with, and the largest relative error accepted. */
export type ParityConfig = FilledExperiment['parity'];

export type Experiment = Omit<
  FilledExperiment,
  'version' | 'profiles' | 'profile' | 'dataset' | 'model' | 'inference' | 'expect' | 'metrics' | 'matrix' | 'figures'
> & {
  /** Absolute path of the YAML file. */
  file: string;
  /** sha256 of the file's bytes. */
  hash: string;
  /** Profile applied, or null for the file's base values. */
  profile: string | null;
  dataset: DatasetConfig;
  model: ModelConfig;
  /** `batchSize` defaults to the training batch size; `seed` seeds the weights of an experiment without training. */
  inference: { batchSize: number; seed: number };
  /** Record a per-operator profile of the training step after the timed phases (YAML `profile: true`). */
  profileOps?: boolean;
  /** False for a file without `training:`: the experiment only infers, on weights seeded by `inference.seed`. */
  trains: boolean;
  expect: Expectations;
  /** Metrics measured besides the defaults (`metrics:`). */
  metrics: MetricsConfig;
  /** The points the experiment runs over (`matrix:`, and `sweep:` as its special case), each normalised. */
  matrix?: { axes: MatrixAxis[]; points: Array<MatrixPointSpec & { experiment: Experiment }> };
  /** In the experiment of one matrix point: that point. */
  point?: MatrixPointSpec;
  /** Figures the experiment declares (`figures:`), drawn by the reporters. */
  figures?: FigureSpec[];
};

/** One test-case group: an experiment on one backend. */
export interface Case {
  experiment: Experiment;
  backend: Experiment['backends'][number];
  /**
   * Stable key: `<experiment name> › <backend id>`, or `<experiment name> › <arch> › <backend id>` in
   * an architecture sweep; used with `-t` and as the baseline key.
   */
  key: string;
  /** The swept architecture of this case, when the experiment sweeps. */
  arch?: string;
  /** The label of the case's matrix point (`inference.batchSize=8`, or the architecture of a sweep). */
  point?: string;
}
