/**
 * `Tile` on wasm as block copies on the heap. tfjs's batch-norm gradient (`FusedBatchNorm`'s
 * gradient function, tfjs-core 4.22) tiles the per-channel `1/√(var+ε)` of shape `[1, 1, 1, C]` to the
 * whole `[N, H, W, C]` activation before multiplying it into dy, once per batch-norm layer and step.
 * tfjs-backend-wasm 4.22's Tile is a scalar C++ loop that recomputes each output element's source
 * index: 32×32×32×16 took 40–60 ms, three times ResNet-20's costliest convolution gradient, and the
 * 19 tiles of a ResNet-20 step at batch 32 were a third of the step (measured with `tf.profile`).
 *
 * A tile is pure data movement, so this kernel copies: `x` is copied to the front of the output, then
 * axes are expanded from the innermost outwards, each block of the data so far copied to its place
 * (blocks moved back to front, so none is overwritten before it is read) and repeated by doubling
 * `copyWithin`, a memmove on the heap. The values are bit for bit the stock kernel's. Dtypes other
 * than float32, int32 and bool go to the stock kernel.
 *
 * expbench's own networks now take batch norm's gradient in closed form (`../batch-norm.ts`), which
 * tiles nothing; the kernel serves every other Tile (tap-shift's filter tiling, tfjs's gradients of
 * broadcasts, user code on the backend).
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo, TileAttrs } from '@tensorflow/tfjs-core';
import { wrapNative } from './wrap-native.ts';

type HeapArray = Float32Array | Int32Array | Uint8Array;

interface HeapBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): HeapArray;
}

/** Blocks at most this long are repeated element by element (a `copyWithin` call costs more). */
const SHORT_BLOCK = 8;

/**
 * Tiles, in place, the `size(shape)` values at the front of `out` by `reps` (one per axis of
 * `shape`); `out` holds exactly `size(shape) · Π reps` values.
 */
export function tileInPlace(out: HeapArray, shape: readonly number[], reps: readonly number[]): void {
  let inner = 1; // values per index of axis d+1.. in the data so far (already tiled)
  for (let d = shape.length - 1; d >= 0; d--) {
    const r = reps[d]!;
    const block = shape[d]! * inner;
    if (r !== 1 && block > 0) {
      let prefix = 1;
      for (let a = 0; a < d; a++) prefix *= shape[a]!;
      const total = block * r;
      for (let p = prefix - 1; p >= 0; p--) {
        const src = p * block;
        const dst = p * total;
        if (block <= SHORT_BLOCK) {
          // Read the block before writing: dst ≥ src, and the first copy may overlap it.
          for (let k = r - 1; k >= 0; k--)
            for (let j = block - 1; j >= 0; j--) out[dst + k * block + j] = out[src + j]!;
          continue;
        }
        if (dst !== src) out.copyWithin(dst, src, src + block);
        for (let filled = block; filled < total; filled *= 2)
          out.copyWithin(dst + filled, dst, dst + Math.min(filled, total - filled));
      }
    }
    inner *= shape[d]! * r;
  }
}

/** A wasm `Tile` kernel: float32, int32 and bool by block copies, anything else on `native`. */
export function makeTileConfig(native: KernelConfig): KernelConfig {
  const kernelFunc = (args: { inputs: { x: TensorInfo }; backend: KernelBackend; attrs: TileAttrs }): TensorInfo => {
    const { x } = args.inputs;
    const { reps } = args.attrs;
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool')
      return native.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    const backend = args.backend as unknown as HeapBackend;
    const outShape = x.shape.map((d, i) => d * reps[i]!);
    const out = backend.makeOutput(outShape, x.dtype);
    if (util.sizeFromShape(outShape) === 0) return out;
    // Views taken after makeOutput, which may grow (and so replace) the heap's buffer.
    const dst = backend.typedArrayFromHeap(out);
    dst.set(backend.typedArrayFromHeap(x));
    tileInPlace(dst, x.shape, reps);
    return out;
  };
  return wrapNative(native, kernelFunc);
}
