/**
 * What every gradient rule shares: the {@link GradRule} signature, the unit a rule differentiates (a
 * node, or a lowered composite such as training-mode batch norm), and {@link GradContext}, the
 * emission helpers. The rules themselves live in one module per op family (`grad-rules-*.ts`); the
 * pass that applies them is `autodiff.ts`.
 */
import { ModelError } from '../../errors.ts';
import { inferNode } from './autodiff-shapes.ts';
import type { ValueType } from './autodiff-shapes.ts';
import type { AttrValue, OnnxGraph, OnnxNode } from './graph.ts';

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

/** Formulation choices of the gradient pass (`GradientOptions.formulation`). */
export interface Formulation {
  convFilterGrad?: ConvFilterGrad;
  maxPoolGrad?: MaxPoolGrad;
}

/** Emits the gradient of one unit (a node, or a lowered composite such as batch norm). */
export type GradRule = (
  ctx: GradContext,
  dOut: ReadonlyArray<string | undefined>,
  want: readonly boolean[],
) => Array<string | undefined>;

export interface Unit {
  op: string;
  where: string;
  inputs: string[];
  outputs: string[];
  /** Output indices that never carry a gradient (masks, indices, running statistics). */
  nonDiffOutputs: Set<number>;
  rule: GradRule | undefined;
}

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

export function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function numel(shape: number[]): number {
  return shape.reduce((p, q) => p * q, 1);
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Nodes a lowering emitted for one original operator, differentiated together as {@link Composite.unit}. */
export interface Composite {
  members: Set<OnnxNode>;
  unit: Unit;
}

/** Gradient rules keyed by op type; each reads its node's attributes. */
export type RuleTable = Record<string, (node: OnnxNode) => GradRule>;
