/**
 * Gradient formulations chosen for speed never change what is trained: the conv filter-gradient
 * formulations (`gemm`, the default, and `conv`) give the same gradients on a model with a strided and
 * a padded convolution and a pool, and both max-pool formulations (`mask`, `unpool`) send each window's
 * gradient to its first maximum in row-major order, ties and floor-mode crops included.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { appendGradients, type Formulation, type MaxPoolGrad } from '../../src/backends/onnxruntime/autodiff.ts';
import { OnnxGraph } from '../../src/backends/onnxruntime/graph.ts';
import { buildGradientGraph } from '../../src/backends/onnxruntime/train-graph.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';

const model = buildModelGraph(
  {
    arch: 'custom',
    width: 1,
    batchNorm: false,
    classifier: [5],
    dropout: 0,
    layers: [
      { kind: 'conv', filters: 3, stride: 2 },
      { kind: 'relu' },
      { kind: 'conv', filters: 4, kernel: 3, padding: 'same' },
      { kind: 'relu' },
      { kind: 'maxpool' },
    ],
  },
  { channels: 2, height: 7, width: 7 },
  3,
);

async function grads(formulation: Formulation): Promise<Record<string, Float32Array>> {
  const B = 3;
  const g = buildGradientGraph(model, { batch: B, formulation });
  const s = await ort.InferenceSession.create(g.bytes);
  const rnd = uniformStream(11);
  const w = initWeights(model, 4);
  const feeds: Record<string, ort.Tensor> = {
    [g.inputs.x]: new ort.Tensor(
      'float32',
      Float32Array.from({ length: B * 2 * 7 * 7 }, () => rnd() * 2 - 1),
      [B, 2, 7, 7],
    ),
    [g.inputs.labels]: new ort.Tensor('int32', Int32Array.from([0, 2, 1]), [B]),
  };
  for (const p of model.params) feeds[g.inputs.params[p.name]!] = new ort.Tensor('float32', w[p.name]!.data, p.shape);
  const out = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(g.outputs.grads).map(([p, v]) => [p, out[v]!.data as Float32Array]));
}

function expectClose(a: Record<string, Float32Array>, b: Record<string, Float32Array>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const p of Object.keys(a)) {
    const scale = Math.max(...Array.from(a[p]!, Math.abs));
    expect(scale, p).toBeGreaterThan(0);
    for (let i = 0; i < a[p]!.length; i++) expect(Math.abs(a[p]![i]! - b[p]![i]!)).toBeLessThanOrEqual(1e-5 * scale);
  }
}

/** Operator types of the gradient graph built with `formulation`. */
function ops(formulation: Formulation): Set<string> {
  return new Set(buildGradientGraph(model, { batch: 3, formulation }).graph.nodes.map((n) => n.op));
}

describe('formulations of a whole model', () => {
  it('are the graphs they say (so agreeing below is not two copies of one)', () => {
    expect(ops({ convFilterGrad: 'gemm' }).has('Concat')).toBe(true);
    expect(ops({ convFilterGrad: 'conv', maxPoolGrad: 'unpool' }).has('Concat')).toBe(false);
    expect(ops({ maxPoolGrad: 'unpool' }).has('MaxUnpool')).toBe(true);
    expect(ops({ maxPoolGrad: 'mask' }).has('MaxUnpool')).toBe(false);
  });
  it('conv filter gradients agree', async () => {
    expectClose(await grads({ convFilterGrad: 'gemm' }), await grads({ convFilterGrad: 'conv' }));
  });
  it('max-pool gradients agree', async () => {
    expectClose(await grads({ maxPoolGrad: 'mask' }), await grads({ maxPoolGrad: 'unpool' }));
  });
});

/** dL/dx of L = Σ MaxPool(x) · proj on one image, with the given pool formulation. */
async function poolGrad(how: MaxPoolGrad, side: number, k: number, x: number[]): Promise<number[]> {
  const g = new OnnxGraph('pool');
  g.input('x', 'float32', [1, 1, side, side]);
  const y = g.op('MaxPool', ['x'], { kernel_shape: [k, k], strides: [k, k] });
  const o = Math.floor(side / k);
  const proj = g.floats(
    Array.from({ length: o * o }, (_, i) => i + 1),
    [1, 1, o, o],
  );
  const loss = g.op('ReduceSum', [g.op('Mul', [y, proj]), g.ints([0, 1, 2, 3])], { keepdims: 0 });
  const { grads } = appendGradients(g, loss, ['x'], { formulation: { maxPoolGrad: how } });
  g.output(grads.x!, 'float32', [1, 1, side, side]);
  const s = await ort.InferenceSession.create(g.toModelBytes());
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x), [1, 1, side, side]) });
  await s.release();
  return Array.from(out[grads.x!]!.data as Float32Array);
}

/** The expected dL/dx: window (a, b) sends proj = a·o + b + 1 to its first maximum in row-major order. */
function firstMaxGrad(x: number[], side: number, k: number): number[] {
  const o = Math.floor(side / k);
  const dx = new Array<number>(side * side).fill(0);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < o; b++) {
      let best = -1;
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          const at = (a * k + i) * side + b * k + j;
          if (best < 0 || x[at]! > x[best]!) best = at;
        }
      dx[best] = a * o + b + 1;
    }
  return dx;
}

describe.each(['mask', 'unpool'] as const)('max-pool gradient by %s', (how) => {
  it('goes to the first maximum of each window, and nowhere a floor-mode pool never read', async () => {
    // 5×5, 2×2 windows: all equal; tie on the second row; tie on the right column; single max last;
    // row 4 and column 4 (all 9s, above every window's maximum) are never read.
    const x = [5, 5, 1, 7, 9, 5, 5, 0, 7, 9, 0, 0, 3, 2, 9, 1, 2, 1, 4, 9, 9, 9, 9, 9, 9];
    const want = firstMaxGrad(x, 5, 2);
    expect(want.filter((v) => v !== 0)).toHaveLength(4);
    expect(want.slice(20).every((v) => v === 0)).toBe(true);
    expect(await poolGrad(how, 5, 2, x)).toEqual(want);
  });
  it('handles 3×3 windows with ties', async () => {
    const x = Array.from({ length: 36 }, (_, i) => [7, 3, 7, 1][i % 4]!);
    expect(await poolGrad(how, 6, 3, x)).toEqual(firstMaxGrad(x, 6, 3));
  });
});
