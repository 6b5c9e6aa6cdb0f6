import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { argmaxRows, type OrtSession } from '../../src/backends/onnxruntime/session.ts';
import type { LoadOptions, ModelSession } from '../../src/backends/types.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { BackendError } from '../../src/errors.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, mulberry32 } from '../../src/models/init.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { referenceForward } from '../../src/models/reference.ts';

function split(n: number, seed: number, H: number, W: number, C: number, classes: number): Split {
  const r = mulberry32(seed);
  return {
    n,
    images: Uint8Array.from({ length: n * H * W * C }, () => r() & 255),
    labels: Uint8Array.from({ length: n }, () => r() % classes),
  };
}

const H = 16;
const W = 16;
const C = 3;
const dataset: Dataset = {
  kind: 'synthetic',
  source: 'random bytes (test)',
  channels: C,
  height: H,
  width: W,
  numClasses: 10,
  classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
  train: split(8, 1, H, W, C, 10),
  test: split(7, 2, H, W, C, 10),
  normalization: { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], source: 'given' },
  bytes: 0,
};
const model = buildModelGraph(
  { arch: 'vgg-small', width: 0.25, batchNorm: true, classifier: [32], dropout: 0.5 },
  { channels: C, height: H, width: W },
  10,
);
const weights = initWeights(model, 3);
const opts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
  trainBatchSize: 4,
  inferBatchSize: 3,
  seed: 1,
  dataset,
  training: false,
};

describe('onnxruntime backend probes', () => {
  it('cpu is available and says which runtime', async () => {
    const a = await createOrtBackend('cpu').probe();
    expect(a).toMatchObject({ available: true });
    if (a.available) expect(a.detail).toMatch(/^onnxruntime-node 1\.\d+\.\d+, cpu execution provider, \d+ threads$/);
  });

  it('webgpu and cuda report the real reason when they cannot run', async () => {
    const gpu = await createOrtBackend('webgpu').probe();
    console.log('onnxruntime/webgpu:', gpu.available ? `available (${gpu.detail})` : gpu.reason);
    if (!gpu.available) expect(gpu.reason).toMatch(/WebGPU/);
    const cuda = await createOrtBackend('cuda').probe();
    console.log('onnxruntime/cuda:', cuda.available ? `available (${cuda.detail})` : cuda.reason);
    if (!cuda.available) expect(cuda.reason).toMatch(/CUDA.*onnxruntime-node-install=cuda12/);
    if (!gpu.available) {
      await expect(createOrtBackend('webgpu').load(model, weights, opts)).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
    }
  });

  it('rejects an unknown device', () => {
    expect(() => createOrtBackend('tpu' as 'cpu')).toThrow(BackendError);
  });
});

describe('onnxruntime/cpu session', () => {
  let s: ModelSession;
  beforeAll(async () => {
    s = await createOrtBackend('cpu').load(model, weights, opts);
  });
  afterAll(async () => {
    await s.dispose();
  });

  it('records what actually ran', () => {
    expect(s.info.backend).toBe('onnxruntime/cpu');
    expect(s.info.device).toBe('cpu');
    expect(s.info.versions['onnxruntime-node']).toMatch(/^1\./);
    expect(s.info.threads).toBeGreaterThan(0);
  });

  it('logits match the float64 reference', async () => {
    const n = 5;
    const x = new Float32Array(n * C * H * W);
    fillBatch(
      dataset.train,
      { channels: C, height: H, width: W },
      dataset.normalization,
      identityOrder(8),
      0,
      n,
      'NCHW',
      x,
    );
    const got = await s.logits(x, n);
    const c = compareLogits(got, referenceForward(model, weights, x, n), 1e-4, { numClasses: 10 });
    if (!c.passed) throw new Error(formatParity(c));
  });

  it('infers every example in batches, the final partial one included, as argmax of the reference', async () => {
    const ids = await s.infer({ split: dataset.test, batchSize: 3 });
    expect(ids).toHaveLength(7);
    const x = new Float32Array(7 * C * H * W);
    fillBatch(
      dataset.test,
      { channels: C, height: H, width: W },
      dataset.normalization,
      identityOrder(7),
      0,
      7,
      'NCHW',
      x,
    );
    const ref = referenceForward(model, weights, x, 7);
    const expected = new Int32Array(7);
    argmaxRows(ref, 7, 10, expected);
    expect(Array.from(ids)).toEqual(Array.from(expected));
    // Another batch size gives the same answers.
    expect(Array.from(await s.infer({ split: dataset.test, batchSize: 7 }))).toEqual(Array.from(expected));
  });

  it('returns the weights it was given, without aliasing the caller’s arrays', async () => {
    const w = await s.getWeights();
    for (const p of model.params) {
      expect(w[p.name]!.shape).toEqual(p.shape);
      expect(w[p.name]!.data).toEqual(weights[p.name]!.data);
      expect(w[p.name]!.data.buffer).not.toBe(weights[p.name]!.data.buffer);
    }
  });

  it('picks up weights a trainer put into the shared state once it bumps the version', async () => {
    const state = (s as OrtSession).state;
    expect(state.location).toBe('cpu');
    const n = 2;
    const x = new Float32Array(n * C * H * W);
    fillBatch(
      dataset.train,
      { channels: C, height: H, width: W },
      dataset.normalization,
      identityOrder(8),
      0,
      n,
      'NCHW',
      x,
    );
    const changed = {
      ...weights,
      'fc2.weight': { shape: weights['fc2.weight']!.shape, data: weights['fc2.weight']!.data.map((v) => -2 * v) },
    };
    const ort = await import('onnxruntime-node');
    const old = state.tensors.get('fc2.weight')!;
    state.tensors.set(
      'fc2.weight',
      new ort.Tensor('float32', changed['fc2.weight'].data.slice(), changed['fc2.weight'].shape),
    );
    old.dispose();
    // Not yet announced: the session still answers with the weights it holds.
    expect(compareLogits(await s.logits(x, n), referenceForward(model, weights, x, n), 1e-4).passed).toBe(true);
    state.version++;
    const c = compareLogits(await s.logits(x, n), referenceForward(model, changed, x, n), 1e-4, { numClasses: 10 });
    if (!c.passed) throw new Error(formatParity(c));
    expect((await s.getWeights())['fc2.weight']!.data).toEqual(changed['fc2.weight'].data);
    // Restore for the tests that follow.
    state.tensors.set(
      'fc2.weight',
      new ort.Tensor('float32', weights['fc2.weight']!.data.slice(), weights['fc2.weight']!.shape),
    );
    state.version++;
  });

  it('refuses to train when loaded for inference only', async () => {
    await expect(
      s.train({ split: dataset.train, epochs: 1, batchSize: 4, order: () => identityOrder(8), lossEvery: 1 }),
    ).rejects.toThrow(/training: false/);
  });

  it('argmaxRows picks the first maximum', () => {
    const out = new Int32Array(2);
    argmaxRows([1, 3, 3, -1, -1, -2], 2, 3, out);
    expect(Array.from(out)).toEqual([1, 0]);
  });
});

it('rejects a dataset whose geometry does not match the model, and use after dispose', async () => {
  const other = { ...dataset, height: 32, width: 32 };
  await expect(createOrtBackend('cpu').load(model, weights, { ...opts, dataset: other })).rejects.toThrow(
    /expects 3×16×16 inputs but dataset synthetic has 3×32×32/,
  );
  const s = await createOrtBackend('cpu').load(model, weights, opts);
  await s.dispose();
  await expect(s.infer({ split: dataset.test, batchSize: 3 })).rejects.toThrow(/after dispose/);
});

it('train() runs the trainer on the shared state, and inference afterwards uses the trained weights', async () => {
  const s = await createOrtBackend('cpu').load(model, weights, { ...opts, training: true });
  try {
    const res = await s.train({
      split: dataset.train,
      epochs: 1,
      batchSize: 4,
      order: () => identityOrder(8),
      lossEvery: 1,
    });
    expect(res.steps).toBe(2);
    const trained = await s.getWeights();
    expect(trained['conv1.weight']!.data).not.toEqual(weights['conv1.weight']!.data);
    const n = 4;
    const x = new Float32Array(n * C * H * W);
    fillBatch(
      dataset.test,
      { channels: C, height: H, width: W },
      dataset.normalization,
      identityOrder(7),
      0,
      n,
      'NCHW',
      x,
    );
    const c = compareLogits(await s.logits(x, n), referenceForward(model, trained, x, n), 1e-4, { numClasses: 10 });
    if (!c.passed) throw new Error(formatParity(c));
  } finally {
    await s.dispose();
  }
});
