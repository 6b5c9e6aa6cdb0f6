/**
 * Gradient checks for every rule of the ONNX autodiff: analytic gradients (ORT CPU, float32) against
 * float64 central differences of the reference interpreter, on small random shapes including the
 * padding / stride cases VGG and its variants hit.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { checkGradients, formatGradTable } from '../../src/backends/onnxruntime/autodiff-check.ts';
import type { GradCheckCase, GradCheckRow } from '../../src/backends/onnxruntime/autodiff-check.ts';
import { appendGradients } from '../../src/backends/onnxruntime/autodiff.ts';
import { refTensor, runReference } from '../../src/backends/onnxruntime/autodiff-reference.ts';
import type { RefTensor } from '../../src/backends/onnxruntime/autodiff-reference.ts';
import { OnnxGraph } from '../../src/backends/onnxruntime/graph.ts';
import type { AttrValue } from '../../src/backends/onnxruntime/graph.ts';
import { appendSoftmaxCrossEntropy } from '../../src/backends/onnxruntime/train-loss.ts';
import { uniformStream } from '../../src/models/init.ts';

const rng = uniformStream(20240601);
const randn = (shape: number[], scale = 1): RefTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return refTensor(
    shape,
    Array.from({ length: n }, () => {
      const u = Math.max(rng(), 1e-12);
      return scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
    }),
  );
};

/** Loss = Σ y ⊙ R with a fixed random R, so the upstream gradient is random rather than uniform. */
function projectionLoss(g: OnnxGraph, y: string, shape: number[]): string {
  const r = randn(shape);
  const rName = g.floats(Float32Array.from(r.data), shape, 'proj');
  return g.op('ReduceSum', [g.op('Mul', [y, rName]), g.ints(shape.map((_, i) => i))], { keepdims: 0 });
}

function convCase(
  name: string,
  x: number[],
  w: number[],
  attrs: Record<string, AttrValue>,
  outShape: number[],
  bias: boolean,
): GradCheckCase {
  return {
    name,
    feeds: { x: randn(x), w: randn(w, 0.5), ...(bias ? { b: randn([w[0]!]) } : {}) },
    build(g) {
      g.input('x', 'float32', x);
      g.input('w', 'float32', w);
      if (bias) g.input('b', 'float32', [w[0]!]);
      const y = g.op('Conv', bias ? ['x', 'w', 'b'] : ['x', 'w'], { kernel_shape: w.slice(2), ...attrs });
      return { loss: projectionLoss(g, y, outShape), wrt: bias ? ['x', 'w', 'b'] : ['x', 'w'] };
    },
  };
}

/** Values whose gradient is exactly zero by construction (a conv bias followed by batch norm). */
const ZERO_GRAD = new Set(['tiny net conv-bn-relu-pool-fc-CE/b1']);

const cases: GradCheckCase[] = [
  convCase('conv 3x3 pad1 stride1 +bias', [2, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, [2, 4, 5, 5], true),
  convCase(
    'conv 3x3 pad1 stride2 odd',
    [2, 3, 7, 8],
    [4, 3, 3, 3],
    { pads: [1, 1, 1, 1], strides: [2, 2] },
    [2, 4, 4, 4],
    true,
  ),
  convCase('conv 3x3 valid stride2', [1, 2, 8, 8], [3, 2, 3, 3], { strides: [2, 2] }, [1, 3, 3, 3], false),
  convCase('conv 1x1', [2, 3, 4, 4], [5, 3, 1, 1], {}, [2, 5, 4, 4], false),
  convCase(
    'conv 3x3 asym pads s2 dil',
    [1, 2, 9, 7],
    [2, 2, 3, 3],
    { pads: [1, 0, 0, 1], strides: [2, 2], dilations: [1, 2] },
    [1, 2, 4, 2],
    true,
  ),
  convCase(
    'conv 3x3 dil2 pad2 stride1',
    [1, 2, 6, 7],
    [3, 2, 3, 3],
    { pads: [2, 2, 2, 2], dilations: [2, 2] },
    [1, 3, 6, 7],
    true,
  ),
  convCase('conv 5x5 pad2 (conv dW path)', [2, 2, 6, 6], [3, 2, 5, 5], { pads: [2, 2, 2, 2] }, [2, 3, 6, 6], true),
  convCase(
    'conv 5x5 pad1 stride2 (conv dW)',
    [1, 2, 9, 8],
    [2, 2, 5, 5],
    { pads: [1, 1, 1, 1], strides: [2, 2] },
    [1, 2, 4, 3],
    false,
  ),
  convCase(
    'conv 3x3 auto_pad SAME_UPPER',
    [1, 2, 6, 6],
    [3, 2, 3, 3],
    { auto_pad: 'SAME_UPPER', strides: [2, 2] },
    [1, 3, 3, 3],
    true,
  ),
  convCase('conv grouped 3x3 g2', [2, 4, 5, 5], [6, 2, 3, 3], { pads: [1, 1, 1, 1], group: 2 }, [2, 6, 5, 5], true),
  convCase('conv depthwise 3x3', [2, 3, 5, 6], [3, 1, 3, 3], { pads: [1, 1, 1, 1], group: 3 }, [2, 3, 5, 6], true),
  convCase(
    'conv depthwise 3x3 stride2',
    [2, 3, 7, 6],
    [3, 1, 3, 3],
    { pads: [1, 1, 1, 1], strides: [2, 2], group: 3 },
    [2, 3, 4, 3],
    false,
  ),
  convCase(
    'conv depthwise x2 dil2',
    [1, 2, 7, 7],
    [4, 1, 3, 3],
    { pads: [2, 2, 2, 2], dilations: [2, 2], group: 2 },
    [1, 4, 7, 7],
    true,
  ),
  {
    name: 'clip [0, 6] (relu6)',
    feeds: { x: randn([3, 8], 5) },
    build(g) {
      g.input('x', 'float32', [3, 8]);
      const y = g.op('Clip', ['x', g.floats([0], []), g.floats([6], [])]);
      return { loss: projectionLoss(g, y, [3, 8]), wrt: ['x'] };
    },
  },
  {
    name: 'averagepool 2x2 stride2',
    feeds: { x: randn([2, 3, 4, 5]) },
    build(g) {
      g.input('x', 'float32', [2, 3, 4, 5]);
      const y = g.op('AveragePool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] });
      return { loss: projectionLoss(g, y, [2, 3, 2, 2]), wrt: ['x'] };
    },
  },
  {
    name: 'averagepool 3x3 stride1 pad1 (overlapping, pads not counted)',
    feeds: { x: randn([1, 2, 5, 4]) },
    build(g) {
      g.input('x', 'float32', [1, 2, 5, 4]);
      const y = g.op('AveragePool', ['x'], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
      return { loss: projectionLoss(g, y, [1, 2, 5, 4]), wrt: ['x'] };
    },
  },
  {
    name: 'averagepool 3x3 stride2 pad1 count_include_pad',
    feeds: { x: randn([1, 2, 6, 5]) },
    build(g) {
      g.input('x', 'float32', [1, 2, 6, 5]);
      const y = g.op('AveragePool', ['x'], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        count_include_pad: 1,
      });
      return { loss: projectionLoss(g, y, [1, 2, 3, 3]), wrt: ['x'] };
    },
  },
  {
    name: 'global average pool',
    feeds: { x: randn([2, 3, 3, 4]) },
    build(g) {
      g.input('x', 'float32', [2, 3, 3, 4]);
      return { loss: projectionLoss(g, g.op('GlobalAveragePool', ['x']), [2, 3, 1, 1]), wrt: ['x'] };
    },
  },
  {
    name: 'concat (channels) of a shared value',
    feeds: { a: randn([2, 2, 3, 3]), b: randn([2, 3, 3, 3]) },
    build(g) {
      g.input('a', 'float32', [2, 2, 3, 3]);
      g.input('b', 'float32', [2, 3, 3, 3]);
      const y = g.op('Concat', ['a', g.op('Relu', ['b']), 'a'], { axis: 1 });
      return { loss: projectionLoss(g, y, [2, 7, 3, 3]), wrt: ['a', 'b'] };
    },
  },
  {
    name: 'option-A shortcut: 1x1 stride-2 average pool, Pad on channels',
    feeds: { x: randn([2, 2, 5, 5]) },
    build(g) {
      g.input('x', 'float32', [2, 2, 5, 5]);
      const sub = g.op('AveragePool', ['x'], { kernel_shape: [1, 1], strides: [2, 2] });
      const y = g.op('Pad', [sub, g.ints([0, 1, 0, 0, 0, 2, 0, 0])]);
      return { loss: projectionLoss(g, y, [2, 5, 3, 3]), wrt: ['x'] };
    },
  },
  {
    name: 'residual block: conv-bn-relu-conv-bn + shortcut, relu',
    maxElems: 60,
    feeds: {
      x: randn([3, 2, 4, 4]),
      w1: randn([2, 2, 3, 3], 0.5),
      w2: randn([2, 2, 3, 3], 0.5),
      g1: randn([2]),
      b1: randn([2]),
      g2: randn([2]),
      b2: randn([2]),
      m: refTensor([2], [0, 0]),
      v: refTensor([2], [1, 1]),
    },
    build(g) {
      g.input('x', 'float32', [3, 2, 4, 4]);
      for (const p of ['w1', 'w2']) g.input(p, 'float32', [2, 2, 3, 3]);
      for (const p of ['g1', 'b1', 'g2', 'b2', 'm', 'v']) g.input(p, 'float32', [2]);
      const conv = (x: string, w: string) => g.op('Conv', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
      const bn = (x: string, gm: string, bt: string) =>
        g.node('BatchNormalization', [x, gm, bt, 'm', 'v'], 3, { training_mode: 1 })[0]!;
      const h = g.op('Relu', [bn(conv('x', 'w1'), 'g1', 'b1')]);
      const y = g.op('Relu', [g.op('Add', [bn(conv(h, 'w2'), 'g2', 'b2'), 'x'])]);
      return { loss: projectionLoss(g, y, [3, 2, 4, 4]), wrt: ['x', 'w1', 'w2', 'g1', 'b1', 'g2', 'b2'] };
    },
  },
  {
    name: 'relu',
    feeds: { x: randn([3, 7]) },
    build(g) {
      g.input('x', 'float32', [3, 7]);
      return { loss: projectionLoss(g, g.op('Relu', ['x']), [3, 7]), wrt: ['x'] };
    },
  },
  {
    name: 'maxpool 2x2',
    feeds: { x: randn([2, 3, 4, 6]) },
    build(g) {
      g.input('x', 'float32', [2, 3, 4, 6]);
      const y = g.op('MaxPool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] });
      return { loss: projectionLoss(g, y, [2, 3, 2, 3]), wrt: ['x'] };
    },
  },
  {
    name: 'maxpool 2x2 odd (floor crop)',
    feeds: { x: randn([1, 2, 5, 7]) },
    build(g) {
      g.input('x', 'float32', [1, 2, 5, 7]);
      const y = g.op('MaxPool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] });
      return { loss: projectionLoss(g, y, [1, 2, 2, 3]), wrt: ['x'] };
    },
  },
  {
    name: 'maxpool 3x3 stride3',
    feeds: { x: randn([1, 2, 6, 6]) },
    build(g) {
      g.input('x', 'float32', [1, 2, 6, 6]);
      const y = g.op('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [3, 3] });
      return { loss: projectionLoss(g, y, [1, 2, 2, 2]), wrt: ['x'] };
    },
  },
  {
    name: 'batchnorm train',
    feeds: {
      x: randn([4, 3, 3, 3], 2),
      gamma: randn([3]),
      beta: randn([3]),
      rm: randn([3]),
      rv: refTensor([3], [0.5, 1, 2]),
    },
    build(g) {
      g.input('x', 'float32', [4, 3, 3, 3]);
      for (const p of ['gamma', 'beta', 'rm', 'rv']) g.input(p, 'float32', [3]);
      const [y] = g.node('BatchNormalization', ['x', 'gamma', 'beta', 'rm', 'rv'], ['y', 'rm_new', 'rv_new'], {
        training_mode: 1,
        epsilon: 1e-5,
        momentum: 0.9,
      });
      return { loss: projectionLoss(g, y!, [4, 3, 3, 3]), wrt: ['x', 'gamma', 'beta'] };
    },
  },
  {
    name: 'batchnorm train (dense [N,C])',
    feeds: { x: randn([6, 4]), gamma: randn([4]), beta: randn([4]), rm: randn([4]), rv: refTensor([4], [1, 1, 1, 1]) },
    build(g) {
      g.input('x', 'float32', [6, 4]);
      for (const p of ['gamma', 'beta', 'rm', 'rv']) g.input(p, 'float32', [4]);
      const [y] = g.node('BatchNormalization', ['x', 'gamma', 'beta', 'rm', 'rv'], ['y', 'rm_new', 'rv_new'], {
        training_mode: 1,
      });
      return { loss: projectionLoss(g, y!, [6, 4]), wrt: ['x', 'gamma', 'beta'] };
    },
  },
  ...(
    [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ] as const
  ).map(
    ([ta, tb]): GradCheckCase => ({
      name: `gemm transA=${ta} transB=${tb} alpha`,
      feeds: { a: randn(ta ? [5, 4] : [4, 5]), b: randn(tb ? [3, 5] : [5, 3]), c: randn([3]) },
      build(g) {
        g.input('a', 'float32', ta ? [5, 4] : [4, 5]);
        g.input('b', 'float32', tb ? [3, 5] : [5, 3]);
        g.input('c', 'float32', [3]);
        const y = g.op('Gemm', ['a', 'b', 'c'], {
          transA: ta,
          transB: tb,
          alpha: { float: 0.7 },
          beta: { float: 1.3 },
        });
        return { loss: projectionLoss(g, y, [4, 3]), wrt: ['a', 'b', 'c'] };
      },
    }),
  ),
  {
    name: 'matmul + add (broadcast bias)',
    feeds: { a: randn([4, 5]), b: randn([5, 3]), c: randn([3]) },
    build(g) {
      g.input('a', 'float32', [4, 5]);
      g.input('b', 'float32', [5, 3]);
      g.input('c', 'float32', [3]);
      const y = g.op('Add', [g.op('MatMul', ['a', 'b']), 'c']);
      return { loss: projectionLoss(g, y, [4, 3]), wrt: ['a', 'b', 'c'] };
    },
  },
  {
    name: 'flatten + reshape + gemm',
    feeds: { x: randn([2, 3, 2, 2]), w: randn([12, 4]) },
    build(g) {
      g.input('x', 'float32', [2, 3, 2, 2]);
      g.input('w', 'float32', [12, 4]);
      const f = g.op('Flatten', ['x'], { axis: 1 });
      const r = g.op('Reshape', [g.op('Reshape', [f, g.ints([2, 3, 4])]), g.ints([2, -1])]);
      return { loss: projectionLoss(g, g.op('Gemm', [r, 'w']), [2, 4]), wrt: ['x', 'w'] };
    },
  },
  {
    name: 'add/sub/mul/div reuse (sum of grads)',
    feeds: { x: randn([3, 4]), b: randn([1, 4]) },
    build(g) {
      g.input('x', 'float32', [3, 4]);
      g.input('b', 'float32', [1, 4]);
      const t = g.op('Mul', ['x', 'x']);
      const u = g.op('Sub', [g.op('Add', [t, 'b']), g.op('Mul', ['x', 'b'])]);
      const d = g.op('Div', [u, g.op('Add', [g.op('Mul', ['b', 'b']), g.floats([1], [])])]);
      return { loss: projectionLoss(g, g.op('Relu', [d]), [3, 4]), wrt: ['x', 'b'] };
    },
  },
  {
    name: 'dropout train (mask from fwd)',
    feeds: { x: randn([4, 6]) },
    build(g) {
      g.input('x', 'float32', [4, 6]);
      const ratio = g.floats([0.3], []);
      const mode = g.constant('train_mode', { type: 'bool', dims: [], data: [true] });
      const y = g.node('Dropout', ['x', ratio, mode], 1, { seed: 7 })[0]!;
      return { loss: projectionLoss(g, y, [4, 6]), wrt: ['x'] };
    },
  },
  {
    name: 'softmax cross-entropy',
    feeds: { logits: randn([5, 4], 2), labels: refTensor([5], [0, 3, 1, 1, 2]) },
    build(g) {
      g.input('logits', 'float32', [5, 4]);
      g.input('labels', 'int32', [5]);
      const { loss } = appendSoftmaxCrossEntropy(g, 'logits', 'labels', { batch: 5, numClasses: 4 });
      return { loss, wrt: ['logits'] };
    },
  },
  {
    name: 'softmax (projection)',
    feeds: { x: randn([3, 5]) },
    build(g) {
      g.input('x', 'float32', [3, 5]);
      return { loss: projectionLoss(g, g.op('Softmax', ['x'], { axis: 1 }), [3, 5]), wrt: ['x'] };
    },
  },
  {
    name: 'tiny net conv-bn-relu-pool-fc-CE',
    maxElems: 60,
    feeds: {
      x: randn([4, 2, 6, 6]),
      w1: randn([3, 2, 3, 3], 0.5),
      b1: randn([3]),
      g1: randn([3]),
      be1: randn([3]),
      m1: randn([3]),
      v1: refTensor([3], [1, 1, 1]),
      w2: randn([27, 5], 0.3),
      b2: randn([5]),
      labels: refTensor([4], [0, 4, 2, 2]),
    },
    build(g) {
      g.input('x', 'float32', [4, 2, 6, 6]);
      g.input('w1', 'float32', [3, 2, 3, 3]);
      for (const p of ['b1', 'g1', 'be1', 'm1', 'v1']) g.input(p, 'float32', [3]);
      g.input('w2', 'float32', [27, 5]);
      g.input('b2', 'float32', [5]);
      g.input('labels', 'int32', [4]);
      const c = g.op('Conv', ['x', 'w1', 'b1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
      const [bn] = g.node('BatchNormalization', [c, 'g1', 'be1', 'm1', 'v1'], 3, { training_mode: 1 });
      const p = g.op('MaxPool', [g.op('Relu', [bn!])], { kernel_shape: [2, 2], strides: [2, 2] });
      const logits = g.op('Gemm', [g.op('Flatten', [p]), 'w2', 'b2']);
      const { loss } = appendSoftmaxCrossEntropy(g, logits, 'labels', { batch: 4, numClasses: 5 });
      return { loss, wrt: ['x', 'w1', 'b1', 'g1', 'be1', 'w2', 'b2'] };
    },
  },
];

const table: GradCheckRow[] = [];
afterAll(() => {
  console.log(
    `gradient checks: ORT CPU float32 analytic vs float64 central differences (eps 1e-6)\n${formatGradTable(table)}`,
  );
});

describe('autodiff gradient rules', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { rows, loss } = await checkGradients(ort, c);
      table.push(...rows);
      // The float32 forward agrees with the float64 reference.
      expect(Math.abs(loss.ort - loss.ref)).toBeLessThan(1e-4 * Math.max(1, Math.abs(loss.ref)));
      for (const r of rows) {
        if (ZERO_GRAD.has(`${c.name}/${r.value}`)) {
          // Batch norm subtracts the batch mean, so a bias before it has no effect on the loss.
          expect(r.scale).toBeLessThan(1e-9);
          expect(r.maxAbsErr, `${c.name} d/d${r.value} should vanish`).toBeLessThan(1e-5);
          continue;
        }
        expect(r.scale, `${r.value}: finite differences are all zero`).toBeGreaterThan(1e-3);
        expect(r.relErr, `${c.name} d/d${r.value}`).toBeLessThan(1e-3);
      }
    });
  }
});

describe('autodiff special cases', () => {
  it('maxpool ties send the gradient to the first maximum of the window (row-major)', async () => {
    const g = new OnnxGraph('ties');
    g.input('x', 'float32', [1, 1, 4, 4]);
    const y = g.op('MaxPool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] });
    const proj = g.floats([1, 2, 3, 4], [1, 1, 2, 2]);
    const loss = g.op('ReduceSum', [g.op('Mul', [y, proj]), g.ints([0, 1, 2, 3])], { keepdims: 0 });
    const { grads } = appendGradients(g, loss, ['x']);
    g.output(grads.x!, 'float32', [1, 1, 4, 4]);
    // windows: all equal; tie on the second row; tie on the right column; single max last.
    const x = Float32Array.from([5, 5, 1, 7, 5, 5, 0, 7, 0, 0, 3, 2, 9, 9, 1, 4]);
    const s = await ort.InferenceSession.create(g.toModelBytes());
    const out = await s.run({ x: new ort.Tensor('float32', x, [1, 1, 4, 4]) });
    await s.release();
    expect(Array.from(out[grads.x!]!.data as Float32Array)).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 4]);
  });

  it('lowered training-mode batch norm updates the running statistics as ONNX defines', async () => {
    const g = new OnnxGraph('bn-stats');
    g.input('x', 'float32', [3, 2, 2, 2]);
    for (const p of ['gamma', 'beta', 'rm', 'rv']) g.input(p, 'float32', [2]);
    g.node('BatchNormalization', ['x', 'gamma', 'beta', 'rm', 'rv'], ['y', 'rm_new', 'rv_new'], {
      training_mode: 1,
      momentum: 0.8,
      epsilon: 1e-3,
    });
    const ref = new OnnxGraph('bn-stats-ref');
    ref.nodes.push(...g.nodes.map((n) => ({ ...n })));
    const loss = g.op('ReduceSum', [g.op('Mul', ['y', 'y']), g.ints([0, 1, 2, 3])], { keepdims: 0 });
    appendGradients(g, loss, ['x']);
    for (const o of ['y', 'rm_new', 'rv_new']) g.output(o, 'float32', o === 'y' ? [3, 2, 2, 2] : [2]);
    expect(g.nodes.some((n) => n.op === 'BatchNormalization')).toBe(false);
    const feeds = {
      x: randn([3, 2, 2, 2], 3),
      gamma: randn([2]),
      beta: randn([2]),
      rm: randn([2]),
      rv: refTensor([2], [0.5, 2]),
    };
    const s = await ort.InferenceSession.create(g.toModelBytes());
    const ortFeeds = Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', Float32Array.from(t.data), t.shape)]),
    );
    const out = await s.run(ortFeeds);
    await s.release();
    const rounded = Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [
        k,
        { shape: t.shape, data: Float64Array.from(Float32Array.from(t.data)) },
      ]),
    );
    const expected = runReference(ref, rounded);
    for (const o of ['y', 'rm_new', 'rv_new']) {
      const got = out[o]!.data as Float32Array;
      const want = expected.get(o)!.data;
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 4);
      });
    }
  });
});
