/**
 * The model section of an experiment, as model construction takes it (`buildModelGraph`). The config
 * layer validates it and fills the defaults; the YAML format is defined in
 * `schema/experiment.schema.json`.
 */
import type { LayerSpec } from './ir.ts';

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
