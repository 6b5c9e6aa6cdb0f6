/**
 * Brings tfjs/wasm up through expbench's runtime (as every case does) with the thread count the parent
 * sets in EXPBENCH_WASM_THREADS, runs one convolution and a dense product from fixed seeded values, and
 * prints one JSON line: the thread count tfjs-backend-wasm reports, the description and notes the runtime
 * records, and the outputs. It does not call process.exit, so
 * the parent can see that the pthread pool does not keep the process alive.
 *
 *   node --import tsx test/tfjs/wasm-threads-child.ts
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { activateRuntime } from '../../src/backends/tfjs/runtime.ts';
import { mulberry32 } from '../../src/data/prng.ts';

const r = await activateRuntime('wasm');
if (!r.ok) {
  console.log(JSON.stringify({ ok: false, reason: r.reason }));
} else {
  const u = mulberry32(7);
  const fill = (n: number) => Float32Array.from({ length: n }, () => u() * 2 - 1);
  const x = tf.tensor4d(fill(8 * 16 * 16 * 32), [8, 16, 16, 32]);
  const w = tf.tensor4d(fill(3 * 3 * 32 * 48), [3, 3, 32, 48]);
  const a = tf.tensor2d(fill(96 * 200), [96, 200]);
  const b = tf.tensor2d(fill(200 * 64), [200, 64]);
  const conv = (await tf.conv2d(x, w, 1, 'same').data()) as Float32Array;
  const mm = (await tf.matMul(a, b).data()) as Float32Array;
  console.log(
    JSON.stringify({
      ok: true,
      threads: getThreadsCount(),
      info: r.info,
      conv: Array.from(conv),
      matMul: Array.from(mm),
    }),
  );
}
