/**
 * Training-mode batch norm with the closed-form gradient (`src/backends/tfjs/batch-norm.ts`) against
 * the gradient tfjs derives for the same function composed of `tf.moments` and `tf.batchNorm`, on
 * tfjs/cpu and tfjs/wasm, for NHWC activations and flat features; and against float64 central
 * differences of the definition on one small case.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchNormTrain } from '../../src/backends/tfjs/batch-norm.ts';
import { activateRuntime } from '../../src/backends/tfjs/runtime.ts';
import { maxError, normals, size } from './helpers.ts';

const EPS = 1e-5;

/** Gradients of Σ w·bn(x) w.r.t. x, γ and β, by the closed form and by tfjs's own autodiff. */
function gradients(shape: number[], seed: number) {
  const c = shape[shape.length - 1]!;
  return tf.tidy(() => {
    const x = tf.tensor(normals(size(shape), seed, 2), shape);
    const gamma = tf.tensor1d(normals(c, seed + 1).map((v) => 1 + 0.3 * v));
    const beta = tf.tensor1d(normals(c, seed + 2));
    const w = tf.tensor(normals(size(shape), seed + 3), shape);
    const axes = shape.slice(0, -1).map((_, i) => i);
    const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y, w)),
    )([x, gamma, beta]);
    const composed = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const m = tf.moments(a, axes);
      return tf.sum(tf.mul(tf.batchNorm(a, m.mean, m.variance, b as tf.Tensor1D, g as tf.Tensor1D, EPS), w));
    })([x, gamma, beta]);
    return { ours: ours.map((t) => t.dataSync()), composed: composed.map((t) => t.dataSync()) };
  });
}

const lines: string[] = [];
afterAll(() => console.log(`closed-form batch-norm gradient vs tfjs autodiff (rel to max |ref|)\n${lines.join('\n')}`));

for (const device of ['cpu', 'wasm'] as const) {
  describe(`batchNormTrain on tfjs/${device}`, () => {
    beforeAll(async () => {
      const rt = await activateRuntime(device);
      expect(rt.ok).toBe(true);
      expect(await tf.setBackend(device)).toBe(true);
    });

    for (const shape of [
      [4, 5, 6, 7],
      [8, 1, 1, 16], // 1×1 maps: statistics over the batch alone
      [16, 8, 8, 32],
      [6, 10], // flat features (batch norm after a dense layer)
    ]) {
      it(`gives tfjs's composed gradient for x, γ and β: [${shape.join('×')}]`, () => {
        const { ours, composed } = gradients(shape, 3);
        ['x', 'gamma', 'beta'].forEach((name, i) => {
          const { rel } = maxError(ours[i]!, composed[i]!);
          lines.push(`${device} [${shape.join('×')}] ${name}: ${rel.toExponential(2)}`);
          expect(rel, name).toBeLessThan(1e-4);
        });
      });
    }

    it('normalises with the batch statistics it returns, and the forward value is tf.batchNorm', () => {
      tf.tidy(() => {
        const x = tf.tensor(normals(2 * 3 * 3 * 4, 9), [2, 3, 3, 4]);
        const g = tf.tensor1d([1, 2, 0.5, 1.5]);
        const b = tf.tensor1d([0, 1, -1, 0.5]);
        const r = batchNormTrain(x, g, b, EPS);
        const m = tf.moments(x, [0, 1, 2]);
        expect(maxError(r.mean.dataSync(), m.mean.dataSync()).maxAbs).toBe(0);
        expect(maxError(r.variance.dataSync(), m.variance.dataSync()).maxAbs).toBe(0);
        const ref = tf.batchNorm(x, m.mean, m.variance, b, g, EPS);
        expect(maxError(r.y.dataSync(), ref.dataSync()).maxAbs).toBe(0);
      });
    });
  });
}

describe('batchNormTrain against float64 central differences', () => {
  it('x, γ and β gradients of Σ w·bn(x) on [3, 2, 2, 3] agree to 1e-4', async () => {
    await tf.setBackend('cpu');
    const shape = [3, 2, 2, 3];
    const [n, c] = [size(shape) / 3, 3];
    const xs = Float64Array.from(normals(size(shape), 21, 2));
    const gs = Float64Array.from([1.2, 0.7, 1]);
    const bs = Float64Array.from([0.1, -0.3, 0.2]);
    const ws = Float64Array.from(normals(size(shape), 22));
    const f = (x: Float64Array, g: Float64Array, b: Float64Array): number => {
      let out = 0;
      for (let ch = 0; ch < c; ch++) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += x[i * c + ch]!;
        mean /= n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (x[i * c + ch]! - mean) ** 2;
        v /= n;
        for (let i = 0; i < n; i++)
          out += ws[i * c + ch]! * (((x[i * c + ch]! - mean) / Math.sqrt(v + EPS)) * g[ch]! + b[ch]!);
      }
      return out;
    };
    const fd = (arr: Float64Array, k: number, call: () => number) => {
      const h = 1e-6;
      const v0 = arr[k]!;
      arr[k] = v0 + h;
      const up = call();
      arr[k] = v0 - h;
      const down = call();
      arr[k] = v0;
      return (up - down) / (2 * h);
    };
    const call = () => f(xs, gs, bs);
    const ref = [xs, gs, bs].map((arr) => Array.from(arr, (_, k) => fd(arr, k, call)));
    const got = tf.tidy(() => {
      const w = tf.tensor(Float32Array.from(ws), shape);
      return tf
        .grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(batchNormTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y, w)),
        )([
          tf.tensor(Float32Array.from(xs), shape),
          tf.tensor1d(Float32Array.from(gs)),
          tf.tensor1d(Float32Array.from(bs)),
        ])
        .map((t) => t.dataSync());
    });
    ref.forEach((r, i) => {
      const scale = Math.max(...r.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      expect(maxError(got[i]!, r).rel).toBeLessThan(1e-4);
    });
  });
});
