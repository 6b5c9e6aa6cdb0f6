/**
 * The training step graph and the trainer on a tiny model:
 * - gradients of the whole generated graph (built by the forward builder) against float64 central
 *   differences of the model's own reference forward (`src/models/reference.ts`), an implementation
 *   independent of the ONNX graph;
 * - one step's updated weights and velocities against the SGD-momentum update computed by hand from
 *   those float64 gradients;
 * - the trainer: follows `order` exactly (replayed step by step against the bare graph), keeps state
 *   across calls, stops on 'stop', and raises NumericError with the step and epoch on a NaN loss.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fillBatch } from '../../src/data/batch.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { NumericError } from '../../src/errors.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';
import { referenceForward } from '../../src/models/reference.ts';
import type { ModelGraph, Weights } from '../../src/models/ir.ts';
import type { LoadOptions, OptimizerConfig, StepInfo } from '../../src/backends/types.ts';
import type { OrtWeightState } from '../../src/backends/onnxruntime/state.ts';
import { buildGradientGraph, buildTrainStepGraph } from '../../src/backends/onnxruntime/train-graph.ts';
import { createOrtTrainer, velocityKey } from '../../src/backends/onnxruntime/trainer.ts';

const rand = uniformStream(7);
const INPUT = { channels: 2, height: 6, width: 6 };
const K = 4;

/** conv(3) → bn → relu → pool → flatten → dense(5) → relu → dense(4), no dropout (deterministic). */
function tinyModel(): ModelGraph {
  return buildModelGraph(
    {
      arch: 'custom',
      width: 1,
      batchNorm: true,
      classifier: [5],
      dropout: 0,
      layers: [{ kind: 'conv', filters: 3 }, { kind: 'relu' }, { kind: 'maxpool' }],
    },
    INPUT,
    K,
  );
}

/** Weights with every tensor perturbed, so biases and batch-norm parameters are not at their initial 0/1. */
function randomWeights(model: ModelGraph): Weights {
  const w = initWeights(model, 3);
  for (const p of model.params) {
    const d = w[p.name]!.data;
    for (let i = 0; i < d.length; i++) d[i] = p.name.endsWith('.var') ? 0.5 + rand() : d[i]! + (rand() - 0.5) * 0.4;
  }
  return w;
}

/** Mean softmax cross-entropy of the float64 reference forward in training mode. */
function refLoss(model: ModelGraph, w: Weights, x: Float64Array, labels: Int32Array, n: number): number {
  const logits = referenceForward(model, w, x, n, { training: true });
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let k = 0; k < K; k++) mx = Math.max(mx, logits[i * K + k]!);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(logits[i * K + k]! - mx);
    sum += -(logits[i * K + labels[i]!]! - mx - Math.log(z));
  }
  return sum / n;
}

/** Float64 gradients of the mean loss by central differences, for every trainable element. */
function fdGradients(
  model: ModelGraph,
  w: Weights,
  x: Float64Array,
  labels: Int32Array,
  n: number,
): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const eps = 1e-5;
  for (const p of model.params.filter((q) => q.trainable)) {
    const base = w[p.name]!;
    const g = new Float64Array(base.data.length);
    // The reference takes Float32Array weights; perturb through a float64 copy to keep the step exact.
    for (let i = 0; i < g.length; i++) {
      const f = (delta: number) => {
        const data = Float64Array.from(base.data);
        data[i] = data[i]! + delta;
        return refLoss(
          model,
          { ...w, [p.name]: { shape: base.shape, data: data as unknown as Float32Array } },
          x,
          labels,
          n,
        );
      };
      g[i] = (f(eps) - f(-eps)) / (2 * eps);
    }
    out[p.name] = g;
  }
  return out;
}

function tensorsFor(model: ModelGraph, w: Weights): Record<string, ort.Tensor> {
  return Object.fromEntries(
    model.params.map((p) => [p.name, new ort.Tensor('float32', Float32Array.from(w[p.name]!.data), p.shape)]),
  );
}

const N = 4;
const model = tinyModel();
const weights = randomWeights(model);
const x32 = Float32Array.from({ length: N * 2 * 6 * 6 }, () => rand() * 2 - 1);
const x64 = Float64Array.from(x32);
const labels = Int32Array.from([0, 3, 1, 3]);

describe('training graph of a tiny model', () => {
  it('gradients of the generated graph match float64 finite differences of the reference forward', async () => {
    const gg = buildGradientGraph(model, { batch: N });
    const s = await ort.InferenceSession.create(gg.bytes);
    const feeds: Record<string, ort.Tensor> = {
      [gg.inputs.x]: new ort.Tensor('float32', x32, [N, 2, 6, 6]),
      [gg.inputs.labels]: new ort.Tensor('int32', labels, [N]),
    };
    const wt = tensorsFor(model, weights);
    for (const [p, v] of Object.entries(gg.inputs.params)) feeds[v] = wt[p]!;
    const out = await s.run(feeds);
    await s.release();
    const fd = fdGradients(model, weights, x64, labels, N);
    expect((out[gg.outputs.loss]!.data as Float32Array)[0]).toBeCloseTo(refLoss(model, weights, x64, labels, N), 5);
    const lines: string[] = [];
    for (const [p, name] of Object.entries(gg.outputs.grads)) {
      const a = out[name]!.data as Float32Array;
      const f = fd[p]!;
      let err = 0;
      let scale = 0;
      f.forEach((v, i) => {
        err = Math.max(err, Math.abs(v - a[i]!));
        scale = Math.max(scale, Math.abs(v));
      });
      lines.push(
        `${p.padEnd(14)} max|fd| ${scale.toExponential(2)}  max abs err ${err.toExponential(2)}  rel ${(err / Math.max(scale, 1e-12)).toExponential(2)}`,
      );
      if (p === 'conv1.bias') {
        // Batch norm follows the conv: its bias cannot change the loss.
        expect(scale).toBeLessThan(1e-8);
        expect(err).toBeLessThan(1e-5);
      } else {
        expect(scale).toBeGreaterThan(1e-3);
        expect(err / scale, p).toBeLessThan(1e-3);
      }
    }
    console.log(`whole-model gradient check (tiny model, batch ${N}):\n${lines.join('\n')}`);
  });

  it('one step applies v′ = m·v + g + wd·w, w′ = w − lr·v′ with g from float64 finite differences', async () => {
    const optimizer: OptimizerConfig = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 };
    const tg = buildTrainStepGraph(model, { batch: N, optimizer });
    const s = await ort.InferenceSession.create(tg.bytes);
    const wt = tensorsFor(model, weights);
    const velocity: Record<string, Float32Array> = {};
    const feeds: Record<string, ort.Tensor> = {
      [tg.inputs.x]: new ort.Tensor('float32', x32, [N, 2, 6, 6]),
      [tg.inputs.labels]: new ort.Tensor('int32', labels, [N]),
      [tg.inputs.lr]: new ort.Tensor('float32', Float32Array.of(optimizer.lr), []),
    };
    for (const [p, v] of Object.entries(tg.inputs.params)) feeds[v] = wt[p]!;
    for (const [p, v] of Object.entries(tg.inputs.stats)) feeds[v] = wt[p]!;
    for (const [p, v] of Object.entries(tg.inputs.velocities)) {
      velocity[p] = Float32Array.from(weights[p]!.data, () => rand() - 0.5);
      feeds[v] = new ort.Tensor('float32', velocity[p], weights[p]!.shape);
    }
    const out = await s.run(feeds);
    await s.release();
    const fd = fdGradients(model, weights, x64, labels, N);
    for (const p of Object.keys(tg.inputs.params)) {
      const w = weights[p]!.data;
      const v = velocity[p]!;
      const g = fd[p]!;
      const wNew = out[tg.outputs.params[p]!]!.data as Float32Array;
      const vNew = out[tg.outputs.velocities[p]!]!.data as Float32Array;
      for (let i = 0; i < w.length; i++) {
        const vExp = optimizer.momentum * v[i]! + g[i]! + optimizer.weightDecay * w[i]!;
        const wExp = w[i]! - optimizer.lr * vExp;
        expect(Math.abs(vNew[i]! - vExp), `${p}[${i}] velocity`).toBeLessThan(2e-5);
        expect(Math.abs(wNew[i]! - wExp), `${p}[${i}] weight`).toBeLessThan(2e-6);
      }
    }
    // Running statistics: ONNX convention with the biased batch variance of the conv output.
    const conv = model.nodes.find((l) => l.spec.kind === 'conv')!;
    const bn = model.nodes.find((l) => l.spec.kind === 'batchnorm')!;
    const convOut = referenceForward({ ...model, nodes: [conv] }, weights, x64, N, { training: true });
    const [C, H, W] = conv.outShape as [number, number, number];
    const m = (bn.spec as { momentum: number }).momentum;
    const newMean = out[tg.outputs.stats[`${bn.name}.mean`]!]!.data as Float32Array;
    const newVar = out[tg.outputs.stats[`${bn.name}.var`]!]!.data as Float32Array;
    for (let c = 0; c < C; c++) {
      let s1 = 0;
      let s2 = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) s1 += convOut[(n * C + c) * H * W + i]!;
      const mean = s1 / (N * H * W);
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) s2 += (convOut[(n * C + c) * H * W + i]! - mean) ** 2;
      const variance = s2 / (N * H * W);
      expect(newMean[c]).toBeCloseTo(weights[`${bn.name}.mean`]!.data[c]! * m + mean * (1 - m), 5);
      expect(newVar[c]).toBeCloseTo(weights[`${bn.name}.var`]!.data[c]! * m + variance * (1 - m), 5);
    }
  });
});

describe('operators of the generated training step', () => {
  it('stay within what the WebGPU EP implements (Dropout excepted), MaxPool without Indices', () => {
    // Kernels ORT's WebGPU EP registers, of those an expbench training graph could use. Dropout has
    // none: that node (after a dense layer, small) runs on the CPU EP.
    const webgpu = new Set([
      'Add',
      'Sub',
      'Mul',
      'Div',
      'Neg',
      'Sqrt',
      'Reciprocal',
      'Exp',
      'Log',
      'Relu',
      'Equal',
      'Greater',
      'Less',
      'Where',
      'Cast',
      'Conv',
      'ConvTranspose',
      'MaxPool',
      'Gemm',
      'MatMul',
      'ReduceMean',
      'ReduceSum',
      'ReduceMax',
      'ArgMax',
      'Reshape',
      'Flatten',
      'Transpose',
      'Unsqueeze',
      'Squeeze',
      'Expand',
      'Slice',
      'Pad',
      'Concat',
      'Gather',
    ]);
    const vgg = buildModelGraph(
      { arch: 'vgg-small', width: 0.25, batchNorm: true, classifier: [32], dropout: 0.5 },
      { channels: 3, height: 16, width: 16 },
      10,
    );
    const tg = buildTrainStepGraph(vgg, {
      batch: 8,
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4 },
    });
    const ops = new Set(tg.graph.nodes.map((n) => n.op));
    expect([...ops].filter((op) => !webgpu.has(op))).toEqual(['Dropout']);
    // Every optimizer's update and the smoothed loss, on the device-gathered step.
    for (const optimizer of [
      { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true },
      { kind: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
      { kind: 'adamw', lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
    ] as const) {
      const g = buildTrainStepGraph(vgg, { batch: 8, optimizer, labelSmoothing: 0.1, batchSource: 'gather' });
      const used = new Set(g.graph.nodes.map((n) => n.op));
      expect(
        [...used].filter((op) => !webgpu.has(op)),
        optimizer.kind,
      ).toEqual(['Dropout']);
    }
    for (const n of tg.graph.nodes.filter((m) => m.op === 'MaxPool')) expect(n.outputs).toHaveLength(1);
    expect(tg.graph.opset).toBe(17);
    // No ArgMax: its int64 output needs a Cast the WebGPU EP lacks, which would put a host round trip
    // in every step.
    expect(ops.has('ArgMax')).toBe(false);
  });

  it('count as correct exactly the examples whose label is the argmax of their logits', async () => {
    const model = tinyModel();
    const N = 16;
    const gg = buildGradientGraph(model, { batch: N });
    const session = await ort.InferenceSession.create(gg.bytes);
    try {
      const w = randomWeights(model);
      const x = Float32Array.from({ length: N * 2 * 6 * 6 }, () => rand() * 2 - 1);
      // Half the labels are the predicted class (found from a first run), half another one.
      const feeds: Record<string, ort.Tensor> = { [gg.inputs.x]: new ort.Tensor('float32', x, [N, 2, 6, 6]) };
      for (const p of model.params)
        feeds[gg.inputs.params[p.name]!] = new ort.Tensor('float32', w[p.name]!.data, p.shape);
      const run = async (labels: Int32Array) =>
        session.run({ ...feeds, [gg.inputs.labels]: new ort.Tensor('int32', labels, [N]) });
      const first = await run(new Int32Array(N));
      const logits = first[gg.outputs.logits]!.data as Float32Array;
      const argmax = Int32Array.from({ length: N }, (_, n) => {
        let best = 0;
        for (let k = 1; k < K; k++) if (logits[n * K + k]! > logits[n * K + best]!) best = k;
        return best;
      });
      const labels = Int32Array.from(argmax, (a, n) => (n % 2 === 0 ? a : (a + 1) % K));
      const out = await run(labels);
      expect((out[gg.outputs.correct]!.data as Float32Array)[0]).toBe(N / 2);
    } finally {
      await session.release();
    }
  });
});

// ───────────────────────────── trainer ─────────────────────────────

function tinySplit(n: number): Split {
  const images = Uint8Array.from({ length: n * 6 * 6 * 2 }, () => Math.floor(rand() * 256));
  return { n, images, labels: Uint8Array.from({ length: n }, (_, i) => (i * 7) % K) };
}

function dataset(train: Split): Dataset {
  return {
    kind: 'test',
    source: 'random bytes',
    channels: 2,
    height: 6,
    width: 6,
    numClasses: K,
    classNames: ['a', 'b', 'c', 'd'],
    train,
    test: train,
    normalization: { mean: [0.5, 0.5], std: [0.25, 0.25], source: 'given' },
    bytes: train.images.length,
  };
}

function freshState(w: Weights): OrtWeightState {
  return { tensors: new Map(Object.entries(tensorsFor(model, w))), location: 'cpu', version: 0, aux: new Map() };
}

const B = 4;
const split = tinySplit(22); // 5 full batches, 2 examples left out
const loadOpts = (optimizer: OptimizerConfig): LoadOptions => ({
  optimizer,
  trainBatchSize: B,
  inferBatchSize: B,
  seed: 1,
  dataset: dataset(split),
});
const SGD: OptimizerConfig = { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
const orders = [
  Uint32Array.from([21, 3, 7, 0, 15, 9, 11, 2, 20, 5, 6, 1, 19, 4, 8, 10, 18, 12, 13, 14, 16, 17]),
  Uint32Array.from({ length: 22 }, (_, i) => 21 - i),
];

describe('ORT trainer', () => {
  it('follows order(epoch) exactly, full batches only, and keeps weights and velocities across train() calls', async () => {
    const state = freshState(weights);
    const trainer = await createOrtTrainer({
      ort,
      model,
      state,
      opts: loadOpts(SGD),
      executionProviders: ['cpu'],
      sessionOptions: { intraOpNumThreads: 1 },
    });
    const seen: StepInfo[] = [];
    const r1 = await trainer.train({
      split,
      epochs: 1,
      batchSize: B,
      order: (e) => orders[e]!,
      lossEvery: 2,
      onStep: (i) => void seen.push(i),
    });
    const r2 = await trainer.train({
      split,
      epochs: 1,
      batchSize: B,
      order: () => orders[1]!,
      lossEvery: 2,
      onStep: (i) => void seen.push(i),
    });
    expect(r1.steps + r2.steps).toBe(10);
    expect(r1.stoppedEarly).toBe(false);
    expect(seen.map((i) => `${i.epoch}:${i.step}/${i.stepsPerEpoch}:${i.loss === undefined ? '-' : 'L'}`)).toEqual([
      // State in host memory: the loss is checked at every step, whatever lossEvery says.
      ...['0:0/5:L', '0:1/5:L', '0:2/5:L', '0:3/5:L', '0:4/5:L'],
      ...['0:0/5:L', '0:1/5:L', '0:2/5:L', '0:3/5:L', '0:4/5:L'],
    ]);
    expect(state.version).toBe(10);
    expect(state.aux.has(velocityKey('fc2.weight'))).toBe(true);

    // Replay: the bare step graph fed by hand with the same batches, state carried by hand.
    const tg = buildTrainStepGraph(model, { batch: B, optimizer: SGD, dropoutSeed: 1 });
    const s = await ort.InferenceSession.create(tg.bytes, { intraOpNumThreads: 1 });
    const cur = tensorsFor(model, weights);
    const vel: Record<string, ort.Tensor> = Object.fromEntries(
      Object.keys(tg.inputs.velocities).map((p) => [
        p,
        new ort.Tensor('float32', new Float32Array(weights[p]!.data.length), weights[p]!.shape),
      ]),
    );
    const xb = new Float32Array(B * 72);
    const lb = new Int32Array(B);
    const losses: number[] = [];
    for (const order of [orders[0]!, orders[1]!]) {
      for (let step = 0; step < 5; step++) {
        fillBatch(split, INPUT, dataset(split).normalization, order, step * B, B, 'NCHW', xb, lb);
        const feeds: Record<string, ort.Tensor> = {
          [tg.inputs.x]: new ort.Tensor('float32', xb.slice(), [B, 2, 6, 6]),
          [tg.inputs.labels]: new ort.Tensor('int32', lb.slice(), [B]),
          [tg.inputs.lr]: new ort.Tensor('float32', Float32Array.of(SGD.lr), []),
        };
        for (const [p, v] of Object.entries({ ...tg.inputs.params, ...tg.inputs.stats })) feeds[v] = cur[p]!;
        for (const [p, v] of Object.entries(tg.inputs.velocities)) feeds[v] = vel[p]!;
        const out = await s.run(feeds);
        for (const [p, v] of Object.entries({ ...tg.outputs.params, ...tg.outputs.stats })) cur[p] = out[v]!;
        for (const [p, v] of Object.entries(tg.outputs.velocities)) vel[p] = out[v]!;
        losses.push((out[tg.outputs.loss]!.data as Float32Array)[0]!);
      }
    }
    await s.release();
    for (const p of model.params) {
      expect(Array.from(state.tensors.get(p.name)!.data as Float32Array), p.name).toEqual(
        Array.from(cur[p.name]!.data as Float32Array),
      );
    }
    for (const p of Object.keys(vel))
      expect(Array.from(state.aux.get(velocityKey(p))!.data as Float32Array)).toEqual(
        Array.from(vel[p]!.data as Float32Array),
      );
    // Reported losses are the replay's, every step (host-resident state), and the epoch loss their mean.
    expect(seen.filter((i) => i.loss !== undefined).map((i) => i.loss)).toEqual(losses);
    expect(r1.epochLoss[0]).toBeCloseTo(losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5, 6);
    // The caller's weights are untouched.
    expect(weights['conv1.weight']!.data[0]).toBe(tensorsFor(model, weights)['conv1.weight']!.data[0]);
    await trainer.dispose();
  });

  it("stops when onStep returns 'stop'", async () => {
    const trainer = await createOrtTrainer({
      ort,
      model,
      state: freshState(weights),
      opts: loadOpts(SGD),
      executionProviders: ['cpu'],
      sessionOptions: {},
    });
    const r = await trainer.train({
      split,
      epochs: 3,
      batchSize: B,
      order: () => orders[0]!,
      lossEvery: 10,
      onStep: (i) => (i.epoch === 1 && i.step === 2 ? 'stop' : undefined),
    });
    expect(r).toMatchObject({ steps: 8, stoppedEarly: true });
    expect(r.epochLoss).toHaveLength(2);
    await trainer.dispose();
  });

  it('raises NumericError with the step and epoch when the loss turns NaN', async () => {
    const bad: OptimizerConfig = { ...SGD, lr: Number.NaN };
    const trainer = await createOrtTrainer({
      ort,
      model,
      state: freshState(weights),
      opts: loadOpts(bad),
      executionProviders: ['cpu'],
      sessionOptions: {},
    });
    // Step 0's loss is computed before the NaN update, so it is finite; step 1's is NaN.
    const err = await trainer
      .train({ split, epochs: 2, batchSize: B, order: () => orders[0]!, lossEvery: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NumericError);
    expect(err).toMatchObject({ code: 'NUMERIC', step: 1, epoch: 0 });
    await trainer.dispose();
  });
});
