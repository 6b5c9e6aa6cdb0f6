/**
 * Training and inference throughput of a VGG on one tfjs device, through the backend's own session
 * (batch filling, forward/backward, momentum update, argmax included), a few steps at a time: tfjs/cpu
 * needs seconds per training image for a full-width vgg-small, so whole epochs are out of reach here.
 *
 *   npx tsx bench/tfjs-throughput.ts [--device cpu] [--arch vgg-small] [--width 1] [--batch 8]
 *                                    [--train-steps 3] [--infer-rounds 3] [--infer-batches 4] [--bn]
 *
 * Train: `--train-steps` timed steps, each its own `session.train` call of one full batch (so each is
 * one sample and ends with the session's sync); the first step, which also creates the momentum
 * buffers, is reported separately as warm-up. Infer: `--infer-rounds` timed `session.infer` calls over
 * `--infer-batches` batches each, after one untimed round. Prints median and spread (min–max, IQR) of
 * images per second, with the machine it ran on.
 */
import { randomImages } from './common.ts';
import { availableParallelism, cpus, loadavg, platform, release } from 'node:os';
import { parseArgs } from 'node:util';
import { createTfjsBackend } from '../src/backends/tfjs/index.ts';
import type { TfjsDevice } from '../src/backends/tfjs/index.ts';
import type { Dataset, Split } from '../src/data/types.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { iqr, max, median, min, sortSamples } from '../src/stats/summary.ts';

const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    arch: { type: 'string', default: 'vgg-small' },
    width: { type: 'string', default: '1' },
    batch: { type: 'string', default: '8' },
    'train-steps': { type: 'string', default: '3' },
    'infer-rounds': { type: 'string', default: '3' },
    'infer-batches': { type: 'string', default: '4' },
    bn: { type: 'boolean', default: false },
  },
});
const device = args.device as TfjsDevice;
const width = Number(args.width);
const B = Number(args.batch);
const trainSteps = Number(args['train-steps']);
const inferRounds = Number(args['infer-rounds']);
const inferBatches = Number(args['infer-batches']);

const H = 32;
const W = 32;
const C = 3;
const N = Math.max(B * (trainSteps + 1), B * inferBatches);
const bench = randomImages(N, H, W, C);
const split: Split = bench.dataset.train;
const inferSplit: Split = bench.sub(B * inferBatches);
const dataset: Dataset = { ...bench.dataset, test: inferSplit };

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(3));
function summary(ips: number[]): string {
  const s = sortSamples(ips);
  return `median ${fmt(median(s))} img/s (min ${fmt(min(s))}, max ${fmt(max(s))}, IQR ${fmt(iqr(s))}; ${s.length} samples)`;
}

const backend = createTfjsBackend(device);
const avail = await backend.probe();
if (!avail.available) {
  console.error(`${backend.id} unavailable: ${avail.reason}`);
  process.exit(2);
}
const model = buildModelGraph(
  { arch: args.arch!, width, batchNorm: args.bn!, classifier: [256], dropout: 0 },
  { channels: C, height: H, width: W },
  10,
);
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `${backend.id} · ${args.arch} width ${width}${args.bn ? ' +bn' : ''} (${model.paramCount.toLocaleString('en')} params) · batch ${B}`,
);
console.log(
  `machine: ${cpu}, ${availableParallelism()} cores, ${platform()} ${release()}, node ${process.version}, load avg ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);

let t = performance.now();
const session = await backend.load(model, initWeights(model, 1), {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  trainBatchSize: B,
  inferBatchSize: B,
  seed: 1,
  dataset,
});
console.log(
  `build+init ${((performance.now() - t) / 1000).toFixed(2)} s · ${session.info.device} · threads ${session.info.threads ?? '?'}`,
);
for (const n of session.info.notes ?? []) console.log(`  note: ${n}`);

try {
  // Inference first: it does not change the weights the training steps start from.
  await session.infer({ split: inferSplit, batchSize: B });
  const inferIps: number[] = [];
  for (let r = 0; r < inferRounds; r++) {
    t = performance.now();
    await session.infer({ split: inferSplit, batchSize: B });
    inferIps.push(inferSplit.n / ((performance.now() - t) / 1000));
  }
  console.log(`infer: ${summary(inferIps)} (${inferBatches} batches of ${B} per sample)`);

  const trainIps: number[] = [];
  for (let step = 0; step <= trainSteps; step++) {
    const order = Uint32Array.from({ length: N }, (_, i) => (i + step * B) % N);
    t = performance.now();
    await session.train({
      split: { ...split, n: N },
      epochs: 1,
      batchSize: B,
      order: () => order,
      lossEvery: 1,
      onStep: () => 'stop',
    });
    const sec = (performance.now() - t) / 1000;
    if (step === 0)
      console.log(`train warm-up step: ${fmt(B / sec)} img/s (${sec.toFixed(2)} s, creates the momentum buffers)`);
    else trainIps.push(B / sec);
  }
  if (trainIps.length > 0) console.log(`train: ${summary(trainIps)} (1 step of ${B} per sample)`);
} catch (e) {
  console.error(`failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await session.dispose();
}
