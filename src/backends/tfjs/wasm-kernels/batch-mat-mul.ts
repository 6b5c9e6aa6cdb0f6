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
 * product, goes to the native kernel unchanged.
 */
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { withKernelScope } from './kernel-scope.ts';

const size = (t: TensorInfo) => t.shape.reduce((p, v) => p * v, 1);

/** A `BatchMatMul` kernel for wasm that rewrites transposed rank-2 products onto `native`. */
export function makeBatchMatMulConfig(native: KernelConfig): KernelConfig {
  const kernelFunc = (args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: KernelBackend; attrs: BatchMatMulAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if ((!transposeA && !transposeB) || a.shape.length !== 2 || b.shape.length !== 2 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return native.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    return withKernelScope(backend, 'wasm', (s) => {
      const t = (x: TensorInfo) => s.run('Transpose', { x }, { perm: [1, 0] });
      const mm = (x: TensorInfo, y: TensorInfo) => s.runConfig(native, { a: x, b: y }, { transposeA: false, transposeB: false });
      if (transposeA && !transposeB) return mm(t(a), b);
      // With Bᵀ involved, pack whichever operand is smaller: B itself (transposed) or A.
      const packB = size(b) <= size(a);
      if (!transposeA) return packB ? mm(a, t(b)) : t(mm(b, t(a)));
      return packB ? mm(t(a), t(b)) : t(mm(b, a));
    });
  };
  return { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}
