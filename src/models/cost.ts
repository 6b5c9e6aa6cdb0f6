/**
 * Arithmetic a network costs: multiply-adds of its convolutions and dense layers per example (the
 * figure papers quote; element-wise layers are left out), and the floating-point operations of a
 * training or inference step derived from it.
 */
import type { GraphNode, ModelGraph } from './ir.ts';

/** Multiply-adds of one node for one example: conv `O·H′·W′·(I/groups)·kh·kw`, dense `in·out`, else 0. */
export function nodeMultiplyAdds(node: GraphNode): number {
  const w = node.params.find((p) => p.name.endsWith('.weight'));
  if (!w) return 0;
  const size = w.shape.reduce((a, b) => a * b, 1);
  // Conv weights are [O, I/groups, kh, kw]: every output value is (I/groups)·kh·kw multiply-adds.
  if (node.spec.kind === 'conv') return size * node.outShape.slice(1).reduce((a, b) => a * b, 1);
  if (node.spec.kind === 'dense') return size;
  return 0;
}

/** Multiply-adds of one example's forward pass through the conv (grouped ones included) and dense nodes. */
export function multiplyAdds(model: ModelGraph): number {
  return model.nodes.reduce((a, n) => a + nodeMultiplyAdds(n), 0);
}

/**
 * Floating-point operations per example: an inference step is the forward pass (2 per multiply-add),
 * a training step the forward pass, the input gradient and the weight gradient (3× the forward).
 */
export function flopsPerExample(model: ModelGraph, mode: 'train' | 'infer'): number {
  return 2 * multiplyAdds(model) * (mode === 'train' ? 3 : 1);
}
