/**
 * The study's argmax aside, replayed in JavaScript: turning 9,984 logit rows of 10 classes into class
 * ids. The study reported tf.argmax at 0.4066 s against NumPy's 0.0075 s (54×), blaming the per-call
 * overhead of running a graph op per example.
 *
 *   npx tsx bench/argmax.ts [--time 2000]
 *
 * Four ways, each timed by tinybench (median of iterations, after warm-up):
 * - tfjs/cpu `tf.argMax` on one [9984, 10] tensor (with the read-back, as a phase must end with data)
 * - tfjs/cpu `tf.argMax` per row, 9,984 calls — the study's per-example pattern
 * - tfjs/cpu per row with the tensor creation hoisted (what remains is dispatch + read-back)
 * - a plain Float32Array loop
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Bench } from 'tinybench';
import { formatSeconds } from '../src/stats/format.ts';

const { values: args } = parseArgs({ options: { time: { type: 'string', default: '2000' } } });

const ROWS = 9984;
const CLASSES = 10;

await tf.setBackend('cpu');
await tf.ready();

// Seeded logits, so every run ranks the same data (xorshift32).
let seed = 0x9e3779b9;
const logits = new Float32Array(ROWS * CLASSES);
for (let i = 0; i < logits.length; i++) {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  logits[i] = ((seed >>> 0) / 4294967296) * 8 - 4;
}

/** The reference: one pass over the rows, first maximum wins (as tf.argMax and numpy.argmax). */
function argmaxLoop(x: Float32Array, rows: number, classes: number, out: Int32Array): Int32Array {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let best = 0;
    let bestV = x[base]!;
    for (let c = 1; c < classes; c++) {
      const v = x[base + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

const whole = tf.tensor2d(logits, [ROWS, CLASSES]);
const rowTensors = Array.from({ length: ROWS }, (_, r) => tf.tensor1d(logits.subarray(r * CLASSES, (r + 1) * CLASSES)));
const out = new Int32Array(ROWS);

// Every method must agree before any is timed.
const expected = argmaxLoop(logits, ROWS, CLASSES, new Int32Array(ROWS));
const viaTf = tf.argMax(whole, 1).dataSync();
for (let r = 0; r < ROWS; r++)
  if (viaTf[r] !== expected[r]) throw new Error(`tf.argMax disagrees with the loop at row ${r}`);

const time = Number(args.time);
const bench = new Bench({ time, warmupTime: Math.min(500, time / 4), iterations: 5 });
bench
  .add('tf.argMax on [9984,10] + dataSync', () => {
    const ids = tf.argMax(whole, 1);
    ids.dataSync();
    ids.dispose();
  })
  .add('tf.argMax per row (9,984 calls, tensor per row)', () => {
    for (let r = 0; r < ROWS; r++) {
      const row = tf.tensor1d(logits.subarray(r * CLASSES, (r + 1) * CLASSES));
      const id = tf.argMax(row);
      out[r] = id.dataSync()[0]!;
      row.dispose();
      id.dispose();
    }
  })
  .add('tf.argMax per row (tensors made beforehand)', () => {
    for (let r = 0; r < ROWS; r++) {
      const id = tf.argMax(rowTensors[r]!);
      out[r] = id.dataSync()[0]!;
      id.dispose();
    }
  })
  .add('Float32Array loop', () => {
    argmaxLoop(logits, ROWS, CLASSES, out);
  });

await bench.run();

const medians = new Map<string, { p50: number; p75: number; n: number }>();
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
  const l = r.latency;
  medians.set(task.name, { p50: l.p50 / 1e3, p75: l.p75 / 1e3, n: l.samplesCount });
}
const loop = medians.get('Float32Array loop')!.p50;
console.log(
  `argmax over ${ROWS.toLocaleString('en-US')} rows × ${CLASSES} classes; tfjs ${tf.version_core} (${tf.getBackend()}); node ${process.version}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores\n`,
);
console.log('| method | median | p75 | iterations | × loop |');
console.log('|---|---|---|---|---|');
for (const [name, m] of medians) {
  console.log(
    `| ${name} | ${formatSeconds(m.p50)} | ${formatSeconds(m.p75)} | ${m.n} | ${(m.p50 / loop).toFixed(1)} |`,
  );
}
console.log('\nstudy (TensorFlow 1.x vs NumPy): tf.argmax 0.4066 s, numpy 0.0075 s (54×)');
const perRow = medians.get('tf.argMax per row (9,984 calls, tensor per row)')!.p50;
const batched = medians.get('tf.argMax on [9984,10] + dataSync')!.p50;
console.log(
  `here: per-row tf.argMax / loop = ${(perRow / loop).toFixed(0)}×; one batched tf.argMax / loop = ${(batched / loop).toFixed(1)}×`,
);
