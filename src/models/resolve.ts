/**
 * Resolves a list of {@link LayerSpec}s into a {@link ModelGraph}: defaults filled, shapes inferred and
 * checked, layers and parameters named. Every backend builds from the result, so shape rules (padding,
 * pooling) are decided once, here.
 */
import { ModelError } from '../errors.ts';
import type { InitKind, LayerSpec, ModelGraph, ParamSpec, ResolvedLayer, Shape } from './ir.ts';

/** Defaults applied to layer specs that leave a field out. */
export const LAYER_DEFAULTS = {
  convKernel: 3,
  convStride: 1,
  convPadding: 'same' as const,
  poolSize: 2,
  /** Batch-norm epsilon (as ONNX `BatchNormalization` and Keras). */
  bnEpsilon: 1e-5,
  /**
   * Batch-norm momentum in the ONNX / Keras sense: `running = running * momentum + batch * (1 - momentum)`
   * (PyTorch's `momentum=0.1` is this 0.9).
   */
  bnMomentum: 0.9,
};

/** Conv padding in ONNX `pads` order: `[top, left, bottom, right]`. */
export type Pads = [number, number, number, number];

const PREFIX: Record<LayerSpec['kind'], string> = {
  conv: 'conv',
  relu: 'relu',
  maxpool: 'pool',
  batchnorm: 'bn',
  flatten: 'flatten',
  dense: 'fc',
  dropout: 'drop',
};

function fmt(shape: Shape): string {
  // One-dimensional shapes (features) in brackets, spatial ones as C×H×W.
  return shape.length <= 1 ? `[${shape.join('')}]` : shape.join('×');
}

function describe(spec: LayerSpec): string {
  switch (spec.kind) {
    case 'conv':
      return `conv ${spec.filters} filters ${spec.kernel}×${spec.kernel} stride ${spec.stride} padding ${spec.padding}`;
    case 'maxpool':
      return `maxpool ${spec.size}×${spec.size} stride ${spec.stride}`;
    case 'dense':
      return `dense ${spec.units}`;
    case 'dropout':
      return `dropout ${spec.rate}`;
    default:
      return spec.kind;
  }
}

/** Fills every optional field of a spec with its default, so backends never re-derive defaults. */
export function withDefaults(spec: LayerSpec): LayerSpec {
  switch (spec.kind) {
    case 'conv':
      return {
        kind: 'conv',
        filters: spec.filters,
        kernel: spec.kernel ?? LAYER_DEFAULTS.convKernel,
        stride: spec.stride ?? LAYER_DEFAULTS.convStride,
        padding: spec.padding ?? LAYER_DEFAULTS.convPadding,
        bias: spec.bias ?? true,
      };
    case 'maxpool': {
      const size = spec.size ?? LAYER_DEFAULTS.poolSize;
      return { kind: 'maxpool', size, stride: spec.stride ?? size };
    }
    case 'batchnorm':
      return {
        kind: 'batchnorm',
        epsilon: spec.epsilon ?? LAYER_DEFAULTS.bnEpsilon,
        momentum: spec.momentum ?? LAYER_DEFAULTS.bnMomentum,
      };
    case 'dense':
      return { kind: 'dense', units: spec.units, bias: spec.bias ?? true };
    default:
      return { ...spec };
  }
}

/**
 * Padding of a resolved conv layer along one spatial axis. `same` follows TensorFlow / ONNX
 * `SAME_UPPER`: output `ceil(in / stride)`, any odd padding goes to the end (bottom/right), which is
 * what tfjs does for `'same'`, so both backends agree for even kernels and strides > 1 too.
 */
function padsFor(padding: 'same' | 'valid' | number, inSize: number, kernel: number, stride: number): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (typeof padding === 'number') return [padding, padding];
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** Explicit `[top, left, bottom, right]` padding of a resolved conv layer. */
export function convPads(layer: ResolvedLayer): Pads {
  const s = layer.spec;
  if (s.kind !== 'conv') throw new ModelError(`convPads: layer ${layer.name} is a ${s.kind}, not a conv`);
  const [, H, W] = layer.inShape as [number, number, number];
  const k = s.kernel!;
  const st = s.stride!;
  const [t, b] = padsFor(s.padding!, H, k, st);
  const [l, r] = padsFor(s.padding!, W, k, st);
  return [t, l, b, r];
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

/** The layers that do not change which nonlinearity follows a weight layer (for the init choice). */
const TRANSPARENT = new Set<LayerSpec['kind']>(['batchnorm', 'dropout', 'maxpool']);

/**
 * Resolves `specs` applied to one example of shape `input` (`[C, H, W]`). The last layer must produce
 * `[numClasses]`. Throws {@link ModelError} naming the layer (index and name) and the shapes involved.
 */
export function resolveLayers(name: string, specs: readonly LayerSpec[], input: Shape, numClasses: number): ModelGraph {
  if (input.length !== 3 || !input.every(isPositiveInt)) {
    throw new ModelError(
      `model ${name}: input shape ${fmt(input)} is not a positive [C, H, W]. Hint: give channels, height and width as positive integers.`,
      {
        hint: 'give channels, height and width as positive integers',
      },
    );
  }
  if (!isPositiveInt(numClasses)) {
    throw new ModelError(
      `model ${name}: numClasses ${numClasses} is not a positive integer. Hint: the dataset must have at least one class.`,
      {
        hint: 'the dataset must have at least one class',
      },
    );
  }
  const counters = new Map<string, number>();
  const layers: ResolvedLayer[] = [];
  let shape: Shape = [...input];
  const resolvedSpecs = specs.map(withDefaults);

  resolvedSpecs.forEach((spec, i) => {
    const prefix = PREFIX[spec.kind];
    if (prefix === undefined) {
      throw new ModelError(
        `model ${name}: layer ${i} has unknown kind ${JSON.stringify((spec as { kind: unknown }).kind)}. Hint: use one of ${Object.keys(PREFIX).join(', ')}.`,
        {
          hint: `use one of ${Object.keys(PREFIX).join(', ')}`,
        },
      );
    }
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    const lname = `${prefix}${n}`;
    const where = `model ${name}: layer ${i} (${lname}, ${describe(spec)})`;
    const fail = (what: string, hint: string): never => {
      throw new ModelError(`${where}: ${what}. Hint: ${hint}.`, { hint });
    };
    const inShape = shape;
    let outShape: Shape;
    const params: ParamSpec[] = [];
    // Which init a weight layer gets depends on what follows it (He before ReLU, Glorot otherwise).
    const weightInit = (): InitKind => {
      for (let j = i + 1; j < resolvedSpecs.length; j++) {
        const k = resolvedSpecs[j]!.kind;
        if (k === 'relu') return 'he';
        if (!TRANSPARENT.has(k)) return 'glorot';
      }
      return 'glorot';
    };

    switch (spec.kind) {
      case 'conv': {
        if (inShape.length !== 3)
          fail(
            `expects a [C, H, W] input but gets ${fmt(inShape)} (the activations were already flattened)`,
            'put every conv and maxpool layer before the flatten',
          );
        if (!isPositiveInt(spec.filters))
          fail(`filters must be a positive integer, got ${spec.filters}`, 'set filters to e.g. 64');
        const k = spec.kernel!;
        const st = spec.stride!;
        if (!isPositiveInt(k) || !isPositiveInt(st))
          fail(
            `kernel and stride must be positive integers, got kernel ${k} stride ${st}`,
            'use e.g. kernel 3, stride 1',
          );
        if (typeof spec.padding === 'number' && (!Number.isInteger(spec.padding) || spec.padding < 0))
          fail(`padding must be 'same', 'valid' or a non-negative integer, got ${spec.padding}`, 'use padding: same');
        const [C, H, W] = inShape as [number, number, number];
        const [pt, pb] = padsFor(spec.padding!, H, k, st);
        const [pl, pr] = padsFor(spec.padding!, W, k, st);
        const oh = Math.floor((H + pt + pb - k) / st) + 1;
        const ow = Math.floor((W + pl + pr - k) / st) + 1;
        if (oh < 1 || ow < 1) {
          fail(
            `a ${k}×${k} kernel does not fit the ${H}×${W} input (input ${fmt(inShape)} would give ${Math.max(oh, 0)}×${Math.max(ow, 0)})`,
            'use padding: same, a smaller kernel, or fewer pooling layers before this one',
          );
        }
        outShape = [spec.filters, oh, ow];
        const fanIn = C * k * k;
        const fanOut = spec.filters * k * k;
        params.push({
          name: `${lname}.weight`,
          shape: [spec.filters, C, k, k],
          init: weightInit(),
          fanIn,
          fanOut,
          trainable: true,
        });
        if (spec.bias)
          params.push({ name: `${lname}.bias`, shape: [spec.filters], init: 'zeros', fanIn, fanOut, trainable: true });
        break;
      }
      case 'maxpool': {
        if (inShape.length !== 3)
          fail(
            `expects a [C, H, W] input but gets ${fmt(inShape)} (the activations were already flattened)`,
            'put every conv and maxpool layer before the flatten',
          );
        const size = spec.size!;
        const st = spec.stride!;
        if (!isPositiveInt(size) || !isPositiveInt(st))
          fail(`size and stride must be positive integers, got size ${size} stride ${st}`, 'use e.g. size 2');
        const [C, H, W] = inShape as [number, number, number];
        const oh = Math.floor((H - size) / st) + 1;
        const ow = Math.floor((W - size) / st) + 1;
        if (oh < 1 || ow < 1 || H < size || W < size) {
          fail(
            `input ${fmt(inShape)} is smaller than the ${size}×${size} window, so the output would be ${Math.max(oh, 0)}×${Math.max(ow, 0)}`,
            'remove a pooling layer, or use a larger input image (this stack needs more spatial size than it gets)',
          );
        }
        outShape = [C, oh, ow];
        break;
      }
      case 'batchnorm': {
        if (inShape.length !== 3 && inShape.length !== 1)
          fail(
            `expects a [C, H, W] or [features] input but gets ${fmt(inShape)}`,
            'place batch norm after a conv or dense layer',
          );
        const C = inShape[0]!;
        if (!(spec.epsilon! > 0)) fail(`epsilon must be > 0, got ${spec.epsilon}`, 'use the default 1e-5');
        if (!(spec.momentum! >= 0 && spec.momentum! < 1))
          fail(
            `momentum must be in [0, 1), got ${spec.momentum}`,
            'use the default 0.9 (ONNX convention: running = running·m + batch·(1−m))',
          );
        outShape = [...inShape];
        params.push(
          { name: `${lname}.gamma`, shape: [C], init: 'ones', fanIn: C, fanOut: C, trainable: true },
          { name: `${lname}.beta`, shape: [C], init: 'zeros', fanIn: C, fanOut: C, trainable: true },
          { name: `${lname}.mean`, shape: [C], init: 'zeros', fanIn: C, fanOut: C, trainable: false },
          { name: `${lname}.var`, shape: [C], init: 'ones', fanIn: C, fanOut: C, trainable: false },
        );
        break;
      }
      case 'flatten':
        outShape = [inShape.reduce((a, b) => a * b, 1)];
        break;
      case 'dense': {
        if (inShape.length !== 1)
          fail(
            `expects a flat [features] input but gets ${fmt(inShape)}`,
            'insert a flatten layer before the first dense layer',
          );
        if (!isPositiveInt(spec.units))
          fail(`units must be a positive integer, got ${spec.units}`, 'set units to e.g. 256');
        const fin = inShape[0]!;
        outShape = [spec.units];
        params.push({
          name: `${lname}.weight`,
          shape: [fin, spec.units],
          init: weightInit(),
          fanIn: fin,
          fanOut: spec.units,
          trainable: true,
        });
        if (spec.bias)
          params.push({
            name: `${lname}.bias`,
            shape: [spec.units],
            init: 'zeros',
            fanIn: fin,
            fanOut: spec.units,
            trainable: true,
          });
        break;
      }
      case 'dropout':
        if (!(typeof spec.rate === 'number' && spec.rate >= 0 && spec.rate < 1))
          fail(`rate must be in [0, 1), got ${spec.rate}`, 'use e.g. rate 0.5');
        outShape = [...inShape];
        break;
      case 'relu':
        outShape = [...inShape];
        break;
    }
    layers.push({ name: lname, spec, inShape, outShape: outShape!, params });
    shape = outShape!;
  });

  if (shape.length !== 1 || shape[0] !== numClasses) {
    const last = layers[layers.length - 1];
    const hint =
      shape.length !== 1
        ? 'end the network with flatten and a dense layer of numClasses units'
        : `make the last dense layer have ${numClasses} units`;
    throw new ModelError(
      `model ${name}: the network ends in ${fmt(shape)}${last ? ` (after layer ${layers.length - 1}, ${last.name})` : ''} but the dataset has ${numClasses} classes, so it must end in [${numClasses}]. Hint: ${hint}.`,
      { hint },
    );
  }

  const params = layers.flatMap((l) => l.params);
  const paramCount = params.filter((p) => p.trainable).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  return { name, input: [...input], numClasses, layers, params, paramCount };
}
