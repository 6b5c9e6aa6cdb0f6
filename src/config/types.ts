/**
 * The experiment as the runner sees it: parsed, validated, defaults filled and the chosen profile
 * applied. The YAML format itself is defined once, in `schema/experiment.schema.json`.
 */
import type { DatasetConfig } from '../data/config.ts';
import type { ModelConfig } from '../models/config.ts';
import type { BackendId } from '../vocab/backends.ts';
import type { OptimizerConfig } from '../vocab/optimizer.ts';
import type { PhaseName } from '../vocab/phases.ts';

export type { DatasetConfig, ModelConfig, PhaseName };

export interface TrainingConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  seed: number;
  /** Read the loss back every this many steps (progress, NaN detection). */
  lossEvery: number;
}

export interface Expectations {
  /** Minimum test accuracy (0–1). */
  accuracy?: number;
  /** Per-phase time budgets in seconds (median of repeats must stay below). */
  time?: Partial<Record<PhaseName, number>>;
  /**
   * Memory budgets in bytes: `train` / `infer` for the peak RSS of the case's process in that phase,
   * `device` for the GPU memory the driver attributes to it.
   */
  memory?: Partial<Record<'train' | 'infer' | 'device', number>>;
  /** Regression gate against the stored baseline. */
  regression?: { threshold: number; alpha: number };
}

export interface ParityConfig {
  enabled: boolean;
  /** Backend whose logits the case's are compared with. */
  reference: BackendId;
  /** Maximum relative error (max |a-b| / max |b|). */
  tolerance: number;
}

export interface Experiment {
  /** Absolute path of the YAML file. */
  file: string;
  /** sha256 of the file's bytes. */
  hash: string;
  name: string;
  description: string;
  /** Profile applied, or null for the file's base values. */
  profile: string | null;
  dataset: DatasetConfig;
  model: ModelConfig;
  training: TrainingConfig;
  inference: { batchSize: number };
  backends: BackendId[];
  repeats: number;
  /** Warm-up runs of each timed phase, reported separately and never folded into the samples. */
  warmup: number;
  parity: ParityConfig;
  expect: Expectations;
  /** Seconds after which a case's process is killed. */
  timeout: number;
  /** The study's published values, carried through to the reports untouched. */
  reference?: Record<string, unknown>;
  /** Which paper artefact the experiment mirrors (`table2`, `table3`, `fig2`, `fig3`, `argmax`). */
  artefact?: string;
  /** Architectures to run in turn (each replaces `model.arch` for its cases). */
  sweep?: { arch: string[] };
}

/** One test-case group: an experiment on one backend. */
export interface Case {
  experiment: Experiment;
  backend: BackendId;
  /**
   * Stable key: `<experiment name> › <backend id>`, or `<experiment name> › <arch> › <backend id>` in
   * an architecture sweep; used with `-t` and as the baseline key.
   */
  key: string;
  /** The swept architecture of this case, when the experiment sweeps. */
  arch?: string;
}
