/**
 * Resolves node definitions into a {@link ModelGraph}: defaults filled, names given, edges checked,
 * shapes inferred and checked, parameters named. Every backend builds from the result, so shape rules
 * (padding, pooling, groups) are decided once, here.
 */
import { ModelError } from '../errors.ts';
import { GRAPH_INPUT, MULTI_INPUT_KINDS } from './ir.ts';
import type { GraphNode, InitKind, LayerKind, LayerSpec, ModelGraph, NodeDef, ParamSpec, Shape } from './ir.ts';

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

/** Name prefix of automatically named nodes, per kind (`conv3`, `pool1`, `fc2`). */
const PREFIX: Record<LayerKind, string> = {
  conv: 'conv',
  relu: 'relu',
  relu6: 'relu6_',
  maxpool: 'pool',
  avgpool: 'avgpool',
  globalavgpool: 'gap',
  batchnorm: 'bn',
  add: 'add',
  concat: 'concat',
  padchannels: 'chpad',
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
    case 'conv': {
      const extra = `${spec.dilation !== 1 ? ` dilation ${spec.dilation}` : ''}${spec.groups !== 1 ? ` groups ${spec.groups}` : ''}`;
      return `conv ${spec.filters} filters ${spec.kernel}×${spec.kernel} stride ${spec.stride} padding ${spec.padding}${extra}`;
    }
    case 'maxpool':
    case 'avgpool':
      return `${spec.kind} ${spec.size}×${spec.size} stride ${spec.stride}${spec.padding ? ` padding ${spec.padding}` : ''}`;
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
        dilation: spec.dilation ?? 1,
        groups: spec.groups ?? 1,
        bias: spec.bias ?? true,
      };
    case 'maxpool':
    case 'avgpool': {
      const size = spec.size ?? LAYER_DEFAULTS.poolSize;
      return { kind: spec.kind, size, stride: spec.stride ?? size, padding: spec.padding ?? 0 };
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
 * Padding of a conv along one spatial axis. `same` follows TensorFlow / ONNX `SAME_UPPER`: output
 * `ceil(in / stride)`, any odd padding goes to the end (bottom/right), which is what tfjs does for
 * `'same'`, so both backends agree for even kernels and strides > 1 too.
 */
function padsFor(
  padding: 'same' | 'valid' | number,
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (typeof padding === 'number') return [padding, padding];
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** Explicit `[top, left, bottom, right]` padding of a resolved conv or pooling node. */
export function convPads(node: GraphNode): Pads {
  const s = node.spec;
  if (s.kind === 'maxpool' || s.kind === 'avgpool') {
    const p = s.padding ?? 0;
    return [p, p, p, p];
  }
  if (s.kind !== 'conv') throw new ModelError(`convPads: node ${node.name} is a ${s.kind}, not a conv`);
  const [, H, W] = node.inShapes[0] as [number, number, number];
  const [t, b] = padsFor(s.padding!, H, s.kernel!, s.stride!, s.dilation!);
  const [l, r] = padsFor(s.padding!, W, s.kernel!, s.stride!, s.dilation!);
  return [t, l, b, r];
}

/**
 * For pooling windows of `kh×kw` with strides `sh, sw` and leading pads `pt, pl` over an `H×W` map,
 * the number of in-image elements each of the `Ho×Wo` windows covers (row-major): the divisor of an
 * average pool that does not count padding (ONNX `count_include_pad = 0`, TensorFlow).
 */
export function windowCounts(
  [H, W]: [number, number],
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  [pt, pl]: [number, number],
  [Ho, Wo]: [number, number],
): Float32Array {
  const counts = new Float32Array(Ho * Wo);
  for (let i = 0; i < Ho; i++)
    for (let j = 0; j < Wo; j++) {
      const rows = Math.min(i * sh - pt + kh, H) - Math.max(i * sh - pt, 0);
      const cols = Math.min(j * sw - pl + kw, W) - Math.max(j * sw - pl, 0);
      counts[i * Wo + j] = rows * cols;
    }
  return counts;
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

/**
 * The kinds that do not change which nonlinearity follows a weight layer (for the init choice): a
 * weight layer whose output reaches a ReLU through only these gets He initialisation.
 */
const TRANSPARENT = new Set<LayerKind>(['batchnorm', 'dropout', 'maxpool', 'avgpool', 'add', 'concat', 'padchannels']);

/**
 * Resolves a straight list of layers (each reading the one before) applied to one example of shape
 * `input` (`[C, H, W]`); see {@link resolveGraph}.
 */
export function resolveLayers(name: string, specs: readonly LayerSpec[], input: Shape, numClasses: number): ModelGraph {
  return resolveGraph(
    name,
    specs.map((spec) => ({ spec })),
    input,
    numClasses,
  );
}

/**
 * Resolves node definitions, in topological order, applied to one example of shape `input`
 * (`[C, H, W]`). The last node must produce `[numClasses]` and every other node must feed some node.
 * Throws {@link ModelError} naming the node (index and name) and the shapes involved.
 */
export function resolveGraph(name: string, defs: readonly NodeDef[], input: Shape, numClasses: number): ModelGraph {
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
  const nodes: GraphNode[] = [];
  const shapeOf = new Map<string, Shape>([[GRAPH_INPUT, [...input]]]);
  const specs = defs.map((d) => withDefaults(d.spec));
  const names: string[] = [];
  // Names first (automatic ones count per prefix), so inputs may be checked against them.
  specs.forEach((spec, i) => {
    const prefix = PREFIX[spec.kind];
    if (prefix === undefined) {
      throw new ModelError(
        `model ${name}: layer ${i} has unknown kind ${JSON.stringify((spec as { kind: unknown }).kind)}. Hint: use one of ${Object.keys(PREFIX).join(', ')}.`,
        {
          hint: `use one of ${Object.keys(PREFIX).join(', ')}`,
        },
      );
    }
    let lname = defs[i]!.name;
    if (lname === undefined) {
      const n = (counters.get(prefix) ?? 0) + 1;
      counters.set(prefix, n);
      lname = `${prefix}${n}`;
    }
    names.push(lname);
  });
  const consumers = new Map<string, number[]>();
  const inputsOf = defs.map((d, i) => d.inputs ?? [i === 0 ? GRAPH_INPUT : names[i - 1]!]);
  inputsOf.forEach((ins, i) => {
    for (const v of ins) consumers.set(v, [...(consumers.get(v) ?? []), i]);
  });

  specs.forEach((spec, i) => {
    const lname = names[i]!;
    const where = `model ${name}: layer ${i} (${lname}, ${describe(spec)})`;
    const fail = (what: string, hint: string): never => {
      throw new ModelError(`${where}: ${what}. Hint: ${hint}.`, { hint });
    };
    if (lname === GRAPH_INPUT || shapeOf.has(lname))
      fail(
        `the name ${JSON.stringify(lname)} is already taken${lname === GRAPH_INPUT ? ' by the image input' : ' by an earlier node'}`,
        'give every node a unique name',
      );
    const inputs = inputsOf[i]!;
    const arity = MULTI_INPUT_KINDS.has(spec.kind) ? 'many' : 'one';
    if (arity === 'one' && inputs.length !== 1)
      fail(`reads ${inputs.length} inputs but a ${spec.kind} reads exactly one`, 'list one input');
    if (arity === 'many' && inputs.length < 2)
      fail(`reads ${inputs.length} input(s) but a ${spec.kind} joins two or more`, 'list at least two inputs');
    const inShapes = inputs.map((v) => {
      const s = shapeOf.get(v);
      if (!s) {
        const later = names.indexOf(v) >= i;
        return fail(
          later
            ? `reads ${JSON.stringify(v)}, which comes at or after it`
            : `reads ${JSON.stringify(v)}, which no node is`,
          later
            ? 'list nodes so that each comes after every node it reads (no cycles)'
            : `read ${GRAPH_INPUT} or the name of an earlier node`,
        );
      }
      return s;
    });
    const inShape = inShapes[0]!;
    let outShape: Shape;
    const params: ParamSpec[] = [];
    // Which init a weight layer gets depends on what follows it (He before ReLU, Glorot otherwise).
    const weightInit = (): InitKind => {
      const seen = new Set<number>();
      const queue = [...(consumers.get(lname) ?? [])];
      while (queue.length > 0) {
        const j = queue.shift()!;
        if (seen.has(j)) continue;
        seen.add(j);
        const k = specs[j]!.kind;
        if (k === 'relu' || k === 'relu6') return 'he';
        if (TRANSPARENT.has(k)) queue.push(...(consumers.get(names[j]!) ?? []));
      }
      return 'glorot';
    };
    const spatial = (): [number, number, number] => {
      if (inShape.length !== 3)
        fail(
          `expects a [C, H, W] input but gets ${fmt(inShape)} (the activations were already flattened)`,
          'put every conv and pooling layer before the flatten',
        );
      return inShape as [number, number, number];
    };

    switch (spec.kind) {
      case 'conv': {
        const [C, H, W] = spatial();
        if (!isPositiveInt(spec.filters))
          fail(`filters must be a positive integer, got ${spec.filters}`, 'set filters to e.g. 64');
        const k = spec.kernel!;
        const st = spec.stride!;
        const d = spec.dilation!;
        const g = spec.groups!;
        if (!isPositiveInt(k) || !isPositiveInt(st) || !isPositiveInt(d))
          fail(
            `kernel, stride and dilation must be positive integers, got kernel ${k} stride ${st} dilation ${d}`,
            'use e.g. kernel 3, stride 1',
          );
        if (!isPositiveInt(g) || C % g !== 0 || spec.filters % g !== 0)
          fail(
            `groups ${g} must be a positive integer dividing both the ${C} input channels and the ${spec.filters} filters`,
            `use groups: 1, or groups: ${C} with a multiple of ${C} filters for a depthwise conv`,
          );
        if (typeof spec.padding === 'number' && (!Number.isInteger(spec.padding) || spec.padding < 0))
          fail(`padding must be 'same', 'valid' or a non-negative integer, got ${spec.padding}`, 'use padding: same');
        const [pt, pb] = padsFor(spec.padding!, H, k, st, d);
        const [pl, pr] = padsFor(spec.padding!, W, k, st, d);
        const span = (k - 1) * d + 1;
        const oh = Math.floor((H + pt + pb - span) / st) + 1;
        const ow = Math.floor((W + pl + pr - span) / st) + 1;
        if (oh < 1 || ow < 1) {
          fail(
            `a ${k}×${k} kernel does not fit the ${H}×${W} input (input ${fmt(inShape)} would give ${Math.max(oh, 0)}×${Math.max(ow, 0)})`,
            'use padding: same, a smaller kernel, or fewer pooling layers before this one',
          );
        }
        outShape = [spec.filters, oh, ow];
        const fanIn = (C / g) * k * k;
        const fanOut = (spec.filters / g) * k * k;
        params.push({
          name: `${lname}.weight`,
          shape: [spec.filters, C / g, k, k],
          init: weightInit(),
          fanIn,
          fanOut,
          trainable: true,
        });
        if (spec.bias)
          params.push({ name: `${lname}.bias`, shape: [spec.filters], init: 'zeros', fanIn, fanOut, trainable: true });
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const [C, H, W] = spatial();
        const size = spec.size!;
        const st = spec.stride!;
        const p = spec.padding!;
        if (!isPositiveInt(size) || !isPositiveInt(st))
          fail(`size and stride must be positive integers, got size ${size} stride ${st}`, 'use e.g. size 2');
        if (!Number.isInteger(p) || p < 0 || p >= size)
          fail(`padding must be an integer in [0, size), got ${p}`, `use padding 0 … ${size - 1}`);
        const oh = Math.floor((H + 2 * p - size) / st) + 1;
        const ow = Math.floor((W + 2 * p - size) / st) + 1;
        if (oh < 1 || ow < 1 || H + 2 * p < size || W + 2 * p < size) {
          fail(
            `input ${fmt(inShape)} is smaller than the ${size}×${size} window, so the output would be ${Math.max(oh, 0)}×${Math.max(ow, 0)}`,
            'remove a pooling layer, or use a larger input image (this stack needs more spatial size than it gets)',
          );
        }
        outShape = [C, oh, ow];
        break;
      }
      case 'globalavgpool': {
        const [C] = spatial();
        outShape = [C, 1, 1];
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
      case 'add': {
        const bad = inShapes.findIndex((s) => fmt(s) !== fmt(inShape));
        if (bad >= 0)
          fail(
            `adds ${inputs.map((v, j) => `${v} ${fmt(inShapes[j]!)}`).join(' and ')}, which differ in shape`,
            'add outputs of one shape (a strided or widened branch needs a projection or padding shortcut)',
          );
        outShape = [...inShape];
        break;
      }
      case 'concat': {
        const bad = inShapes.findIndex(
          (s) => s.length !== inShape.length || s.slice(1).some((d, j) => d !== inShape[j + 1]),
        );
        if (bad >= 0)
          fail(
            `joins ${inputs.map((v, j) => `${v} ${fmt(inShapes[j]!)}`).join(' and ')} along channels, but they differ in another dimension`,
            'concatenate outputs of the same spatial size',
          );
        outShape = [inShapes.reduce((a, s) => a + s[0]!, 0), ...inShape.slice(1)];
        break;
      }
      case 'padchannels': {
        const [C, H, W] = spatial();
        const { before, after } = spec;
        if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0)
          fail(
            `before and after must be non-negative integers, got ${before} and ${after}`,
            'use e.g. before: 8, after: 8',
          );
        outShape = [before + C + after, H, W];
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
      case 'relu6':
        outShape = [...inShape];
        break;
    }
    if (i < specs.length - 1 && !consumers.has(lname))
      fail(
        'feeds no node and is not the last one, so it would be computed for nothing',
        'read it from a later node or remove it',
      );
    nodes.push({ name: lname, spec, inputs: [...inputs], inShapes, outShape: outShape!, params });
    shapeOf.set(lname, outShape!);
  });

  const last = nodes[nodes.length - 1];
  const shape = last ? last.outShape : input;
  if (shape.length !== 1 || shape[0] !== numClasses) {
    const hint =
      shape.length !== 1
        ? 'end the network with flatten and a dense layer of numClasses units'
        : `make the last dense layer have ${numClasses} units`;
    throw new ModelError(
      `model ${name}: the network ends in ${fmt(shape)}${last ? ` (after layer ${nodes.length - 1}, ${last.name})` : ''} but the dataset has ${numClasses} classes, so it must end in [${numClasses}]. Hint: ${hint}.`,
      { hint },
    );
  }

  const params = nodes.flatMap((l) => l.params);
  const paramCount = params.filter((p) => p.trainable).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  return { name, input: [...input], numClasses, nodes, params, paramCount };
}
