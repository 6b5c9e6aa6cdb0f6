/**
 * The experiment as the runner sees it: parsed, validated, defaults filled and the chosen profile
 * applied. The YAML format itself is defined once, in `schema/experiment.schema.json`.
 */
import type { BackendId, OptimizerConfig } from '../backends/types.ts';
import type { LayerSpec } from '../models/ir.ts';

export type DatasetConfig =
  | {
      kind: 'synthetic';
      train: number;
      test: number;
      /** Square image side. */
      imageSize: number;
      channels: number;
      classes: number;
      seed: number;
      /** Noise standard deviation on the 0–255 scale relative to the class pattern. */
      noise: number;
    }
  | {
      kind: 'cifar10';
      /** Folder with `data_batch_*.bin` or the `cifar-10-binary.tar.gz`; resolved later if absent. */
      path?: string;
      train: number;
      test: number;
    }
  | {
      kind: 'image-folder';
      path?: string;
      train: number;
      test: number;
      classes?: string[];
      imageSize?: number;
      /** What to do with images of another size. */
      sizeMismatch: 'resize' | 'reject';
    };

export interface ModelConfig {
  /** `vgg-small`, `vgg7`, `vgg11`, `vgg13`, `vgg16`, `vgg19`, or `custom` with `layers`. */
  arch: string;
  /** Channel multiplier for the convolution widths (1 = the published widths). */
  width: number;
  batchNorm: boolean;
  /** Hidden units of the classifier before the logits layer (default `[256]`). */
  classifier: number[];
  dropout: number;
  /** Custom layer list (`arch: custom`). */
  layers?: LayerSpec[];
}

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

export type PhaseName = 'warmup' | 'buildInit' | 'train' | 'infer';

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
