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
 *   Grouped and depthwise convolutions keep their groups in the input gradient, and take their filter
 *   gradient as one batched MatMul over the groups on the same stacked windows.
 * - AveragePool: a grouped ConvTranspose with all-ones filters of dY scaled by each window's divisor;
 *   GlobalAveragePool: dY / (H·W) expanded; Clip (ReLU6): dY where the output is inside the bounds;
 *   Concat: a Slice of dY per input.
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
import { ensureDropoutMasks, lowerLogSoftmax, lowerTrainingBatchNorm } from './autodiff-lower.ts';
import { inferShapes } from './autodiff-shapes.ts';
import type { ValueType } from './autodiff-shapes.ts';
import { GradContext, numel } from './grad-context.ts';
import type { Composite, Formulation, RuleTable, Unit } from './grad-context.ts';
import { CONV_RULES } from './grad-rules-conv.ts';
import { ELEMENTWISE_RULES } from './grad-rules-elementwise.ts';
import { LINEAR_RULES } from './grad-rules-linear.ts';
import { POOL_RULES } from './grad-rules-pool.ts';
import { SHAPE_RULES } from './grad-rules-shape.ts';
import type { OnnxGraph, OnnxNode } from './graph.ts';

export { inferShapes } from './autodiff-shapes.ts';
export type { ValueType } from './autodiff-shapes.ts';
export type { ConvFilterGrad, Formulation, MaxPoolGrad } from './grad-context.ts';
export { lowerLogSoftmax, lowerTrainingBatchNorm } from './autodiff-lower.ts';

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

/** What {@link appendGradients} produced. */
export interface GradientResult {
  /** Gradient value name for each differentiated value. */
  grads: Record<string, string>;
  /** Element type and shape of every value in the graph after the pass. */
  shapes: Map<string, ValueType>;
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

/** Every gradient rule, by op type: one module per op family. */
const RULES: RuleTable = { ...ELEMENTWISE_RULES, ...SHAPE_RULES, ...LINEAR_RULES, ...CONV_RULES, ...POOL_RULES };

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
