/**
 * `Conv2DBackpropInput` for the wasm backend on XNNPACK. tfjs-backend-wasm 4.22 has this kernel, but
 * as a plain C++ loop nest: on this project's machine it took 9–10× as long as the forward Conv2D of
 * the same layer (x 32×32×32×64, 3×3 → 64: 589 ms against 65 ms), which made it the largest single
 * cost of a training step. expbench therefore replaces it with a formulation that runs as one native
 * (XNNPACK) Conv2D:
 *
 *     dx = Conv2D(dilate_s(dy), flip(W)ᵀ, stride 1, pads [kh−1−pt, ·], [kw−1−pl, ·])
 *
 * where `flip(W)ᵀ` is the filter reversed in both spatial axes with its channel axes swapped
 * (`[kh, kw, Co, Ci]`) and `dilate_s` inserts `s − 1` zeros after every `dy` row and column (a
 * Reshape to `[N, Ho, 1, Wo, 1, Co]`, a PadV2 and a Reshape back). The trailing pads are whatever
 * makes the output `H × W`; where they come out negative, `dy` is cropped. For stride 2 three
 * quarters of the dilated input are zeros, which XNNPACK multiplies anyway; it is still ~3× faster
 * than the loop nest (measured 207 ms against 596 ms). `flip(W)ᵀ` is built in one JS pass over the
 * heap ({@link flipSwapFilter}) rather than by native Reverse + Transpose.
 */
import { backend_util, Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { type KernelScope, withKernelScope } from './kernel-scope.ts';

/**
 * dx for NHWC `dy` `[N, Ho, Wo, Co]` and filter `[kh, kw, Ci, Co]`, as `[N, H, W, Ci]`, computed
 * with the kernels of `scope`'s backend. `info` must describe the NHWC forward convolution.
 */
export function conv2dBackpropInputNHWC(
  scope: KernelScope,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;

  let d = dy;
  if (sh > 1 || sw > 1) {
    const r6 = scope.run('Reshape', { x: dy }, { shape: [n, ho, 1, wo, 1, co] });
    const p6 = scope.run(
      'PadV2',
      { x: r6 },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    scope.free(r6);
    d = scope.run('Reshape', { x: p6 }, { shape: [n, ho * sh, wo * sw, co] });
    scope.free(p6);
  }
  const dh = d.shape[1]!;
  const dw = d.shape[2]!;

  // Padding of the dilated dy on each side; a negative amount is a crop (explicit pads larger than the
  // filter lead to negative leading pads, trailing zeros of the dilation to negative trailing ones).
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = h - dh - top + kh - 1;
  const right = w - dw - left + kw - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    const begin = [0, Math.max(-top, 0), Math.max(-left, 0), 0];
    const size = [n, dh - begin[1]! + Math.min(bottom, 0), dw - begin[2]! + Math.min(right, 0), co];
    const cropped = scope.run('Slice', { x: d }, { begin, size });
    if (d !== dy) scope.free(d);
    d = cropped;
  }

  const wt = flipSwapFilter(scope.backend, filter); // [kh, kw, Co, Ci]
  try {
    const dx = scope.run(
      'Conv2D',
      { x: d, filter: wt },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [Math.max(top, 0), Math.max(bottom, 0)],
          [Math.max(left, 0), Math.max(right, 0)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    if (d !== dy) scope.free(d);
    return dx;
  } finally {
    scope.backend.disposeData(wt.dataId);
  }
}

/** The wasm backend's heap access (tfjs-backend-wasm's BackendWasm). */
interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * `flip(W)ᵀ`: filter `[kh, kw, Ci, Co]` reversed in both spatial axes with its channel axes swapped,
 * as a new `[kh, kw, Co, Ci]` tensor the caller disposes. One JS pass over the heap: the native
 * Reverse (a scalar loop that recomputes every element's coordinates) plus Transpose took 7.3 ms for a
 * 3×3×128×128 filter and 1.8 ms for 3×3×64×64, this 0.25 and 0.06 ms (bench/wasm-small-kernels.ts).
 */
export function flipSwapFilter(backend: KernelBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const wasm = backend as unknown as WasmHeapAccess;
  // Allocate first: an allocation may grow the heap and detach views taken before it.
  const out = wasm.makeOutput([kh, kw, co, ci], 'float32');
  const dst = wasm.typedArrayFromHeap(out) as Float32Array;
  const src = wasm.typedArrayFromHeap(filter) as Float32Array;
  const taps = kh * kw;
  const plane = ci * co;
  for (let t = 0; t < taps; t++) {
    // Reversing both spatial axes reverses the flat tap index a·kw + b.
    const s0 = t * plane;
    const d0 = (taps - 1 - t) * plane;
    for (let i = 0; i < ci; i++) {
      const si = s0 + i * co;
      for (let o = 0; o < co; o++) dst[d0 + o * ci + i] = src[si + o]!;
    }
  }
  return out;
}

/** Kernel function: the attrs and inputs tfjs's conv2d gradient passes to `Conv2DBackpropInput`. */
function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: KernelBackend;
  attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  return withKernelScope(backend, 'wasm', (scope) => {
    const nchw = backend_util.convertConv2DDataFormat(dataFormat) === 'channelsFirst';
    const dy = nchw ? scope.run('Transpose', { x: inputs.dy }, { perm: [0, 2, 3, 1] }) : inputs.dy;
    const xShape = (nchw ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]] : inputShape) as [
      number,
      number,
      number,
      number,
    ];
    const info = backend_util.computeConv2DInfo(
      xShape,
      inputs.filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const dx = conv2dBackpropInputNHWC(scope, dy, inputs.filter, info);
    return nchw ? scope.run('Transpose', { x: dx }, { perm: [0, 3, 1, 2] }) : dx;
  });
}

/** Registry entry for {@link conv2DBackpropInput} on the wasm backend (replaces the native one). */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
