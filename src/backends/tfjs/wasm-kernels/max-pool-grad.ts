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
 * included (for overlapping windows up to the order in which one input's contributions are summed). It is a loop in JavaScript over a copy of the input: composing it from native kernels
 * (Equal/Cast/Multiply broadcast over the rank-5 window view, MaxPool of a priority score) measured 15×
 * slower, because the wasm backend's broadcasting binary ops are scalar loops, while this scan is
 * memory-bound and took 62 ms for a 32×32×32×64 input where the (incorrect) native kernel took 131 ms.
 */
import { backend_util, MaxPoolGrad } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';

/**
 * dx of a 2-D max pool, NHWC: each dy value is added to the input position holding its window's first
 * maximum (row-major scan; padding is never a candidate). `x` and `dy` are the flat NHWC buffers.
 */
export function maxPoolGradNHWC(x: Float32Array, dy: Float32Array, info: backend_util.Conv2DInfo): Float32Array {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const dx = new Float32Array(n * h * w * c);
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

/** Kernel function: the inputs and attrs tfjs's maxPool gradient passes to `MaxPoolGrad`. */
function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo }; backend: KernelBackend; attrs: MaxPoolGradAttrs }): TensorInfo {
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
  // readSync returns a copy of the heap bytes, so the scan is safe from heap growth while it runs.
  const x = backend.readSync(input.dataId) as Float32Array;
  const g = backend.readSync(dy.dataId) as Float32Array;
  const dx = maxPoolGradNHWC(x, g, info);
  return { dataId: backend.write(dx, input.shape, 'float32'), shape: input.shape, dtype: 'float32' };
}

/** Registry entry for {@link maxPoolGrad} on the wasm backend (replaces the native one). */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
