/**
 * The two gradient kernels of a depthwise convolution for the wasm backend, which tfjs-backend-wasm
 * 4.22 does not have (`DepthwiseConv2dNativeBackpropInput`, `DepthwiseConv2dNativeBackpropFilter`):
 * without them no depthwise conv (MobileNetV2) trains on tfjs/wasm.
 *
 * Both are one JavaScript pass over the wasm heap, in place (no copies in or out), with the same
 * loop nest as the forward convolution: for every output pixel and tap that lands inside the image,
 * a contiguous sweep over the channels (NHWC keeps them innermost in x, dy and the `[kh, kw, C, m]`
 * filter alike). A depthwise conv does C·m·kh·kw multiply-adds per output pixel, a dense one C times
 * as many, so a scalar loop stays a small share of a step; composing the gradients from native
 * kernels (a Conv2D per channel, or taps as shifted Multiply/Add) would launch kh·kw or C kernels
 * per call. Semantics are tfjs-backend-cpu's: `dx[n, y, x, c] = Σ dy[n, oy, ox, c·m+q] · w[i, j, c, q]`
 * and `dw[i, j, c, q] = Σ x[n, y, x, c] · dy[n, oy, ox, c·m+q]` over the pixels where
 * `y = oy·sh + i·dh − top`, `x = ox·sw + j·dw − left` lies inside the input.
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
} from '@tensorflow/tfjs-core';
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';
import { allocF32, heapF32, heapIndex } from './heap.ts';

/** Which way {@link depthwiseBackprop} accumulates. */
type Direction = 'input' | 'filter';

/**
 * The shared loop nest. `a` is dy; for `input` `b` is the filter and `out` (zeroed here) receives dx,
 * for `filter` `b` is x and `out` receives dw. All are element offsets into `heap`.
 */
export function depthwiseBackprop(
  dir: Direction,
  heap: Float32Array,
  dy: number,
  b: number,
  out: number,
  info: backend_util.Conv2DInfo,
): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const m = info.outChannels / C;
  const CM = C * m;
  const outSize = dir === 'input' ? N * H * W * C : KH * KW * CM;
  heap.fill(0, out, out + outSize);
  const { top, left } = info.padInfo;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const dyBase = dy + ((n * Ho + oy) * Wo + ox) * CM;
        for (let i = 0; i < KH; i++) {
          const y = oy * sh + i * dh - top;
          if (y < 0 || y >= H) continue;
          for (let j = 0; j < KW; j++) {
            const x = ox * sw + j * dw - left;
            if (x < 0 || x >= W) continue;
            const pix = ((n * H + y) * W + x) * C;
            const tap = (i * KW + j) * CM;
            if (dir === 'input') {
              const wBase = b + tap;
              const dxBase = out + pix;
              if (m === 1) {
                for (let c = 0; c < C; c++) heap[dxBase + c]! += heap[dyBase + c]! * heap[wBase + c]!;
              } else {
                for (let c = 0; c < C; c++) {
                  let s = 0;
                  for (let q = 0; q < m; q++) s += heap[dyBase + c * m + q]! * heap[wBase + c * m + q]!;
                  heap[dxBase + c]! += s;
                }
              }
            } else {
              const xBase = b + pix;
              const dwBase = out + tap;
              if (m === 1) {
                for (let c = 0; c < C; c++) heap[dwBase + c]! += heap[xBase + c]! * heap[dyBase + c]!;
              } else {
                for (let c = 0; c < C; c++) {
                  const xv = heap[xBase + c]!;
                  for (let q = 0; q < m; q++) heap[dwBase + c * m + q]! += xv * heap[dyBase + c * m + q]!;
                }
              }
            }
          }
        }
      }
    }
  }
}

function requireFloat32(kernel: string, tensors: Record<string, TensorInfo>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32')
      throw new BackendError(`${kernel} on wasm takes float32 tensors, got ${name} ${t.dtype}`, {
        hint: 'cast to float32 before the depthwise convolution',
      });
  }
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: {
    strides: number | [number, number];
    dilations: number | [number, number];
    pad: unknown;
    dimRoundingMode?: unknown;
  },
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    true,
  );
}

function backpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: KernelBackend;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  requireFloat32(DepthwiseConv2dNativeBackpropInput, inputs);
  const info = convInfo(attrs.inputShape, inputs.filter.shape, attrs);
  // Allocate first: an allocation may grow the heap and detach views taken before it.
  const dx = allocF32(backend, [...attrs.inputShape]);
  const heap = heapF32(backend);
  depthwiseBackprop(
    'input',
    heap,
    heapIndex(backend, inputs.dy),
    heapIndex(backend, inputs.filter),
    heapIndex(backend, dx),
    info,
  );
  return dx;
}

function backpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: KernelBackend;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  requireFloat32(DepthwiseConv2dNativeBackpropFilter, inputs);
  const info = convInfo(inputs.x.shape, attrs.filterShape, attrs);
  const dw = allocF32(backend, [...attrs.filterShape]);
  const heap = heapF32(backend);
  depthwiseBackprop(
    'filter',
    heap,
    heapIndex(backend, inputs.dy),
    heapIndex(backend, inputs.x),
    heapIndex(backend, dw),
    info,
  );
  return dw;
}

/** Registry entry for the depthwise input gradient on the wasm backend. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: backpropInput as unknown as KernelFunc,
};

/** Registry entry for the depthwise filter gradient on the wasm backend. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: backpropFilter as unknown as KernelFunc,
};
