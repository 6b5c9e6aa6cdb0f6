/**
 * Gradient rules of operators that move or reduce values without arithmetic on them: reshapes,
 * transposes, broadcasts, concatenation and the Reduce* family.
 */
import { attrInt, attrInts, reduceAxes, reducedShape } from './autodiff-shapes.ts';
import { normAxis, numel } from './grad-context.ts';
import type { GradRule, RuleTable } from './grad-context.ts';
import type { OnnxNode } from './graph.ts';

export const SHAPE_RULES: RuleTable = {
  Flatten: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!))],
  Reshape: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Squeeze: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Unsqueeze: (n) => (c, d) => [c.reshape(d[0]!, c.shape(n.inputs[0]!)), undefined],
  Transpose: (n) => (c, d) => {
    const rank = c.shape(n.inputs[0]!).length;
    const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [c.op('Transpose', [d[0]!], { perm: inv })];
  },
  Expand: (n) => (c, d) => [c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)), undefined],
  // Each input's gradient is its slice of dY along the concatenation axis.
  Concat: (n) => (c, d, want) => {
    const rank = c.shape(n.inputs[0]!).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    let start = 0;
    return n.inputs.map((v, i) => {
      const size = c.shape(v)[axis]!;
      const begin = start;
      start += size;
      return want[i] ? c.op('Slice', [d[0]!, c.ints([begin]), c.ints([begin + size]), c.ints([axis])]) : undefined;
    });
  },
  ReduceSum: reduceRule,
  ReduceMean: reduceRule,
};

function reduceRule(n: OnnxNode): GradRule {
  return (c, d) => {
    const x = n.inputs[0]!;
    const xs = c.shape(x);
    const axes0 = reduceAxes(c.graph, n);
    const empty = !axes0 || axes0.length === 0;
    if (empty && attrInt(n, 'noop_with_empty_axes', 0) === 1) return [d[0], undefined];
    const axes = empty ? xs.map((_, i) => i) : axes0.map((a) => normAxis(a, xs.length));
    const kept = reducedShape(xs, axes, true);
    let g = c.reshape(d[0]!, kept);
    if (n.op === 'ReduceMean') g = c.mul(g, c.scalar(1 / numel(axes.map((a) => xs[a]!))));
    return [c.expand(g, xs), undefined];
  };
}
