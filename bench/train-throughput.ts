/**
 * Training throughput of vgg-small (32×32×3, 10 classes, SGD with momentum) on each backend side by
 * side, in one process: images per second over timed rounds of `session.train` (batch filling,
 * forward, backward, update; the loss read back once per round, which waits for the device), median
 * and spread.
 *
 *   npx tsx bench/train-throughput.ts [--rounds 5] [--batch 64] [--round-seconds 8] [--budget-seconds 150] [--width 1]
 *                                     [--bn] [--dropout 0]
 *                                     [--backends onnxruntime/cpu,tfjs/wasm,tfjs/cpu]
 *
 * Every backend gets the same weights, images and example order. Before the timed rounds, one
 * warm-up step (first-run allocation, kernel selection) is timed and reported on its own. The steps per
 * round are calibrated per backend from that warm-up (a whole number of batches taking about
 * `--round-seconds`, at least one), and a backend stops adding rounds once its timed rounds exceed
 * `--budget-seconds` (two rounds at least), so a slow backend still finishes; the table shows the
 * rounds each backend ran.
 */
import { backendFor, machineLines, randomImages } from './common.ts';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { BackendId, LoadOptions, ModelSession } from '../src/backends/types.ts';
import { epochOrder } from '../src/data/prng.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { loadOrt, ortVersions } from '../src/backends/onnxruntime/runtime.ts';
import { iqr, max, median, min, sortSamples } from '../src/stats/index.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    'round-seconds': { type: 'string', default: '8' },
    'budget-seconds': { type: 'string', default: '150' },
    width: { type: 'string', default: '1' },
    bn: { type: 'boolean', default: false },
    dropout: { type: 'string', default: '0' },
    backends: { type: 'string', default: 'onnxruntime/cpu,tfjs/wasm,tfjs/cpu' },
  },
});
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const ROUND_SECONDS = Number(args['round-seconds']);
const BUDGET_SECONDS = Number(args['budget-seconds']);
const MAX_STEPS = 32;

const [H, W, C] = [32, 32, 3];
const N = MAX_STEPS * BATCH;
const { dataset, sub } = randomImages(N, H, W, C);
const model = buildModelGraph(
  {
    arch: 'vgg-small',
    width: Number(args.width),
    batchNorm: args.bn,
    classifier: [256],
    dropout: Number(args.dropout),
  },
  { channels: C, height: H, width: W },
  10,
);
const weights = initWeights(model, 1);
const loadOpts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  trainBatchSize: BATCH,
  inferBatchSize: BATCH,
  seed: 1,
  dataset,
};

interface Row {
  id: string;
  skipped?: string;
  device?: string;
  threads?: number;
  loadS?: number;
  warmupS?: number;
  steps?: number;
  rates?: number[];
  lastLoss?: number;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

async function measure(id: string): Promise<Row> {
  let session: ModelSession;
  const t0 = performance.now();
  try {
    const b = await backendFor(id);
    const a = await b.probe();
    if (!a.available) return { id, skipped: a.reason };
    session = await b.load(model, weights, loadOpts);
  } catch (e) {
    return { id, skipped: `cannot load: ${firstLine(e)}` };
  }
  const loadS = (performance.now() - t0) / 1000;
  try {
    let lastLoss: number | undefined;
    const train = async (steps: number, epoch: number) => {
      const split = sub(steps * BATCH);
      const s = performance.now();
      await session.train({
        split,
        epochs: 1,
        batchSize: BATCH,
        order: () => epochOrder(1, epoch, split.n),
        lossEvery: steps,
        onStep: (i) => {
          if (i.loss !== undefined) lastLoss = i.loss;
        },
      });
      return (performance.now() - s) / 1000;
    };
    const warmupS = await train(1, 0);
    const steps = Math.max(1, Math.min(MAX_STEPS, Math.round(ROUND_SECONDS / warmupS)));
    const rates: number[] = [];
    const started = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      rates.push((steps * BATCH) / (await train(steps, r + 1)));
      // A slow backend (tfjs/cpu is plain JavaScript) stops after its time budget, with ≥ 2 rounds.
      if (r >= 1 && (performance.now() - started) / 1000 > BUDGET_SECONDS) break;
    }
    return { id, device: session.info.device, threads: session.info.threads, loadS, warmupS, steps, rates, lastLoss };
  } catch (e) {
    return { id, skipped: `failed while training: ${firstLine(e)}` };
  } finally {
    await session.dispose();
  }
}

const ids = args.backends
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as BackendId[];
const ort = await loadOrt();
console.log(machineLines());
console.log(`runtime: onnxruntime-node ${ortVersions(ort)['onnxruntime-node']}`);
console.log(
  `model: vgg-small width ${args.width}${args.bn ? ' + batch norm' : ''}${Number(args.dropout) > 0 ? ` + dropout ${args.dropout}` : ''} (${model.paramCount.toLocaleString('en-US')} parameters), batch ${BATCH}, SGD momentum 0.9, wd 5e-4; up to ${ROUNDS} timed rounds per backend (budget ${BUDGET_SECONDS} s) after one warm-up step\n`,
);

const rows: Row[] = [];
for (const id of ids) {
  process.stdout.write(`${id} ... `);
  const row = await measure(id);
  rows.push(row);
  console.log(
    row.skipped
      ? `skipped: ${row.skipped}`
      : `done (${row.rates!.map((r) => (r >= 10 ? r.toFixed(1) : r.toPrecision(3))).join(', ')} img/s)`,
  );
}

/** Rates below 10 img/s (plain-JS tfjs/cpu) keep three significant digits. */
const fmt = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(3));
const base = rows.find((r) => r.id === 'onnxruntime/cpu' && r.rates);
const baseMed = base ? median(sortSamples(base.rates!)) : undefined;
console.log(
  '\nbackend            rounds×steps  median img/s  min–max img/s     IQR  vs onnxruntime/cpu  load s  warm-up s  loss',
);
for (const r of rows) {
  if (!r.rates) {
    console.log(`${r.id.padEnd(19)}skipped: ${r.skipped}`);
    continue;
  }
  const s = sortSamples(r.rates);
  const m = median(s);
  const ratio = baseMed ? `${(m / baseMed).toFixed(2)}×` : '—';
  console.log(
    `${r.id.padEnd(19)}${`${r.rates.length}×${r.steps}`.padStart(12)}  ${fmt(m).padStart(12)}  ${`${fmt(min(s))}–${fmt(max(s))}`.padStart(13)}  ${fmt(iqr(s)).padStart(6)}  ${ratio.padStart(18)}  ${r.loadS!.toFixed(2).padStart(6)}  ${r.warmupS!.toFixed(2).padStart(9)}  ${r.lastLoss?.toFixed(3) ?? '—'}`,
  );
  console.log(`${''.padEnd(19)}device: ${r.device}${r.threads ? `, ${r.threads} threads` : ''}`);
}
console.log(
  `\nload average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
