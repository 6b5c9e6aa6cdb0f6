/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 does not have (so
 * `tf.variableGrads` through any conv2d fails there with "Kernel 'Conv2DBackpropFilter' not registered
 * for backend 'wasm'"). Built only from kernels the wasm backend runs natively, so the arithmetic runs
 * in XNNPACK (Conv2D, BatchMatMul) and the rest is data movement (Transpose, PadV2, Slice, Concat, and
 * one-hot depthwise convolutions that shift).
 *
 * The gradient, NHWC, filter `[kh, kw, Ci, Co]`, stride `s`, top/left padding `pt`/`pl`:
 *
 *     dW[a, b, ci, co] = Σ_{n,i,j} x[n, i·s + a − pt, j·s + b − pl, ci] · dy[n, i, j, co]
 *
 * (out-of-range x reads are zero). Three ways to hand that to native kernels:
 *
 * - `dilated-conv`: read `ci` as the batch, `n` as the channel and `dy` as a filter whose taps are
 *   spaced `s` apart. With `xᵀ = transpose(x, [3,1,2,0])` (`[Ci, H, W, N]`) and
 *   `dyᵀ = transpose(dy, [1,2,0,3])` (`[Ho, Wo, N, Co]`),
 *   `Conv2D(xᵀ, dyᵀ, stride 1, dilation s, pads [pt, pb], [pl, pr])` is `[Ci, kh, kw, Co]`, one
 *   transpose away from dW. `pb`/`pr` are whatever makes the output exactly `kh × kw`; when that is
 *   negative (stride 2, 'same', even size: the last input rows are never read) x is cropped instead.
 * - `im2col`: the patch matrix `P[(a,b,ci), (n,i,j)]` built from slices of the padded,
 *   channel-first `x` (`[Ci, N, H, W]`), concatenated on axis 0, times `dy` as `[N·Ho·Wo, Co]`:
 *   `dW = P · dy`, one plain BatchMatMul, already in `[kh, kw, Ci, Co]` order.
 * - `tap-shift`: for each tap `(a, b)` one native depthwise convolution of `xᵀ = transpose(x, [3,1,2,0])`
 *   (`[Ci, H, W, N]`: the images are the channels) with a one-hot `kh × kw` filter and the forward pass's
 *   padding, which copies `x` shifted by that tap into a `[Ci, Ho·Wo·N]` matrix (XNNPACK's depthwise
 *   kernel, both threads, exact: one product by 1 per element); times `dyᵀ = transpose(dy, [1,2,0,3])`
 *   as `[Ho·Wo·N, Co]` that is the tap's `[Ci, Co]` slab of dW. The nine products share `dyᵀ`, which
 *   XNNPACK packs once (its operator cache is keyed by the weights tensor). This is im2col without
 *   tfjs-backend-wasm's Slice, which copies its whole input on every call (`readSync`) and then
 *   gathers in JS row by row: for vgg-small's 16×16 layer that was 9 slices ≈ 60–95 ms of a 130 ms
 *   gradient.
 *
 * Measured with `npx tsx bench/wasm-backprop-filter.ts` (XNNPACK on 2 threads, batch 64, 3×3 same, a
 * fresh dy each call so XNNPACK packs it as in training; ms, median of 5; ratio to the forward conv):
 *
 *     x 64×32×32×3 → 64      im2col  55   dilated  66   tap-shift  45   (forward conv  3)
 *     x 64×32×32×16 → 16     im2col  26   dilated  14   tap-shift  19   (forward conv  3.5)
 *     x 64×32×32×64 → 64     im2col 232   dilated 140   tap-shift 173   (forward conv 55)
 *     x 64×16×16×64 → 128    im2col  64   dilated  79   tap-shift  46   (forward conv 28; 1.6×)
 *     x 64×16×16×128 → 128   im2col 131   dilated 119   tap-shift  84   (forward conv 53; 1.6×)
 *     x 64×16×16×32 → 32     im2col  20   dilated  11   tap-shift  11   (forward conv  3.4)
 *     x 64×8×8×256 → 256     im2col 113   dilated  87   tap-shift  71   (forward conv 54; 1.3×)
 *     x 64×4×4×512 → 512     im2col 108   dilated  80   tap-shift  64   (forward conv 55; 1.2×)
 *     x 64×2×2×512 → 512     im2col  35   dilated  20   tap-shift  16   (forward conv 13; 1.2×)
 *
 * so tap-shift for maps up to 16×16 and for very few input channels, the dilated conv for larger maps
 * with more channels, im2col only for 1×1 filters (P is then just xᵀ). On 32×32 maps every formulation
 * is held back by the product over N·Ho·Wo = 65536 terms: XNNPACK does not block that dimension, and
 * it packs the fresh 65536-row operand on every call (for 32×32×3 that packing is most of the 45 ms).
 * Chunking that dimension would need cheap sub-tensor reads, which the wasm backend lacks (its Slice
 * copies the whole input per call, StridedSlice and GatherV2 go element by element: ≥ 10× slower
 * than the products they would feed, measured). Strided convolutions take the dilated conv (tap-shift
 * would compute every stride-1 position).
 */
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';
import { KernelScope, withKernelScope } from './kernel-scope.ts';

/** How dW is computed; see the module comment. */
export type FilterGradStrategy = 'im2col' | 'dilated-conv' | 'tap-shift';

/** Every strategy, for tests that check each one. */
export const FILTER_GRAD_STRATEGIES: readonly FilterGradStrategy[] = ['im2col', 'dilated-conv', 'tap-shift'];

/** Output pixels (Ho·Wo) up to which tap-shift is the fastest formulation (measured, see module comment). */
const TAP_SHIFT_MAX_PIXELS = 16 * 16;
/** Input channels below which tap-shift also beats the dilated convolution on larger maps (measured). */
const TAP_SHIFT_MAX_IN_CHANNELS = 8;

/** The fastest formulation, as measured, for this convolution's shapes. */
export function chooseFilterGradStrategy(info: backend_util.Conv2DInfo): FilterGradStrategy {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return 'dilated-conv';
  if (info.filterHeight * info.filterWidth === 1) return 'im2col'; // P is just xᵀ: no copies at all
  if (info.outHeight * info.outWidth <= TAP_SHIFT_MAX_PIXELS || info.inChannels < TAP_SHIFT_MAX_IN_CHANNELS) return 'tap-shift';
  return 'dilated-conv';
}

/** The formulations that apply to this convolution (tap-shift needs stride 1). */
export function applicableFilterGradStrategies(info: backend_util.Conv2DInfo): FilterGradStrategy[] {
  const strided = info.strideHeight !== 1 || info.strideWidth !== 1;
  return FILTER_GRAD_STRATEGIES.filter((s) => !(strided && s === 'tap-shift'));
}

/**
 * A depthwise filter `[kh, kw, c, 1]` that is 1 at tap `t` (row-major) and 0 elsewhere: convolving with
 * it copies the input shifted by that tap. Built from native kernels (wasm's OneHot writes int32
 * whatever dtype it is asked for, hence the Cast).
 */
function oneHotTapFilter(scope: KernelScope, t: number, kh: number, kw: number, c: number): TensorInfo {
  const index = scope.run('Fill', {}, { shape: [1], value: t, dtype: 'int32' });
  const hot = scope.run('OneHot', { indices: index }, { depth: kh * kw, onValue: 1, offValue: 0, dtype: 'int32' });
  scope.free(index);
  const hotF = scope.run('Cast', { x: hot }, { dtype: 'float32' });
  scope.free(hot);
  const f4 = scope.run('Reshape', { x: hotF }, { shape: [kh, kw, 1, 1] });
  const filter = c === 1 ? f4 : scope.run('Tile', { x: f4 }, { reps: [1, 1, c, 1] });
  if (filter !== f4) {
    scope.free(f4);
    scope.free(hotF);
  }
  return filter;
}

/**
 * Rows (or columns) of padding after the input that the gradient reads, given the forward pass's
 * leading padding: negative when the forward pass never read the input's last rows.
 */
function trailingPad(filter: number, out: number, stride: number, lead: number, size: number): number {
  return filter - 1 + (out - 1) * stride - lead - (size - 1);
}

/** `size` elements of `x` from `begin` on, `strides` apart (a plain Slice when they are all 1). */
function sliceTap(scope: KernelScope, x: TensorInfo, begin: number[], size: number[], strides: number[]): TensorInfo {
  if (strides.every((s) => s === 1)) return scope.run('Slice', { x }, { begin, size });
  return scope.run('StridedSlice', { x }, {
    begin,
    end: begin.map((b, i) => b + (size[i]! - 1) * strides[i]! + 1),
    strides,
    beginMask: 0,
    endMask: 0,
    ellipsisMask: 0,
    newAxisMask: 0,
    shrinkAxisMask: 0,
  });
}

/**
 * dW for NHWC `x` `[N, H, W, Ci]` and `dy` `[N, Ho, Wo, Co]`, as `[kh, kw, Ci, Co]`, computed with
 * the kernels of `scope`'s backend. `info` must describe the NHWC forward convolution (dilation 1).
 */
export function conv2dBackpropFilterNHWC(
  scope: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  strategy: FilterGradStrategy = chooseFilterGradStrategy(info),
): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const pb = trailingPad(kh, ho, sh, pt, h);
  const pr = trailingPad(kw, wo, sw, pl, w);

  if (strategy === 'tap-shift') {
    if (sh !== 1 || sw !== 1) throw new BackendError(`tap-shift needs stride 1, got ${sh}×${sw}`, { hint: "use 'dilated-conv' for strided convolutions" });
    const xt = scope.run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
    const dyt = scope.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
    const b = scope.run('Reshape', { x: dyt }, { shape: [ho * wo * n, co] });
    scope.free(dyt);
    const pad = [[0, 0], [pt, info.padInfo.bottom], [pl, info.padInfo.right], [0, 0]];
    const slabs: TensorInfo[] = [];
    for (let t = 0; t < kh * kw; t++) {
      const filter = oneHotTapFilter(scope, t, kh, kw, n);
      const shifted = scope.run('DepthwiseConv2dNative', { x: xt, filter }, { strides: [1, 1], pad, dilations: [1, 1] }); // [Ci, Ho, Wo, N]
      scope.free(filter);
      const a = scope.run('Reshape', { x: shifted }, { shape: [ci, ho * wo * n] });
      scope.free(shifted);
      slabs.push(scope.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false })); // [Ci, Co]
      scope.free(a);
    }
    scope.free(xt);
    scope.free(b);
    const all = slabs.length === 1 ? slabs[0]! : scope.run('Concat', slabs, { axis: 0 }); // [(a,b,ci), Co]
    if (slabs.length > 1) for (const t of slabs) scope.free(t);
    return scope.run('Reshape', { x: all }, { shape: [kh, kw, ci, co] });
  }

  if (strategy === 'im2col') {
    const xc = scope.run('Transpose', { x }, { perm: [3, 0, 1, 2] }); // [Ci, N, H, W]
    const padded =
      pt > 0 || pl > 0 || pb > 0 || pr > 0
        ? scope.run('PadV2', { x: xc }, { paddings: [[0, 0], [0, 0], [pt, Math.max(pb, 0)], [pl, Math.max(pr, 0)]], constantValue: 0 })
        : xc;
    if (padded !== xc) scope.free(xc);
    const taps: TensorInfo[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) taps.push(sliceTap(scope, padded, [0, 0, a, b], [ci, n, ho, wo], [1, 1, sh, sw]));
    }
    scope.free(padded);
    const patches = taps.length === 1 ? taps[0]! : scope.run('Concat', taps, { axis: 0 }); // [(a,b,ci), N, Ho, Wo]
    if (taps.length > 1) for (const t of taps) scope.free(t);
    const p2 = scope.run('Reshape', { x: patches }, { shape: [kh * kw * ci, n * ho * wo] });
    scope.free(patches);
    const dy2 = scope.run('Reshape', { x: dy }, { shape: [n * ho * wo, co] });
    const prod = scope.run('BatchMatMul', { a: p2, b: dy2 }, { transposeA: false, transposeB: false });
    scope.free(p2);
    scope.free(dy2);
    return scope.run('Reshape', { x: prod }, { shape: [kh, kw, ci, co] });
  }

  // dilated-conv: crop x where the forward pass never read it, then one dilated convolution.
  const xs = pb < 0 || pr < 0 ? scope.run('Slice', { x }, { begin: [0, 0, 0, 0], size: [n, h + Math.min(pb, 0), w + Math.min(pr, 0), ci] }) : x;
  const xt = scope.run('Transpose', { x: xs }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  if (xs !== x) scope.free(xs);
  const dyt = scope.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const r = scope.run('Conv2D', { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [[0, 0], [pt, Math.max(pb, 0)], [pl, Math.max(pr, 0)], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
  }); // [Ci, kh, kw, Co]
  scope.free(xt);
  scope.free(dyt);
  return scope.run('Transpose', { x: r }, { perm: [1, 2, 0, 3] });
}

/** Kernel function: the attrs and inputs tfjs's conv2d gradient passes to `Conv2DBackpropFilter`. */
function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: KernelBackend; attrs: Conv2DBackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  return withKernelScope(backend, 'wasm', (scope) => {
    const nchw = backend_util.convertConv2DDataFormat(dataFormat) === 'channelsFirst';
    // The native Conv2D is NHWC only; NCHW callers get the same arithmetic behind two transposes.
    const x = nchw ? scope.run('Transpose', { x: inputs.x }, { perm: [0, 2, 3, 1] }) : inputs.x;
    const dy = nchw ? scope.run('Transpose', { x: inputs.dy }, { perm: [0, 2, 3, 1] }) : inputs.dy;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    return conv2dBackpropFilterNHWC(scope, x, dy, info);
  });
}

/** Registry entry for {@link conv2DBackpropFilter} on the wasm backend. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
