/**
 * The gradient rule of Conv: the input gradient as a Conv with the flipped filter or a ConvTranspose,
 * the filter gradient as one GEMM over stacked shifted windows or a Conv with swapped axes.
 */
import { ModelError } from '../../errors.ts';
import { attrInt, windowGeometry } from './autodiff-shapes.ts';
import { numel } from './grad-context.ts';
import type { GradContext, GradRule, RuleTable } from './grad-context.ts';
import type { OnnxNode } from './graph.ts';

function convRule(n: OnnxNode): GradRule {
  return (c, d, want) => {
    const [x, w, bias] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
    const group = attrInt(n, 'group', 1);
    const dy = d[0]!;
    const xs = c.shape(x);
    const ws = c.shape(w);
    const ys = c.shape(dy);
    const spatial = xs.slice(2);
    const kernel = ws.slice(2);
    const r = spatial.length;
    const g = windowGeometry(n, spatial, kernel);
    const out: Array<string | undefined> = [undefined, undefined, undefined];
    if (group !== 1 && kernel.length !== 2)
      throw new ModelError(
        `Conv node ${n.name}: grouped convolutions have a gradient rule in 2-D only, this one is ${kernel.length}-D. Hint: use group = 1.`,
      );
    if (want[0]) out[0] = convInputGrad(c, dy, w, g, spatial, kernel, ys, group);
    if (want[1])
      out[1] =
        group !== 1
          ? convFilterGradGrouped(c, x, dy, g, xs, ws, ys, group)
          : kernel.length === 2 && numel(kernel) <= 9 && (c.formulation.convFilterGrad ?? 'gemm') === 'gemm'
            ? convFilterGradGemm(c, x, dy, g, xs, ws, ys)
            : convFilterGradConv(c, x, dy, g, spatial, kernel, ys);
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
 * output_padding restoring rows a strided forward never reached. Grouped (and depthwise) convolutions
 * keep their groups: the flipped filter swaps in/out channels within each group, and ConvTranspose
 * takes the forward filter `[M, C/G, kh, kw]` as its own with the same `group`.
 */
function convInputGrad(
  c: GradContext,
  dy: string,
  w: string,
  g: Geometry,
  spatial: number[],
  kernel: number[],
  ys: number[],
  group: number,
): string {
  const r = spatial.length;
  const ext = kernel.map((k, i) => (k - 1) * g.dilations[i]!);
  const flippable = g.strides.every((s) => s === 1) && g.pads.every((p, i) => p <= ext[i % r]!);
  if (flippable) {
    let wf = w;
    kernel.forEach((k, i) => {
      if (k > 1) wf = c.op('Gather', [wf, c.ints(Array.from({ length: k }, (_, j) => k - 1 - j))], { axis: i + 2 });
    });
    let wt: string;
    if (group === 1) wt = c.op('Transpose', [wf], { perm: [1, 0, ...kernel.map((_, i) => i + 2)] });
    else {
      // [M, C/G, k…] → [G, M/G, C/G, k…] → [G, C/G, M/G, k…] → [C, M/G, k…]
      const [M, Cg] = [c.shape(w)[0]!, c.shape(w)[1]!];
      const split = c.reshape(wf, [group, M / group, Cg, ...kernel]);
      const swapped = c.op('Transpose', [split], { perm: [0, 2, 1, ...kernel.map((_, i) => i + 3)] });
      wt = c.reshape(swapped, [group * Cg, M / group, ...kernel]);
    }
    return c.op('Conv', [dy, wt], {
      kernel_shape: kernel,
      dilations: g.dilations,
      pads: g.pads.map((p, i) => ext[i % r]! - p),
      ...(group !== 1 ? { group } : {}),
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
    ...(group !== 1 ? { group } : {}),
  });
}

/**
 * The kh·kw shifted (and strided, dilated) windows of the padded input, each taken from the input
 * transposed to [C, N, H, W], stacked as `[(i, j, c), N·Ho·Wo]`.
 */
function stackedWindows(c: GradContext, x: string, g: Geometry, xs: number[], ws: number[], ys: number[]): string {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [kh, kw] = [ws[2]!, ws[3]!];
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
  return c.reshape(stacked, [kh * kw * C, N * P]);
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
  const [N, C] = xs as [number, number];
  const [M, , kh, kw] = ws as [number, number, number, number];
  const P = ys[2]! * ys[3]!;
  const col = stackedWindows(c, x, g, xs, ws, ys);
  const dyt = c.reshape(c.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), [M, N * P]);
  const dcol = c.op('Gemm', [dyt, col], { transB: 1 });
  // [M, (i,j,c)] → [M, c, i, j]
  return c.reshape(c.op('Transpose', [c.reshape(dcol, [M, kh * kw, C])], { perm: [0, 2, 1] }), [M, C, kh, kw]);
}

/**
 * dW of a grouped (or depthwise) 2-D convolution: per group g, dW[g] = dY[g] · col[g]ᵀ over the
 * contraction axis (n, p), as one batched MatMul over the groups on the stacked windows of
 * {@link stackedWindows}: `[G, kh·kw·C/G, N·P] × [G, N·P, M/G]`.
 */
function convFilterGradGrouped(
  c: GradContext,
  x: string,
  dy: string,
  g: Geometry,
  xs: number[],
  ws: number[],
  ys: number[],
  group: number,
): string {
  const N = xs[0]!;
  const [M, Cg, kh, kw] = ws as [number, number, number, number];
  const NP = N * ys[2]! * ys[3]!;
  const Mg = M / group;
  const kk = kh * kw;
  const col = c.reshape(stackedWindows(c, x, g, xs, ws, ys), [kk, group, Cg, NP]);
  const colG = c.reshape(c.op('Transpose', [col], { perm: [1, 0, 2, 3] }), [group, kk * Cg, NP]);
  const dyG = c.reshape(c.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), [group, Mg, NP]);
  const dyT = Mg === 1 ? c.reshape(dyG, [group, NP, 1]) : c.op('Transpose', [dyG], { perm: [0, 2, 1] });
  const prod = c.reshape(c.op('MatMul', [colG, dyT]), [group, kk, Cg, Mg]);
  // [G, (i,j), c, m] → [G, m, c, (i,j)] → [M, C/G, kh, kw]
  return c.reshape(c.op('Transpose', [prod], { perm: [0, 3, 2, 1] }), [M, Cg, kh, kw]);
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

export const CONV_RULES: RuleTable = { Conv: convRule };
