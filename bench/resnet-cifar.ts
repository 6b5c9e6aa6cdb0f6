/**
 * ResNet-20 trained on real CIFAR-10 images on onnxruntime/cpu and tfjs/wasm from the same weights and
 * the same batches (same example order every epoch): the loss of every step side by side for the first
 * `--compare-steps` steps with their largest relative difference, and the test accuracy after the last
 * epoch on each, with the difference in percentage points.
 *
 *   npx tsx bench/resnet-cifar.ts [path/to/cifar10-jpg(-small).tar.gz] [--train 10000] [--test 2000]
 *                                 [--epochs 1] [--batch 64] [--width 1] [--lr 0.05] [--compare-steps 20]
 *
 * The default data is `../shared/datasets/cifar10-jpg-small.tar.gz` (12,000 images: 1,000 train and 200
 * test per class) beside the checkout, or `$EXPBENCH_DATA/cifar10-jpg-small.tar.gz`. The run it prints
 * is the one its arguments describe: a short run on a subset says so in its header and shows the
 * mechanism, not the study's figures.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getBackend } from '../src/backends/registry.ts';
import type { BackendId, LoadOptions } from '../src/backends/types.ts';
import { loadDataset } from '../src/data/index.ts';
import { epochOrder } from '../src/data/prng.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { machineLines } from './common.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    train: { type: 'string', default: '10000' },
    test: { type: 'string', default: '2000' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.05' },
    'compare-steps': { type: 'string', default: '20' },
  },
});

function defaultPath(): string | undefined {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  return [process.env.EXPBENCH_DATA, join(repo, '..', 'shared', 'datasets')]
    .filter((d): d is string => !!d)
    .map((d) => join(d, 'cifar10-jpg-small.tar.gz'))
    .find((p) => existsSync(p));
}

const path = positionals[0] ? resolve(positionals[0]) : defaultPath();
if (!path) {
  console.error('resnet-cifar: no cifar10-jpg-small.tar.gz found; pass its path (or set EXPBENCH_DATA to its folder)');
  process.exit(2);
}
const [EPOCHS, BATCH, STEPS] = [Number(args.epochs), Number(args.batch), Number(args['compare-steps'])];
const ds = await loadDataset(
  { kind: 'image-folder', path, train: Number(args.train), test: Number(args.test), sizeMismatch: 'reject' },
  { baseDir: process.cwd() },
);
const model = buildModelGraph(
  { arch: 'resnet20', width: Number(args.width), batchNorm: false, classifier: [], dropout: 0 },
  ds,
  ds.numClasses,
);
const weights = initWeights(model, 20);
const opts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: Number(args.lr), momentum: 0.9, weightDecay: 1e-4 },
  trainBatchSize: BATCH,
  inferBatchSize: 100,
  seed: 1,
  dataset: ds,
};
console.log(machineLines());
console.log(
  `data: ${ds.source}: ${ds.train.n} train / ${ds.test.n} test images, ${ds.numClasses} classes\nmodel: resnet20 width ${args.width} (${model.paramCount.toLocaleString('en-US')} parameters), batch ${BATCH}, ${EPOCHS} epoch(s), SGD lr ${args.lr} momentum 0.9 wd 1e-4, same weights and example order on both backends\n`,
);

interface Result {
  losses: number[];
  accuracy: number;
  seconds: number;
}

async function run(id: BackendId): Promise<Result | string> {
  const b = await getBackend(id);
  const a = await b.probe();
  if (!a.available) return a.reason;
  const s = await b.load(model, weights, opts);
  try {
    const losses: number[] = [];
    const t0 = performance.now();
    await s.train({
      split: ds.train,
      epochs: EPOCHS,
      batchSize: BATCH,
      order: (e) => epochOrder(7, e, ds.train.n),
      lossEvery: 1,
      onStep: (i) => void losses.push(i.loss!),
    });
    const seconds = (performance.now() - t0) / 1000;
    const predicted = await s.infer({ split: ds.test, batchSize: 100 });
    let right = 0;
    for (let i = 0; i < ds.test.n; i++) if (predicted[i] === ds.test.labels[i]) right++;
    return { losses, accuracy: right / ds.test.n, seconds };
  } finally {
    await s.dispose();
  }
}

const ids: BackendId[] = ['onnxruntime/cpu', 'tfjs/wasm'];
const results = new Map<BackendId, Result>();
for (const id of ids) {
  process.stdout.write(`${id} ... `);
  const r = await run(id);
  if (typeof r === 'string') console.log(`skipped: ${r}`);
  else {
    results.set(id, r);
    console.log(
      `${r.losses.length} steps in ${r.seconds.toFixed(1)} s, test accuracy ${(100 * r.accuracy).toFixed(2)} %`,
    );
  }
}
const [a, b] = [results.get(ids[0]!), results.get(ids[1]!)];
if (a && b) {
  const n = Math.min(STEPS, a.losses.length, b.losses.length);
  let worst = 0;
  console.log(`\nstep  ${ids[0]!.padEnd(16)}${ids[1]!.padEnd(16)}rel. difference`);
  for (let i = 0; i < n; i++) {
    const rel = Math.abs(a.losses[i]! - b.losses[i]!) / Math.max(1, Math.abs(a.losses[i]!));
    worst = Math.max(worst, rel);
    console.log(
      `${String(i).padStart(4)}  ${a.losses[i]!.toFixed(6).padEnd(16)}${b.losses[i]!.toFixed(6).padEnd(16)}${rel.toExponential(2)}`,
    );
  }
  const points = 100 * Math.abs(a.accuracy - b.accuracy);
  console.log(
    `\nlargest relative loss difference over the first ${n} steps: ${worst.toExponential(2)} (parity tolerance 1e-4)`,
  );
  console.log(
    `test accuracy: ${ids[0]} ${(100 * a.accuracy).toFixed(2)} %, ${ids[1]} ${(100 * b.accuracy).toFixed(2)} %: ${points.toFixed(2)} points apart (${points <= 1 ? 'within' : 'NOT within'} 1 point)`,
  );
}
