/**
 * Training a small network with every layer kind of the model IR on tfjs/wasm: which kernels are
 * missing before expbench registers its own, that the registered set covers every kernel a training
 * step runs, whole-model gradient and optimizer parity with tfjs/cpu, and no leaked tensors or backend
 * buffers across repeated steps.
 *
 * The network (NHWC, plain tfjs ops): conv 3×3 same (+bias, ReLU, optionally fused) → maxpool 2×2/2 on
 * odd sizes after ReLU (ties at 0) → conv 3×3 stride 2 same → batch norm in training mode → ReLU →
 * conv 1×1 valid → maxpool 2×2/2 without ReLU (all-negative windows) → flatten → seeded dropout →
 * dense → softmax cross-entropy.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  missingWasmTrainingKernels,
  registerWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
} from '../../src/backends/tfjs/wasm-kernels/index.ts';
import { normals } from './helpers.ts';

const N = 4;
const X_SHAPE: [number, number, number, number] = [N, 13, 15, 3];
const CLASSES = 5;
// 13×15 → pool 6×7 → stride 2 → 3×4 → 1×1 conv → pool 1×2 → 2·10 features.
const PARAM_SHAPES: Record<string, number[]> = {
  w1: [3, 3, 3, 6],
  b1: [6],
  w2: [3, 3, 6, 8],
  gamma: [8],
  beta: [8],
  w3: [1, 1, 8, 10],
  fw: [20, CLASSES],
  fb: [CLASSES],
};

/** Initial parameter values, identical for every backend. */
const INIT: Record<string, Float32Array> = Object.fromEntries(
  Object.entries(PARAM_SHAPES).map(([name, shape], i) => {
    const n = shape.reduce((p, v) => p * v, 1);
    const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((p, v) => p * v, 1) : 1;
    const v = normals(n, 100 + i, shape.length > 1 ? Math.sqrt(2 / fanIn) : 0.1);
    if (name === 'gamma') for (let j = 0; j < n; j++) v[j] = 1 + v[j]!;
    return [name, v];
  }),
);
const X = normals(
  X_SHAPE.reduce((p, v) => p * v, 1),
  7,
);
const LABELS = [0, 3, 1, 4];

type Params = Record<string, tf.Variable>;

/** Fresh variables on the active backend, all from {@link INIT}. */
function makeParams(): Params {
  return Object.fromEntries(
    Object.entries(PARAM_SHAPES).map(([name, shape]) => [
      name,
      tf.variable(tf.tensor(INIT[name]!, shape), true, `${name}_${Math.random()}`),
    ]),
  );
}

/** Logits of the test network; `fused` uses tf.fused ops where tfjs has them. */
function forward(p: Params, x: tf.Tensor4D, fused: boolean, training = true): tf.Tensor2D {
  let h: tf.Tensor4D = fused
    ? tf.fused.conv2d({ x, filter: p.w1 as tf.Tensor4D, strides: 1, pad: 'same', bias: p.b1, activation: 'relu' })
    : (tf.relu(tf.add(tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same'), p.b1!)) as tf.Tensor4D);
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.conv2d(h, p.w2 as tf.Tensor4D, 2, 'same');
  if (training) {
    const m = tf.moments(h, [0, 1, 2]);
    h = tf.batchNorm(h, m.mean, m.variance, p.beta, p.gamma, 1e-3) as tf.Tensor4D;
  } else {
    h = tf.batchNorm(h, tf.zeros([8]), tf.ones([8]), p.beta, p.gamma, 1e-3) as tf.Tensor4D;
  }
  h = tf.relu(h);
  h = tf.conv2d(h, p.w3 as tf.Tensor4D, 1, 'valid');
  h = tf.maxPool(h, 2, 2, 'valid');
  let f = tf.reshape(h, [N, -1]) as tf.Tensor2D;
  if (training) f = tf.dropout(f, 0.25, undefined, 5) as tf.Tensor2D;
  return fused
    ? (tf.fused.matMul({ a: f, b: p.fw as tf.Tensor2D, bias: p.fb }) as tf.Tensor2D)
    : (tf.add(tf.matMul(f, p.fw as tf.Tensor2D), p.fb!) as tf.Tensor2D);
}

function loss(p: Params, fused: boolean): tf.Scalar {
  const x = tf.tensor4d(X, X_SHAPE);
  const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), CLASSES);
  return tf.losses.softmaxCrossEntropy(y, forward(p, x, fused)) as tf.Scalar;
}

/** Loss and gradients of every parameter, as plain arrays, computed on `backend`. */
async function gradients(
  backend: 'cpu' | 'wasm',
  fused: boolean,
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await tf.setBackend(backend);
  const p = makeParams();
  const { value, grads } = tf.variableGrads(() => loss(p, fused), Object.values(p));
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(p)) out[name] = (await grads[v.name]!.data()) as Float32Array;
  const l = (await value.data())[0]!;
  tf.dispose([value, ...Object.values(grads), ...Object.values(p)]);
  return { loss: l, grads: out };
}

/** Parameters after `steps` momentum-SGD steps from {@link INIT}, on `backend`. */
async function trained(backend: 'cpu' | 'wasm', steps: number): Promise<Record<string, Float32Array>> {
  await tf.setBackend(backend);
  const p = makeParams();
  const opt = tf.train.momentum(0.05, 0.9);
  for (let i = 0; i < steps; i++) opt.minimize(() => loss(p, true), false, Object.values(p));
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(p)) out[name] = (await v.data()) as Float32Array;
  opt.dispose();
  tf.dispose(Object.values(p));
  return out;
}

function rel(got: Float32Array, ref: Float32Array): number {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return maxRef === 0 ? maxAbs : maxAbs / maxRef;
}

beforeAll(async () => {
  // The cpu backend prints advice to install tfjs-node on first use; the reference runs here on purpose.
  expect(await tf.setBackend('cpu')).toBe(true);
  (tf.findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
});

describe('tfjs/wasm before expbench registers its kernels', () => {
  it("lacks only Conv2DBackpropFilter and the depthwise gradients, and a conv layer's weight gradient fails naming it", async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    expect(missingWasmTrainingKernels()).toEqual([
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
    ]);
    const p = makeParams();
    expect(() => tf.tidy(() => tf.variableGrads(() => loss(p, false), Object.values(p)))).toThrow(
      /Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/,
    );
    tf.dispose(Object.values(p));
  });
});

describe('tfjs/wasm with expbench kernels', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
  });

  it('registers idempotently and then lacks nothing', () => {
    const first = registerWasmTrainingKernels();
    expect(first).toEqual({
      registered: [
        'BatchMatMul',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'MaxPoolGrad',
        'Sum',
        'Tile',
      ],
      replaced: ['BatchMatMul', 'Conv2DBackpropInput', 'MaxPoolGrad', 'Sum', 'Tile'],
      reasons: {
        BatchMatMul: 'slower',
        Conv2DBackpropFilter: 'missing',
        Conv2DBackpropInput: 'slower',
        DepthwiseConv2dNativeBackpropFilter: 'missing',
        DepthwiseConv2dNativeBackpropInput: 'missing',
        MaxPoolGrad: 'wrong',
        Sum: 'slower',
        Tile: 'slower',
      },
    });
    expect(registerWasmTrainingKernels()).toEqual(first);
    expect(missingWasmTrainingKernels()).toEqual([]);
  });

  it('covers every kernel a training step or an evaluation runs (profiled on tfjs/cpu)', async () => {
    await tf.setBackend('cpu');
    const seen = new Set<string>();
    const p = makeParams();
    for (const fused of [false, true]) {
      for (const opt of [tf.train.sgd(0.05), tf.train.momentum(0.05, 0.9)]) {
        for (let i = 0; i < 2; i++) {
          const prof = await tf.profile(() => {
            opt.minimize(() => loss(p, fused), false, Object.values(p));
          });
          for (const k of prof.kernels) seen.add(k.name);
        }
        opt.dispose();
      }
      const evalProf = await tf.profile(() =>
        tf.tidy(() => tf.argMax(tf.softmax(forward(p, tf.tensor4d(X, X_SHAPE), fused, false)), 1)),
      );
      for (const k of evalProf.kernels) seen.add(k.name);
    }
    tf.dispose(Object.values(p));
    // `*__op` entries are tf.customGrad wrappers, not kernels.
    const kernels = [...seen].filter((k) => !k.endsWith('__op')).sort();
    expect(kernels.filter((k) => !WASM_TRAINING_KERNELS.includes(k))).toEqual([]);
    expect(kernels).toContain('Conv2DBackpropFilter');
    expect(kernels).toContain('FusedConv2D');
    await tf.setBackend('wasm');
    expect(WASM_TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'wasm') == null)).toEqual([]);
  });

  for (const fused of [false, true]) {
    it(`gives tfjs/cpu's loss and gradients for every parameter (${fused ? 'fused' : 'unfused'} conv/dense), rel ≤ 1e-3`, async () => {
      const w = await gradients('wasm', fused);
      const c = await gradients('cpu', fused);
      expect(Math.abs(w.loss - c.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(c.loss)));
      const errs = Object.fromEntries(Object.keys(PARAM_SHAPES).map((k) => [k, rel(w.grads[k]!, c.grads[k]!)]));
      console.log(
        `model gradients wasm vs cpu (${fused ? 'fused' : 'unfused'}), rel error per parameter: ${JSON.stringify(errs, (_, v: unknown) => (typeof v === 'number' ? Number(v.toExponential(2)) : v))}`,
      );
      for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThanOrEqual(1e-3);
      // A gradient that is zero everywhere would pass the comparison vacuously.
      for (const k of Object.keys(PARAM_SHAPES))
        expect(
          c.grads[k]!.some((v) => v !== 0),
          k,
        ).toBe(true);
    });
  }

  it("ends 3 momentum-SGD steps (optimizer.minimize) with tfjs/cpu's parameters, rel ≤ 1e-3", async () => {
    const w = await trained('wasm', 3);
    const c = await trained('cpu', 3);
    for (const k of Object.keys(PARAM_SHAPES)) {
      expect(rel(w[k]!, c[k]!), k).toBeLessThanOrEqual(1e-3);
      expect(rel(w[k]!, INIT[k]!), `${k} moved`).toBeGreaterThan(0);
    }
  });

  it('leaks no tensor, backend buffer or wasm heap across repeated gradient and optimizer steps', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const heap = () => (backend as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    const p = makeParams();
    const opt = tf.train.momentum(0.05, 0.9);
    const step = (fused: boolean) => {
      tf.tidy(() => {
        tf.variableGrads(() => loss(p, fused), Object.values(p));
      });
      opt.minimize(() => loss(p, fused), false, Object.values(p));
    };
    // Warm-up: the optimizer creates its accumulators, the heap reaches its working size.
    step(false);
    step(true);
    const before = { mem: tf.memory(), ids: backend.numDataIds(), heap: heap() };
    for (let i = 0; i < 8; i++) step(i % 2 === 0);
    const after = { mem: tf.memory(), ids: backend.numDataIds(), heap: heap() };
    expect(after.mem.numTensors).toBe(before.mem.numTensors);
    expect(after.mem.numBytes).toBe(before.mem.numBytes);
    expect(after.mem.numDataBuffers).toBe(before.mem.numDataBuffers);
    // Buffers the engine does not know about would be intermediates a kernel forgot to free.
    expect(after.ids).toBe(before.ids);
    expect(after.heap).toBe(before.heap);
    opt.dispose();
    tf.dispose(Object.values(p));
  });
});
