/**
 * The device inference step's graph (infer-graph.ts), run on the CPU execution provider, which exists
 * everywhere: batch after batch fed its own outputs back, it must give the class ids the host-fed
 * session's logits give through `argmaxRows` (first index on ties), the padded last batch included.
 */
import type { Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { inferenceRows } from '../../src/backends/onnxruntime/device-infer.ts';
import { forwardModelBytes, INPUT_NAME, LOGITS_NAME } from '../../src/backends/onnxruntime/forward.ts';
import { buildDeviceInferGraph, type DeviceFigures } from '../../src/backends/onnxruntime/infer-graph.ts';
import { crossEntropySum, topKHits } from '../../src/stats/classification.ts';
import { argmaxRows } from '../../src/backends/onnxruntime/session.ts';
import { loadOrt, sessionOptions } from '../../src/backends/onnxruntime/runtime.ts';
import type { Weights } from '../../src/models/ir.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';

const S = 8;
const model = buildModelGraph(
  { arch: 'vgg-small', width: 0.125, batchNorm: true, classifier: [16], dropout: 0 },
  { channels: 3, height: S, width: S },
  10,
);
const per = 3 * S * S;
const n = 7;
const B = 3;
const r = uniformStream(3);
// Noise plus a channel shift that differs per example, so an untrained network tells them apart.
const data = Float32Array.from({ length: n * per }, (_, j) => {
  const i = Math.floor(j / per);
  const c = Math.floor(j / (S * S)) % 3;
  return r() * 2 - 1 + ((c === i % 3 ? 1 : -1) * (i + 1)) / 4;
});

const labels = Int32Array.from({ length: n }, () => Math.floor(r() * 10));

async function hostLogits(weights: Weights): Promise<Float32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(forwardModelBytes(model, weights), sessionOptions('cpu'));
  try {
    const out = await s.run({ [INPUT_NAME]: new ort.Tensor('float32', data, [n, 3, S, S]) });
    return Float32Array.from(out[LOGITS_NAME]!.data as Float32Array);
  } finally {
    await s.release();
  }
}

async function hostIds(weights: Weights): Promise<Int32Array> {
  const ids = new Int32Array(n);
  argmaxRows(await hostLogits(weights), n, 10, ids);
  return ids;
}

/** Runs the step over every batch, its outputs fed back; the class ids, and the sums when asked. */
async function runGraph(weights: Weights, figures?: DeviceFigures): Promise<{ ids: Int32Array; sums?: Float32Array }> {
  const ort = await loadOrt();
  const { bytes, names } = buildDeviceInferGraph(model, weights, figures);
  const s = await ort.InferenceSession.create(bytes, sessionOptions('cpu'));
  try {
    const batches = Math.ceil(n / B);
    let step: Tensor = new ort.Tensor('int32', Int32Array.of(0), []);
    let ids: Tensor = new ort.Tensor('int32', new Int32Array(batches * B), [batches, B]);
    const feeds: Record<string, Tensor> = {
      [names.data]: new ort.Tensor('float32', data, [n, 3, S, S]),
      [names.rows]: new ort.Tensor('int32', inferenceRows(n, B), [batches, B]),
    };
    const f = names.figures;
    let sums: Tensor | undefined;
    if (figures) {
      const m = figures.topk.length + (figures.loss ? 1 : 0);
      const valid = new Float32Array(batches * B).fill(1, 0, n);
      feeds[f!.labelsAll] = new ort.Tensor('int32', labels, [n]);
      feeds[f!.valid] = new ort.Tensor('float32', valid, [batches, B]);
      sums = new ort.Tensor('float32', new Float32Array(m), [m]);
    }
    for (let b = 0; b < batches; b++) {
      const out = await s.run({ ...feeds, [names.step]: step, [names.ids]: ids, ...(f ? { [f.sums]: sums! } : {}) });
      step = out[names.stepNext]!;
      ids = out[names.idsNext]!;
      if (f) sums = out[f.sumsNext]!;
    }
    expect((step.data as Int32Array)[0]).toBe(batches);
    return {
      ids: Int32Array.from((ids.data as Int32Array).subarray(0, n)),
      sums: sums && Float32Array.from(sums.data as Float32Array),
    };
  } finally {
    await s.release();
  }
}

async function graphIds(weights: Weights): Promise<Int32Array> {
  return (await runGraph(weights)).ids;
}

describe('device inference step graph', () => {
  it('pads the last batch of the row table with valid indices', () => {
    expect(Array.from(inferenceRows(7, 3))).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 0]);
    expect(Array.from(inferenceRows(6, 3))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gathers each batch, accumulates its class ids and counts the batches, as the host-fed session', async () => {
    const weights = initWeights(model, 11);
    const want = await hostIds(weights);
    expect(new Set(want).size).toBeGreaterThan(1);
    expect(Array.from(await graphIds(weights))).toEqual(Array.from(want));
  });

  it('takes the first class on ties, as argmaxRows does', async () => {
    // The last layer's weights zeroed and its bias 1 at classes 6 and 4: every row ties there.
    const tied: Weights = { ...initWeights(model, 11) };
    tied['fc2.weight'] = { shape: [16, 10], data: new Float32Array(160) };
    const bias = new Float32Array(10);
    bias[6] = 1;
    bias[4] = 1;
    tied['fc2.bias'] = { shape: [10], data: bias };
    expect(Array.from(await hostIds(tied))).toEqual(new Array(n).fill(4));
    expect(Array.from(await graphIds(tied))).toEqual(new Array(n).fill(4));
  });

  it('sums top-k hits and the loss over the real examples, as the host computes them from the logits', async () => {
    const weights = initWeights(model, 11);
    const logits = await hostLogits(weights);
    const topk = [1, 3, 10];
    const { ids, sums } = await runGraph(weights, { topk, loss: true });
    expect(Array.from(ids)).toEqual(Array.from(await hostIds(weights)));
    const hits = topk.map((k) => topKHits(logits, labels, 10, k));
    expect(hits[2]).toBe(n);
    expect(hits[0]).toBeLessThan(hits[1]!);
    expect(Array.from(sums!.subarray(0, 3))).toEqual(hits);
    const loss = crossEntropySum(logits, labels, 10);
    expect(Math.abs(sums![3]! - loss)).toBeLessThan(1e-5 * loss);
    // Loss alone, or a hit count alone: the sums hold just that.
    expect((await runGraph(weights, { topk: [], loss: true })).sums![0]).toBeCloseTo(sums![3]!, 5);
    expect(Array.from((await runGraph(weights, { topk: [3], loss: false })).sums!)).toEqual([hits[1]]);
  });
});
