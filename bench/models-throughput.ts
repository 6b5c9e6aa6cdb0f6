/**
 * Training and inference throughput of graph-shaped and straight networks, onnxruntime/cpu against
 * tfjs/wasm side by side in one process: ResNet-20, ResNet-56 (CIFAR-10, option-A shortcuts) and
 * vgg-small on 32×32×3 images, 10 classes. For each model both sessions are loaded from the same
 * weights, and their timed rounds alternate (train: ort, wasm, ort, wasm, …; then infer likewise), so
 * a change in machine load hits both. Reported per backend and phase: median images/s with min–max
 * over the rounds, the ratio to onnxruntime/cpu, and the achieved GFLOP/s from the model's multiply-adds
 * (`src/models/cost.ts`: 2 FLOP per multiply-add forward, 3× that for a training step).
 *
 *   npx tsx bench/models-throughput.ts [--rounds 5] [--batch 64] [--round-seconds 4] [--width 1]
 *                                       [--models resnet20,resnet56,vgg-small]
 *
 * Steps per round are calibrated per backend from one warm-up step (a whole number of batches taking
 * about `--round-seconds`, at most 16), so a slow backend still finishes.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getBackend } from '../src/backends/registry.ts';
import type { BackendId, LoadOptions, ModelSession } from '../src/backends/types.ts';
import { epochOrder } from '../src/data/prng.ts';
import { flopsPerExample, multiplyAdds } from '../src/models/cost.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { machineLines, randomImages } from './common.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    'round-seconds': { type: 'string', default: '4' },
    width: { type: 'string', default: '1' },
    models: { type: 'string', default: 'resnet20,resnet56,vgg-small' },
  },
});
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const ROUND_SECONDS = Number(args['round-seconds']);
const MAX_STEPS = 16;
const BACKENDS: BackendId[] = ['onnxruntime/cpu', 'tfjs/wasm'];
const [H, W, C] = [32, 32, 3];
const { dataset, sub } = randomImages(MAX_STEPS * BATCH, H, W, C);

interface Side {
  id: BackendId;
  session: ModelSession;
  trainSteps: number;
  inferSteps: number;
  train: number[];
  infer: number[];
}

/** Seconds of `steps` training steps (the loss read back once, at the end, which waits for the device). */
async function trainFor(s: ModelSession, steps: number, epoch: number): Promise<number> {
  const split = sub(steps * BATCH);
  const t = performance.now();
  await s.train({
    split,
    epochs: 1,
    batchSize: BATCH,
    order: () => epochOrder(1, epoch, split.n),
    lossEvery: steps,
  });
  return (performance.now() - t) / 1000;
}

/** Seconds to infer `steps` batches (class ids back on the host). */
async function inferFor(s: ModelSession, steps: number): Promise<number> {
  const t = performance.now();
  await s.infer({ split: sub(steps * BATCH), batchSize: BATCH });
  return (performance.now() - t) / 1000;
}

const calibrate = (warmupS: number) => Math.max(1, Math.min(MAX_STEPS, Math.round(ROUND_SECONDS / warmupS)));
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(3));

console.log(machineLines());
console.log(
  `batch ${BATCH}, width ${args.width}, SGD momentum 0.9; ${ROUNDS} timed rounds per backend and phase, alternating backends, after one warm-up step each\n`,
);
console.log(
  'model       phase  backend          rounds×steps  median img/s  min–max img/s   vs ort  GFLOP/s  (MAC/img)',
);
for (const arch of args.models.split(',').map((s) => s.trim())) {
  const model = buildModelGraph(
    { arch, width: Number(args.width), batchNorm: false, classifier: [256], dropout: 0 },
    { channels: C, height: H, width: W },
    10,
  );
  const weights = initWeights(model, 1);
  const opts: LoadOptions = {
    optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    trainBatchSize: BATCH,
    inferBatchSize: BATCH,
    seed: 1,
    dataset,
  };
  const sides: Side[] = [];
  for (const id of BACKENDS) {
    const b = await getBackend(id);
    const a = await b.probe();
    if (!a.available) {
      console.log(`${arch.padEnd(12)}skipped ${id}: ${a.reason}`);
      continue;
    }
    const session = await b.load(model, weights, opts);
    const trainSteps = calibrate(await trainFor(session, 1, 0));
    const inferSteps = calibrate(await inferFor(session, 1));
    sides.push({ id, session, trainSteps, inferSteps, train: [], infer: [] });
  }
  for (let r = 0; r < ROUNDS; r++)
    for (const s of sides) s.train.push((s.trainSteps * BATCH) / (await trainFor(s.session, s.trainSteps, r + 1)));
  for (let r = 0; r < ROUNDS; r++)
    for (const s of sides) s.infer.push((s.inferSteps * BATCH) / (await inferFor(s.session, s.inferSteps)));
  for (const phase of ['train', 'infer'] as const) {
    const flop = flopsPerExample(model, phase);
    const base = sides.find((s) => s.id === 'onnxruntime/cpu');
    const baseMed = base ? median(sortSamples(base[phase])) : undefined;
    for (const s of sides) {
      const sorted = sortSamples(s[phase]);
      const m = median(sorted);
      const steps = phase === 'train' ? s.trainSteps : s.inferSteps;
      console.log(
        `${arch.padEnd(12)}${phase.padEnd(7)}${s.id.padEnd(17)}${`${sorted.length}×${steps}`.padStart(12)}  ${fmt(m).padStart(12)}  ${`${fmt(min(sorted))}–${fmt(max(sorted))}`.padStart(13)}  ${(baseMed ? `${(m / baseMed).toFixed(2)}×` : '—').padStart(7)}  ${((m * flop) / 1e9).toFixed(2).padStart(7)}  (${(multiplyAdds(model) / 1e6).toFixed(1)} M)`,
      );
    }
  }
  for (const s of sides) await s.session.dispose();
}
console.log(
  `\nload average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (a loaded machine disturbs absolute figures; the alternating rounds keep the ratios comparable)`,
);
