/**
 * The VGG family as layer templates (Simonyan & Zisserman, "Very Deep Convolutional Networks for
 * Large-Scale Image Recognition", Table 1), sized for small inputs such as CIFAR-10's 32×32.
 *
 * A template lists the feature extractor only (convolutions and pools); `buildModelGraph` applies the
 * width multiplier, inserts batch norm, appends flatten and the classifier.
 */
import type { LayerSpec } from './ir.ts';

/** A VGG configuration: a number is a 3×3 convolution with that many filters, `'M'` a 2×2 max pool. */
export type VggConfig = ReadonlyArray<number | 'M'>;

/**
 * The convolutional stacks.
 *
 * - `vgg-small`: two stages of two convolutions (64, 128), the study's small CIFAR-10 network.
 * - `vgg7`: the family's naming counts weight layers as the paper does: convolutions plus the three
 *   fully connected layers of the original classifier (VGG11 = 8 + 3). Seven therefore means four
 *   convolutions: one per stage for the first four stages of configuration A (64, 128, 256, 512), with
 *   A's fifth stage (two 512 convolutions on a 2×2 map at 32×32 input) dropped. At 32×32 its features
 *   are 2×2×512. It is the shallow end of the depth-scaling series 4 → 8 → 10 → 13 → 16 convolutions.
 * - `vgg11`, `vgg13`, `vgg16`, `vgg19`: configurations A, B, D, E. Five pools take 32×32 to 1×1×512.
 *
 * (The total number of weight layers in an expbench model is the convolutions plus
 * `classifier.length + 1`, since the classifier is configurable; the name identifies the stack.)
 */
export const VGG_CONFIGS = {
  'vgg-small': [64, 64, 'M', 128, 128, 'M'],
  vgg7: [64, 'M', 128, 'M', 256, 'M', 512, 'M'],
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, VggConfig>;

export type VggArch = keyof typeof VGG_CONFIGS;

export function isVggArch(name: string): name is VggArch {
  return Object.hasOwn(VGG_CONFIGS, name);
}

/** The feature extractor of a VGG configuration: conv → relu per number, maxpool per `'M'`. */
export function vggFeatures(config: VggConfig): LayerSpec[] {
  const out: LayerSpec[] = [];
  for (const c of config) {
    if (c === 'M') out.push({ kind: 'maxpool' });
    else out.push({ kind: 'conv', filters: c }, { kind: 'relu' });
  }
  return out;
}
