/**
 * The tfjs session on the cpu backend against float64 references: logits against the reference
 * forward pass (padding variants, batch norm after flatten), and two momentum-SGD steps with weight
 * decay against gradients from central differences of the float64 loss. Plus the session's contract:
 * weight round trip, no tensor leaks, NaN detection, seeded dropout, early stop, partial batches.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import type { LoadOptions, ModelSession } from '../../src/backends/types.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import type { Dataset } from '../../src/data/types.ts';
import { NumericError } from '../../src/errors.ts';
import type { LayerSpec, ModelGraph, Weights } from '../../src/models/ir.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { referenceForward } from '../../src/models/reference.ts';
import { resolveLayers } from '../../src/models/resolve.ts';
import { patternDataset, permutation, randomWeights } from './helpers.ts';

const backend = createTfjsBackend('cpu');

function options(ds: Dataset, over: Partial<LoadOptions> = {}): LoadOptions {
  return {
    optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
    trainBatchSize: 4,
    inferBatchSize: 4,
    seed: 7,
    dataset: ds,
    ...over,
  };
}

/** Normalised NCHW batch of the first `n` examples of a split (what the session sees, in canonical layout). */
function nchwBatch(ds: Dataset, n: number, split = ds.train): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * ds.channels * ds.height * ds.width);
  const y = new Int32Array(n);
  fillBatch(split, ds, ds.normalization, identityOrder(split.n), 0, n, 'NCHW', x, y);
  return { x, y };
}

/** Mean softmax cross-entropy of float64 reference logits in training mode. */
function referenceLoss(graph: ModelGraph, w: Weights, x: Float32Array, y: Int32Array): number {
  const n = y.length;
  const k = graph.numClasses;
  const z = referenceForward(graph, w, x, n, { training: true });
  let loss = 0;
  for (let b = 0; b < n; b++) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, z[b * k + c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(z[b * k + c]! - m);
    loss += m + Math.log(s) - z[b * k + y[b]!]!;
  }
  return loss / n;
}

/** Gradient of the reference loss for every trainable parameter, by central differences in float64. */
function referenceGrads(graph: ModelGraph, w: Weights, x: Float32Array, y: Int32Array): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const h = 2 ** -10;
  for (const p of graph.params.filter((q) => q.trainable)) {
    const data = w[p.name]!.data;
    const g = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const orig = data[i]!;
      data[i] = orig + h;
      const up = data[i]!;
      const lp = referenceLoss(graph, w, x, y);
      data[i] = orig - h;
      const dn = data[i]!;
      const lm = referenceLoss(graph, w, x, y);
      data[i] = orig;
      g[i] = (lp - lm) / (up - dn);
    }
    out[p.name] = g;
  }
  return out;
}

function copyWeights(w: Weights): Weights {
  return Object.fromEntries(Object.entries(w).map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]));
}

/** Largest |a - b| over all params, relative to the largest |b|. */
function relErr(
  a: Record<string, ArrayLike<number>>,
  b: Record<string, ArrayLike<number>>,
  names: string[],
): { rel: number; worst: string } {
  let maxAbs = 0;
  let scale = 0;
  let worst = '';
  for (const n of names) {
    const x = a[n]!;
    const r = b[n]!;
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(x[i]! - r[i]!);
      if (d > maxAbs) {
        maxAbs = d;
        worst = `${n}[${i}]: ${x[i]} vs ${r[i]}`;
      }
      scale = Math.max(scale, Math.abs(r[i]!));
    }
  }
  return { rel: maxAbs / scale, worst };
}

/** Per-channel batch mean and biased variance of NCHW (or [n, features]) activations. */
function channelStats(act: Float64Array, n: number, C: number): { mean: Float64Array; variance: Float64Array } {
  const inner = act.length / (n * C);
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) mean[c]! += act[(b * C + c) * inner + i]!;
  for (let c = 0; c < C; c++) mean[c]! /= n * inner;
  for (let b = 0; b < n; b++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < inner; i++) variance[c]! += (act[(b * C + c) * inner + i]! - mean[c]!) ** 2;
  for (let c = 0; c < C; c++) variance[c]! /= n * inner;
  return { mean, variance };
}

beforeAll(async () => {
  expect(await backend.probe()).toMatchObject({ available: true });
});

describe('tfjs/cpu logits', () => {
  // Padding variants (explicit 1 with stride 2, even kernel 'same', 'valid'), pooling with stride 1,
  // batch norm on conv features and after the flatten, whose vectors the NHWC layout permutes.
  const specs: LayerSpec[] = [
    { kind: 'conv', filters: 5, kernel: 3, stride: 2, padding: 1 },
    { kind: 'relu' },
    { kind: 'conv', filters: 4, kernel: 2, padding: 'same' },
    { kind: 'batchnorm' },
    { kind: 'relu' },
    { kind: 'conv', filters: 6, kernel: 3, padding: 'valid', bias: false },
    { kind: 'maxpool', size: 2, stride: 1 },
    { kind: 'flatten' },
    { kind: 'batchnorm' },
    { kind: 'dense', units: 7 },
    { kind: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', units: 3 },
  ];
  const graph = resolveLayers('custom', specs, [3, 9, 9], 3);
  const ds = patternDataset({ train: 8, test: 6, size: 9, channels: 3, classes: 3, noise: 30, seed: 11 });
  const weights = randomWeights(graph, 5);

  it('match the float64 reference forward pass (inference mode)', async () => {
    const s = await backend.load(graph, weights, options(ds));
    try {
      const { x } = nchwBatch(ds, 6, ds.test);
      const got = await s.logits(x, 6);
      const ref = referenceForward(graph, weights, x, 6);
      const c = compareLogits(got, ref, 1e-5, { actual: 'tfjs/cpu', reference: 'float64 reference', numClasses: 3 });
      expect(c.passed, formatParity(c)).toBe(true);
      // infer() is argmax of the same logits, over every example including a final partial batch.
      const ids = await s.infer({ split: ds.test, batchSize: 4 });
      expect(ids).toHaveLength(6);
      for (let b = 0; b < 6; b++) {
        const row = Array.from(ref.subarray(b * 3, b * 3 + 3));
        expect(ids[b]).toBe(row.indexOf(Math.max(...row)));
      }
    } finally {
      await s.dispose();
    }
  });

  it('give back the weights they were loaded with, in canonical layout', async () => {
    const s = await backend.load(graph, weights, options(ds));
    try {
      const back = await s.getWeights();
      expect(Object.keys(back).sort()).toEqual(Object.keys(weights).sort());
      for (const [k, t] of Object.entries(weights)) {
        expect(back[k]!.shape, k).toEqual(t.shape);
        expect(back[k]!.data, k).toEqual(t.data);
      }
      expect(s.info.backend).toBe('tfjs/cpu');
      expect(s.info.versions['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      await s.dispose();
    }
  });
});

describe('tfjs/cpu training step', () => {
  const specs: LayerSpec[] = [
    { kind: 'conv', filters: 4 },
    { kind: 'batchnorm' },
    { kind: 'relu' },
    { kind: 'maxpool' },
    { kind: 'flatten' },
    { kind: 'batchnorm' },
    { kind: 'dense', units: 6 },
    { kind: 'relu' },
    { kind: 'dense', units: 3 },
  ];
  const graph = resolveLayers('custom', specs, [2, 6, 6], 3);
  const ds = patternDataset({ train: 4, test: 4, size: 6, channels: 2, classes: 3, noise: 60, seed: 3 });

  it('two momentum-SGD steps with weight decay match float64 central-difference gradients', async () => {
    const w0 = randomWeights(graph, 9);
    const opts = options(ds);
    const sgd = opts.optimizer;
    if (sgd.kind !== 'sgd') throw new Error('this test checks the SGD update');
    const { lr, momentum: m, weightDecay: wd } = sgd;
    const s = await backend.load(graph, w0, opts);
    try {
      const { x, y } = nchwBatch(ds, 4);
      const trainable = graph.params.filter((p) => p.trainable).map((p) => p.name);
      const losses: number[] = [];
      const req = {
        split: ds.train,
        epochs: 1,
        batchSize: 4,
        order: () => identityOrder(4),
        lossEvery: 1,
        onStep: (i: { loss?: number }) => void losses.push(i.loss!),
      };

      // Step 1: v1 = g(w0) + wd·w0; w1 = w0 − lr·v1.
      const r1 = await s.train(req);
      expect(r1).toMatchObject({ steps: 1, stoppedEarly: false });
      expect(losses[0]).toBeCloseTo(referenceLoss(graph, copyWeights(w0), x, y), 5);
      const w1 = await s.getWeights();
      const g1 = referenceGrads(graph, copyWeights(w0), x, y);
      const v1: Record<string, Float64Array> = {};
      const d1: Record<string, Float64Array> = {};
      const d1Got: Record<string, Float64Array> = {};
      for (const n of trainable) {
        const w = w0[n]!.data;
        v1[n] = g1[n]!.map((g, i) => g + wd * w[i]!);
        d1[n] = v1[n]!.map((v) => -lr * v);
        d1Got[n] = Float64Array.from(w1[n]!.data, (v, i) => v - w[i]!);
      }
      const e1 = relErr(d1Got, d1, trainable);
      expect(e1.rel, `step 1 update, worst ${e1.worst}`).toBeLessThan(5e-4);

      // Running statistics: running·0.9 + batch·0.1, batch variance biased, from the step's input.
      const upToBn1 = { ...graph, nodes: graph.nodes.slice(0, 1) };
      const upToFlat = { ...graph, nodes: graph.nodes.slice(0, 5) };
      const st1 = channelStats(referenceForward(upToBn1, copyWeights(w0), x, 4, { training: true }), 4, 4);
      const st2 = channelStats(referenceForward(upToFlat, copyWeights(w0), x, 4, { training: true }), 4, 36);
      for (const [bn, st] of [
        ['bn1', st1],
        ['bn2', st2],
      ] as const) {
        const mean = w0[`${bn}.mean`]!.data;
        const vari = w0[`${bn}.var`]!.data;
        const expMean = Array.from(mean, (v, i) => 0.9 * v + 0.1 * st.mean[i]!);
        const expVar = Array.from(vari, (v, i) => 0.9 * v + 0.1 * st.variance[i]!);
        Array.from(w1[`${bn}.mean`]!.data).forEach((v, i) => {
          expect(v, `${bn}.mean[${i}]`).toBeCloseTo(expMean[i]!, 5);
        });
        Array.from(w1[`${bn}.var`]!.data).forEach((v, i) => {
          expect(v, `${bn}.var[${i}]`).toBeCloseTo(expVar[i]!, 5);
        });
      }

      // Step 2 from tfjs's own w1: v2 = m·v1 + g(w1) + wd·w1; w2 = w1 − lr·v2.
      await s.train(req);
      const w2 = await s.getWeights();
      const g2 = referenceGrads(graph, copyWeights(w1), x, y);
      const d2: Record<string, Float64Array> = {};
      const d2Got: Record<string, Float64Array> = {};
      for (const n of trainable) {
        const w = w1[n]!.data;
        d2[n] = g2[n]!.map((g, i) => -lr * (m * v1[n]![i]! + g + wd * w[i]!));
        d2Got[n] = Float64Array.from(w2[n]!.data, (v, i) => v - w[i]!);
      }
      const e2 = relErr(d2Got, d2, trainable);
      expect(e2.rel, `step 2 update, worst ${e2.worst}`).toBeLessThan(5e-4);
    } finally {
      await s.dispose();
    }
  });
});

describe('tfjs/cpu session contract', () => {
  const specs: LayerSpec[] = [
    { kind: 'conv', filters: 4 },
    { kind: 'batchnorm' },
    { kind: 'relu' },
    { kind: 'maxpool' },
    { kind: 'flatten' },
    { kind: 'dense', units: 8 },
    { kind: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', units: 3 },
  ];
  const graph = resolveLayers('custom', specs, [1, 6, 6], 3);
  const ds = patternDataset({ train: 20, test: 10, size: 6, channels: 1, classes: 3, noise: 40, seed: 4 });
  const weights = randomWeights(graph, 1);
  const req = (over: object = {}) => ({
    split: ds.train,
    epochs: 1,
    batchSize: 4,
    order: (e: number) => permutation(ds.train.n, e),
    lossEvery: 2,
    ...over,
  });

  async function withSession<T>(
    w: Weights,
    over: Partial<LoadOptions>,
    f: (s: ModelSession) => Promise<T>,
  ): Promise<T> {
    const s = await backend.load(graph, w, options(ds, over));
    try {
      return await f(s);
    } finally {
      await s.dispose();
    }
  }

  it('keeps the tensor count flat across steps and frees everything on dispose', async () => {
    const base = tf.memory().numTensors;
    const counts: number[] = [];
    await withSession(weights, {}, async (s) => {
      // The first step creates the momentum accumulators; from then on nothing may accumulate.
      await s.train(
        req({
          epochs: 1,
          order: () => identityOrder(ds.train.n),
          onStep: () => void counts.push(tf.memory().numTensors),
        }),
      );
      await s.infer({ split: ds.test, batchSize: 4 });
      await s.train(
        req({
          epochs: 1,
          order: () => identityOrder(ds.train.n),
          onStep: () => void counts.push(tf.memory().numTensors),
        }),
      );
    });
    expect(counts).toHaveLength(10);
    expect(new Set(counts.slice(1)).size, `tensor counts per step: ${counts.join(' ')}`).toBe(1);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('reports epoch losses, honours stop, and counts only full batches', async () => {
    await withSession(weights, {}, async (s) => {
      const seen: { epoch: number; step: number; loss?: number }[] = [];
      const r = await s.train(
        req({
          epochs: 3,
          onStep: (i: { epoch: number; step: number; loss?: number }) => {
            seen.push(i);
            return i.epoch === 1 && i.step === 2 ? 'stop' : undefined;
          },
        }),
      );
      // 20 examples in batches of 4: 5 steps per epoch; stopped after epoch 1 step 2.
      expect(r.steps).toBe(8);
      expect(r.stoppedEarly).toBe(true);
      expect(r.epochLoss).toHaveLength(2);
      // tfjs/cpu is synchronous: the loss is read back at every step, whatever lossEvery says.
      expect(seen.filter((i) => i.loss !== undefined).map((i) => `${i.epoch}.${i.step}`)).toEqual([
        '0.0',
        '0.1',
        '0.2',
        '0.3',
        '0.4',
        '1.0',
        '1.1',
        '1.2',
      ]);
      expect(r.epochLoss.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      const mem = await s.memory!();
      expect(mem).toMatchObject({ source: 'tf.memory()', reliable: true });
      expect(mem!.bytes).toBeGreaterThan(0);
    });
  });

  it('stops with NumericError when the loss is not finite', async () => {
    const bad = copyWeights(weights);
    bad['fc2.bias']!.data[0] = Number.NaN;
    const base = tf.memory().numTensors;
    await withSession(bad, {}, async (s) => {
      const err = await s.train(req({ epochs: 2 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NumericError);
      // Caught at the very first step, although lossEvery is 2: on a synchronous backend every step is checked.
      expect(err).toMatchObject({ code: 'NUMERIC', epoch: 0, step: 0 });
    });
    expect(tf.memory().numTensors).toBe(base);
  });

  it('draws the same dropout masks for the same seed and different ones for another', async () => {
    const run = (seed: number) =>
      withSession(weights, { seed }, async (s) => {
        await s.train(req({ epochs: 1 }));
        return (await s.getWeights())['fc1.weight']!.data;
      });
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('refuses to train a session loaded with training: false, and still infers', async () => {
    await withSession(weights, { training: false }, async (s) => {
      await expect(s.train(req())).rejects.toMatchObject({
        code: 'BACKEND',
        message: expect.stringContaining('training: false'),
      });
      expect(await s.infer({ split: ds.test, batchSize: 4 })).toHaveLength(10);
    });
  });

  it('rejects an order that is not a permutation of the split', async () => {
    await withSession(weights, {}, async (s) => {
      await expect(s.train(req({ order: () => identityOrder(3) }))).rejects.toMatchObject({ code: 'BACKEND' });
    });
  });
});
