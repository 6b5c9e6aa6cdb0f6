/**
 * The conv filter-gradient formulations the benchmarks compare (`gemm`, the default, and `conv`) give
 * the same gradients on a model with a strided and a padded convolution, so choosing one for speed
 * never changes what is trained.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { ConvFilterGrad } from '../../src/backends/onnxruntime/autodiff.ts';
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
    ],
  },
  { channels: 2, height: 7, width: 7 },
  3,
);

async function grads(how: ConvFilterGrad): Promise<Record<string, Float32Array>> {
  const B = 3;
  const g = buildGradientGraph(model, { batch: B, formulation: { convFilterGrad: how } });
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

describe('conv filter-gradient formulations', () => {
  it('agree', async () => {
    const a = await grads('gemm');
    const b = await grads('conv');
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const p of Object.keys(a)) {
      const scale = Math.max(...Array.from(a[p]!, Math.abs));
      for (let i = 0; i < a[p]!.length; i++) expect(Math.abs(a[p]![i]! - b[p]![i]!)).toBeLessThanOrEqual(1e-5 * scale);
    }
  });
});
