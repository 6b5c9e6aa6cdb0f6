/**
 * Model construction: an experiment's {@link ModelConfig} and the dataset's geometry in, the
 * framework-neutral {@link ModelGraph} out. Every backend builds its network from that graph.
 */
import { closest } from 'fastest-levenshtein';
import { ModelError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { initWeights } from './init.ts';
import type { LayerSpec, ModelGraph, ParamSpec, Weights } from './ir.ts';
import { mobilenetV2Graph } from './mobilenet.ts';
import { onnxModelFor } from './onnx-import/model.ts';
import { resolveGraph, resolveLayers } from './resolve.ts';
import { isResNetArch, RESNET_ARCHS, resnetGraph } from './resnet.ts';
import { isVggArch, VGG_CONFIGS, vggFeatures } from './vgg.ts';
import type { VggArch } from './vgg.ts';

export { VGG_CONFIGS, vggFeatures, isVggArch } from './vgg.ts';
export type { VggArch, VggConfig } from './vgg.ts';
export { isResNetArch, RESNET_ARCHS, RESNET_CIFAR_DEPTHS, resnetGraph } from './resnet.ts';
export type { ResNetArch } from './resnet.ts';
export { makeDivisible, mobilenetV2Graph } from './mobilenet.ts';
export { convPads, resolveGraph, resolveLayers, withDefaults, LAYER_DEFAULTS } from './resolve.ts';

/** Every architecture name `buildModelGraph` accepts. */
export const ARCHS = [...(Object.keys(VGG_CONFIGS) as VggArch[]), ...RESNET_ARCHS, 'mobilenetv2', 'custom'] as const;

/** Architectures whose graph is fixed by the family (not a feature stack plus a configurable classifier). */
export function isGraphArch(name: string): boolean {
  return isResNetArch(name) || name === 'mobilenetv2';
}
export type { Pads } from './resolve.ts';

/** Geometry of one input example. */
export interface InputGeometry {
  channels: number;
  height: number;
  width: number;
}

/**
 * The full layer list for a config: the architecture's feature extractor (or `cfg.layers` for
 * `custom`) with the width multiplier applied to conv filters (rounded, at least 1) and, when
 * `batchNorm` is set, a batch norm after every conv (before its ReLU) that is not already followed by
 * one; then a flatten (unless the layers already end flat) and the classifier: for each hidden size
 * `h` a dense `h`, ReLU and, if `dropout > 0`, a dropout; then a dense of `numClasses` units (logits).
 *
 * `custom` layers therefore describe the feature extractor, exactly as a VGG template does; with
 * `classifier: []` the logits layer follows the features directly.
 */
export function modelLayers(cfg: ModelConfig, numClasses: number): LayerSpec[] {
  let features: readonly LayerSpec[];
  if (cfg.arch === 'custom') {
    if (!cfg.layers || cfg.layers.length === 0) {
      throw new ModelError(
        'model custom: arch "custom" needs a non-empty `layers` list. Hint: list the feature layers under model.layers, or pick one of ' +
          ARCHS.join(', ') +
          '.',
        {
          hint: 'list the feature layers under model.layers',
        },
      );
    }
    features = cfg.layers;
  } else if (isVggArch(cfg.arch)) {
    features = vggFeatures(VGG_CONFIGS[cfg.arch]);
  } else if (isGraphArch(cfg.arch)) {
    throw new ModelError(
      `model ${cfg.arch}: a graph-shaped architecture has no layer list. Hint: call buildModelGraph, which builds its graph.`,
    );
  } else {
    const guess = closest(cfg.arch, [...ARCHS]);
    const hint = `did you mean ${guess}? Known architectures: ${ARCHS.join(', ')}`;
    throw new ModelError(`model: unknown architecture ${JSON.stringify(cfg.arch)}. Hint: ${hint}.`, { hint });
  }
  const width = checkedWidth(cfg);
  const layers: LayerSpec[] = [];
  features.forEach((spec, i) => {
    if (spec.kind === 'conv') {
      layers.push({ ...spec, filters: Math.max(1, Math.round(spec.filters * width)) });
      if (cfg.batchNorm && features[i + 1]?.kind !== 'batchnorm') layers.push({ kind: 'batchnorm' });
    } else {
      layers.push({ ...spec });
    }
  });
  // Flatten unless the features already end flat (custom stacks may include their own flatten).
  const hasFlatten = layers.some((l) => l.kind === 'flatten');
  if (!hasFlatten) layers.push({ kind: 'flatten' });
  for (const h of cfg.classifier ?? [256]) {
    layers.push({ kind: 'dense', units: h }, { kind: 'relu' });
    if (cfg.dropout > 0) layers.push({ kind: 'dropout', rate: cfg.dropout });
  }
  layers.push({ kind: 'dense', units: numClasses });
  return layers;
}

function checkedWidth(cfg: ModelConfig): number {
  const width = cfg.width ?? 1;
  if (!(width > 0)) {
    throw new ModelError(
      `model ${cfg.arch}: width ${width} must be > 0. Hint: use 1 for the published widths, e.g. 0.5 for half.`,
      { hint: 'use 1 for the published widths' },
    );
  }
  return width;
}

/**
 * Builds the model IR for `cfg` on inputs of the given geometry. Shapes are inferred and checked; an
 * impossible stack throws {@link ModelError} naming the layer (index and name) and the shapes.
 */
export function buildModelGraph(cfg: ModelConfig, input: InputGeometry, numClasses: number): ModelGraph {
  const shape = [input.channels, input.height, input.width];
  if (cfg.onnx) return onnxModelFor(cfg, shape, numClasses).model;
  if (isGraphArch(cfg.arch)) {
    const width = checkedWidth(cfg);
    const nodes = isResNetArch(cfg.arch)
      ? resnetGraph(cfg.arch, numClasses, width)
      : mobilenetV2Graph(numClasses, width, cfg.dropout);
    return resolveGraph(cfg.arch, nodes, shape, numClasses);
  }
  return resolveLayers(cfg.arch, modelLayers(cfg, numClasses), shape, numClasses);
}

/**
 * The model and its starting weights: the file's weights for an ONNX model, seeded ones from `seed`
 * ({@link initWeights}) for every architecture.
 */
export function buildModel(
  cfg: ModelConfig,
  input: InputGeometry,
  numClasses: number,
  seed: number,
): { model: ModelGraph; weights: Weights } {
  if (cfg.onnx) {
    const { model, weights } = onnxModelFor(cfg, [input.channels, input.height, input.width], numClasses);
    return { model, weights };
  }
  const model = buildModelGraph(cfg, input, numClasses);
  return { model, weights: initWeights(model, seed) };
}

/** Number of elements of a parameter. */
export function paramSize(p: ParamSpec): number {
  return p.shape.reduce((a, b) => a * b, 1);
}
