/**
 * `MaxPoolGrad` for the wasm backend with tfjs-backend-cpu's semantics. tfjs-backend-wasm 4.22 has a
 * native MaxPoolGrad, but it gives wrong gradients: its running maximum starts at
 * `std::numeric_limits<float>::min()`, the smallest *positive* float, so in a window whose values are
 * all ≤ 0 no element is ever taken as the maximum and that window's gradient goes to the wrong input
 * (measured: max |dx − dx_cpu| ≈ 0.8 on N(0,1) data, 2×2 stride 2, most shapes). It also breaks ties
 * towards the last maximum (`>=`), where tfjs cpu (and TensorFlow) take the first.
 *
 * This replacement scans each window in row-major order and routes dy to the first strict maximum,
 * exactly as tfjs-backend-cpu's `maxPoolPositions` does, so wasm and cpu gradients agree exactly, ties
 * included (for overlapping windows up to the order in which one input's contributions are summed). It is a loop in JavaScript: composing it from native kernels
 * (Equal/Cast/Multiply broadcast over the rank-5 window view, MaxPool of a priority score) measured 15×
 * slower, because the wasm backend's broadcasting binary ops are scalar loops, while this scan is
 * memory-bound and took 62 ms for a 32×32×32×64 input where the (incorrect) native kernel took 131 ms.
 *
 * The scan reads the inputs and writes dx in place on the wasm heap (no copies in or out), and 2×2
 * windows with stride 2 and no leading padding (the only pooling VGG uses) take a loop specialised
 * for them: four candidates per output unrolled, dx zeroed by one native fill and then one store per
 * window. Measured on vgg-small's shapes at batch 64 (bench/wasm-small-kernels.ts): 64×32×32×64
 * 30.3 → 17.8 ms, 64×16×16×128 12.9 → 8.8 ms. What remains is branch misprediction: the same loop
 * takes 4.6 ms on data whose maximum is always in the same place (Math.max and arithmetic on
 * comparisons do not avoid it in V8: 21 ms).
 */
import { backend_util, MaxPoolGrad } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';

/** Whether `info` is 2×2 windows with stride 2 and no leading padding, each window whole. */
function isPool2x2s2(info: backend_util.Conv2DInfo): boolean {
  return (
    info.effectiveFilterHeight === 2 &&
    info.effectiveFilterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth
  );
}

/**
 * 2×2 stride-2 windows without padding: the same first-strict-maximum rule unrolled over the four
 * candidates (row-major: top-left, top-right, bottom-left, bottom-right; a candidate must exceed the
 * best so far, starting from −∞, so NaN and −∞ never win). Windows do not overlap, so dy is stored,
 * not added, into the zeroed dx; rows and columns no window covers (odd sizes) stay zero.
 */
function maxPoolGrad2x2s2(
  x: Float32Array,
  dy: Float32Array,
  info: backend_util.Conv2DInfo,
  dx: Float32Array,
): Float32Array {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const rowStride = w * c;
  // One native fill, then one store per window: cheaper than four stores per window from JS.
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const row0 = (b * h + 2 * i) * rowStride;
      const row1 = row0 + rowStride;
      let d = (b * ho + i) * wo * c;
      for (let j = 0; j < wo; j++) {
        const p00 = row0 + 2 * j * c;
        const p10 = row1 + 2 * j * c;
        for (let ch = 0; ch < c; ch++, d++) {
          const q00 = p00 + ch;
          const q10 = p10 + ch;
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          let v = x[q00]!;
          if (v > best) {
            best = v;
            at = q00;
          }
          v = x[q00 + c]!;
          if (v > best) {
            best = v;
            at = q00 + c;
          }
          v = x[q10]!;
          if (v > best) {
            best = v;
            at = q10;
          }
          v = x[q10 + c]!;
          if (v > best) at = q10 + c;
          if (at >= 0) dx[at] = dy[d]!;
        }
      }
    }
  }
  return dx;
}

/**
 * dx of a 2-D max pool, NHWC: each dy value is added to the input position holding its window's first
 * maximum (row-major scan; padding is never a candidate). `x` and `dy` are the flat NHWC buffers;
 * `dx`, when given, receives the result (any contents: it is overwritten) and is returned.
 */
export function maxPoolGradNHWC(
  x: Float32Array,
  dy: Float32Array,
  info: backend_util.Conv2DInfo,
  dx?: Float32Array,
): Float32Array {
  const out = dx ?? new Float32Array(info.batchSize * info.inHeight * info.inWidth * info.inChannels);
  if (isPool2x2s2(info)) return maxPoolGrad2x2s2(x, dy, info, out);
  if (dx != null) out.fill(0);
  return maxPoolGradScan(x, dy, info, out);
}

/**
 * The general scan behind {@link maxPoolGradNHWC}: any window, stride and padding. Adds into `dx`,
 * which must hold zeros.
 */
export function maxPoolGradScan(
  x: Float32Array,
  dy: Float32Array,
  info: backend_util.Conv2DInfo,
  dx: Float32Array,
): Float32Array {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // One window, all channels at once: the inner loop runs over contiguous channels.
  const best = new Float32Array(c);
  const pos = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r0 = i * sh - pt;
      const rMin = Math.max(r0, 0);
      const rMax = Math.min(r0 + kh, h);
      for (let j = 0; j < wo; j++) {
        const c0 = j * sw - pl;
        const cMin = Math.max(c0, 0);
        const cMax = Math.min(c0 + kw, w);
        best.fill(Number.NEGATIVE_INFINITY);
        pos.fill(-1);
        for (let r = rMin; r < rMax; r++) {
          for (let q = cMin; q < cMax; q++) {
            const base = ((b * h + r) * w + q) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                pos[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * ho + i) * wo + j) * c;
        for (let ch = 0; ch < c; ch++) {
          const p = pos[ch]!;
          if (p >= 0) dx[p] = dx[p]! + dy[dyBase + ch]!;
        }
      }
    }
  }
  return dx;
}

/** The wasm backend's heap access (tfjs-backend-wasm's BackendWasm). */
interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Kernel function: the inputs and attrs tfjs's maxPool gradient passes to `MaxPoolGrad`. */
function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: KernelBackend;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new BackendError(`MaxPoolGrad on wasm takes float32 tensors, got input ${input.dtype} and dy ${dy.dtype}`, {
      hint: 'cast the pooled tensor to float32 before pooling',
    });
  }
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  // The output is allocated first: an allocation can grow (and so replace) the heap, and the views
  // below are taken after it. The scan itself allocates nothing on the heap.
  const wasm = backend as unknown as WasmHeapAccess;
  const out = wasm.makeOutput(input.shape, 'float32');
  maxPoolGradNHWC(
    wasm.typedArrayFromHeap(input) as Float32Array,
    wasm.typedArrayFromHeap(dy) as Float32Array,
    info,
    wasm.typedArrayFromHeap(out) as Float32Array,
  );
  return out;
}

/** Registry entry for {@link maxPoolGrad} on the wasm backend (replaces the native one). */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
