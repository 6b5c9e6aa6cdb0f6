/**
 * What expbench's latency loop adds to what it times: the loop the runner runs for `metrics: { latency }`
 * (src/runner/measure.ts: `timeCalls` over the backend's prepared `inferenceCall`) against a bare loop
 * around the very same runtime call, the backend's own ONNX Runtime `session.run` and its tfjs model's
 * forward pass, on one loaded session. The two alternate round by round (ABBA order, so neither always
 * runs first), each round `--calls` calls after the same warm-up; per-call medians over all rounds,
 * the spread of the round medians, and the ratio expbench / bare per round (median and range).
 * Target: the medians within 2 %.
 *
 *   npx tsx bench/latency-overhead.ts [--rounds 8] [--calls 200] [--batches 1,64] [--width 0.25]
 *                                      [--backends onnxruntime/cpu,tfjs/wasm]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { INPUT_NAME, LOGITS_NAME } from '../src/backends/onnxruntime/forward.ts';
import { getBackend } from '../src/backends/registry.ts';
import type { ModelSession } from '../src/backends/types.ts';
import type { TfjsModel } from '../src/backends/tfjs/model.ts';
import { fillBatch } from '../src/data/batch.ts';
import { nchwToNhwc } from '../src/models/layout.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { timeCalls } from '../src/runner/measure.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import type { BackendId } from '../src/vocab/backends.ts';
import { machineLines, randomImages } from './common.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    calls: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    batches: { type: 'string', default: '1,64' },
    width: { type: 'string', default: '0.25' },
    backends: { type: 'string', default: 'onnxruntime/cpu,tfjs/wasm' },
  },
});
const ROUNDS = Number(args.rounds);
const CALLS = Number(args.calls);
const WARMUP = Number(args.warmup);
const [H, W, C] = [32, 32, 3];

/** The runtime call under the backend's `inferenceCall`, reached on the loaded session itself. */
function bareCall(id: BackendId, session: ModelSession, x: Float32Array, n: number): () => Promise<void> {
  if (id.startsWith('onnxruntime/')) {
    const s = (session as unknown as { session?: InferenceSession; ort?: typeof import('onnxruntime-common') }).session;
    const ort = (session as unknown as { ort?: { Tensor: typeof Tensor } }).ort;
    if (!s || !ort) throw new Error(`${id}: the session no longer keeps its InferenceSession in .session`);
    const input = new ort.Tensor('float32', x.slice(0, n * C * H * W), [n, C, H, W]);
    return async () => {
      const out = await s.run({ [INPUT_NAME]: input }, [LOGITS_NAME]);
      out[LOGITS_NAME]!.dispose();
    };
  }
  const model = (session as unknown as { model?: TfjsModel }).model;
  if (!model) throw new Error(`${id}: the session no longer keeps its TfjsModel in .model`);
  const nhwc = nchwToNhwc(x.subarray(0, n * C * H * W), [n, C, H, W]);
  return async () => {
    const t = tf.tidy(() => model.forward(tf.tensor4d(nhwc, [n, H, W, C]), { training: false }));
    await t.data();
    t.dispose();
  };
}

/** The bare loop: the same calls, timed each with its own pair of clock readings. */
async function bareLoop(call: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await call();
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await call();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

const fmt = (s: number) => `${(s * 1e3).toFixed(3)} ms`;
const pct = (r: number) => `${((r - 1) * 100).toFixed(2)} %`;

console.log(machineLines());
const { dataset } = randomImages(64, H, W, C);
const model = buildModelGraph(
  { arch: 'vgg-small', width: Number(args.width), batchNorm: false, classifier: [256], dropout: 0 },
  { channels: C, height: H, width: W },
  10,
);
const weights = initWeights(model, 1);
console.log(
  `workload: vgg-small ×${args.width}, 32×32×3; ${ROUNDS} rounds × ${CALLS} calls per loop, ${WARMUP} warm-up calls`,
);
console.log('backend          batch  expbench p50   bare p50   ratio (median of rounds, min … max)');
for (const id of args.backends.split(',') as BackendId[]) {
  const backend = await getBackend(id);
  const avail = await backend.probe();
  if (!avail.available) {
    console.log(`${id}: skipped: ${avail.reason}`);
    continue;
  }
  for (const n of args.batches.split(',').map(Number)) {
    const session = await backend.load(model, weights, {
      optimizer: { kind: 'sgd', lr: 0, momentum: 0, weightDecay: 0 },
      trainBatchSize: n,
      inferBatchSize: n,
      seed: 1,
      dataset,
      training: false,
    });
    const x = new Float32Array(n * C * H * W);
    fillBatch(
      dataset.test,
      dataset,
      dataset.normalization,
      Uint32Array.from({ length: n }, (_, i) => i),
      0,
      n,
      'NCHW',
      x,
    );
    const prepared = await session.inferenceCall!(x, n);
    const bare = bareCall(id, session, x, n);
    const ours: number[] = [];
    const theirs: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const cfg = { calls: CALLS, minDuration: 0, warmup: WARMUP };
      const runOurs = () => timeCalls(() => prepared.run(), cfg);
      let a: number[];
      let b: number[];
      // AB, BA, AB, …: neither loop always runs first.
      if (r % 2 === 0) {
        a = await runOurs();
        b = await bareLoop(bare);
      } else {
        b = await bareLoop(bare);
        a = await runOurs();
      }
      ours.push(...a);
      theirs.push(...b);
      ratios.push(median(sortSamples(a)) / median(sortSamples(b)));
    }
    prepared.dispose();
    await session.dispose();
    const rs = sortSamples(ratios);
    console.log(
      `${id.padEnd(16)} ${String(n).padStart(5)}  ${fmt(median(sortSamples(ours))).padStart(12)} ${fmt(median(sortSamples(theirs))).padStart(10)}   ${pct(median(rs))} (${pct(min(rs))} … ${pct(max(rs))})`,
    );
  }
}
process.exit(0);
