/**
 * Arithmetic a network costs: multiply-adds of its convolutions and dense layers per example (the
 * figure papers quote; element-wise layers are left out), and the floating-point operations of a
 * training or inference step derived from it.
 */
import type { ModelGraph } from './ir.ts';

/** Multiply-adds of one example's forward pass through the conv (grouped ones included) and dense nodes. */
export function multiplyAdds(model: ModelGraph): number {
  let total = 0;
  for (const l of model.nodes) {
    const w = l.params.find((p) => p.name.endsWith('.weight'));
    if (!w) continue;
    const outPositions = l.outShape.slice(1).reduce((a, b) => a * b, 1);
    if (l.spec.kind === 'conv') {
      // [O, I/groups, kh, kw]: every output value is (I/groups)·kh·kw multiply-adds.
      const [O, I, kh, kw] = w.shape as [number, number, number, number];
      total += O * outPositions * I * kh * kw;
    } else if (l.spec.kind === 'dense') {
      total += w.shape.reduce((a, b) => a * b, 1);
    }
  }
  return total;
}

/**
 * Floating-point operations per example: an inference step is the forward pass (2 per multiply-add),
 * a training step the forward pass, the input gradient and the weight gradient (3× the forward).
 */
export function flopsPerExample(model: ModelGraph, mode: 'train' | 'infer'): number {
  return 2 * multiplyAdds(model) * (mode === 'train' ? 3 : 1);
}
