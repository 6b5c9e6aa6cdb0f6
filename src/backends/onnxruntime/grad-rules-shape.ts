/**
 * Gradient rules of operators that move or reduce values without arithmetic on them: reshapes,
 * transposes, broadcasts, concatenation and the Reduce* family.
 */
import { ModelError } from '../../errors.ts';
import { attrInt, attrInts, constInts, reduceAxes, reducedShape } from './autodiff-shapes.ts';
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
  // Pad (constant mode, non-negative pads): the gradient is dY with the padding sliced off.
  Pad: (n) => (c, d) => {
    const xs = c.shape(n.inputs[0]!);
    const pads = constInts(c.graph, n.inputs[1]);
    const mode = n.attrs.mode;
    if (!pads || pads.some((p) => p < 0) || (mode !== undefined && mode !== 'constant') || (n.inputs[3] ?? '') !== '')
      throw new ModelError(
        `Pad node ${n.name}: only constant padding by non-negative constant amounts on all axes has a gradient rule. Hint: pad with constant zeros.`,
      );
    const axes = xs.map((_, i) => i).filter((i) => pads[i] !== 0 || pads[i + xs.length] !== 0);
    if (axes.length === 0) return [d[0], undefined, undefined];
    const starts = axes.map((i) => pads[i]!);
    const ends = axes.map((i) => pads[i]! + xs[i]!);
    return [c.op('Slice', [d[0]!, c.ints(starts), c.ints(ends), c.ints(axes)]), undefined, undefined];
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
