/**
 * Conv2DBackpropFilter on tfjs/wasm: every formulation of src/backends/tfjs/wasm-kernels/
 * conv2d-backprop-filter.ts side by side, next to the forward Conv2D of the same layer, on the shapes
 * VGG training produces (3×3 same, stride 1, NHWC).
 *
 *   npx tsx bench/wasm-backprop-filter.ts [--batch 64] [--repeats 5] [--shapes 32x32x64x64,16x16x128x128]
 *
 * The backend is brought up as expbench runs it (threaded XNNPACK where Node allows; the thread count
 * is printed). Each timing is one synchronous kernel call (wasm kernels finish before they return);
 * every call gets a fresh copy of dy, as in training, so XNNPACK packs it anew instead of reusing the
 * operator it cached for that tensor. The contenders take turns (one call each per round), so load from
 * other processes falls on all of them. Reported: median and min–max over `--repeats` calls after one
 * untimed call, and the ratio of the median to the forward conv's; `*` marks what the registered
 * kernel picks.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { activateRuntime } from '../src/backends/tfjs/runtime.ts';
import {
  chooseFilterGradStrategy,
  conv2dBackpropFilterNHWC,
  FILTER_GRAD_STRATEGIES,
  KernelScope,
} from '../src/backends/tfjs/wasm-kernels/index.ts';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    repeats: { type: 'string', default: '5' },
    shapes: {
      type: 'string',
      // H×W×Ci×Co: vgg-small at width 1 and 0.25, then VGG11–19's deeper layers.
      default:
        '32x32x3x64,32x32x64x64,16x16x64x128,16x16x128x128,32x32x3x16,32x32x16x16,16x16x16x32,16x16x32x32,8x8x256x256,4x4x512x512,2x2x512x512',
    },
  },
});
const BATCH = Number(args.batch);
const REPEATS = Math.max(1, Number(args.repeats));

const rt = await activateRuntime('wasm');
if (!rt.ok) throw new Error(`tfjs/wasm unavailable: ${rt.reason}`);
const backend = tf.backend();
console.log(
  `${rt.info.description}; threads ${rt.info.threads}; batch ${BATCH}; ${REPEATS} timed calls each (ms: median, min–max)`,
);

type Timing = { med: number; min: number; max: number };

/**
 * Median and range of `REPEATS` timed calls of each of `fs`, after one untimed call each; the calls
 * are interleaved (one of each per round), so a burst of load from elsewhere on the machine hits
 * every contender alike. Intermediates are freed after each call, untimed.
 */
function timeAll(fs: ((s: KernelScope, fresh: tf.TensorInfo) => void)[]): Timing[] {
  const ts: number[][] = fs.map(() => []);
  for (let i = 0; i <= REPEATS; i++) {
    fs.forEach((f, j) => {
      const s = new KernelScope(backend, 'wasm');
      try {
        const fresh = s.run('Add', { a: dy, b: zero }); // a new tensor, as a training step's dy is (not timed)
        const t0 = performance.now();
        f(s, fresh);
        const t1 = performance.now();
        if (i > 0) ts[j]!.push(t1 - t0);
      } finally {
        s.dispose();
      }
    });
  }
  return ts.map((t) => {
    t.sort((a, b) => a - b);
    return { med: t[Math.floor(t.length / 2)]!, min: t[0]!, max: t[t.length - 1]! };
  });
}

const zero = tf.scalar(0);
let dy: tf.Tensor = zero;
for (const spec of args.shapes
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)) {
  const [h, w, ci, co] = spec.split('x').map(Number) as [number, number, number, number];
  const x = tf.randomNormal([BATCH, h, w, ci]);
  dy = tf.randomNormal([BATCH, h, w, co]);
  const filter = tf.randomNormal([3, 3, ci, co]);
  const info = tf.backend_util.computeConv2DInfo(
    [BATCH, h, w, ci],
    [3, 3, ci, co],
    1,
    1,
    'same',
    undefined,
    false,
    'channelsLast',
  );
  const [fwd, ...per] = timeAll([
    (s) => void s.run('Conv2D', { x, filter }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 }),
    ...FILTER_GRAD_STRATEGIES.map(
      (strategy) => (s: KernelScope, fresh: tf.TensorInfo) =>
        void conv2dBackpropFilterNHWC(s, x, fresh, info, strategy),
    ),
  ]) as [Timing, ...Timing[]];
  const cells = [`forward ${fwd.med.toFixed(1)} (${fwd.min.toFixed(1)}–${fwd.max.toFixed(1)})`];
  const picked = chooseFilterGradStrategy(info);
  FILTER_GRAD_STRATEGIES.forEach((strategy, j) => {
    const t = per[j]!;
    cells.push(
      `${strategy}${strategy === picked ? '*' : ''} ${t.med.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)}) ${(t.med / fwd.med).toFixed(1)}×`,
    );
  });
  console.log(`x ${BATCH}×${h}×${w}×${ci} → ${co}`.padEnd(26) + cells.join('   '));
  tf.dispose([x, dy, filter]);
}
