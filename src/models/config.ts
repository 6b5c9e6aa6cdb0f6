/**
 * The model section of an experiment, as model construction takes it (`buildModelGraph`). Defined
 * once, below, as the JSON Schema the config layer validates with and, through `Filled`, the type,
 * defaults filled; custom layers are the IR's {@link LayerSpec}s (the short YAML forms are expanded by
 * the loader, whose `#/definitions/layer` schema describes them).
 */
import { Type } from '@sinclair/typebox';
import { dflt, type Filled, int, LIMITS, num, obj, opt } from '../shape/index.ts';
import type { LayerSpec } from './ir.ts';

/** Architectures accepted by `model.arch`. */
export const ARCH_NAMES = [
  'vgg-small',
  'vgg7',
  'vgg11',
  'vgg13',
  'vgg16',
  'vgg19',
  'resnet20',
  'resnet32',
  'resnet44',
  'resnet56',
  'resnet110',
  'resnet18',
  'mobilenetv2',
  'custom',
] as const;

export const Model = obj(
  'The network: a VGG family member, a ResNet or MobileNetV2 (graph-shaped, with their own classifier), or a custom stack of layers.',
  {
    arch: opt(
      Type.Unsafe<string>({
        enum: [...ARCH_NAMES],
        description: `Architecture: ${ARCH_NAMES.join(', ')} (custom needs \`layers\`).`,
      }),
    ),
    width: dflt(num(0.01, 64, 'Channel multiplier for the convolution widths (1 = the published widths).'), 1),
    batchNorm: dflt(
      Type.Boolean({
        description:
          'Insert batch normalisation after every convolution (VGG and custom; ResNets and MobileNetV2 always have it).',
      }),
      false,
    ),
    classifier: dflt(
      Type.Array(int(1, LIMITS.units, 'Units of one hidden dense layer.'), {
        description:
          'Hidden units of the classifier before the logits layer ([] for none; VGG and custom only: ResNets and MobileNetV2 end in global average pooling and one dense layer).',
        maxItems: 16,
      }),
      [256],
    ),
    dropout: dflt(num(0, 0.99, 'Dropout rate after each hidden classifier layer (0 = none).'), 0),
    layers: opt(
      Type.Array(Type.Unsafe<unknown>({ $ref: '#/definitions/layer' }), {
        description: 'The feature extractor of `arch: custom`, in order; flatten and the classifier are appended.',
        minItems: 1,
        maxItems: 1000,
      }),
    ),
    onnx: opt(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description:
          'An ONNX model file (opset 13+, e.g. from torch.onnx.export) to run instead of `arch`, relative to the experiment file: graph, weights, input shape and classes come from it.',
      }),
    ),
  },
  {
    // Without `onnx`, an architecture (and for custom, its layers).
    if: { not: { required: ['onnx'] } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
    then: {
      required: ['arch'],
      if: { properties: { arch: { const: 'custom' } }, required: ['arch'] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
      then: { required: ['layers'] },
    },
  },
);

/**
 * The network, defaults filled; `layers` (for `arch: custom`) in the model IR's form. With `onnx`
 * (made absolute by the loader), `arch` is `onnx` and the graph, weights, input shape and classes come
 * from the file (`src/models/onnx-import`).
 */
export type ModelConfig = Omit<Filled<typeof Model>, 'layers' | 'arch'> & { arch: string; layers?: LayerSpec[] };
