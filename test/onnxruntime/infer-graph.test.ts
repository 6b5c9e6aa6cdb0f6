/**
 * The device inference step's graph (infer-graph.ts), run on the CPU execution provider, which exists
 * everywhere: batch after batch fed its own outputs back, it must give the class ids the host-fed
 * session's logits give through `argmaxRows` (first index on ties), the padded last batch included.
 */
import type { Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { inferenceRows } from '../../src/backends/onnxruntime/device-infer.ts';
import { forwardModelBytes, INPUT_NAME, LOGITS_NAME } from '../../src/backends/onnxruntime/forward.ts';
import { buildDeviceInferGraph } from '../../src/backends/onnxruntime/infer-graph.ts';
import { argmaxRows } from '../../src/backends/onnxruntime/session.ts';
import { loadOrt, sessionOptions } from '../../src/backends/onnxruntime/runtime.ts';
import type { Weights } from '../../src/models/ir.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, mulberry32 } from '../../src/models/init.ts';

const S = 8;
const model = buildModelGraph(
  { arch: 'vgg-small', width: 0.125, batchNorm: true, classifier: [16], dropout: 0 },
  { channels: 3, height: S, width: S },
  10,
);
const per = 3 * S * S;
const n = 7;
const B = 3;
const r = mulberry32(3);
const data = Float32Array.from({ length: n * per }, () => r() * 2 - 1);

async function hostIds(weights: Weights): Promise<Int32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(forwardModelBytes(model, weights), sessionOptions('cpu'));
  try {
    const out = await s.run({ [INPUT_NAME]: new ort.Tensor('float32', data, [n, 3, S, S]) });
    const ids = new Int32Array(n);
    argmaxRows(out[LOGITS_NAME]!.data as Float32Array, n, 10, ids);
    return ids;
  } finally {
    await s.release();
  }
}

async function graphIds(weights: Weights): Promise<Int32Array> {
  const ort = await loadOrt();
  const { bytes, names } = buildDeviceInferGraph(model, weights);
  const s = await ort.InferenceSession.create(bytes, sessionOptions('cpu'));
  try {
    const batches = Math.ceil(n / B);
    let step: Tensor = new ort.Tensor('int32', Int32Array.of(0), []);
    let ids: Tensor = new ort.Tensor('int32', new Int32Array(batches * B), [batches, B]);
    const feeds = {
      [names.data]: new ort.Tensor('float32', data, [n, 3, S, S]),
      [names.rows]: new ort.Tensor('int32', inferenceRows(n, B), [batches, B]),
    };
    for (let b = 0; b < batches; b++) {
      const out = await s.run({ ...feeds, [names.step]: step, [names.ids]: ids });
      step = out[names.stepNext]!;
      ids = out[names.idsNext]!;
    }
    expect((step.data as Int32Array)[0]).toBe(batches);
    return Int32Array.from((ids.data as Int32Array).subarray(0, n));
  } finally {
    await s.release();
  }
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
});
