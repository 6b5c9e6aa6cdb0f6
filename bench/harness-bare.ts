/**
 * The bare side of bench/overhead-harness.ts, run as its own process like a case is: the same data,
 * model, weights, example order and backend calls as the runner's worker, with nothing of the harness
 * around the training call (no child-process protocol, memory sampler, progress or loss checks).
 * Prints the training time in seconds as JSON.
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getBackend } from '../src/backends/registry.ts';
import { loadExperiment } from '../src/config/load.ts';
import { epochOrder, loadDataset } from '../src/data/index.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: harness-bare.ts EXPERIMENT');
const exp = loadExperiment(file, { profile: null });
const training = exp.training;
if (!training) throw new Error(`${file}: harness-bare.ts times training; this experiment has no training:`);
const data = await loadDataset(exp.dataset, { baseDir: dirname(exp.file) });
const model = buildModelGraph(exp.model, data, data.numClasses);
const weights = initWeights(model, training.seed);
const backend = await getBackend(exp.backends[0]!);
const session = await backend.load(model, weights, {
  optimizer: training.optimizer,
  trainBatchSize: training.batchSize,
  inferBatchSize: exp.inference.batchSize,
  seed: training.seed,
  dataset: data,
});
const t0 = performance.now();
await session.train({
  split: data.train,
  epochs: training.epochs,
  batchSize: training.batchSize,
  lossEvery: training.lossEvery,
  order: (epoch) => epochOrder(training.seed, epoch, data.train.n),
});
const train = (performance.now() - t0) / 1000;
await session.dispose();
process.stdout.write(`${JSON.stringify({ train })}\n`);
process.exit(0);
