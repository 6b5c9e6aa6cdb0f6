/** Gradient rules of the pooling operators. */
import { ModelError } from '../../errors.ts';
import { windowCounts } from '../../models/resolve.ts';
import { attrInt, attrInts, windowGeometry } from './autodiff-shapes.ts';
import type { GradContext, GradRule, RuleTable } from './grad-context.ts';
import type { OnnxNode } from './graph.ts';

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
 * dX of a max pool with non-overlapping windows by MaxUnpool (the `unpool` formulation): the forward
 * node gets its Indices output (flat NCHW indices of each window's first maximum, row-major, as the
 * `mask` rule picks ties) and dY is scattered there into zeros of the input's shape; rows and columns
 * the pool never read stay zero.
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

/**
 * AveragePool: every output spreads dY / (its window's divisor) evenly over its window, which is a
 * grouped ConvTranspose (one all-ones filter per channel) of dY scaled per output position. The
 * divisors are constants of the static geometry: the whole window with `count_include_pad = 1`, its
 * in-image part otherwise (ONNX's default).
 */
function averagePoolRule(n: OnnxNode): GradRule {
  return (c, d) => {
    const x = n.inputs[0]!;
    const xs = c.shape(x);
    if (xs.length !== 4)
      throw new ModelError(`AveragePool node ${n.name}: only 2-D pooling has a gradient rule. Hint: use NCHW inputs.`);
    if (attrInt(n, 'ceil_mode', 0) !== 0)
      throw new ModelError(
        `AveragePool node ${n.name}: ceil_mode has no gradient rule. Hint: use floor mode (the default).`,
      );
    const kernel = attrInts(n, 'kernel_shape') ?? [];
    const [H, W] = [xs[2]!, xs[3]!];
    const g = windowGeometry(n, [H, W], kernel);
    const [kh, kw] = [kernel[0]!, kernel[1]!];
    const [Ho, Wo] = [g.out[0]!, g.out[1]!];
    const [sh, sw] = [g.strides[0]!, g.strides[1]!];
    const [pt, pl, pb, pr] = g.pads as [number, number, number, number];
    const includePad = attrInt(n, 'count_include_pad', 0) === 1;
    const counts = windowCounts([H, W], [kh, kw], [sh, sw], [pt, pl], [Ho, Wo]);
    const inv = counts.map((n) => 1 / (includePad ? kh * kw : n));
    const invName = c.graph.floats(inv, [Ho, Wo], 'avgpool_inv');
    c.shapes.set(invName, { type: 'float32', shape: [Ho, Wo] });
    const C = xs[1]!;
    const ones = c.graph.floats(new Float32Array(C * kh * kw).fill(1), [C, 1, kh, kw], 'avgpool_ones');
    c.shapes.set(ones, { type: 'float32', shape: [C, 1, kh, kw] });
    const outputPadding = [H - (sh * (Ho - 1) + kh - pt - pb), W - (sw * (Wo - 1) + kw - pl - pr)];
    return [
      c.op('ConvTranspose', [c.mul(d[0]!, invName), ones], {
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        pads: g.pads,
        group: C,
        ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
      }),
    ];
  };
}

/** GlobalAveragePool: dY / (H·W) broadcast back over the spatial axes. */
function globalAveragePoolRule(n: OnnxNode): GradRule {
  return (c, d) => {
    const xs = c.shape(n.inputs[0]!);
    const count = xs.slice(2).reduce((a, b) => a * b, 1);
    return [c.expand(c.mul(d[0]!, c.scalar(1 / count)), xs)];
  };
}

export const POOL_RULES: RuleTable = {
  MaxPool: maxPoolRule,
  AveragePool: averagePoolRule,
  GlobalAveragePool: globalAveragePoolRule,
};
