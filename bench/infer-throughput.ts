/**
 * Inference throughput of vgg-small (32×32×3, 10 classes) on each backend side by side, in one
 * process: images per second over several timed rounds of `session.infer` (batching, normalisation,
 * forward pass and argmax included, as in the study's inference phase), median and spread, and ratios
 * against onnxruntime/cpu.
 *
 *   npx tsx bench/infer-throughput.ts [--rounds 5] [--batch 64] [--round-seconds 2]
 *                                      [--backends onnxruntime/cpu,onnxruntime/cpu+inputs,tfjs/cpu,tfjs/wasm]
 *
 * `onnxruntime/cpu+inputs` is ONNX Runtime with the weights fed as graph inputs on every run (the form
 * the training graph takes them in) instead of the constants the backend's inference session holds:
 * the difference is why the backend rebuilds its inference session with constant weights.
 *
 * Each backend gets the same weights and images. The number of images per round is calibrated per
 * backend (a whole number of batches taking about `--round-seconds`), so slow backends still finish.
 */
import { backendFor, machineLines, randomImages } from './common.ts';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { BackendId, LoadOptions, ModelSession } from '../src/backends/types.ts';
import { fillBatch, identityOrder } from '../src/data/batch.ts';
import type { Split } from '../src/data/types.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import type { ModelGraph, Weights } from '../src/models/ir.ts';
import { buildForwardGraph } from '../src/backends/onnxruntime/forward.ts';
import { argmaxRows } from '../src/backends/onnxruntime/session.ts';
import { loadOrt, ortVersions, sessionOptions } from '../src/backends/onnxruntime/runtime.ts';
import { iqr, max, median, min, sortSamples } from '../src/stats/index.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    'round-seconds': { type: 'string', default: '2' },
    backends: { type: 'string', default: 'onnxruntime/cpu,onnxruntime/cpu+inputs,tfjs/cpu,tfjs/wasm' },
  },
});
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const ROUND_SECONDS = Number(args['round-seconds']);
const MAX_IMAGES = 2048;

const H = 32;
const W = 32;
const C = 3;
const { dataset, sub } = randomImages(MAX_IMAGES, H, W, C);
const model = buildModelGraph(
  { arch: 'vgg-small', width: 1, batchNorm: false, classifier: [256], dropout: 0 },
  { channels: C, height: H, width: W },
  10,
);
const weights = initWeights(model, 1);
const loadOpts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
  trainBatchSize: BATCH,
  inferBatchSize: BATCH,
  seed: 1,
  dataset,
  training: false,
};

/** ONNX Runtime with the weights fed as graph inputs: the same loop as the backend's `infer`. */
async function ortInputsSession(
  model: ModelGraph,
  weights: Weights,
): Promise<Pick<ModelSession, 'infer' | 'dispose' | 'info'>> {
  const ort = await loadOrt();
  const fg = buildForwardGraph(model, { weights: 'inputs', batch: 'N', mode: 'inference' });
  const session = await ort.InferenceSession.create(fg.graph.toModelBytes(), sessionOptions('cpu'));
  const params: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [name, value] of Object.entries(fg.paramInputs))
    params[value] = new ort.Tensor('float32', weights[name]!.data, weights[name]!.shape);
  const per = C * H * W;
  const buf = new Float32Array(BATCH * per);
  const run = async (split: Split, B: number) => {
    const out = new Int32Array(split.n);
    const order = identityOrder(split.n);
    for (let s = 0; s < split.n; s += B) {
      const count = Math.min(B, split.n - s);
      fillBatch(split, { channels: C, height: H, width: W }, dataset.normalization, order, s, count, 'NCHW', buf);
      const r = await session.run({
        ...params,
        input: new ort.Tensor('float32', buf.subarray(0, count * per), [count, C, H, W]),
      });
      argmaxRows(r.logits!.data as Float32Array, count, 10, out, s);
    }
    return out;
  };
  await run(sub(BATCH), BATCH);
  return {
    info: {
      backend: 'onnxruntime/cpu',
      device: 'cpu (weights as graph inputs)',
      threads: sessionOptions('cpu').intraOpNumThreads,
      versions: ortVersions(ort),
    },
    infer: (req) => run(req.split, req.batchSize),
    dispose: () => session.release(),
  };
}

interface Row {
  id: string;
  skipped?: string;
  device?: string;
  loadS?: number;
  perRound?: number;
  rates: number[];
  classes?: Int32Array;
  session?: Pick<ModelSession, 'infer' | 'dispose' | 'info'>;
  split?: Split;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** Loads one backend and calibrates its round size; a row with `skipped` when it cannot run. */
async function prepare(id: string): Promise<Row> {
  let session: Pick<ModelSession, 'infer' | 'dispose' | 'info'>;
  const t0 = performance.now();
  try {
    if (id === 'onnxruntime/cpu+inputs') {
      session = await ortInputsSession(model, weights);
    } else {
      const b = await backendFor(id);
      const a = await b.probe();
      if (!a.available) return { id, skipped: a.reason, rates: [] };
      session = await b.load(model, weights, loadOpts);
    }
  } catch (e) {
    return { id, skipped: `cannot load: ${firstLine(e)}`, rates: [] };
  }
  const loadS = (performance.now() - t0) / 1000;
  // Calibrate: one batch, then as many whole batches as fill about ROUND_SECONDS.
  const c0 = performance.now();
  await session.infer({ split: sub(BATCH), batchSize: BATCH });
  const perBatch = (performance.now() - c0) / 1000;
  const batches = Math.max(1, Math.min(Math.floor(MAX_IMAGES / BATCH), Math.round(ROUND_SECONDS / perBatch)));
  return {
    id,
    device: session.info.device,
    loadS,
    perRound: batches * BATCH,
    rates: [],
    session,
    split: sub(batches * BATCH),
  };
}

const ids = args.backends
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as Array<BackendId | 'onnxruntime/cpu+inputs'>;
const ort = await loadOrt();
console.log(machineLines());
console.log(`runtime: onnxruntime-node ${ortVersions(ort)['onnxruntime-node']}`);
console.log(
  `model: vgg-small (${model.paramCount.toLocaleString('en-US')} parameters), batch ${BATCH}; ${ROUNDS} timed rounds, backends interleaved within each round (rotating order) so load drift hits all alike\n`,
);

const rows: Row[] = [];
for (const id of ids) {
  process.stdout.write(`load ${id} ... `);
  const row = await prepare(id);
  rows.push(row);
  console.log(row.skipped ? `skipped: ${row.skipped}` : `${row.loadS!.toFixed(2)} s, ${row.perRound} images per round`);
}
const live = rows.filter((r) => r.session);
for (let round = 0; round < ROUNDS; round++) {
  const order = live.map((_, i) => live[(i + round) % live.length]!);
  for (const r of order) {
    const t = performance.now();
    r.classes = await r.session!.infer({ split: r.split!, batchSize: BATCH });
    r.rates.push(r.perRound! / ((performance.now() - t) / 1000));
  }
  console.log(`round ${round + 1}: ${live.map((r) => `${r.id} ${r.rates.at(-1)!.toFixed(1)}`).join(', ')} img/s`);
}
for (const r of live) await r.session!.dispose();

const base = rows.find((r) => r.id === 'onnxruntime/cpu' && r.rates.length > 0);
const baseMed = base ? median(sortSamples(base.rates!)) : undefined;
console.log(
  '\nbackend                 rounds × images  median img/s   min–max img/s      IQR    vs onnxruntime/cpu   load s  agrees',
);
for (const r of rows) {
  if (r.skipped !== undefined) {
    console.log(`${r.id.padEnd(24)}skipped: ${r.skipped}`);
    continue;
  }
  const s = sortSamples(r.rates);
  const m = median(s);
  const ratio = baseMed ? `${(m / baseMed).toFixed(2)}×` : '—';
  let agree = '—';
  if (base?.classes && r.classes) {
    const k = Math.min(base.classes.length, r.classes.length);
    let same = 0;
    for (let i = 0; i < k; i++) if (base.classes[i] === r.classes[i]) same++;
    agree = `${((100 * same) / k).toFixed(1)}%`;
  }
  console.log(
    `${r.id.padEnd(24)}${`${r.rates.length} × ${r.perRound}`.padStart(15)}  ${m.toFixed(1).padStart(12)}  ${`${min(s).toFixed(1)}–${max(s).toFixed(1)}`.padStart(15)}  ${iqr(s).toFixed(1).padStart(7)}  ${ratio.padStart(18)}  ${r.loadS!.toFixed(2).padStart(7)}  ${agree.padStart(6)}`,
  );
}
console.log(
  `\nload average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('agrees: share of class ids equal to onnxruntime/cpu on the same images (same weights).');
