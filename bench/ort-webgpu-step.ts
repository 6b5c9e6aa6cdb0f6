/**
 * One onnxruntime/webgpu training step with host-fed batches against batches gathered on the device,
 * side by side on one weight state, on whatever WebGPU adapter ONNX Runtime's WebGPU EP gets.
 *
 *   npx tsx bench/ort-webgpu-step.ts [--batch 64] [--width 0.25] [--image 32] [--steps 10] [--repeats 5]
 *   EXPBENCH_SOFTWARE_GPU=1 npx tsx bench/ort-webgpu-step.ts --batch 8 --width 0.125 --image 16   # lavapipe
 *
 * - host-fed: every step fills the normalised batch on the host (`fillBatch`) and feeds it, its labels and
 *   the learning rate as host tensors (the weights and velocities stay on the device);
 * - device-gathered: the split was uploaded once; a step's inputs are all device tensors, the batch
 *   gathered in the graph by the epoch's order (uploaded once per epoch) and a fed-back step counter.
 * A sample is one `train()` of `--steps` steps (one epoch over a split of steps × batch examples, the
 * loss read back once at the end, which waits for the device), divided by the steps; the two modes
 * alternate sample by sample. The split's one-time upload falls in the device trainer's warm-up sample.
 * Dropout is 0 (the Dropout node has no WebGPU kernel and would run on the CPU EP in both modes).
 *
 * On a software adapter (Mesa's lavapipe, with EXPBENCH_SOFTWARE_GPU=1) the "device" is the CPU: the
 * numbers only show that the mechanism works, not what it saves on a GPU, where ONNX Runtime's WebGPU
 * EP spends ~0.1 ms per run whose inputs are all on the device and ~1 ms plus the upload otherwise.
 */
import { parseArgs } from 'node:util';
import { createOrtBackend, type OrtSession } from '../src/backends/onnxruntime/index.ts';
import { EXECUTION_PROVIDER, sessionOptions } from '../src/backends/onnxruntime/runtime.ts';
import { createOrtTrainer } from '../src/backends/onnxruntime/trainer.ts';
import type { LoadOptions } from '../src/backends/types.ts';
import { epochOrder } from '../src/data/prng.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { randomImages } from './common.ts';
import { ortWebgpuForBench, WEBGPU_BENCH_OPTIONS } from './ort-webgpu-common.ts';

const { values: args } = parseArgs({
  options: { ...WEBGPU_BENCH_OPTIONS, steps: { type: 'string', default: '10' } },
});
const B = Number(args.batch);
const STEPS = Number(args.steps);
const REPEATS = Number(args.repeats);
const S = Number(args.image);

const ort = await ortWebgpuForBench();
console.log(
  `vgg-small width ${args.width}, ${S}×${S}, batch ${B}, ${STEPS} steps per sample, ${REPEATS} samples per mode after one warm-up each\n`,
);

const data = randomImages(STEPS * B, S, S);
const model = buildModelGraph(
  { arch: 'vgg-small', width: Number(args.width), batchNorm: true, classifier: [256], dropout: 0 },
  { channels: 3, height: S, width: S },
  10,
);
const opts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  trainBatchSize: B,
  inferBatchSize: B,
  seed: 1,
  dataset: data.dataset,
};
const session = (await createOrtBackend('webgpu').load(model, initWeights(model, 1), {
  ...opts,
  training: false,
})) as OrtSession;
const ctx = {
  ort,
  model,
  state: session.state,
  opts,
  executionProviders: [EXECUTION_PROVIDER.webgpu],
  sessionOptions: sessionOptions('webgpu'),
};
const trainers = {
  host: await createOrtTrainer(ctx, { batches: 'host' }),
  device: await createOrtTrainer(ctx, { batches: 'device' }),
};
const split = data.dataset.train;

let epoch = 0;
async function sample(mode: keyof typeof trainers): Promise<number> {
  const e = epoch++;
  const t0 = performance.now();
  await trainers[mode].train({
    split,
    epochs: 1,
    batchSize: B,
    order: () => epochOrder(5, e, split.n),
    lossEvery: STEPS,
  });
  return performance.now() - t0;
}

try {
  const firstHost = await sample('host');
  const firstDevice = await sample('device');
  const times = { host: [] as number[], device: [] as number[] };
  for (let r = 0; r < REPEATS; r++) {
    times.host.push((await sample('host')) / STEPS);
    times.device.push((await sample('device')) / STEPS);
  }
  const h = sortSamples(times.host);
  const d = sortSamples(times.device);
  const fmt = (s: typeof h) => `${median(s).toFixed(2)} (${min(s).toFixed(2)}–${max(s).toFixed(2)})`;
  console.log('mode              ms per step, median (min–max)');
  console.log(`host-fed          ${fmt(h)}`);
  console.log(`device-gathered   ${fmt(d)}`);
  console.log(`\nhost-fed : device-gathered ${(median(h) / median(d)).toFixed(2)}×`);
  const bytes = split.n * 3 * S * S * 4;
  // Warm-ups, one sample each: first runs of a session (and shader compilation, shared between the two
  // sessions), and for the device-gathered trainer the split's upload; indicative only.
  console.log(
    `warm-up train(): host-fed ${firstHost.toFixed(0)} ms; device-gathered ${firstDevice.toFixed(0)} ms, with the split's upload (${split.n} examples, ${(bytes / 2 ** 20).toFixed(1)} MiB)`,
  );
} finally {
  await trainers.host.dispose();
  await trainers.device.dispose();
  await session.dispose();
}
