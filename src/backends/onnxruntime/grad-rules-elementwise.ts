/**
 * Gradient rules of elementwise operators and activations (arithmetic with broadcasting, ReLU, Clip as
 * ReLU6, exponentials, softmax, Where, Cast, Dropout).
 */
import { ModelError } from '../../errors.ts';
import { attrInt, constFloats, constInts } from './autodiff-shapes.ts';
import { normAxis } from './grad-context.ts';
import type { RuleTable } from './grad-context.ts';

export const ELEMENTWISE_RULES: RuleTable = {
  Identity: () => (_c, d) => [d[0]],
  Add: (n) => (c, d) => [c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)), c.unbroadcast(d[0]!, c.shape(n.inputs[1]!))],
  Sub: (n) => (c, d, want) => [
    c.unbroadcast(d[0]!, c.shape(n.inputs[0]!)),
    want[1] ? c.unbroadcast(c.op('Neg', [d[0]!]), c.shape(n.inputs[1]!)) : undefined,
  ],
  Mul: (n) => (c, d, want) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    return [
      want[0] ? c.unbroadcast(c.mul(d[0]!, b), c.shape(a)) : undefined,
      want[1] ? c.unbroadcast(c.mul(d[0]!, a), c.shape(b)) : undefined,
    ];
  },
  Div: (n) => (c, d, want) => {
    const [a, b, y] = [n.inputs[0]!, n.inputs[1]!, n.outputs[0]!];
    return [
      want[0] ? c.unbroadcast(c.op('Div', [d[0]!, b]), c.shape(a)) : undefined,
      // d(a/b)/db = -y/b
      want[1] ? c.unbroadcast(c.op('Neg', [c.mul(d[0]!, c.op('Div', [y, b]))]), c.shape(b)) : undefined,
    ];
  },
  Sum: (n) => (c, d) => n.inputs.map((v) => c.unbroadcast(d[0]!, c.shape(v))),
  Neg: () => (c, d) => [c.op('Neg', [d[0]!])],
  // The mask reads the Relu's output (y > 0 ⟺ x > 0), so the forward input has no other consumer and
  // ORT can still fuse Conv + Relu.
  Relu: (n) => (c, d) => [c.op('Where', [c.op('Greater', [n.outputs[0]!, c.scalar(0)]), d[0]!, c.scalar(0)])],
  // Clip (ReLU6 is Clip to [0, 6]): the gradient passes where the output is strictly inside the
  // bounds, read from the output as Relu's rule does; min and max are constants, not differentiated.
  Clip: (n) => (c, d) => {
    const y = n.outputs[0]!;
    const lo = constFloats(c.graph, n.inputs[1]);
    const hi = constFloats(c.graph, n.inputs[2]);
    if ((n.inputs[1] && !lo) || (n.inputs[2] && !hi))
      throw new ModelError(
        `Clip node ${n.name}: min and max must be constants to differentiate. Hint: give them as initializers.`,
      );
    let g = d[0]!;
    if (hi) g = c.op('Where', [c.op('Less', [y, c.scalar(hi[0]!)]), g, c.scalar(0)]);
    if (lo) g = c.op('Where', [c.op('Greater', [y, c.scalar(lo[0]!)]), g, c.scalar(0)]);
    return [g, undefined, undefined];
  },
  Exp: (n) => (c, d) => [c.mul(d[0]!, n.outputs[0]!)],
  Log: (n) => (c, d) => [c.op('Div', [d[0]!, n.inputs[0]!])],
  Sqrt: (n) => (c, d) => [c.op('Div', [d[0]!, c.mul(n.outputs[0]!, c.scalar(2))])],
  Reciprocal: (n) => (c, d) => [c.op('Neg', [c.mul(d[0]!, c.mul(n.outputs[0]!, n.outputs[0]!))])],
  Pow: (n) => (c, d, want) => {
    const p = constFloats(c.graph, n.inputs[1]);
    if (p?.length !== 1)
      throw new ModelError(
        `Pow node ${n.name}: only a constant scalar exponent is differentiable. Hint: use Mul for squares.`,
      );
    if (want[1])
      throw new ModelError(
        `Pow node ${n.name}: the gradient with respect to the exponent is not supported. Hint: keep exponents constant.`,
      );
    const e = p[0]!;
    const base = n.inputs[0]!;
    const deriv = e === 2 ? c.mul(base, c.scalar(2)) : c.mul(c.op('Pow', [base, c.scalar(e - 1)]), c.scalar(e));
    return [c.mul(d[0]!, deriv), undefined];
  },
  Cast: () => (_c, d) => [d[0]],
  Where: (n) => (c, d, want) => {
    const cond = n.inputs[0]!;
    return [
      undefined,
      want[1] ? c.unbroadcast(c.op('Where', [cond, d[0]!, c.scalar(0)]), c.shape(n.inputs[1]!)) : undefined,
      want[2] ? c.unbroadcast(c.op('Where', [cond, c.scalar(0), d[0]!]), c.shape(n.inputs[2]!)) : undefined,
    ];
  },
  LogSoftmax: (n) => (c, d) => {
    const y = n.outputs[0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), c.shape(y).length);
    const s = c.op('ReduceSum', [d[0]!, c.ints([axis])], { keepdims: 1 });
    return [c.op('Sub', [d[0]!, c.mul(c.op('Exp', [y]), s)])];
  },
  Softmax: (n) => (c, d) => {
    const y = n.outputs[0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), c.shape(y).length);
    const s = c.op('ReduceSum', [c.mul(d[0]!, y), c.ints([axis])], { keepdims: 1 });
    return [c.mul(y, c.op('Sub', [d[0]!, s]))];
  },
  Dropout: (n) => (c, d) => {
    const modeInput = n.inputs[2] ?? '';
    const training = modeInput === '' ? [0] : constInts(c.graph, modeInput);
    if (!training)
      throw new ModelError(
        `Dropout node ${n.name}: training_mode is not a constant. Hint: build the training graph with a constant training_mode.`,
      );
    if (training[0] === 0) return [d[0], undefined, undefined];
    const ratio = constFloats(c.graph, n.inputs[1])?.[0] ?? 0.5;
    const mask = n.outputs[1];
    if (!mask)
      throw new ModelError(
        `Dropout node ${n.name}: no mask output to differentiate through. Hint: appendGradients adds one; do not strip it.`,
      );
    const scaled = ratio === 0 ? d[0]! : c.mul(d[0]!, c.scalar(1 / (1 - ratio)));
    return [c.op('Where', [mask, scaled, c.scalar(0)]), undefined, undefined];
  },
};
