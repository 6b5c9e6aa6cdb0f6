/**
 * A float64 reference interpreter for the op subset expbench's graphs use, written for clarity, not
 * speed. It is the independent side of the gradient checks: finite differences of this interpreter
 * (in float64, so the difference quotient is not drowned by rounding) are compared with the
 * analytic gradients ONNX Runtime computes from the generated backward graph.
 *
 * Dropout in training mode reads its mask from the given values (the mask output's name), so the
 * reference sees the same mask ONNX Runtime drew.
 */
import { ModelError } from '../../errors.ts';
import {
  attrInt,
  attrInts,
  constantOf,
  reduceAxes,
  reducedShape,
  windowGeometry,
  broadcastShapes,
} from './autodiff-shapes.ts';
import type { OnnxGraph, OnnxNode, OnnxTensorInit } from './graph.ts';

/** A float64 tensor (booleans and integers are stored as numbers). */
export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const stridesOf = (s: number[]) => {
  const st = new Array<number>(s.length).fill(1);
  for (let i = s.length - 2; i >= 0; i--) st[i] = st[i + 1]! * s[i + 1]!;
  return st;
};

export function refTensor(shape: number[], data: ArrayLike<number>): RefTensor {
  return { shape: [...shape], data: Float64Array.from(data) };
}

function fromInit(t: OnnxTensorInit): RefTensor {
  return {
    shape: [...t.dims],
    data: Float64Array.from(t.data as ArrayLike<number | bigint | boolean>, (v) => Number(v)),
  };
}

/** Elementwise op with numpy broadcasting over any number of inputs. */
function broadcast(inputs: RefTensor[], f: (...v: number[]) => number): RefTensor {
  let shape = inputs[0]!.shape;
  for (const t of inputs.slice(1)) shape = broadcastShapes(shape, t.shape, 'reference');
  const out = new Float64Array(size(shape));
  const r = shape.length;
  const ins = inputs.map((t) => {
    const st = stridesOf(t.shape);
    const lead = r - t.shape.length;
    return shape.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : st[i - lead]!));
  });
  const idx = new Array<number>(r).fill(0);
  const vals = new Array<number>(inputs.length);
  for (let o = 0; o < out.length; o++) {
    for (let k = 0; k < inputs.length; k++) {
      let off = 0;
      const st = ins[k]!;
      for (let i = 0; i < r; i++) off += idx[i]! * st[i]!;
      vals[k] = inputs[k]!.data[off]!;
    }
    out[o] = f(...vals);
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return { shape, data: out };
}

function reduce(x: RefTensor, axes: number[] | undefined, keep: boolean, kind: 'sum' | 'mean' | 'max'): RefTensor {
  const all = !axes || axes.length === 0;
  const ax = new Set((all ? x.shape.map((_, i) => i) : axes).map((a) => (a < 0 ? a + x.shape.length : a)));
  const outShapeKeep = x.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const outStrides = stridesOf(outShapeKeep);
  const out = new Float64Array(size(outShapeKeep)).fill(kind === 'max' ? -Infinity : 0);
  const r = x.shape.length;
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < x.data.length; o++) {
    let off = 0;
    for (let i = 0; i < r; i++) if (!ax.has(i)) off += idx[i]! * outStrides[i]!;
    const v = x.data[o]!;
    out[off] = kind === 'max' ? Math.max(out[off]!, v) : out[off]! + v;
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < x.shape[i]!) break;
      idx[i] = 0;
    }
  }
  if (kind === 'mean') {
    const n = x.data.length / out.length;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! / n;
  }
  return { shape: reducedShape(x.shape, [...ax], keep), data: out };
}

function transpose(x: RefTensor, perm: number[]): RefTensor {
  const shape = perm.map((p) => x.shape[p]!);
  const inSt = stridesOf(x.shape);
  const out = new Float64Array(x.data.length);
  const r = shape.length;
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let off = 0;
    for (let i = 0; i < r; i++) off += idx[i]! * inSt[perm[i]!]!;
    out[o] = x.data[off]!;
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return { shape, data: out };
}

function conv2d(node: OnnxNode, x: RefTensor, w: RefTensor, b: RefTensor | undefined): RefTensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [M, Cg, KH, KW] = w.shape as [number, number, number, number];
  const G = attrInt(node, 'group', 1);
  if (Cg * G !== C)
    throw new ModelError(`reference Conv: ${C} input channels but filter ${w.shape} with group ${G}. Hint: none.`);
  const g = windowGeometry(node, [H, W], [KH, KW]);
  const [OH, OW] = g.out as [number, number];
  const out = new Float64Array(N * M * OH * OW);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let acc = b ? b.data[m]! : 0;
          const c0 = Math.floor(m / (M / G)) * Cg;
          for (let c = c0; c < c0 + Cg; c++)
            for (let i = 0; i < KH; i++) {
              const yy = oy * g.strides[0]! + i * g.dilations[0]! - g.pads[0]!;
              if (yy < 0 || yy >= H) continue;
              for (let j = 0; j < KW; j++) {
                const xx = ox * g.strides[1]! + j * g.dilations[1]! - g.pads[1]!;
                if (xx < 0 || xx >= W) continue;
                acc += x.data[((n * C + c) * H + yy) * W + xx]! * w.data[((m * Cg + c - c0) * KH + i) * KW + j]!;
              }
            }
          out[((n * M + m) * OH + oy) * OW + ox] = acc;
        }
  return { shape: [N, M, OH, OW], data: out };
}

function pool2d(node: OnnxNode, x: RefTensor, kind: 'max' | 'avg'): RefTensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const k = attrInts(node, 'kernel_shape')!;
  const g = windowGeometry(node, [H, W], k);
  const [OH, OW] = g.out as [number, number];
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let m = kind === 'max' ? -Infinity : 0;
        let count = 0;
        for (let i = 0; i < k[0]!; i++)
          for (let j = 0; j < k[1]!; j++) {
            const yy = oy * g.strides[0]! + i * g.dilations[0]! - g.pads[0]!;
            const xx = ox * g.strides[1]! + j * g.dilations[1]! - g.pads[1]!;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            const v = x.data[(p * H + yy) * W + xx]!;
            m = kind === 'max' ? Math.max(m, v) : m + v;
            count++;
          }
        const divisor = attrInt(node, 'count_include_pad', 0) === 1 ? k[0]! * k[1]! : count;
        out[(p * OH + oy) * OW + ox] = kind === 'max' ? m : m / divisor;
      }
  return { shape: [N, C, OH, OW], data: out };
}

function gemm(node: OnnxNode, a0: RefTensor, b0: RefTensor, c: RefTensor | undefined): RefTensor {
  const a = attrInt(node, 'transA', 0) ? transpose(a0, [1, 0]) : a0;
  const b = attrInt(node, 'transB', 0) ? transpose(b0, [1, 0]) : b0;
  const alpha = attrInt(node, 'alpha', 1);
  const beta = attrInt(node, 'beta', 1);
  const [M, K] = a.shape as [number, number];
  const Nn = b.shape[1]!;
  const out = new Float64Array(M * Nn);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < Nn; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a.data[i * K + k]! * b.data[k * Nn + j]!;
      out[i * Nn + j] = alpha * acc;
    }
  const y = { shape: [M, Nn], data: out };
  return c ? broadcast([y, c], (p, q) => p + beta * q) : y;
}

/** Element-wise operators of one input. */
const UNARY: Record<string, (a: number) => number> = {
  Relu: (a) => Math.max(a, 0),
  Neg: (a) => -a,
  Sqrt: Math.sqrt,
  Reciprocal: (a) => 1 / a,
  Exp: Math.exp,
  Log: Math.log,
};

/** Element-wise operators of two broadcast inputs. */
const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Equal: (a, b) => (a === b ? 1 : 0),
  Greater: (a, b) => (a > b ? 1 : 0),
  Less: (a, b) => (a < b ? 1 : 0),
};

/** A node's view of the values computed so far: its inputs by position, and where its outputs go. */
interface NodeValues {
  /** Input `i`; throws when it has not been computed or given. */
  inp(i: number): RefTensor;
  /** Input `i` when the node has one. */
  opt(i: number): RefTensor | undefined;
  /** Sets output `i`, unless the caller gave a value for it. */
  set(i: number, t: RefTensor): void;
  /** A value by name (a Dropout mask given by its output name). */
  get(name: string): RefTensor | undefined;
}

/**
 * Evaluates `graph` in float64 from `given` values (graph inputs, and Dropout masks by their output
 * names) and returns every value computed.
 */
export function runReference(graph: OnnxGraph, given: Record<string, RefTensor>): Map<string, RefTensor> {
  const v = new Map<string, RefTensor>();
  for (const [name, t] of graph.initializers) v.set(name, fromInit(t));
  for (const [name, t] of Object.entries(given)) v.set(name, t);
  for (const node of graph.nodes) {
    const io: NodeValues = {
      inp: (i) => {
        const t = v.get(node.inputs[i] ?? '');
        if (!t)
          throw new ModelError(
            `reference: ${node.op} node ${node.name} input ${node.inputs[i]} unknown. Hint: feed every graph input.`,
          );
        return t;
      },
      opt: (i) => (node.inputs[i] ? v.get(node.inputs[i]!) : undefined),
      set: (i, t) => {
        const name = node.outputs[i];
        if (name && !(name in given)) v.set(name, t);
      },
      get: (name) => v.get(name),
    };
    io.set(0, evalNode(graph, node, io));
  }
  return v;
}

/** Computes one node: returns its first output; a node with more (BatchNormalization) sets them through `io`. */
function evalNode(graph: OnnxGraph, node: OnnxNode, io: NodeValues): RefTensor {
  const { inp, opt } = io;
  const unary = UNARY[node.op];
  if (unary) return broadcast([inp(0)], unary);
  const binary = BINARY[node.op];
  if (binary) return broadcast([inp(0), inp(1)], binary);
  switch (node.op) {
    case 'Identity':
    case 'Cast':
      return inp(0);
    case 'Where':
      return broadcast([inp(0), inp(1), inp(2)], (c, a, b) => (c ? a : b));
    case 'Sum':
      return broadcast(
        node.inputs.map((_, i) => inp(i)),
        (...xs) => xs.reduce((p, q) => p + q, 0),
      );
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax': {
      const kind = node.op === 'ReduceSum' ? 'sum' : node.op === 'ReduceMean' ? 'mean' : 'max';
      return reduce(inp(0), reduceAxes(graph, node), attrInt(node, 'keepdims', 1) === 1, kind);
    }
    case 'LogSoftmax':
    case 'Softmax':
      return softmax(inp(0), attrInt(node, 'axis', -1), node.op === 'LogSoftmax');
    case 'Flatten': {
      const x = inp(0);
      const axis = attrInt(node, 'axis', 1);
      return { shape: [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))], data: x.data };
    }
    case 'Reshape':
    case 'Expand':
    case 'Unsqueeze':
      return reshaped(node.op, inp(0), Array.from(inp(1).data));
    case 'Pad':
      return padded(inp(0), Array.from(inp(1).data));
    case 'Transpose':
      return transpose(inp(0), attrInts(node, 'perm') ?? inp(0).shape.map((_, i, a) => a.length - 1 - i));
    case 'Gemm':
      return gemm(node, inp(0), inp(1), opt(2));
    case 'MatMul':
      return gemm(node, inp(0), inp(1), undefined);
    case 'Conv':
      return conv2d(node, inp(0), inp(1), opt(2));
    case 'MaxPool':
      return pool2d(node, inp(0), 'max');
    case 'AveragePool':
      return pool2d(node, inp(0), 'avg');
    case 'GlobalAveragePool': {
      const x = inp(0);
      return reduce(
        x,
        x.shape.slice(2).map((_, i) => i + 2),
        true,
        'mean',
      );
    }
    case 'Clip': {
      const lo = opt(1)?.data[0] ?? -Infinity;
      const hi = opt(2)?.data[0] ?? Infinity;
      return broadcast([inp(0)], (a) => Math.min(Math.max(a, lo), hi));
    }
    case 'Concat':
      return concat(
        node.inputs.map((_, i) => inp(i)),
        attrInt(node, 'axis', 0),
      );
    case 'ArgMax':
      return argMax(inp(0), attrInt(node, 'keepdims', 1) !== 0);
    case 'BatchNormalization':
      return batchNorm(node, io);
    case 'Dropout':
      return dropout(node, io);
    case 'Constant':
      return fromInit(node.attrs.value as OnnxTensorInit);
    default:
      throw new ModelError(
        `reference: no float64 rule for op ${node.op}. Hint: add one to src/backends/onnxruntime/autodiff-reference.ts.`,
      );
  }
}

/** `x` with `pads` (ONNX order: all begins, then all ends) of zeros around it. */
function padded(x: RefTensor, pads: number[]): RefTensor {
  const r = x.shape.length;
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + r]!);
  const out = new Float64Array(size(shape));
  const inSt = stridesOf(x.shape);
  const outSt = stridesOf(shape);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (let i = 0; i < r; i++) o += ((Math.floor(k / inSt[i]!) % x.shape[i]!) + pads[i]!) * outSt[i]!;
    out[o] = x.data[k]!;
  }
  return { shape, data: out };
}

/** The inputs joined along `axis`. */
function concat(xs: RefTensor[], axis0: number): RefTensor {
  const rank = xs[0]!.shape.length;
  const axis = (axis0 + rank) % rank;
  const outer = size(xs[0]!.shape.slice(0, axis));
  const blocks = xs.map((t) => t.data.length / outer);
  const total = blocks.reduce((a, b) => a + b, 0);
  const data = new Float64Array(outer * total);
  for (let o = 0; o < outer; o++) {
    let off = o * total;
    xs.forEach((t, i) => {
      data.set(t.data.subarray(o * blocks[i]!, (o + 1) * blocks[i]!), off);
      off += blocks[i]!;
    });
  }
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((a, t) => a + t.shape[axis]!, 0);
  return { shape, data };
}

/** Softmax, or its logarithm, along `axis`, shifted by the maximum for stability. */
function softmax(x: RefTensor, axis: number, log: boolean): RefTensor {
  const mx = reduce(x, [axis], true, 'max');
  const e = broadcast([x, mx], (a, m) => Math.exp(a - m));
  const s = reduce(e, [axis], true, 'sum');
  return log ? broadcast([x, mx, s], (a, m, q) => a - m - Math.log(q)) : broadcast([e, s], (a, b) => a / b);
}

/** `x` under Reshape (0 keeps a dimension, -1 infers one), Expand (broadcast to) or Unsqueeze (axes). */
function reshaped(op: 'Reshape' | 'Expand' | 'Unsqueeze', x: RefTensor, target: number[]): RefTensor {
  if (op === 'Expand') {
    return broadcast([x, { shape: target, data: new Float64Array(size(target)) }], (a) => a);
  }
  if (op === 'Unsqueeze') {
    const rank = x.shape.length + target.length;
    const ax = new Set(target.map((a) => (a < 0 ? a + rank : a)));
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.has(i) ? 1 : x.shape[j++]!);
    return { shape, data: x.data };
  }
  const shape = target.map((d, i) => (d === 0 ? x.shape[i]! : d));
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return { shape: shape.map((d) => (d === -1 ? x.data.length / known : d)), data: x.data };
}

/** Index of the largest of each row of an `[N, K]` tensor (the first on ties). */
function argMax(x: RefTensor, keepdims: boolean): RefTensor {
  const [N, K] = x.shape as [number, number];
  const out = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (x.data[n * K + k]! > x.data[n * K + best]!) best = k;
    out[n] = best;
  }
  return { shape: keepdims ? [N, 1] : [N], data: out };
}

/**
 * Batch normalisation over N and the spatial axes: with `training_mode` the batch statistics, and the
 * updated running mean and variance as outputs 1 and 2; otherwise the running statistics.
 */
function batchNorm(node: OnnxNode, { inp, set }: NodeValues): RefTensor {
  const x = inp(0);
  const [gamma, beta, rm, rv] = [inp(1), inp(2), inp(3), inp(4)];
  const eps = attrInt(node, 'epsilon', 1e-5);
  const mom = attrInt(node, 'momentum', 0.9);
  const C = x.shape[1]!;
  const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const bshape = [1, C, ...x.shape.slice(2).map(() => 1)];
  const cshape = (t: RefTensor) => ({ shape: bshape, data: t.data });
  let mean: RefTensor;
  let variance: RefTensor;
  if (attrInt(node, 'training_mode', 0) === 1) {
    mean = reduce(x, axes, true, 'mean');
    variance = reduce(
      broadcast([x, mean], (a, m) => (a - m) * (a - m)),
      axes,
      true,
      'mean',
    );
    set(
      1,
      broadcast([rm, { shape: [C], data: mean.data }], (r, b) => r * mom + b * (1 - mom)),
    );
    set(
      2,
      broadcast([rv, { shape: [C], data: variance.data }], (r, b) => r * mom + b * (1 - mom)),
    );
  } else {
    mean = cshape(rm);
    variance = cshape(rv);
  }
  return broadcast(
    [x, mean, variance, cshape(gamma), cshape(beta)],
    (a, m, s, g, b) => ((a - m) / Math.sqrt(s + eps)) * g + b,
  );
}

/** Dropout: the identity outside training mode; in it, the mask ONNX Runtime drew must be given. */
function dropout(node: OnnxNode, { inp, get }: NodeValues): RefTensor {
  const x = inp(0);
  const mode = node.inputs[2] ? inp(2).data[0] : 0;
  if (!mode) return x;
  const ratio = node.inputs[1] ? inp(1).data[0]! : 0.5;
  const mask = get(node.outputs[1] ?? '');
  if (!mask)
    throw new ModelError(
      `reference: Dropout node ${node.name} needs its mask ${node.outputs[1]} given. Hint: pass the mask ONNX Runtime produced.`,
    );
  return broadcast([x, mask], (a, m) => (m ? a / (1 - ratio) : 0));
}

/** The constant behind a name as a {@link RefTensor}, if it is one. */
export function refConstant(graph: OnnxGraph, name: string): RefTensor | undefined {
  const c = constantOf(graph, name);
  return c ? fromInit(c) : undefined;
}
