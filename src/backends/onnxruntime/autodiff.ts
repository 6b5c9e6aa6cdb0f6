/**
 * Reverse-mode differentiation over an {@link OnnxGraph}'s node list, emitting the backward pass as
 * ordinary ONNX operators (opset 17), as Caffe2 builds its gradient operators from per-op gradient
 * makers. ONNX Runtime's inference builds cannot train; with the gradient graph appended, a whole
 * training step is one `session.run`.
 *
 * Every rule uses operators that both ORT's CPU and WebGPU execution providers implement:
 * - Conv: input gradient by a `Conv` with the flipped, transposed filter where the forward has stride 1
 *   (by `ConvTranspose` with the forward's geometry and an `output_padding` otherwise); filter gradient
 *   by one `Gemm` over the stacked shifted windows of the input for kernels up to 3×3 (by a `Conv` of
 *   the transposed input with the transposed output gradient as its filter for larger kernels).
 * - MaxPool: without the Indices output (the WebGPU EP rejects it). For non-overlapping windows
 *   (kernel = stride, no padding) the mask is rebuilt by comparing each window with its maximum, and
 *   ties go to the first maximum in row-major order within the window (as tfjs and PyTorch pick it),
 *   using a small MatMul with a strictly-upper-triangular matrix as an exclusive prefix count.
 *   The CPU EP alone may take the `unpool` formulation instead: MaxUnpool of the forward pool's
 *   Indices, which pick the same first maximum ({@link MaxPoolGrad}).
 * - BatchNormalization with `training_mode=1` is lowered to primitives (ReduceMean, Sub, Mul, Sqrt,
 *   Reciprocal, Add) that also produce the updated running mean and variance (ONNX convention:
 *   `running = running * momentum + batch * (1 - momentum)`, biased batch variance), and differentiated
 *   with the closed form `dX = γ/σ · (dY − mean(dY) − x̂ · mean(dY · x̂))` instead of op by op.
 * - LogSoftmax is lowered to ReduceMax/Sub/Exp/ReduceSum/Log (no WebGPU kernel) with the closed-form
 *   gradient `dY − softmax · Σ dY`.
 * - Dropout uses the mask output of the forward node (added when the builder left it out). ORT's
 *   WebGPU EP has no Dropout kernel, so that node (small: after a dense layer) runs on the CPU EP.
 *
 * Shapes are static (see `autodiff-shapes.ts`): the graph is built for one batch size.
 */
import { ModelError } from '../../errors.ts';
import {
  attrInt,
  attrInts,
  constFloats,
  constInts,
  inferNode,
  inferShapes,
  reduceAxes,
  reducedShape,
  windowGeometry,
} from './autodiff-shapes.ts';
import type { ValueType } from './autodiff-shapes.ts';
import type { AttrValue, OnnxGraph, OnnxNode } from './graph.ts';

export { inferShapes } from './autodiff-shapes.ts';
export type { ValueType } from './autodiff-shapes.ts';

/** Options of {@link appendGradients}. */
export interface GradientOptions {
  /** Concrete shapes for graph inputs declared with symbolic dimensions. */
  shapeOverrides?: Record<string, number[]>;
  /**
   * Where wrt values have no path to the loss, emit a zero gradient (true) instead of throwing.
   * @default false
   */
  allowUnused?: boolean;
  /** Which formulation gradients with several take (benchmarks compare them; the defaults are the fastest measured). */
  formulation?: Formulation;
}

/**
 * How the filter gradient of a 2-D convolution with a kernel up to 3×3 is computed (larger kernels
 * always take `conv`):
 * - `gemm` (default): the shifted windows of the transposed, padded input stacked into one
 *   `[kh·kw·C, N·P]` matrix for a single Gemm;
 * - `conv`: a Conv of the transposed input with the transposed dY as its filter.
 * `bench/ort-train-step.ts` compares them (`filter-conv`: 1.46× the CPU time per step of `gemm` on
 * vgg-small at batch 64).
 */
export type ConvFilterGrad = 'gemm' | 'conv';

/**
 * How the gradient of a max pool with non-overlapping windows is computed:
 * - `mask` (default, every execution provider): each window compared with its maximum, the first hit
 *   kept by an exclusive prefix count, dY spread over it;
 * - `unpool` (the CPU EP: the WebGPU EP rejects MaxPool's Indices output): the forward MaxPool also
 *   returns the flat index of each window's first maximum, and one MaxUnpool scatters dY there.
 */
export type MaxPoolGrad = 'mask' | 'unpool';

/** Formulation choices of {@link GradientOptions.formulation}. */
export interface Formulation {
  convFilterGrad?: ConvFilterGrad;
  maxPoolGrad?: MaxPoolGrad;
}

/** What {@link appendGradients} produced. */
export interface GradientResult {
  /** Gradient value name for each differentiated value. */
  grads: Record<string, string>;
  /** Element type and shape of every value in the graph after the pass. */
  shapes: Map<string, ValueType>;
}

/** Emits the gradient of one unit (a node, or a lowered composite such as batch norm). */
type GradRule = (
  ctx: GradContext,
  dOut: ReadonlyArray<string | undefined>,
  want: readonly boolean[],
) => Array<string | undefined>;

interface Unit {
  op: string;
  where: string;
  inputs: string[];
  outputs: string[];
  /** Output indices that never carry a gradient (masks, indices, running statistics). */
  nonDiffOutputs: Set<number>;
  rule: GradRule | undefined;
}

/** Ops whose outputs never carry a gradient. */
const NON_DIFFERENTIABLE = new Set([
  'Equal',
  'Greater',
  'Less',
  'GreaterOrEqual',
  'LessOrEqual',
  'ArgMax',
  'ArgMin',
  'Shape',
  'Not',
  'And',
  'Or',
  'Floor',
  'Ceil',
  'Constant',
]);

/**
 * Emission helpers shared by the gradient rules: every node appended through {@link GradContext.op}
 * gets its shape inferred at once, so later rules can ask for it.
 */
export class GradContext {
  private readonly scalarCache = new Map<number, string>();
  private readonly intsCache = new Map<string, string>();

  constructor(
    readonly graph: OnnxGraph,
    readonly shapes: Map<string, ValueType>,
    readonly formulation: Formulation = {},
  ) {}

  shape(v: string): number[] {
    const t = this.shapes.get(v);
    if (!t)
      throw new ModelError(`autodiff: no shape for value ${v}. Hint: the value is produced by no node or graph input.`);
    return t.shape;
  }

  node(op: string, inputs: string[], nOut: number, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = this.graph.node(op, inputs, nOut, attrs);
    inferNode(this.graph, this.graph.nodes[this.graph.nodes.length - 1]!, this.shapes);
    return outs;
  }

  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(op, inputs, 1, attrs)[0]!;
  }

  /** A shared float32 scalar constant. */
  scalar(v: number): string {
    let name = this.scalarCache.get(v);
    if (!name) {
      name = this.graph.floats([v], [], 'scalar');
      this.shapes.set(name, { type: 'float32', shape: [] });
      this.scalarCache.set(v, name);
    }
    return name;
  }

  /** A shared int64 vector constant (shapes, axes). */
  ints(values: number[]): string {
    const key = values.join(',');
    let name = this.intsCache.get(key);
    if (!name) {
      name = this.graph.ints(values, [values.length], 'ints');
      this.shapes.set(name, { type: 'int64', shape: [values.length] });
      this.intsCache.set(key, name);
    }
    return name;
  }

  reshape(v: string, shape: number[]): string {
    if (sameShape(this.shape(v), shape)) return v;
    return this.op('Reshape', [v, this.ints(shape)]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  /** Sums `grad` over the axes that broadcasting expanded, so it has `target`'s shape. */
  unbroadcast(grad: string, target: number[]): string {
    const from = this.shape(grad);
    if (sameShape(from, target)) return grad;
    const lead = from.length - target.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      const t = i < lead ? 1 : target[i - lead]!;
      if (t === 1 && from[i] !== 1) axes.push(i);
    }
    const summed = axes.length > 0 ? this.op('ReduceSum', [grad, this.ints(axes)], { keepdims: 1 }) : grad;
    return this.reshape(summed, target);
  }

  /** Broadcasts `v` (of a shape broadcastable to `shape`) to exactly `shape`. */
  expand(v: string, shape: number[]): string {
    if (sameShape(this.shape(v), shape)) return v;
    return this.op('Expand', [v, this.ints(shape)]);
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function numel(shape: number[]): number {
  return shape.reduce((p, q) => p * q, 1);
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

// ───────────────────────────── per-op gradient rules ─────────────────────────────

/** Rules keyed by op type; each reads its node's attributes. */
const RULES: Record<string, (node: OnnxNode) => GradRule> = {
  Identity: () => (_c, d) => [d[0]],
  Add: (n) => (c, d) => [c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)), c.unbroadcast(d[0]!, c.shape(n.inputs[1]!))],
  Sub: (n) => (c, d, want) => [
    c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)),
    want[1] ? c.unbroadcast(c.op('Neg', [d[0]!]), c.shape(n.inputs[1]!)) : undefined,
  ],
  Mul: (n) => (c, d, want) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    return [
      want[0] ? c.unbroadcast(c.mul(d[0]!, b), c.shape(a)) : undefined,
      want[1] ? c.unbroadcast(c.mul(d[0]!, a), c.shape(b)) : undefined,
    ];
  },
  Div: (n) => (c, d, want) => {
    const [a, b, y] = [n.inputs[0]!, n.inputs[1]!, n.outputs[0]!];
    return [
      want[0] ? c.unbroadcast(c.op('Div', [d[0]!, b]), c.shape(a)) : undefined,
      // d(a/b)/db = -y/b
      want[1] ? c.unbroadcast(c.op('Neg', [c.mul(d[0]!, c.op('Div', [y, b]))]), c.shape(b)) : undefined,
    ];
  },
  Sum: (n) => (c, d) => n.inputs.map((v) => c.unbroadcast(d[0]!, c.shape(v))),
  Neg: () => (c, d) => [c.op('Neg', [d[0]!])],
  // The mask reads the Relu's output (y > 0 ⟺ x > 0), so the forward input has no other consumer and
  // ORT can still fuse Conv + Relu.
  Relu: (n) => (c, d) => [c.op('Where', [c.op('Greater', [n.outputs[0]!, c.scalar(0)]), d[0]!, c.scalar(0)])],
  Exp: (n) => (c, d) => [c.mul(d[0]!, n.outputs[0]!)],
  Log: (n) => (c, d) => [c.op('Div', [d[0]!, n.inputs[0]!])],
  Sqrt: (n) => (c, d) => [c.op('Div', [d[0]!, c.mul(n.outputs[0]!, c.scalar(2))])],
  Reciprocal: (n) => (c, d) => [c.op('Neg', [c.mul(d[0]!, c.mul(n.outputs[0]!, n.outputs[0]!))])],
  Pow: (n) => (c, d, want) => {
    const p = constFloats(c.graph, n.inputs[1]);
    if (p?.length !== 1)
      throw new ModelError(
        `Pow node ${n.name}: only a constant scalar exponent is differentiable. Hint: use Mul for squares.`,
      );
    if (want[1])
      throw new ModelError(
        `Pow node ${n.name}: the gradient with respect to the exponent is not supported. Hint: keep exponents constant.`,
      );
    const e = p[0]!;
    const base = n.inputs[0]!;
    const deriv = e === 2 ? c.mul(base, c.scalar(2)) : c.mul(c.op('Pow', [base, c.scalar(e - 1)]), c.scalar(e));
    return [c.mul(d[0]!, deriv), undefined];
  },
  Cast: () => (_c, d) => [d[0]],
  Where: (n) => (c, d, want) => {
    const cond = n.inputs[0]!;
    return [
      undefined,
      want[1] ? c.unbroadcast(c.op('Where', [cond, d[0]!, c.scalar(0)]), c.shape(n.inputs[1]!)) : undefined,
      want[2] ? c.unbroadcast(c.op('Where', [cond, c.scalar(0), d[0]!]), c.shape(n.inputs[2]!)) : undefined,
    ];
  },
  Flatten: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!))],
  Reshape: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Squeeze: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Unsqueeze: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Transpose: (n) => (c, d) => {
    const rank = c.shape(n.inputs[0]!).length;
    const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    for (const [i, p] of perm.entries()) inv[p] = i;
    return [c.op('Transpose', [d[0]!], { perm: inv })];
  },
  Expand: (n) => (c, d) => [c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)), undefined],
  ReduceSum: reduceRule,
  ReduceMean: reduceRule,
  LogSoftmax: (n) => (c, d) => {
    const y = n.outputs[0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), c.shape(y).length);
    const s = c.op('ReduceSum', [d[0]!, c.ints([axis])], { keepdims: 1 });
    return [c.op('Sub', [d[0]!, c.mul(c.op('Exp', [y]), s)])];
  },
  Softmax: (n) => (c, d) => {
    const y = n.outputs[0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), c.shape(y).length);
    const s = c.op('ReduceSum', [c.mul(d[0]!, y), c.ints([axis])], { keepdims: 1 });
    return [c.mul(y, c.op('Sub', [d[0]!, s]))];
  },
  Gemm: gemmRule,
  MatMul: matmulRule,
  Conv: convRule,
  MaxPool: maxPoolRule,
  Dropout: (n) => (c, d) => {
    const modeInput = n.inputs[2] ?? '';
    const training = modeInput === '' ? [0] : constInts(c.graph, modeInput);
    if (!training)
      throw new ModelError(
        `Dropout node ${n.name}: training_mode is not a constant. Hint: build the training graph with a constant training_mode.`,
      );
    if (training[0] === 0) return [d[0], undefined, undefined];
    const ratio = constFloats(c.graph, n.inputs[1])?.[0] ?? 0.5;
    const mask = n.outputs[1];
    if (!mask)
      throw new ModelError(
        `Dropout node ${n.name}: no mask output to differentiate through. Hint: appendGradients adds one; do not strip it.`,
      );
    const scaled = ratio === 0 ? d[0]! : c.mul(d[0]!, c.scalar(1 / (1 - ratio)));
    return [c.op('Where', [mask, scaled, c.scalar(0)]), undefined, undefined];
  },
};

function reduceRule(n: OnnxNode): GradRule {
  return (c, d) => {
    const x = n.inputs[0]!;
    const xs = c.shape(x);
    const axes0 = reduceAxes(c.graph, n);
    const empty = !axes0 || axes0.length === 0;
    if (empty && attrInt(n, 'noop_with_empty_axes', 0) === 1) return [d[0], undefined];
    const axes = empty ? xs.map((_, i) => i) : axes0.map((a) => normAxis(a, xs.length));
    const kept = reducedShape(xs, axes, true);
    let g = c.reshape(d[0]!, kept);
    if (n.op === 'ReduceMean') g = c.mul(g, c.scalar(1 / numel(axes.map((a) => xs[a]!))));
    return [c.expand(g, xs), undefined];
  };
}

function gemmRule(n: OnnxNode): GradRule {
  const ta = attrInt(n, 'transA', 0) === 1;
  const tb = attrInt(n, 'transB', 0) === 1;
  const alpha = attrInt(n, 'alpha', 1);
  const beta = attrInt(n, 'beta', 1);
  return (c, d, want) => {
    const [a, b, cc] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
    const dy = d[0]!;
    const gemm = (p: string, q: string, tA: boolean, tB: boolean) =>
      c.op('Gemm', [p, q], {
        ...(tA ? { transA: 1 } : {}),
        ...(tB ? { transB: 1 } : {}),
        ...(alpha !== 1 ? { alpha: { float: alpha } } : {}),
      });
    // Y = α·op(A)·op(B) + β·C; d op(A) = α·dY·op(B)ᵀ, d op(B) = α·op(A)ᵀ·dY, transposed back where op transposes.
    let da: string | undefined;
    let db: string | undefined;
    let dc: string | undefined;
    if (want[0])
      da = !ta
        ? !tb
          ? gemm(dy, b, false, true)
          : gemm(dy, b, false, false)
        : !tb
          ? gemm(b, dy, false, true)
          : gemm(b, dy, true, true);
    if (want[1])
      db = !tb
        ? !ta
          ? gemm(a, dy, true, false)
          : gemm(a, dy, false, false)
        : !ta
          ? gemm(dy, a, true, false)
          : gemm(dy, a, true, true);
    if (want[2] && cc) {
      const scaled = beta === 1 ? dy : c.mul(dy, c.scalar(beta));
      dc = c.unbroadcast(scaled, c.shape(cc));
    }
    return [da, db, dc];
  };
}

function matmulRule(n: OnnxNode): GradRule {
  return (c, d, want) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    const dy = d[0]!;
    const as = c.shape(a);
    const bs = c.shape(b);
    if (as.length === 2 && bs.length === 2) {
      return [
        want[0] ? c.op('Gemm', [dy, b], { transB: 1 }) : undefined,
        want[1] ? c.op('Gemm', [a, dy], { transA: 1 }) : undefined,
      ];
    }
    const swapLast = (v: string) => {
      const r = c.shape(v).length;
      const perm = Array.from({ length: r }, (_, i) => i);
      perm[r - 1] = r - 2;
      perm[r - 2] = r - 1;
      return c.op('Transpose', [v], { perm });
    };
    return [
      want[0] ? c.unbroadcast(c.op('MatMul', [dy, swapLast(b)]), as) : undefined,
      want[1] ? c.unbroadcast(c.op('MatMul', [swapLast(a), dy]), bs) : undefined,
    ];
  };
}

function convRule(n: OnnxNode): GradRule {
  return (c, d, want) => {
    const [x, w, bias] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
    if (attrInt(n, 'group', 1) !== 1)
      throw new ModelError(`Conv node ${n.name}: grouped convolutions have no gradient rule. Hint: use group = 1.`);
    const dy = d[0]!;
    const xs = c.shape(x);
    const ws = c.shape(w);
    const ys = c.shape(dy);
    const spatial = xs.slice(2);
    const kernel = ws.slice(2);
    const r = spatial.length;
    const g = windowGeometry(n, spatial, kernel);
    const out: Array<string | undefined> = [undefined, undefined, undefined];
    if (want[0]) out[0] = convInputGrad(c, dy, w, g, spatial, kernel, ys);
    if (want[1]) {
      const small = kernel.length === 2 && numel(kernel) <= 9;
      const how = small ? (c.formulation.convFilterGrad ?? 'gemm') : 'conv';
      out[1] =
        how === 'gemm'
          ? convFilterGradGemm(c, x, dy, g, xs, ws, ys)
          : convFilterGradConv(c, x, dy, g, spatial, kernel, ys);
    }
    if (want[2] && bias) {
      const axes = [0, ...Array.from({ length: r }, (_, i) => i + 2)];
      out[2] = c.op('ReduceSum', [dy, c.ints(axes)], { keepdims: 0 });
    }
    return out;
  };
}

type Geometry = ReturnType<typeof windowGeometry>;

/**
 * dX of a convolution. Stride 1 with pads ≤ the dilated kernel extent (every "same" and "valid" conv
 * VGG has): a plain Conv of dY with the spatially flipped, in/out-swapped filter, which ORT's CPU EP
 * runs in its fast blocked layout. Otherwise ConvTranspose with the forward's geometry, its
 * output_padding restoring rows a strided forward never reached.
 */
function convInputGrad(
  c: GradContext,
  dy: string,
  w: string,
  g: Geometry,
  spatial: number[],
  kernel: number[],
  ys: number[],
): string {
  const r = spatial.length;
  const ext = kernel.map((k, i) => (k - 1) * g.dilations[i]!);
  const flippable = g.strides.every((s) => s === 1) && g.pads.every((p, i) => p <= ext[i % r]!);
  if (flippable) {
    let wf = w;
    kernel.forEach((k, i) => {
      if (k > 1) wf = c.op('Gather', [wf, c.ints(Array.from({ length: k }, (_, j) => k - 1 - j))], { axis: i + 2 });
    });
    const wt = c.op('Transpose', [wf], { perm: [1, 0, ...kernel.map((_, i) => i + 2)] });
    return c.op('Conv', [dy, wt], {
      kernel_shape: kernel,
      dilations: g.dilations,
      pads: g.pads.map((p, i) => ext[i % r]! - p),
    });
  }
  const outputPadding = spatial.map(
    (s, i) => s - (g.strides[i]! * (ys[i + 2]! - 1) + ext[i]! + 1 - g.pads[i]! - g.pads[i + r]!),
  );
  return c.op('ConvTranspose', [dy, w], {
    kernel_shape: kernel,
    strides: g.strides,
    dilations: g.dilations,
    pads: g.pads,
    ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
  });
}

/**
 * dW of a 2-D convolution with a small kernel as one GEMM: dW[m, (i,j,c)] = Σ_{n,p} dY[m,(n,p)] ·
 * col[(i,j,c),(n,p)], where col stacks the kh·kw shifted (and strided) windows of the padded input,
 * taken from the input transposed to [C, N, H, W] so the contraction axis (n, p) is contiguous in both
 * operands. One large GEMM is far faster on ORT's CPU EP than a Conv whose filter is the whole dY.
 */
function convFilterGradGemm(
  c: GradContext,
  x: string,
  dy: string,
  g: Geometry,
  xs: number[],
  ws: number[],
  ys: number[],
): string {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [M, , kh, kw] = ws as [number, number, number, number];
  const [Ho, Wo] = [ys[2]!, ys[3]!];
  const P = Ho * Wo;
  const xt = c.op('Transpose', [x], { perm: [1, 0, 2, 3] });
  const [pt, pl, pb, pr] = g.pads as [number, number, number, number];
  const padded = pt + pl + pb + pr > 0 ? c.op('Pad', [xt, c.ints([0, 0, pt, pl, 0, 0, pb, pr])]) : xt;
  const [sh, sw] = g.strides as [number, number];
  const [dh, dw] = g.dilations as [number, number];
  const windows: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const [y0, x0] = [i * dh, j * dw];
      const whole = y0 === 0 && x0 === 0 && sh === 1 && sw === 1 && Ho === H + pt + pb && Wo === W + pl + pr;
      windows.push(
        whole
          ? padded
          : c.op('Slice', [
              padded,
              c.ints([y0, x0]),
              c.ints([y0 + (Ho - 1) * sh + 1, x0 + (Wo - 1) * sw + 1]),
              c.ints([2, 3]),
              c.ints([sh, sw]),
            ]),
      );
    }
  }
  const stacked = windows.length === 1 ? windows[0]! : c.op('Concat', windows, { axis: 0 });
  const col = c.reshape(stacked, [kh * kw * C, N * P]);
  const dyt = c.reshape(c.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), [M, N * P]);
  const dcol = c.op('Gemm', [dyt, col], { transB: 1 });
  // [M, (i,j,c)] → [M, c, i, j]
  return c.reshape(c.op('Transpose', [c.reshape(dcol, [M, kh * kw, C])], { perm: [0, 2, 1] }), [M, C, kh, kw]);
}

/**
 * dW of a convolution of any rank or kernel size: a Conv with batch and channel axes swapped, dY as the
 * filter, strides and dilations exchanged: dW[m,c,i,j] = Σ_{n,y,x} dY[n,m,y,x] · X[n,c,y·s+i·d−p, …].
 */
function convFilterGradConv(
  c: GradContext,
  x: string,
  dy: string,
  g: Geometry,
  spatial: number[],
  kernel: number[],
  ys: number[],
): string {
  const r = spatial.length;
  const perm = [1, 0, ...Array.from({ length: r }, (_, i) => i + 2)];
  const xt = c.op('Transpose', [x], { perm });
  const dyt = c.op('Transpose', [dy], { perm });
  const endPads = spatial.map((s, i) =>
    Math.max(0, (kernel[i]! - 1) * g.dilations[i]! + (ys[i + 2]! - 1) * g.strides[i]! + 1 - s - g.pads[i]!),
  );
  let z = c.op('Conv', [xt, dyt], {
    kernel_shape: ys.slice(2),
    strides: g.dilations,
    dilations: g.strides,
    pads: [...g.pads.slice(0, r), ...endPads],
  });
  const zs = c.shape(z).slice(2);
  if (zs.some((s, i) => s !== kernel[i])) {
    const axes = Array.from({ length: r }, (_, i) => i + 2);
    z = c.op('Slice', [z, c.ints(axes.map(() => 0)), c.ints(kernel), c.ints(axes)]);
  }
  return c.op('Transpose', [z], { perm });
}

function maxPoolRule(n: OnnxNode): GradRule {
  return (c, d) => {
    const [x, y] = [n.inputs[0]!, n.outputs[0]!];
    const xs = c.shape(x);
    if (xs.length !== 4)
      throw new ModelError(`MaxPool node ${n.name}: only 2-D pooling has a gradient rule. Hint: use NCHW inputs.`);
    const kernel = attrInts(n, 'kernel_shape') ?? [];
    const g = windowGeometry(n, xs.slice(2), kernel);
    const [kh, kw] = [kernel[0]!, kernel[1]!];
    const ok =
      g.strides[0] === kh &&
      g.strides[1] === kw &&
      g.pads.every((p) => p === 0) &&
      g.dilations.every((v) => v === 1) &&
      attrInt(n, 'ceil_mode', 0) === 0;
    if (!ok) {
      throw new ModelError(
        `MaxPool node ${n.name}: the gradient rule needs non-overlapping windows (stride = kernel, no padding, no dilation, floor mode); got kernel [${kernel}] strides [${g.strides}] pads [${g.pads}]. Hint: use maxpool size = stride, as VGG does.`,
      );
    }
    if (c.formulation.maxPoolGrad === 'unpool') return [maxPoolGradUnpool(c, n, d[0]!, xs, kernel, g.strides)];
    const [N, C, H, W] = [xs[0]!, xs[1]!, xs[2]!, xs[3]!];
    const [Ho, Wo] = [g.out[0]!, g.out[1]!];
    const [Hc, Wc] = [Ho * kh, Wo * kw];
    // Rows and columns a floor-mode pool never reads get no gradient: crop them here, pad back below.
    const xc = Hc !== H || Wc !== W ? c.op('Slice', [x, c.ints([0, 0]), c.ints([Hc, Wc]), c.ints([2, 3])]) : x;
    // [N,C,Hc,Wc] → [N·C·Ho, kh, Wo, kw] → [N·C·Ho, Wo, kh, kw] → [N·C·Ho·Wo, kh·kw]: one row per window.
    const win = c.reshape(c.op('Transpose', [c.reshape(xc, [N * C * Ho, kh, Wo, kw])], { perm: [0, 2, 1, 3] }), [
      N * C * Ho * Wo,
      kh * kw,
    ]);
    const ymax = c.reshape(y, [N * C * Ho * Wo, 1]);
    const hit = c.op('Cast', [c.op('Equal', [win, ymax])], { to: 1 });
    // Exclusive prefix count of hits within a window: keep a hit only where none came before it.
    const k = kh * kw;
    const upper = new Float32Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) upper[i * k + j] = 1;
    const upperName = c.graph.floats(upper, [k, k], 'pool_prefix');
    c.shapes.set(upperName, { type: 'float32', shape: [k, k] });
    const before = c.op('MatMul', [hit, upperName]);
    const first = c.op('Where', [c.op('Less', [before, c.scalar(0.5)]), hit, c.scalar(0)]);
    const dwin = c.mul(first, c.reshape(d[0]!, [N * C * Ho * Wo, 1]));
    let dx = c.reshape(c.op('Transpose', [c.reshape(dwin, [N * C * Ho, Wo, kh, kw])], { perm: [0, 2, 1, 3] }), [
      N,
      C,
      Hc,
      Wc,
    ]);
    if (Hc !== H || Wc !== W) dx = c.op('Pad', [dx, c.ints([0, 0, 0, 0, 0, 0, H - Hc, W - Wc])]);
    return [dx];
  };
}

/**
 * dX of a max pool with non-overlapping windows by MaxUnpool: the forward node gets its Indices output
 * (flat NCHW indices of each window's first maximum, row-major, as the `mask` rule picks ties) and dY is
 * scattered there into zeros of the input's shape; rows and columns the pool never read stay zero.
 */
function maxPoolGradUnpool(
  c: GradContext,
  n: OnnxNode,
  dy: string,
  xs: number[],
  kernel: number[],
  strides: number[],
): string {
  if (!n.outputs[1]) {
    n.outputs[1] = c.graph.fresh('pool_indices');
    c.shapes.set(n.outputs[1], { type: 'int64', shape: c.shape(n.outputs[0]!) });
  }
  // No shape rule needed: the output shape is the forward input's, given as output_shape.
  const dx = c.graph.node('MaxUnpool', [dy, n.outputs[1], c.ints(xs)], 1, { kernel_shape: kernel, strides })[0]!;
  c.shapes.set(dx, { type: 'float32', shape: xs });
  return dx;
}

// ───────────────────────────── lowering of training-mode batch norm ─────────────────────────────

interface Composite {
  members: Set<OnnxNode>;
  unit: Unit;
}

/**
 * Replaces every `BatchNormalization` with `training_mode=1` by primitives computing batch statistics,
 * the normalised output and the updated running statistics (keeping the node's output names), and
 * returns the composites so {@link appendGradients} can differentiate each as one unit.
 *
 * Why lower at all: ORT's WebGPU EP has no training-mode batch norm, and the lowered form exposes the
 * centred input and inverse deviation the closed-form gradient reuses.
 */
export function lowerTrainingBatchNorm(graph: OnnxGraph, shapes: Map<string, ValueType>): Composite[] {
  const composites: Composite[] = [];
  for (let idx = 0; idx < graph.nodes.length; idx++) {
    const bn = graph.nodes[idx]!;
    if (bn.op !== 'BatchNormalization' || attrInt(bn, 'training_mode', 0) !== 1) continue;
    const ctx = new GradContext(graph, shapes);
    const start = graph.nodes.length;
    const [x, gamma, beta, runMean, runVar] = bn.inputs as [string, string, string, string, string];
    const eps = attrInt(bn, 'epsilon', 1e-5);
    const momentum = attrInt(bn, 'momentum', 0.9);
    const xs = ctx.shape(x);
    const C = xs[1]!;
    const axes = [0, ...xs.slice(2).map((_, i) => i + 2)];
    const count = numel(axes.map((a) => xs[a]!));
    const bcast = [1, C, ...xs.slice(2).map(() => 1)];
    const mean = ctx.op('ReduceMean', [x], { axes, keepdims: 1 });
    const xc = ctx.op('Sub', [x, mean]);
    const variance = ctx.op('ReduceMean', [ctx.mul(xc, xc)], { axes, keepdims: 1 });
    const inv = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.scalar(eps)])])]);
    const scale = ctx.mul(inv, ctx.reshape(gamma, bcast));
    const y = bn.outputs[0]!;
    graph.node('Add', [ctx.mul(xc, scale), ctx.reshape(beta, bcast)], [y]);
    inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    const stat = (running: string, batch: string, outName: string | undefined) => {
      if (!outName) return;
      const upd = ctx.op('Mul', [ctx.reshape(batch, [C]), ctx.scalar(1 - momentum)]);
      graph.node('Add', [ctx.mul(running, ctx.scalar(momentum)), upd], [outName]);
      inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    };
    stat(runMean, mean, bn.outputs[1]);
    stat(runVar, variance, bn.outputs[2]);
    const added = graph.nodes.splice(start);
    graph.nodes.splice(idx, 1, ...added);
    idx += added.length - 1;
    const outputs = bn.outputs.filter((o) => o !== '');
    composites.push({
      members: new Set(added),
      unit: {
        op: 'BatchNormalization',
        where: `BatchNormalization node ${bn.name}`,
        inputs: [x, gamma, beta],
        outputs,
        nonDiffOutputs: new Set(outputs.map((_, i) => i).filter((i) => i > 0)),
        rule: (c, dOut, want) => {
          const dy = dOut[0]!;
          const s1 = c.op('ReduceMean', [dy], { axes, keepdims: 1 });
          const s2 = c.op('ReduceMean', [c.mul(dy, xc)], { axes, keepdims: 1 });
          let dx: string | undefined;
          if (want[0]) {
            const k = c.mul(c.mul(inv, inv), s2);
            const centred = c.op('Sub', [c.op('Sub', [dy, c.mul(xc, k)]), s1]);
            dx = c.mul(centred, scale);
          }
          const dgamma = want[1] ? c.reshape(c.mul(c.mul(s2, inv), c.scalar(count)), [C]) : undefined;
          const dbeta = want[2] ? c.reshape(c.mul(s1, c.scalar(count)), [C]) : undefined;
          return [dx, dgamma, dbeta];
        },
      },
    });
  }
  return composites;
}

/**
 * Replaces every `LogSoftmax` by ReduceMax, Sub, Exp, ReduceSum, Log (keeping its output name) and
 * returns the composites, differentiated with the closed form `dX = dY − softmax · Σ dY`.
 *
 * Why: ORT's WebGPU EP has no LogSoftmax kernel, and a CPU fallback in the middle of the training
 * step would cost a device round trip every step. The max shift keeps the result finite for any
 * logits, as LogSoftmax itself does.
 */
export function lowerLogSoftmax(graph: OnnxGraph, shapes: Map<string, ValueType>): Composite[] {
  const composites: Composite[] = [];
  for (let idx = 0; idx < graph.nodes.length; idx++) {
    const node = graph.nodes[idx]!;
    if (node.op !== 'LogSoftmax') continue;
    const ctx = new GradContext(graph, shapes);
    const start = graph.nodes.length;
    const x = node.inputs[0]!;
    const y = node.outputs[0]!;
    const axis = normAxis(attrInt(node, 'axis', -1), ctx.shape(x).length);
    const shifted = ctx.op('Sub', [x, ctx.op('ReduceMax', [x], { axes: [axis], keepdims: 1 })]);
    const lse = ctx.op('Log', [ctx.op('ReduceSum', [ctx.op('Exp', [shifted]), ctx.ints([axis])], { keepdims: 1 })]);
    graph.node('Sub', [shifted, lse], [y]);
    inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    const added = graph.nodes.splice(start);
    graph.nodes.splice(idx, 1, ...added);
    idx += added.length - 1;
    composites.push({
      members: new Set(added),
      unit: {
        op: 'LogSoftmax',
        where: `LogSoftmax node ${node.name}`,
        inputs: [x],
        outputs: [y],
        nonDiffOutputs: new Set(),
        rule: (c, dOut) => {
          const dy = dOut[0]!;
          const total = c.op('ReduceSum', [dy, c.ints([axis])], { keepdims: 1 });
          return [c.op('Sub', [dy, c.mul(c.op('Exp', [y]), total)])];
        },
      },
    });
  }
  return composites;
}

/** Gives every training-mode Dropout node a mask output, which its gradient needs. */
function ensureDropoutMasks(graph: OnnxGraph, shapes: Map<string, ValueType>): void {
  for (const n of graph.nodes) {
    if (n.op !== 'Dropout' || (n.outputs[1] ?? '') !== '') continue;
    n.outputs[1] = graph.fresh('dropout_mask');
    shapes.set(n.outputs[1], { type: 'bool', shape: shapes.get(n.outputs[0]!)!.shape });
  }
}

// ───────────────────────────── the pass ─────────────────────────────

/**
 * Appends the gradient of scalar `loss` with respect to each of `wrt` (graph inputs or any float
 * values) to `graph`, and returns the gradient value names. Training-mode batch norm is lowered to
 * primitives first (see {@link lowerTrainingBatchNorm}), and so is LogSoftmax ({@link lowerLogSoftmax});
 * contributions of values used more than once are summed.
 */
export function appendGradients(
  graph: OnnxGraph,
  loss: string,
  wrt: string[],
  opts: GradientOptions = {},
): GradientResult {
  const shapes = inferShapes(graph, opts.shapeOverrides);
  const composites = [...lowerTrainingBatchNorm(graph, shapes), ...lowerLogSoftmax(graph, shapes)];
  ensureDropoutMasks(graph, shapes);
  const lossShape = shapes.get(loss)?.shape;
  if (!lossShape)
    throw new ModelError(
      `autodiff: loss ${loss} is not a value of graph ${graph.name}. Hint: pass the name of the scalar loss output.`,
    );
  if (numel(lossShape) !== 1)
    throw new ModelError(
      `autodiff: loss ${loss} has shape [${lossShape}], not a scalar. Hint: reduce the loss to one value first.`,
    );

  // Units in topological order: each composite stands where its last member stood.
  const memberOf = new Map<OnnxNode, Composite>();
  for (const comp of composites) for (const m of comp.members) memberOf.set(m, comp);
  const units: Unit[] = [];
  const forwardNodes = [...graph.nodes];
  for (let i = 0; i < forwardNodes.length; i++) {
    const n = forwardNodes[i]!;
    const comp = memberOf.get(n);
    if (comp) {
      const last = !forwardNodes.slice(i + 1).some((m) => comp.members.has(m));
      if (last) units.push(comp.unit);
      continue;
    }
    const nonDiff = new Set<number>();
    if (NON_DIFFERENTIABLE.has(n.op)) for (let j = 0; j < n.outputs.length; j++) nonDiff.add(j);
    n.outputs.forEach((o, j) => {
      if (shapes.get(o)?.type !== 'float32') nonDiff.add(j);
    });
    const make = RULES[n.op];
    units.push({
      op: n.op,
      where: `${n.op} node ${n.name}`,
      inputs: n.inputs,
      outputs: n.outputs,
      nonDiffOutputs: nonDiff,
      rule: make?.(n),
    });
  }

  // Forward: which values depend on a wrt value. Backward: which values the loss depends on.
  const requires = new Set(wrt);
  for (const u of units) {
    if (!u.inputs.some((v) => requires.has(v))) continue;
    u.outputs.forEach((o, j) => {
      if (o !== '' && !u.nonDiffOutputs.has(j)) requires.add(o);
    });
  }
  const reaches = new Set([loss]);
  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    if (u.outputs.some((o, j) => reaches.has(o) && !u.nonDiffOutputs.has(j)))
      for (const v of u.inputs) if (v !== '') reaches.add(v);
  }

  const ctx = new GradContext(graph, shapes, opts.formulation);
  const contributions = new Map<string, string[]>();
  const add = (v: string, g: string) => {
    const list = contributions.get(v);
    if (list) list.push(g);
    else contributions.set(v, [g]);
  };
  const total = (v: string): string | undefined => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      // Pairwise Add rather than variadic Sum: every execution provider implements Add.
      let s = list[0]!;
      for (const g of list.slice(1)) s = ctx.op('Add', [s, g]);
      contributions.set(v, [s]);
      return s;
    }
    return list[0];
  };
  add(loss, lossShape.length === 0 ? ctx.scalar(1) : ctx.reshape(ctx.scalar(1), lossShape));

  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    const want = u.inputs.map((v) => v !== '' && requires.has(v) && reaches.has(v));
    if (!want.some(Boolean)) continue;
    const dOut = u.outputs.map((o, j) => (u.nonDiffOutputs.has(j) ? undefined : total(o)));
    if (dOut.every((g) => g === undefined)) continue;
    if (!u.rule) {
      throw new ModelError(
        `autodiff: ${u.where}: no gradient rule for op ${u.op}. Hint: add one to src/backends/onnxruntime/autodiff.ts or keep the op off the path from the weights to the loss.`,
      );
    }
    // Rules read the first output gradient; a missing one (an output that does not reach the loss) is zero.
    if (dOut[0] === undefined) {
      const o = u.outputs[0]!;
      dOut[0] = ctx.expand(ctx.scalar(0), ctx.shape(o));
    }
    const dIn = u.rule(ctx, dOut, want);
    u.inputs.forEach((v, j) => {
      const g = dIn[j];
      if (want[j] && g !== undefined) add(v, g);
    });
  }

  const grads: Record<string, string> = {};
  for (const v of wrt) {
    const g = total(v);
    if (g !== undefined) grads[v] = g;
    else if (opts.allowUnused) grads[v] = ctx.expand(ctx.scalar(0), ctx.shape(v));
    else
      throw new ModelError(
        `autodiff: ${v} does not influence loss ${loss}. Hint: remove it from the values to differentiate, or pass allowUnused.`,
      );
  }
  return { grads, shapes };
}
