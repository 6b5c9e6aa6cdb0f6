/**
 * Static shape and element-type inference over an {@link OnnxGraph}'s node list, for the op subset the
 * forward builder, the loss and the gradient rules emit.
 *
 * Why static: the gradient rules need concrete shapes (the `output_padding` of a transposed
 * convolution, the axes a broadcast gradient is summed over, the shape a flatten gradient is reshaped
 * back to). The training graph is built for one batch size, so every shape is known when it is built,
 * and emitting constants instead of `Shape` ops keeps the graph simple for every execution provider.
 */
import { ModelError } from '../../errors.ts';
import type { AttrValue, ElemType, OnnxGraph, OnnxNode, OnnxTensorInit } from './graph.ts';

/** Element type and concrete shape of one value. */
export interface ValueType {
  type: ElemType;
  shape: number[];
}

/** The constant behind a value name (an initializer or a `Constant` node), if there is one. */
export function constantOf(graph: OnnxGraph, name: string): OnnxTensorInit | undefined {
  const init = graph.initializers.get(name);
  if (init) return init;
  for (const n of graph.nodes) {
    if (n.op === 'Constant' && n.outputs[0] === name) {
      const v = n.attrs.value;
      if (v && typeof v === 'object' && 'dims' in v) return v;
    }
  }
  return undefined;
}

/** Integer values of a constant (shapes, axes, pads), or undefined when `name` is not a constant. */
export function constInts(graph: OnnxGraph, name: string | undefined): number[] | undefined {
  if (name === undefined || name === '') return undefined;
  const c = constantOf(graph, name);
  if (!c) return undefined;
  return Array.from(c.data as ArrayLike<number | bigint | boolean>, (v) => Number(v));
}

/** Float values of a constant (ratios, exponents). */
export function constFloats(graph: OnnxGraph, name: string | undefined): number[] | undefined {
  return constInts(graph, name);
}

export function attrInt(node: OnnxNode, key: string, dflt: number): number {
  const v = node.attrs[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && 'float' in v) return v.float;
  throw new ModelError(
    `${node.op} node ${node.name}: attribute ${key} is not a number. Hint: the graph builder emitted an unexpected attribute type.`,
  );
}

export function attrInts(node: OnnxNode, key: string): number[] | undefined {
  const v: AttrValue | undefined = node.attrs[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  throw new ModelError(
    `${node.op} node ${node.name}: attribute ${key} is not a list of integers. Hint: the graph builder emitted an unexpected attribute type.`,
  );
}

export function attrString(node: OnnxNode, key: string, dflt: string): string {
  const v = node.attrs[key];
  return typeof v === 'string' ? v : dflt;
}

/** Geometry of a Conv / MaxPool / ConvTranspose node with every attribute made explicit. */
export interface WindowGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** ONNX order: all begins, then all ends. */
  pads: number[];
  /** Spatial output size. */
  out: number[];
}

/**
 * Explicit pads, strides and output size of a sliding-window node on input spatial size `spatial`,
 * resolving `auto_pad` as ONNX defines it (SAME_UPPER puts the odd pixel at the end).
 */
export function windowGeometry(node: OnnxNode, spatial: number[], kernel: number[]): WindowGeometry {
  const r = spatial.length;
  const strides = attrInts(node, 'strides') ?? Array<number>(r).fill(1);
  const dilations = attrInts(node, 'dilations') ?? Array<number>(r).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  let pads = attrInts(node, 'pads') ?? Array<number>(2 * r).fill(0);
  if (autoPad === 'VALID') pads = Array<number>(2 * r).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const outSize = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (outSize - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  }
  const out = spatial.map((s, i) => {
    const span = s + pads[i]! + pads[i + r]! - ((kernel[i]! - 1) * dilations[i]! + 1);
    return (ceil ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1;
  });
  return { kernel, strides, dilations, pads, out };
}

/** Broadcast shape of numpy-style multidirectional broadcasting. */
export function broadcastShapes(a: number[], b: number[], where: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ModelError(
        `${where}: shapes [${a}] and [${b}] do not broadcast. Hint: check the layer shapes that feed this node.`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Output shape of a reduction over `axes` (all axes when undefined or empty). */
export function reducedShape(shape: number[], axes: number[] | undefined, keepdims: boolean): number[] {
  const set = new Set((axes && axes.length > 0 ? axes : shape.map((_, i) => i)).map((a) => normAxis(a, shape.length)));
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (set.has(i)) {
      if (keepdims) out.push(1);
    } else out.push(d);
  });
  return out;
}

/** Reduction axes of a Reduce* node (attribute before opset 18, second input for ReduceSum from 13). */
export function reduceAxes(graph: OnnxGraph, node: OnnxNode): number[] | undefined {
  if (node.op === 'ReduceSum' || (graph.opset >= 18 && node.op.startsWith('Reduce')))
    return constInts(graph, node.inputs[1]);
  return attrInts(node, 'axes');
}

const ELEM_BY_ONNX: Record<number, ElemType> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 9: 'bool' };

const SAME_SHAPE = new Set([
  'Identity',
  'Relu',
  'Neg',
  'Sqrt',
  'Exp',
  'Log',
  'Reciprocal',
  'Abs',
  'Sigmoid',
  'Tanh',
  'LogSoftmax',
  'Softmax',
  'Not',
  'Floor',
  'Ceil',
  'Clip',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'And', 'Or']);
const COMPARE = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual']);

/**
 * Infers every value's element type and shape. Graph inputs must have numeric shapes unless
 * `overrides` gives them (e.g. a symbolic batch made concrete). Throws {@link ModelError} for an op
 * without a rule, naming it.
 */
export function inferShapes(graph: OnnxGraph, overrides: Record<string, number[]> = {}): Map<string, ValueType> {
  const m = new Map<string, ValueType>();
  for (const v of graph.inputs) {
    const shape = overrides[v.name] ?? v.shape;
    if (!shape.every((d): d is number => typeof d === 'number')) {
      throw new ModelError(
        `graph ${graph.name}: input ${v.name} has a symbolic shape [${v.shape}]. Hint: build the training graph for a concrete batch size.`,
      );
    }
    m.set(v.name, { type: v.type, shape: [...shape] });
  }
  for (const [name, t] of graph.initializers) m.set(name, { type: t.type, shape: [...t.dims] });
  for (const node of graph.nodes) inferNode(graph, node, m);
  return m;
}

/** What a shape rule sees of one node: its input types, and where to record its outputs. */
interface NodeIO {
  graph: OnnxGraph;
  node: OnnxNode;
  /** `<op> node <name>`, for messages. */
  where: string;
  get(i: number): ValueType;
  set(i: number, type: ElemType, shape: number[]): void;
}

type ShapeRule = (io: NodeIO) => void;

const sameAsInput: ShapeRule = ({ get, set }) => set(0, get(0).type, get(0).shape);

/** Elementwise operators: same shape, broadcasting, comparisons, casts, selection. */
const ELEMENTWISE_SHAPES: Record<string, ShapeRule> = {
  ...Object.fromEntries([...SAME_SHAPE].map((op) => [op, sameAsInput])),
  ...Object.fromEntries(
    [...BROADCAST].map((op): [string, ShapeRule] => [
      op,
      ({ node, where, get, set }) => {
        let shape = get(0).shape;
        for (let i = 1; i < node.inputs.length; i++) shape = broadcastShapes(shape, get(i).shape, where);
        set(0, get(0).type, shape);
      },
    ]),
  ),
  ...Object.fromEntries(
    [...COMPARE].map((op): [string, ShapeRule] => [
      op,
      ({ where, get, set }) => set(0, 'bool', broadcastShapes(get(0).shape, get(1).shape, where)),
    ]),
  ),
  Constant: ({ node, set }) => {
    const v = node.attrs.value as OnnxTensorInit;
    set(0, v.type, [...v.dims]);
  },
  Cast: ({ node, where, get, set }) => {
    const to = ELEM_BY_ONNX[attrInt(node, 'to', 1)];
    if (!to)
      throw new ModelError(
        `${where}: unsupported cast target. Hint: expbench casts only to float32, int32, int64, bool, uint8.`,
      );
    set(0, to, get(0).shape);
  },
  Where: ({ where, get, set }) =>
    set(0, get(1).type, broadcastShapes(broadcastShapes(get(0).shape, get(1).shape, where), get(2).shape, where)),
  Dropout: ({ get, set }) => {
    const x = get(0);
    set(0, x.type, x.shape);
    set(1, 'bool', x.shape);
  },
  BatchNormalization: ({ get, set }) => {
    const x = get(0);
    set(0, x.type, x.shape);
    set(1, x.type, [x.shape[1]!]);
    set(2, x.type, [x.shape[1]!]);
  },
};

const slidingWindow: ShapeRule = ({ node, get, set }) => {
  const op = node.op;
  const x = get(0).shape;
  const kernel = op === 'Conv' ? get(1).shape.slice(2) : (attrInts(node, 'kernel_shape') ?? []);
  const g = windowGeometry(node, x.slice(2), kernel);
  const channels = op === 'Conv' ? get(1).shape[0]! : x[1]!;
  set(0, get(0).type, [x[0]!, channels, ...g.out]);
  if (op === 'MaxPool') set(1, 'int64', [x[0]!, channels, ...g.out]);
};

const globalPool: ShapeRule = ({ get, set }) => {
  const x = get(0).shape;
  set(0, get(0).type, [x[0]!, x[1]!, ...x.slice(2).map(() => 1)]);
};

/** Convolutions and pooling. */
const WINDOW_SHAPES: Record<string, ShapeRule> = {
  Conv: slidingWindow,
  MaxPool: slidingWindow,
  AveragePool: slidingWindow,
  ConvTranspose: ({ node, get, set }) => {
    const x = get(0).shape;
    const w = get(1).shape;
    const kernel = w.slice(2);
    const r = kernel.length;
    const strides = attrInts(node, 'strides') ?? Array<number>(r).fill(1);
    const dil = attrInts(node, 'dilations') ?? Array<number>(r).fill(1);
    const pads = attrInts(node, 'pads') ?? Array<number>(2 * r).fill(0);
    const op2 = attrInts(node, 'output_padding') ?? Array<number>(r).fill(0);
    const group = attrInt(node, 'group', 1);
    const out = x
      .slice(2)
      .map((s, i) => strides[i]! * (s - 1) + op2[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + r]!);
    set(0, get(0).type, [x[0]!, w[1]! * group, ...out]);
  },
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
};

/** Operators that rearrange values: reshapes, transposes, broadcasts, slices, pads, gathers, concatenation. */
const LAYOUT_SHAPES: Record<string, ShapeRule> = {
  Flatten: ({ node, get, set }) => {
    const x = get(0).shape;
    const axis = normAxis(attrInt(node, 'axis', 1), x.length);
    const a = x.slice(0, axis).reduce((p, q) => p * q, 1);
    const b = x.slice(axis).reduce((p, q) => p * q, 1);
    set(0, get(0).type, [a, b]);
  },
  Reshape: ({ graph, node, where, get, set }) => {
    const x = get(0).shape;
    const target = constInts(graph, node.inputs[1]);
    if (!target)
      throw new ModelError(`${where}: the target shape is not a constant. Hint: emit Reshape shapes as initializers.`);
    const allowZero = attrInt(node, 'allowzero', 0) === 1;
    const shape = target.map((d, i) => (d === 0 && !allowZero ? x[i]! : d));
    const total = x.reduce((p, q) => p * q, 1);
    const known = shape.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
    set(
      0,
      get(0).type,
      shape.map((d) => (d === -1 ? total / known : d)),
    );
  },
  Transpose: ({ node, get, set }) => {
    const x = get(0).shape;
    const perm = attrInts(node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
    set(
      0,
      get(0).type,
      perm.map((p) => x[p]!),
    );
  },
  Unsqueeze: ({ graph, node, get, set }) => {
    const x = get(0).shape;
    const axes = constInts(graph, node.inputs[1]) ?? attrInts(node, 'axes') ?? [];
    const rank = x.length + axes.length;
    const ax = new Set(axes.map((a) => normAxis(a, rank)));
    const out: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(ax.has(i) ? 1 : x[j++]!);
    set(0, get(0).type, out);
  },
  Squeeze: ({ graph, node, get, set }) => {
    const x = get(0).shape;
    const axes = constInts(graph, node.inputs[1]) ?? attrInts(node, 'axes');
    const ax = new Set(
      (axes ?? x.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => normAxis(a, x.length)),
    );
    set(
      0,
      get(0).type,
      x.filter((_, i) => !ax.has(i)),
    );
  },
  Expand: ({ graph, node, where, get, set }) => {
    const target = constInts(graph, node.inputs[1]);
    if (!target)
      throw new ModelError(`${where}: the target shape is not a constant. Hint: emit Expand shapes as initializers.`);
    set(0, get(0).type, broadcastShapes(get(0).shape, target, where));
  },
  Slice: ({ graph, node, where, get, set }) => {
    const x = get(0).shape;
    const starts = constInts(graph, node.inputs[1]);
    const ends = constInts(graph, node.inputs[2]);
    if (!starts || !ends)
      throw new ModelError(`${where}: starts/ends are not constants. Hint: emit Slice bounds as initializers.`);
    const axes = constInts(graph, node.inputs[3]) ?? starts.map((_, i) => i);
    const steps = constInts(graph, node.inputs[4]) ?? starts.map(() => 1);
    const out = [...x];
    axes.forEach((a0, i) => {
      const a = normAxis(a0, x.length);
      const d = x[a]!;
      const step = steps[i]!;
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      let s = starts[i]! < 0 ? starts[i]! + d : starts[i]!;
      let e = ends[i]! < 0 ? ends[i]! + d : ends[i]!;
      if (step > 0) {
        s = clamp(s, 0, d);
        e = clamp(e, 0, d);
        out[a] = Math.max(0, Math.ceil((e - s) / step));
      } else {
        s = clamp(s, 0, d - 1);
        e = clamp(e, -1, d - 1);
        out[a] = Math.max(0, Math.ceil((s - e) / -step));
      }
    });
    set(0, get(0).type, out);
  },
  Pad: ({ graph, node, where, get, set }) => {
    const x = get(0).shape;
    const pads = constInts(graph, node.inputs[1]);
    if (!pads) throw new ModelError(`${where}: pads are not constants. Hint: emit Pad amounts as initializers.`);
    set(
      0,
      get(0).type,
      x.map((d, i) => d + pads[i]! + pads[i + x.length]!),
    );
  },
  Shape: ({ get, set }) => set(0, 'int64', [get(0).shape.length]),
  Gather: ({ node, get, set }) => {
    const x = get(0).shape;
    const axis = normAxis(attrInt(node, 'axis', 0), x.length);
    set(0, get(0).type, [...x.slice(0, axis), ...get(1).shape, ...x.slice(axis + 1)]);
  },
  Concat: ({ node, get, set }) => {
    const first = get(0).shape;
    const axis = normAxis(attrInt(node, 'axis', 0), first.length);
    const out = [...first];
    for (let i = 1; i < node.inputs.length; i++) out[axis] = out[axis]! + get(i).shape[axis]!;
    set(0, get(0).type, out);
  },
};

/** Matrix products. */
const LINEAR_SHAPES: Record<string, ShapeRule> = {
  Gemm: ({ node, get, set }) => {
    const a = get(0).shape;
    const b = get(1).shape;
    const ta = attrInt(node, 'transA', 0) === 1;
    const tb = attrInt(node, 'transB', 0) === 1;
    set(0, get(0).type, [ta ? a[1]! : a[0]!, tb ? b[0]! : b[1]!]);
  },
  MatMul: ({ where, get, set }) => {
    const a = get(0).shape;
    const b = get(1).shape;
    if (a.length < 2 || b.length < 2)
      throw new ModelError(`${where}: 1-D MatMul operands are not supported. Hint: reshape to 2-D first.`);
    const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2), where);
    set(0, get(0).type, [...batch, a[a.length - 2]!, b[b.length - 1]!]);
  },
};

const reduction: ShapeRule = ({ graph, node, get, set }) => {
  const x = get(0);
  const axes = reduceAxes(graph, node);
  const keep = attrInt(node, 'keepdims', 1) === 1;
  if ((!axes || axes.length === 0) && attrInt(node, 'noop_with_empty_axes', 0) === 1) set(0, x.type, x.shape);
  else set(0, x.type, reducedShape(x.shape, axes, keep));
};

const argReduction: ShapeRule = ({ node, get, set }) => {
  const x = get(0).shape;
  const axis = normAxis(attrInt(node, 'axis', 0), x.length);
  set(0, 'int64', reducedShape(x, [axis], attrInt(node, 'keepdims', 1) === 1));
};

/** Reductions. */
const REDUCTION_SHAPES: Record<string, ShapeRule> = {
  ...Object.fromEntries(
    ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceSumSquare'].map((op) => [op, reduction]),
  ),
  ArgMax: argReduction,
  ArgMin: argReduction,
};

/** Every shape rule by op type, one table per op family. */
const SHAPE_RULES: Record<string, ShapeRule> = {
  ...ELEMENTWISE_SHAPES,
  ...WINDOW_SHAPES,
  ...LAYOUT_SHAPES,
  ...LINEAR_SHAPES,
  ...REDUCTION_SHAPES,
};

/** Infers the outputs of one node into `m` (exported so passes that append nodes can extend a map). */
export function inferNode(graph: OnnxGraph, node: OnnxNode, m: Map<string, ValueType>): void {
  const where = `${node.op} node ${node.name}`;
  const rule = SHAPE_RULES[node.op];
  if (!rule)
    throw new ModelError(
      `${where}: no shape rule for op ${node.op}. Hint: add a rule to src/backends/onnxruntime/autodiff-shapes.ts.`,
    );
  rule({
    graph,
    node,
    where,
    get: (i) => {
      const name = node.inputs[i];
      const v = name === undefined || name === '' ? undefined : m.get(name);
      if (!v)
        throw new ModelError(
          `${where}: input ${i} (${name}) has no known shape. Hint: nodes must be in topological order.`,
        );
      return v;
    },
    set: (i, type, shape) => {
      const name = node.outputs[i];
      if (name !== undefined && name !== '') m.set(name, { type, shape });
    },
  });
}
