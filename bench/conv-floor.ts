/**
 * The floor under tfjs/wasm training speed: one forward 3×3 convolution (bias and ReLU fused, stride 1,
 * same padding) of each vgg-small layer, on tfjs/wasm (XNNPACK, threaded) and on onnxruntime/cpu (MLAS),
 * side by side in one process with the same thread count.
 *
 *   npx tsx bench/conv-floor.ts [--batch 64] [--width 1] [--repeats 9]
 *
 * A training step costs about three of these per layer (forward, input gradient, filter gradient),
 * whatever the framework does around them; so the ratio of the summed forward times is about the best
 * training-speed ratio tfjs/wasm can reach against onnxruntime/cpu with these kernels. Each backend
 * computes on inputs already in its own memory (tfjs: the wasm heap, NHWC; ORT: host tensors, NCHW, the
 * filter a graph input as it is while training); tfjs/wasm computes synchronously, so a call's end is the
 * kernel's end. Reported per layer: median ms (min–max), GMAC/s, and wasm : ORT time.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { activateRuntime } from '../src/backends/tfjs/runtime.ts';
import { OnnxGraph } from '../src/backends/onnxruntime/graph.ts';
import { loadOrt, ortVersions, sessionOptions } from '../src/backends/onnxruntime/runtime.ts';
import { mulberry32 } from '../src/data/prng.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import type { SortedSamples } from '../src/stats/summary.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '9' },
  },
});
const N = Number(args.batch);
const WIDTH = Number(args.width);
const REPEATS = Number(args.repeats);
const c = (n: number) => Math.max(1, Math.round(n * WIDTH));
/** vgg-small's convolutions: [input size, in channels, out channels]. */
const LAYERS: [number, number, number][] = [
  [32, 3, c(64)],
  [32, c(64), c(64)],
  [16, c(64), c(128)],
  [16, c(128), c(128)],
];

const u = mulberry32(3);
const fill = (n: number) => Float32Array.from({ length: n }, () => u() * 2 - 1);

function time(fn: () => void | Promise<void>): Promise<SortedSamples> {
  return (async () => {
    for (let i = 0; i < 2; i++) await fn();
    const out: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const t = performance.now();
      await fn();
      out.push(performance.now() - t);
    }
    return sortSamples(out);
  })();
}

const rt = await activateRuntime('wasm');
if (!rt.ok) throw new Error(`tfjs/wasm unavailable: ${rt.reason}`);
const ort = await loadOrt();
console.log(machineLines());
console.log(
  `tfjs: ${rt.info.description}; onnxruntime-node ${ortVersions(ort)['onnxruntime-node']}, ${sessionOptions('cpu').intraOpNumThreads} intra-op threads`,
);
console.log(`batch ${N}, vgg-small width ${WIDTH}, ${REPEATS} timed repeats after 2 warm-up\n`);
console.log(
  'layer                     GMAC   tfjs/wasm ms (min–max)   GMAC/s   onnxruntime/cpu ms (min–max)   GMAC/s   wasm : ORT',
);
let sumW = 0;
let sumO = 0;
for (const [s, ci, co] of LAYERS) {
  const macs = N * s * s * ci * co * 9;
  const xs = fill(N * s * s * ci);
  const ws = fill(9 * ci * co);
  const bs = fill(co);
  // tfjs/wasm, NHWC.
  const x = tf.tensor4d(xs, [N, s, s, ci]);
  const w = tf.tensor4d(ws, [3, 3, ci, co]);
  const b = tf.tensor1d(bs);
  const tw = await time(() => {
    tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: b, activation: 'relu' }).dispose();
  });
  tf.dispose([x, w, b]);
  // onnxruntime/cpu, NCHW; filter and bias are inputs, as in a training graph.
  const g = new OnnxGraph('conv');
  g.input('x', 'float32', [N, ci, s, s]);
  g.input('w', 'float32', [co, ci, 3, 3]);
  g.input('b', 'float32', [co]);
  const y = g.op('Conv', ['x', 'w', 'b'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
  g.node('Relu', [y], ['y']);
  g.output('y', 'float32', [N, co, s, s]);
  const session = await ort.InferenceSession.create(g.toModelBytes(), sessionOptions('cpu'));
  const feeds = {
    x: new ort.Tensor('float32', xs, [N, ci, s, s]),
    w: new ort.Tensor('float32', ws, [co, ci, 3, 3]),
    b: new ort.Tensor('float32', bs, [co]),
  };
  const fetches = { y: new ort.Tensor('float32', new Float32Array(N * co * s * s), [N, co, s, s]) };
  const to = await time(async () => {
    await session.run(feeds, fetches);
  });
  await session.release();
  sumW += median(tw);
  sumO += median(to);
  const g1 = macs / 1e9;
  const row = [
    `${s}×${s}×${ci} → ${co}`.padEnd(24),
    g1.toFixed(2).padStart(6),
    `${median(tw).toFixed(1)} (${min(tw).toFixed(1)}–${max(tw).toFixed(1)})`.padStart(24),
    (g1 / (median(tw) / 1000)).toFixed(1).padStart(8),
    `${median(to).toFixed(1)} (${min(to).toFixed(1)}–${max(to).toFixed(1)})`.padStart(30),
    (g1 / (median(to) / 1000)).toFixed(1).padStart(8),
    `${(median(tw) / median(to)).toFixed(2)}×`.padStart(12),
  ];
  console.log(row.join(' '));
}
console.log(
  `\nsum of medians: tfjs/wasm ${sumW.toFixed(1)} ms, onnxruntime/cpu ${sumO.toFixed(1)} ms: wasm : ORT ${(sumW / sumO).toFixed(2)}×`,
);
process.exit(0);
