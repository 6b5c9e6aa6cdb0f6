/**
 * `Sum` on wasm for reductions over the leading axes, which is what every bias gradient is: the sum of
 * `dy` over N, H, W of an NHWC tensor. tfjs-backend-wasm 4.22's Sum reduces only innermost axes, so
 * for leading ones it first transposes them to the inside, moving the whole tensor through a strided
 * copy, then reduces it in a scalar pass: ~12 ms for vgg-small's 64×32×32×64 dy, 32 ms of a training
 * step at batch 64.
 *
 * Viewed as `[M, C]` (M the product of the reduced axes), a leading-axes sum is a column sum, and the
 * native `AvgPool` (XNNPACK's SIMD multipass average pooling, which streams its input once in place)
 * computes column means when the tensor is viewed as NHWC `[M₁, M₂, 1, C]` and pooled over `M₂` rows.
 * Two such pools (`M₂` rows, then the `M₁` partial means), with `M₁ ≈ √M`, keep each float32
 * accumulation to about √M terms, so the result stays within ~1e-6 of tfjs-cpu's float64 sum also for
 * M = 65 536 all-positive values; the mean is scaled back by M in float64. Measured
 * (bench/wasm-small-kernels.ts, 2 threads, input in cache): 64×32×32×64 9.8 → 0.4 ms, 64×16×16×128
 * 3.7 → 0.15 ms; with a fresh input each call and the result read back, ~10 → ~0.9 ms.
 * `1ᵀ·X` as a BatchMatMul was no faster than stock (11.8 and 7.5 ms): the native product packs X as
 * weights on every call, on one thread; a float64 JS loop over the heap took 7.4 and 3.7 ms.
 *
 * Any other reduction (inner or interleaved axes, anything not float32, tensors small enough that the
 * stock kernel's fixed cost is lower) goes to the stock kernel unchanged, so int32 sums stay exact.
 */
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelScope, withKernelScope } from './kernel-scope.ts';
import { wrapNative } from './wrap-native.ts';

/**
 * Smallest input (elements) summed by pooling. Below it the stock kernel's whole cost is a few
 * microseconds (64×256: 0.02 ms) and there is nothing to gain.
 */
export const SUM_BY_POOLING_MIN_SIZE = 1 << 17;

/**
 * How many leading axes `axis` names when those are exactly axes 0..k−1 of a tensor of `shape`
 * (in any order, negative indices allowed), else 0. Reducing every axis counts (k = rank).
 */
export function leadingAxesCount(axis: number | number[], shape: readonly number[]): number {
  const axes = util.parseAxisParam(axis, shape as number[]);
  const seen = new Set(axes);
  if (seen.size !== axes.length) return 0;
  for (let i = 0; i < axes.length; i++) if (!seen.has(i)) return 0;
  return axes.length;
}

/** The factor of `m` nearest √m from below (1 for a prime `m`: one pool over all rows). */
function splitRows(m: number): number {
  for (let f = Math.floor(Math.sqrt(m)); f > 1; f--) if (m % f === 0) return f;
  return 1;
}

/**
 * Column sums of float32 `x` viewed as `[m, c]`, as a `[1, 1, 1, c]` tensor, from the backend's
 * AvgPool: `x` as `[m₁, m₂, 1, c]` pooled over its `m₂` rows, those `m₁` means pooled once more,
 * the mean of all `m` rows scaled back by `m`.
 */
export function columnSumsByPooling(scope: KernelScope, x: TensorInfo, m: number, c: number): TensorInfo {
  const pool = (t: TensorInfo, batch: number, rows: number): TensorInfo => {
    const v = scope.run('Reshape', { x: t }, { shape: [batch, rows, 1, c] });
    const out = scope.run('AvgPool', { x: v }, { filterSize: [rows, 1], strides: [rows, 1], pad: 'valid' });
    scope.free(v);
    return out;
  };
  const m1 = splitRows(m);
  let t = pool(x, m1, m / m1);
  if (m1 > 1) {
    const t2 = pool(t, 1, m1);
    scope.free(t);
    t = t2;
  }
  // The result is this kernel's own fresh buffer of c values: scale it in place on the heap.
  const view = (scope.backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(t);
  for (let j = 0; j < c; j++) view[j] = view[j]! * m;
  return t;
}

/** A wasm `Sum` kernel: large leading-axes float32 reductions by pooling, everything else on `native`. */
export function makeSumConfig(native: KernelConfig): KernelConfig {
  const kernelFunc = (args: { inputs: { x: TensorInfo }; backend: KernelBackend; attrs: SumAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const { axis, keepDims } = attrs;
    const k =
      x.dtype === 'float32' && util.sizeFromShape(x.shape) >= SUM_BY_POOLING_MIN_SIZE
        ? leadingAxesCount(axis, x.shape)
        : 0;
    if (k === 0) return native.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    const m = util.sizeFromShape(x.shape.slice(0, k));
    const c = util.sizeFromShape(x.shape.slice(k));
    const kept = x.shape.slice(k);
    const outShape = keepDims ? backend_util.expandShapeToKeepDim(kept, util.parseAxisParam(axis, x.shape)) : kept;
    return withKernelScope(backend, 'wasm', (s) => {
      const sums = columnSumsByPooling(s, x, m, c);
      const out = s.run('Reshape', { x: sums }, { shape: outShape });
      s.free(sums);
      return out;
    });
  };
  return wrapNative(native, kernelFunc);
}
