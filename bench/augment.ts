/**
 * What augmentation costs a training step on the CPU: filling a batch (normalise to NCHW floats)
 * without and with the random crop + flip (`src/data/augment.ts`, done on the host by `fillBatch`),
 * beside one onnxruntime/cpu training step (VGG11 with batch norm, SGD Nesterov) on the same batch size. Samples interleave the three, so load drifts hit them
 * alike; prints medians, min–max, and augmentation's extra time as a share of a step.
 *
 *   npx tsx bench/augment.ts [--rounds 7] [--batch 128] [--width 0.25] [--steps 4]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createOrtBackend } from '../src/backends/onnxruntime/index.ts';
import { augmentPlan } from '../src/data/augment.ts';
import { fillBatch } from '../src/data/batch.ts';
import { epochOrder } from '../src/data/prng.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { machineLines, randomImages } from './common.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    batch: { type: 'string', default: '128' },
    width: { type: 'string', default: '0.25' },
    steps: { type: 'string', default: '4' },
  },
});
const ROUNDS = Number(args.rounds);
const B = Number(args.batch);
const STEPS = Number(args.steps);
const N = B * STEPS;
const { dataset } = randomImages(N);
const geo = { channels: 3, height: 32, width: 32 };
const order = epochOrder(1, 0, N);
const plan = augmentPlan({ crop: { size: 32, padding: 4 }, flip: true }, 1, 0, N);
const buf = new Float32Array(B * 3 * 32 * 32);
const labels = new Int32Array(B);

/** Milliseconds per batch of filling all STEPS batches, with or without the plan. */
function fill(augment: boolean): number {
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++)
    fillBatch(
      dataset.train,
      geo,
      dataset.normalization,
      order,
      s * B,
      B,
      'NCHW',
      buf,
      labels,
      augment ? plan : undefined,
    );
  return (performance.now() - t0) / STEPS;
}

const model = buildModelGraph(
  { arch: 'vgg11', width: Number(args.width), batchNorm: true, classifier: [], dropout: 0 },
  geo,
  10,
);
const session = await createOrtBackend('cpu').load(model, initWeights(model, 1), {
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  labelSmoothing: 0.1,
  trainBatchSize: B,
  inferBatchSize: B,
  seed: 1,
  dataset,
});
/** Milliseconds per training step (batch filled without augmentation inside, as the trainer does). */
async function step(): Promise<number> {
  const t0 = performance.now();
  await session.train({ split: dataset.train, epochs: 1, batchSize: B, lossEvery: STEPS, order: () => order });
  return (performance.now() - t0) / STEPS;
}

console.log(machineLines());
console.log(
  `vgg11 width ${args.width} with batch norm, batch ${B}, 32×32×3; ${ROUNDS} interleaved rounds of ${STEPS} batches\n`,
);
await step(); // first-run allocation, not sampled
const plain: number[] = [];
const aug: number[] = [];
const train: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  plain.push(fill(false));
  aug.push(fill(true));
  train.push(await step());
}
await session.dispose();
const row = (name: string, xs: number[]) => {
  const s = sortSamples(xs);
  return `${name.padEnd(34)} ${median(s).toFixed(3).padStart(9)} ms   (min ${min(s).toFixed(3)}, max ${max(s).toFixed(3)})`;
};
console.log(row('fill batch, no augmentation', plain));
console.log(row('fill batch, crop 4 px + flip', aug));
console.log(row('onnxruntime/cpu training step', train));
const extra = median(sortSamples(aug)) - median(sortSamples(plain));
const stepMs = median(sortSamples(train));
console.log(
  `\naugmentation adds ${extra.toFixed(3)} ms per batch (median difference): ${((100 * extra) / stepMs).toFixed(2)} % of a training step; augmented fill / plain fill ${(median(sortSamples(aug)) / median(sortSamples(plain))).toFixed(2)}×`,
);
