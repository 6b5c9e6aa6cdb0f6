/**
 * Training-mode batch norm on tfjs, forward and backward, side by side: the gradient tfjs derives for
 * `tf.moments` + `tf.batchNorm` (what expbench's networks took before) against the closed form of
 * `src/backends/tfjs/batch-norm.ts`, on ResNet-20's activations (NHWC, 16/32/64 channels on 32×32,
 * 16×16, 8×8 maps).
 *
 *   npx tsx bench/tfjs-batch-norm.ts [--backend wasm] [--batch 32] [--repeats 7]
 *
 * Each timing is one `tf.grads` of Σ w·bn(x) with respect to x, γ and β, read back (the synchronous
 * CPU backends have finished when it returns). The two formulations take turns, one call each per
 * round after one untimed call, so load from other processes falls on both. Reported: milliseconds,
 * median and min–max over the rounds, and composed ÷ closed form.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { batchNormTrain } from '../src/backends/tfjs/batch-norm.ts';
import { activateRuntime } from '../src/backends/tfjs/runtime.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '7' },
  },
});
const device = args.backend as 'wasm' | 'cpu';
const B = Number(args.batch);
const REPEATS = Number(args.repeats);
const EPS = 1e-5;

const rt = await activateRuntime(device);
if (!rt.ok) throw new Error(`tfjs/${device} unavailable: ${rt.reason}`);
await tf.setBackend(device);
console.log(machineLines());
console.log(`${rt.info.description}; batch ${B}; ${REPEATS} rounds\n`);

type Bn = (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor;
const composed: Bn = (x, g, b) => {
  const m = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, m.mean, m.variance, b, g, EPS);
};
const closed: Bn = (x, g, b) => batchNormTrain(x, g, b, EPS).y;

const fmt = (v: number) => v.toFixed(2);
for (const [h, c] of [
  [32, 16],
  [16, 32],
  [8, 64],
] as const) {
  const shape = [B, h, h, c];
  const x = tf.randomNormal(shape, 0, 2, 'float32', 1);
  const w = tf.randomNormal(shape, 0, 1, 'float32', 2);
  const g = tf.randomNormal([c], 1, 0.2, 'float32', 3) as tf.Tensor1D;
  const b = tf.randomNormal([c], 0, 1, 'float32', 4) as tf.Tensor1D;
  const time = (bn: Bn) => {
    const t0 = performance.now();
    tf.tidy(() => {
      const gr = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
        tf.sum(tf.mul(bn(a, s as tf.Tensor1D, o as tf.Tensor1D), w)),
      )([x, g, b]);
      for (const t of gr) t.dataSync();
    });
    return performance.now() - t0;
  };
  const samples = { composed: [] as number[], closed: [] as number[] };
  time(composed);
  time(closed);
  for (let r = 0; r < REPEATS; r++) {
    samples.composed.push(time(composed));
    samples.closed.push(time(closed));
  }
  const s1 = sortSamples(samples.composed);
  const s2 = sortSamples(samples.closed);
  console.log(
    `[${shape.join('×')}]  composed (tf.moments + tf.batchNorm) ${fmt(median(s1))} ms (${fmt(min(s1))}–${fmt(max(s1))})  closed form ${fmt(median(s2))} ms (${fmt(min(s2))}–${fmt(max(s2))})  ${(median(s1) / median(s2)).toFixed(2)}×`,
  );
  tf.dispose([x, w, g, b]);
}
