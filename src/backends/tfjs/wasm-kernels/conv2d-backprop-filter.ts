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
 * tap-view ({@link tapView}), measured later with the contenders interleaved (same bench, 7 calls each,
 * ms median; tap-view / best other):
 *
 *     x 64×32×32×3 → 16      4.6 / dilated 6.7      x 64×32×32×16 → 16    9.1 / dilated 13.8
 *     x 64×16×16×16 → 32     4.1 / tap-shift 7.9    x 64×16×16×32 → 32    7.2 / dilated 11.5
 *     x 64×8×8×32 → 64       3.5 / tap-shift 4.8    x 64×8×8×64 → 64      6.0 / tap-shift 7.6
 *     x 64×4×4×128 → 128     6.3 / tap-shift 5.7    x 64×2×2×128 → 128    2.3 / dilated 1.5
 *     x 64×32×32×3 → 64     14.9 / tap-shift 50     x 64×16×16×128 → 128 140 / tap-shift 166
 *     x 64×8×8×256 → 256    75 / tap-shift 69
 *
 * so tap-view from 16×16 maps (8×8 with few channels); below that, as before:
 * tap-shift for maps up to 16×16 and for very few input channels, the dilated conv for larger maps
 * with more channels, im2col only for 1×1 filters (P is then just xᵀ). On 32×32 maps every formulation
 * is held back by the product over N·Ho·Wo = 65536 terms: XNNPACK does not block that dimension, and
 * it packs the fresh 65536-row operand on every call (for 32×32×3 that packing is most of the 45 ms).
 * Chunking that dimension would need cheap sub-tensor reads, which the wasm backend lacks (its Slice
 * copies the whole input per call, StridedSlice and GatherV2 go element by element: ≥ 10× slower
 * than the products they would feed, measured). Strided convolutions take the dilated conv (tap-shift
 * would compute every stride-1 position).
 */
import { backend_util, Conv2DBackpropFilter, getKernel } from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';
import { allocF32, heapF32, heapIndex, makeView, releaseView, runInto } from './heap.ts';
import { type KernelScope, withKernelScope } from './kernel-scope.ts';

/** How dW is computed; see the module comment. */
export type FilterGradStrategy = 'im2col' | 'dilated-conv' | 'tap-shift' | 'tap-view';

/** Every strategy, for tests that check each one. */
export const FILTER_GRAD_STRATEGIES: readonly FilterGradStrategy[] = [
  'im2col',
  'dilated-conv',
  'tap-shift',
  'tap-view',
];

/** Output pixels (Ho·Wo) up to which tap-shift is the fastest formulation (measured, see module comment). */
const TAP_SHIFT_MAX_PIXELS = 16 * 16;
/** Input channels below which tap-shift also beats the dilated convolution on larger maps (measured). */
const TAP_SHIFT_MAX_IN_CHANNELS = 8;

/** Output pixels from which tap-view is the fastest formulation whatever the channels (measured). */
const TAP_VIEW_MIN_PIXELS = 16 * 16;
/** On 8×8 maps tap-view wins up to 64 → 128 channels (measured) and loses at 256 → 256. */
const TAP_VIEW_MIN_PIXELS_FEW_CHANNELS = 8 * 8;
const TAP_VIEW_MAX_CHANNEL_PRODUCT = 64 * 128;

/** The fastest formulation, as measured, for this convolution's shapes. */
export function chooseFilterGradStrategy(info: backend_util.Conv2DInfo): FilterGradStrategy {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return 'dilated-conv';
  if (info.filterHeight * info.filterWidth === 1) return 'im2col'; // P is just xᵀ: no copies at all
  const pixels = info.outHeight * info.outWidth;
  if (
    tapViewGrid(info) != null &&
    (pixels >= TAP_VIEW_MIN_PIXELS ||
      (pixels >= TAP_VIEW_MIN_PIXELS_FEW_CHANNELS &&
        info.inChannels * info.outChannels <= TAP_VIEW_MAX_CHANNEL_PRODUCT))
  ) {
    return 'tap-view';
  }
  if (info.outHeight * info.outWidth <= TAP_SHIFT_MAX_PIXELS || info.inChannels < TAP_SHIFT_MAX_IN_CHANNELS)
    return 'tap-shift';
  return 'dilated-conv';
}

/** The formulations that apply to this convolution (tap-shift and tap-view need stride 1). */
export function applicableFilterGradStrategies(info: backend_util.Conv2DInfo): FilterGradStrategy[] {
  const strided = info.strideHeight !== 1 || info.strideWidth !== 1;
  return FILTER_GRAD_STRATEGIES.filter((s) => {
    if (s === 'tap-shift') return !strided;
    if (s === 'tap-view') return tapViewGrid(info) != null;
    return true;
  });
}

/** The padded grid tap-view computes on, or undefined where it does not apply (see {@link tapView}). */
interface TapGrid {
  /** Zero rows / columns before each sample's rows / each row's pixels. */
  gh: number;
  gw: number;
  /** Grid rows per sample and pixels per grid row. */
  hg: number;
  wg: number;
  /** Grid pixels in all: the products' reduction length. */
  k: number;
  /** Largest tap offset in grid pixels, and the zero rows of slack that covers it. */
  offMax: number;
  slackRows: number;
}

function tapViewGrid(info: backend_util.Conv2DInfo): TapGrid | undefined {
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    outHeight: ho,
    outWidth: wo,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1)
    return undefined;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const pb = trailingPad(kh, ho, 1, pt, h);
  const pr = trailingPad(kw, wo, 1, pl, w);
  // dy must fit the grid: every pad within the filter's reach (always so for 'same' and 'valid').
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0 || pt > kh - 1 || pl > kw - 1 || pb > kh - 1 || pr > kw - 1)
    return undefined;
  const gh = Math.max(pt, pb);
  const gw = Math.max(pl, pr);
  const hg = h + gh;
  const wg = w + gw;
  const k = n * hg * wg;
  const offMax = (kh - 1) * wg + (kw - 1);
  return { gh, gw, hg, wg, k, offMax, slackRows: Math.max(1, Math.ceil(offMax / k)) };
}

/**
 * Copies NHWC `[n, h, w, c]` (at heap index `src`) into the grid `[n, hg, wg, c]` at `dst`, pixel
 * (i, j) of each sample at grid (i + r0, j + c0), zeros elsewhere: one memcpy per image row.
 */
function toGrid(
  heap: Float32Array,
  src: number,
  n: number,
  h: number,
  w: number,
  c: number,
  dst: number,
  hg: number,
  wg: number,
  r0: number,
  c0: number,
): void {
  heap.fill(0, dst, dst + n * hg * wg * c);
  const row = w * c;
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < h; i++) {
      const from = src + (s * h + i) * row;
      heap.copyWithin(dst + ((s * hg + i + r0) * wg + c0) * c, from, from + row);
    }
  }
}

/**
 * tap-view: dW for stride 1 with no data movement per tap. x and dy are laid on one padded grid
 * (`[N, H + gh, W + gw]` pixels; gh = max(top, bottom pad), gw likewise: the zero rows / columns
 * before each sample / row serve as the bottom / right padding of the one before it), dy placed where
 * its output pixel's window starts. Then for tap (a, b), at grid offset `o = a·Wg + b`,
 *
 *     dW[a, b] = Σ_p xgrid[p + o] · dygrid[p]      (p over all K grid pixels)
 *
 * is one XNNPACK product of a *view* of the channel-first grid shifted by `o` elements ([C, K], row
 * stride K: the shift never leaves a sample where it matters, because the grid's zero rows/columns sit
 * exactly where the shifted window falls off an image) by the NHWC grid of the other tensor as
 * `[K, C']`, which XNNPACK packs once for all taps (its operator cache is keyed by that tensor). The
 * narrower tensor is the packed one (packing costs ~3 ns per element, single-threaded), the other is
 * transposed to channel-first; with x packed, dy is shifted by −o instead (the same sum re-indexed).
 * Zero rows after (x shifted) or before (dy shifted) the channel-first rows keep every shifted window
 * inside initialised memory. Positions where the other grid is zero read neighbouring values; they add
 * 0 · finite = 0 (a non-finite x or dy could turn such a product into NaN where tfjs/cpu has none).
 * The grid's row length is also what keeps the native Transpose fast: a transpose of [65536, 32]
 * writes with a power-of-two stride and took 12 ms, one of [69696, 32] (64·33·33) 1 ms.
 */
function tapView(scope: KernelScope, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const grid = tapViewGrid(info);
  if (grid == null)
    throw new BackendError('tap-view needs stride 1 and pads within the filter', {
      hint: "use 'dilated-conv' for this convolution",
    });
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: ho,
    outWidth: wo,
    outChannels: co,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const { gh, gw, hg, wg, k, slackRows } = grid;
  const backend = scope.backend;
  const transpose = getKernel('Transpose', 'wasm');
  const matMul = getKernel('BatchMatMul', 'wasm');
  if (transpose == null || matMul == null)
    throw new BackendError("tap-view needs the wasm backend's Transpose and BatchMatMul", {
      hint: 'check the installed @tensorflow/tfjs-backend-wasm version',
    });
  const packX = ci < co;
  const cA = packX ? co : ci; // channel-first, shifted per tap
  const cB = packX ? ci : co; // packed once
  const taps = kh * kw;
  // Every allocation before the heap view below (an allocation can grow the heap).
  const gA = scope.adopt(allocF32(backend, [k, cA]));
  const gB = scope.adopt(allocF32(backend, [k, cB]));
  const rowsA = scope.adopt(allocF32(backend, [cA + slackRows, k]));
  const res = scope.adopt(allocF32(backend, packX ? [taps, co, ci] : [kh, kw, ci, co]));
  const heap = heapF32(backend);
  const [xg, dyg] = packX ? [gB, gA] : [gA, gB];
  toGrid(heap, heapIndex(backend, x), n, h, w, ci, heapIndex(backend, xg), hg, wg, gh, gw);
  toGrid(
    heap,
    heapIndex(backend, dy),
    n,
    ho,
    wo,
    co,
    heapIndex(backend, dyg),
    hg,
    wg,
    gh - info.padInfo.top,
    gw - info.padInfo.left,
  );
  // Channel-first rows of A, with the zero slack rows before them (dy shifted back) or after (x shifted on).
  const lead = packX ? slackRows * k : 0;
  const a0 = heapIndex(backend, rowsA);
  if (packX) heap.fill(0, a0, a0 + lead);
  else heap.fill(0, a0 + cA * k, a0 + (cA + slackRows) * k);
  if (cA === 1) {
    heap.copyWithin(a0 + lead, heapIndex(backend, gA), heapIndex(backend, gA) + k);
  } else {
    const rows = makeView(backend, rowsA, lead, [cA, k]);
    try {
      runInto(transpose, backend, { x: gA }, { perm: [1, 0] }, rows);
    } finally {
      releaseView(backend, rows);
    }
  }
  scope.free(gA);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const t = a * kw + b;
      const off = a * wg + b;
      const av = makeView(backend, rowsA, packX ? lead - off : off, [cA, k]);
      const ov = makeView(backend, res, t * cA * cB, [cA, cB]);
      try {
        runInto(matMul, backend, { a: av, b: gB }, { transposeA: false, transposeB: false }, ov);
      } finally {
        releaseView(backend, av);
        releaseView(backend, ov);
      }
    }
  }
  scope.free(rowsA);
  scope.free(gB); // its packed copy goes with it (the operator cache drops entries of freed tensors)
  if (!packX) return res;
  const r = scope.run('Transpose', { x: res }, { perm: [0, 2, 1] }); // [taps, Ci, Co]
  scope.free(res);
  return scope.run('Reshape', { x: r }, { shape: [kh, kw, ci, co] });
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
  return scope.run(
    'StridedSlice',
    { x },
    {
      begin,
      end: begin.map((b, i) => b + (size[i]! - 1) * strides[i]! + 1),
      strides,
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
  );
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

  if (strategy === 'tap-view') return tapView(scope, x, dy, info);

  if (strategy === 'tap-shift') {
    if (sh !== 1 || sw !== 1)
      throw new BackendError(`tap-shift needs stride 1, got ${sh}×${sw}`, {
        hint: "use 'dilated-conv' for strided convolutions",
      });
    const xt = scope.run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
    const dyt = scope.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
    const b = scope.run('Reshape', { x: dyt }, { shape: [ho * wo * n, co] });
    scope.free(dyt);
    const pad = [
      [0, 0],
      [pt, info.padInfo.bottom],
      [pl, info.padInfo.right],
      [0, 0],
    ];
    const slabs: TensorInfo[] = [];
    for (let t = 0; t < kh * kw; t++) {
      const filter = oneHotTapFilter(scope, t, kh, kw, n);
      const shifted = scope.run(
        'DepthwiseConv2dNative',
        { x: xt, filter },
        { strides: [1, 1], pad, dilations: [1, 1] },
      ); // [Ci, Ho, Wo, N]
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
        ? scope.run(
            'PadV2',
            { x: xc },
            {
              paddings: [
                [0, 0],
                [0, 0],
                [pt, Math.max(pb, 0)],
                [pl, Math.max(pr, 0)],
              ],
              constantValue: 0,
            },
          )
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
  const xs =
    pb < 0 || pr < 0
      ? scope.run('Slice', { x }, { begin: [0, 0, 0, 0], size: [n, h + Math.min(pb, 0), w + Math.min(pr, 0), ci] })
      : x;
  const xt = scope.run('Transpose', { x: xs }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  if (xs !== x) scope.free(xs);
  const dyt = scope.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const r = scope.run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [pt, Math.max(pb, 0)],
        [pl, Math.max(pr, 0)],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  ); // [Ci, kh, kw, Co]
  scope.free(xt);
  scope.free(dyt);
  return scope.run('Transpose', { x: r }, { perm: [1, 2, 0, 3] });
}

/** Kernel function: the attrs and inputs tfjs's conv2d gradient passes to `Conv2DBackpropFilter`. */
function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: KernelBackend;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
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
