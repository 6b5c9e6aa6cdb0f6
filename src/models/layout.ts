/**
 * Every layout conversion expbench needs, in one place. The IR's canonical layouts are NCHW
 * activations, OIHW conv weights and a C-major flatten (`src/models/ir.ts`); channels-last backends
 * (tfjs) use NHWC activations, HWIO conv weights and flatten in H-W-C order.
 *
 * The flatten order matters for the layer after the flatten: canonical feature `c·H·W + h·W + w` is
 * NHWC feature `(h·W + w)·C + c`, so the rows of the first dense layer (and any per-feature batch-norm
 * vector between flatten and that dense) are permuted when weights move between the two worlds. With
 * that permutation both backends compute the same function from the same canonical weights.
 */
import { ModelError } from '../errors.ts';
import type { ModelGraph, Weights } from './ir.ts';

function check(data: ArrayLike<number>, shape: readonly number[], what: string): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n)
    throw new RangeError(`${what}: data has ${data.length} elements but shape ${shape.join('×')} needs ${n}`);
}

/** Conv weights `[O, I, kh, kw]` → `[kh, kw, I, O]`. */
export function oihwToHwio(data: Float32Array, oihw: readonly [number, number, number, number]): Float32Array {
  check(data, oihw, 'oihwToHwio');
  const [O, I, KH, KW] = oihw;
  const out = new Float32Array(data.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let w = 0; w < KW; w++) out[((h * KW + w) * I + i) * O + o] = data[((o * I + i) * KH + h) * KW + w]!;
  return out;
}

/** Conv weights `[kh, kw, I, O]` → `[O, I, kh, kw]`. */
export function hwioToOihw(data: Float32Array, hwio: readonly [number, number, number, number]): Float32Array {
  check(data, hwio, 'hwioToOihw');
  const [KH, KW, I, O] = hwio;
  const out = new Float32Array(data.length);
  for (let h = 0; h < KH; h++)
    for (let w = 0; w < KW; w++)
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) out[((o * I + i) * KH + h) * KW + w] = data[((h * KW + w) * I + i) * O + o]!;
  return out;
}

/** Activations `[N, C, H, W]` → `[N, H, W, C]`. */
export function nchwToNhwc(data: Float32Array, nchw: readonly [number, number, number, number]): Float32Array {
  check(data, nchw, 'nchwToNhwc');
  const [N, C, H, W] = nchw;
  const out = new Float32Array(data.length);
  const hw = H * W;
  for (let n = 0; n < N; n++) {
    const base = n * C * hw;
    for (let c = 0; c < C; c++) for (let p = 0; p < hw; p++) out[base + p * C + c] = data[base + c * hw + p]!;
  }
  return out;
}

/** Activations `[N, H, W, C]` → `[N, C, H, W]`. */
export function nhwcToNchw(data: Float32Array, nhwc: readonly [number, number, number, number]): Float32Array {
  check(data, nhwc, 'nhwcToNchw');
  const [N, H, W, C] = nhwc;
  const out = new Float32Array(data.length);
  const hw = H * W;
  for (let n = 0; n < N; n++) {
    const base = n * C * hw;
    for (let c = 0; c < C; c++) for (let p = 0; p < hw; p++) out[base + c * hw + p] = data[base + p * C + c]!;
  }
  return out;
}

/**
 * `perm[j]` = the canonical (C-major) feature index of NHWC-flatten feature `j`, for one example of
 * shape `[C, H, W]`.
 */
export function flattenPermutation(chw: readonly [number, number, number]): Uint32Array {
  const [C, H, W] = chw;
  const hw = H * W;
  const perm = new Uint32Array(C * hw);
  for (let p = 0; p < hw; p++) for (let c = 0; c < C; c++) perm[p * C + c] = c * hw + p;
  return perm;
}

/**
 * Reorders the rows of a row-major `[C·H·W, cols]` matrix indexed by canonical (C-major) flatten order
 * into NHWC flatten order. With `cols = 1` it reorders a per-feature vector.
 */
export function chwRowsToHwc(data: Float32Array, chw: readonly [number, number, number], cols: number): Float32Array {
  const perm = flattenPermutation(chw);
  check(data, [perm.length, cols], 'chwRowsToHwc');
  const out = new Float32Array(data.length);
  for (let j = 0; j < perm.length; j++) out.set(data.subarray(perm[j]! * cols, perm[j]! * cols + cols), j * cols);
  return out;
}

/** Inverse of {@link chwRowsToHwc}. */
export function hwcRowsToChw(data: Float32Array, chw: readonly [number, number, number], cols: number): Float32Array {
  const perm = flattenPermutation(chw);
  check(data, [perm.length, cols], 'hwcRowsToChw');
  const out = new Float32Array(data.length);
  for (let j = 0; j < perm.length; j++) out.set(data.subarray(j * cols, j * cols + cols), perm[j]! * cols);
  return out;
}

/** How one parameter's layout differs between canonical and channels-last form. */
export type ParamLayoutChange =
  | { kind: 'none' }
  | { kind: 'conv'; oihw: [number, number, number, number] }
  /** Rows indexed by the features of a `[C, H, W]` flatten. */
  | { kind: 'flatten-rows'; chw: [number, number, number]; cols: number };

/**
 * For every parameter of `model`, how it changes between canonical and channels-last layout: conv
 * weights transpose OIHW ↔ HWIO; the parameters indexed by a multi-channel spatial flatten's features
 * (the rows of the first dense weight after it, and per-feature batch-norm vectors in between) are
 * permuted; everything else is unchanged. In a graph the flatten order travels along edges through
 * the nodes that keep features in place (batch norm, activations, dropout, and an add whose inputs
 * all carry the same order) up to the dense layers that read it.
 */
export function channelsLastPlan(model: ModelGraph): Map<string, ParamLayoutChange> {
  const plan = new Map<string, ParamLayoutChange>();
  /** Node name → the `[C, H, W]` flatten order its (flat) output is indexed by, if it is one. */
  const order = new Map<string, [number, number, number]>();
  for (const node of model.nodes) {
    const s = node.spec;
    const ins = node.inputs.map((v) => order.get(v));
    let flatChw: [number, number, number] | undefined = ins[0];
    if (s.kind === 'flatten') {
      const [C, H, W] = node.inShapes[0]!;
      // A flatten of [C,1,1] or [1,H,W] orders features identically either way.
      flatChw = node.inShapes[0]!.length === 3 && C! > 1 && H! * W! > 1 ? [C!, H!, W!] : undefined;
    } else if (ins.some((o) => o !== undefined)) {
      const same = ins.every((o) => o !== undefined && o.join() === ins[0]!.join());
      if (s.kind === 'concat' || (s.kind === 'add' && !same))
        throw new ModelError(
          `model ${model.name}: node ${node.name} (${s.kind}) joins flattened features of different orders; channels-last backends cannot reorder them. Hint: join the [C, H, W] activations before the flatten, or pool them to [C, 1, 1] first.`,
        );
    }
    for (const p of node.params) {
      if (s.kind === 'conv' && p.name.endsWith('.weight')) {
        plan.set(p.name, { kind: 'conv', oihw: p.shape as [number, number, number, number] });
      } else if (flatChw && ((s.kind === 'dense' && p.name.endsWith('.weight')) || s.kind === 'batchnorm')) {
        plan.set(p.name, { kind: 'flatten-rows', chw: flatChw, cols: s.kind === 'dense' ? p.shape[1]! : 1 });
      } else {
        plan.set(p.name, { kind: 'none' });
      }
    }
    // Features keep the flatten order only up to the dense layers that read them.
    if (flatChw && s.kind !== 'dense') order.set(node.name, flatChw);
  }
  return plan;
}

/**
 * Canonical weights → channels-last: conv weights become `[kh, kw, I, O]`, flatten-indexed rows are
 * permuted to NHWC flatten order. Tensors that do not change are shared, not copied.
 */
export function toChannelsLast(model: ModelGraph, weights: Weights): Weights {
  const out: Weights = {};
  for (const [name, change] of channelsLastPlan(model)) {
    const t = weights[name];
    if (!t) throw new RangeError(`toChannelsLast: weights lack ${name}`);
    if (change.kind === 'conv') {
      const [O, I, KH, KW] = change.oihw;
      out[name] = { shape: [KH, KW, I, O], data: oihwToHwio(t.data, change.oihw) };
    } else if (change.kind === 'flatten-rows') {
      out[name] = { shape: [...t.shape], data: chwRowsToHwc(t.data, change.chw, change.cols) };
    } else {
      out[name] = t;
    }
  }
  return out;
}

/** Channels-last weights (as {@link toChannelsLast} makes them) → canonical. */
export function fromChannelsLast(model: ModelGraph, weights: Weights): Weights {
  const out: Weights = {};
  for (const [name, change] of channelsLastPlan(model)) {
    const t = weights[name];
    if (!t) throw new RangeError(`fromChannelsLast: weights lack ${name}`);
    if (change.kind === 'conv') {
      const [O, I, KH, KW] = change.oihw;
      out[name] = { shape: [O, I, KH, KW], data: hwioToOihw(t.data, [KH, KW, I, O]) };
    } else if (change.kind === 'flatten-rows') {
      out[name] = { shape: [...t.shape], data: hwcRowsToChw(t.data, change.chw, change.cols) };
    } else {
      out[name] = t;
    }
  }
  return out;
}
