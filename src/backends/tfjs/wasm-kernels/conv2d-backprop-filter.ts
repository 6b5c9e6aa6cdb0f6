/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 does not have (so
 * `tf.variableGrads` through any conv2d fails there with "Kernel 'Conv2DBackpropFilter' not registered
 * for backend 'wasm'"). Built only from kernels the wasm backend runs natively, so the arithmetic runs
 * in XNNPACK (Conv2D, BatchMatMul) and the rest is data movement (Transpose, PadV2, Slice, Concat).
 *
 * The gradient, NHWC, filter `[kh, kw, Ci, Co]`, stride `s`, top/left padding `pt`/`pl`:
 *
 *     dW[a, b, ci, co] = Σ_{n,i,j} x[n, i·s + a − pt, j·s + b − pl, ci] · dy[n, i, j, co]
 *
 * (out-of-range x reads are zero). Two ways to hand that to native kernels:
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
 *
 * Measured on this project's machine in CPU time of the process (wall time is unreliable on its shared
 * cores), 3×3 same, fresh dy each call, vgg-small's layers at batch 32:
 *
 *     x 32×32×32×3 → 64     im2col  30 ms   dilated  35 ms   (forward conv   3 ms)
 *     x 32×32×32×64 → 64    im2col 170 ms   dilated 124 ms   (forward conv  55 ms)
 *     x 32×16×16×64 → 128   im2col  49 ms   dilated  61 ms   (forward conv  28 ms)
 *     x 32×16×16×128 → 128  im2col  94 ms   dilated  99 ms   (forward conv  55 ms)
 *     x 64×32×32×64 → 64    im2col 408 ms   dilated 276 ms   (forward conv 110 ms)
 *
 * so im2col for few input channels, 1×1 filters (P is just xᵀ) and small maps, the dilated conv for
 * large maps with many channels (im2col's nine sliced copies of x grow with the map). Strided slices are
 * slow on wasm, so strided convolutions always take the dilated conv. bench/wasm-train.ts times a step.
 */
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelScope, withKernelScope } from './kernel-scope.ts';

/** How dW is computed; see the module comment. */
export type FilterGradStrategy = 'im2col' | 'dilated-conv';

/** Every strategy, for tests that check each one. */
export const FILTER_GRAD_STRATEGIES: readonly FilterGradStrategy[] = ['im2col', 'dilated-conv'];

/** Input channels below which im2col beats the dilated convolution (measured, see module comment). */
const IM2COL_MAX_IN_CHANNELS = 32;
/** Input pixels (H·W) up to which im2col beats the dilated convolution at any channel count (measured). */
const IM2COL_MAX_PIXELS = 16 * 16;

/** The faster of the two formulations for this convolution's shapes. */
export function chooseFilterGradStrategy(info: backend_util.Conv2DInfo): FilterGradStrategy {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return 'dilated-conv';
  if (info.filterHeight * info.filterWidth === 1 || info.inChannels < IM2COL_MAX_IN_CHANNELS) return 'im2col';
  if (info.inHeight * info.inWidth <= IM2COL_MAX_PIXELS) return 'im2col';
  return 'dilated-conv';
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
