/**
 * `BatchMatMul` on wasm with transposed operands routed to XNNPACK. tfjs-backend-wasm 4.22 hands a
 * matrix product to XNNPACK only when neither operand is transposed and the batch is 1; with
 * `transposeA` or `transposeB` it runs a blocked scalar loop. Training hits exactly those: a dense
 * layer's weight gradient is `xᵀ·dy` (transposeA) and its input gradient `dy·Wᵀ` (transposeB). Measured
 * on this project's machine for vgg-small's fc1 (x 32×8192, W 8192×256): `xᵀ·dy` 312 ms through the
 * loop against 4 ms as Transpose + XNNPACK; `dy·Wᵀ` 109 ms against ~10 ms.
 *
 * XNNPACK's fully-connected operator takes the second operand as its weights and packs them on first
 * use (cached per tensor, so a variable in the forward pass is packed once; a fresh gradient is packed
 * every call). So each transposed case is rewritten to a plain product that packs the smaller operand:
 *
 *     Aᵀ·B  = matmul(transpose(A), B)
 *     A·Bᵀ  = matmul(A, transpose(B))            or  transpose(matmul(B, transpose(A)))
 *     Aᵀ·Bᵀ = matmul(transpose(A), transpose(B)) or  transpose(matmul(B, A))
 *
 * Only rank-2 operands are rewritten (what dense layers produce); everything else, and the plain
 * product, goes to the native kernel unchanged, with one guard: the native kernel caches B's packing by
 * tensor id only, so a tensor that comes back as B under another `[K, N]` (a Reshape of it keeps the
 * id) is copied first and the copy packed.
 */
import type {
  BatchMatMulAttrs,
  DataId,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { allocF32, heapF32, heapIndex } from './heap.ts';
import { withKernelScope } from './kernel-scope.ts';
import { wrapNative } from './wrap-native.ts';

const size = (t: TensorInfo) => t.shape.reduce((p, v) => p * v, 1);

/**
 * The `[K, N]` each tensor was last packed as by the native product. tfjs-backend-wasm caches its
 * XNNPACK operator (with B's packed copy) by B's tensor id alone, and Reshape keeps the id, so the
 * same data used as B again with another shape would silently reuse the first packing.
 */
const packedAs = new WeakMap<DataId, string>();

/** The key the native kernel's operator cache would meet for `b` as the second operand. */
const bKey = (b: TensorInfo) => b.shape.slice(-2).join('x');

/** A fresh float32 copy of `t` (one memcpy on the heap), owned by the caller. */
function copyOf(backend: KernelBackend, t: TensorInfo): TensorInfo {
  const out = allocF32(backend, [...t.shape]);
  const heap = heapF32(backend);
  const from = heapIndex(backend, t);
  heap.copyWithin(heapIndex(backend, out), from, from + size(t));
  return out;
}

/** A `BatchMatMul` kernel for wasm that rewrites transposed rank-2 products onto `native`. */
export function makeBatchMatMulConfig(native: KernelConfig): KernelConfig {
  /** The native product, with B copied first when its data was packed before under another shape. */
  const nativeProduct = (args: {
    inputs: { a: TensorInfo; b: TensorInfo };
    backend: KernelBackend;
    attrs: BatchMatMulAttrs;
  }): TensorInfo => {
    const { b } = args.inputs;
    const cachesB = !args.attrs.transposeA && !args.attrs.transposeB && b.dtype === 'float32';
    const seen = cachesB ? packedAs.get(b.dataId) : undefined;
    if (seen === undefined || seen === bKey(b)) {
      if (cachesB) packedAs.set(b.dataId, bKey(b));
      return native.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    const fresh = copyOf(args.backend, b);
    try {
      packedAs.set(fresh.dataId, bKey(fresh));
      return native.kernelFunc({
        ...args,
        inputs: { a: args.inputs.a, b: fresh },
      } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    } finally {
      args.backend.disposeData(fresh.dataId);
    }
  };
  const kernelFunc = (args: {
    inputs: { a: TensorInfo; b: TensorInfo };
    backend: KernelBackend;
    attrs: BatchMatMulAttrs;
  }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if (
      (!transposeA && !transposeB) ||
      a.shape.length !== 2 ||
      b.shape.length !== 2 ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32'
    ) {
      return nativeProduct(args);
    }
    return withKernelScope(backend, 'wasm', (s) => {
      const t = (x: TensorInfo) => s.run('Transpose', { x }, { perm: [1, 0] });
      const mm = (x: TensorInfo, y: TensorInfo) =>
        s.adopt(
          nativeProduct({
            inputs: { a: x, b: y },
            backend,
            attrs: { transposeA: false, transposeB: false } as BatchMatMulAttrs,
          }),
        );
      if (transposeA && !transposeB) return mm(t(a), b);
      // With Bᵀ involved, pack whichever operand is smaller: B itself (transposed) or A.
      const packB = size(b) <= size(a);
      if (!transposeA) return packB ? mm(a, t(b)) : t(mm(b, t(a)));
      return packB ? mm(t(a), t(b)) : t(mm(b, a));
    });
  };
  return wrapNative(native, kernelFunc);
}
