/**
 * One inference pass over a test split on onnxruntime/webgpu with host-fed batches against the test
 * split held on the device, side by side on one session (same weights), on whatever WebGPU adapter
 * ONNX Runtime's WebGPU EP gets.
 *
 *   npx tsx bench/ort-webgpu-infer.ts [--batch 64] [--width 0.25] [--image 32] [--batches 20] [--repeats 5]
 *   EXPBENCH_SOFTWARE_GPU=1 npx tsx bench/ort-webgpu-infer.ts --batch 8 --width 0.125 --image 16   # lavapipe
 *
 * - host-fed: every batch is filled on the host (`fillBatch`), fed as a host tensor, its logits read back
 *   and the class ids taken on the host (`logits()` and `argmaxRows`), what `infer()` did before;
 * - device-resident: `infer()`, the split held on the device (uploaded in its warm-up pass), each batch
 *   gathered there and its class ids accumulated there, read back once per pass.
 * A sample is one pass over `--batches` × `--batch` examples; the two modes alternate sample by sample.
 * Each mode's host↔device transfers per pass come from the session's own count.
 *
 * On a software adapter (Mesa's lavapipe, with EXPBENCH_SOFTWARE_GPU=1) the "device" is the CPU: the
 * numbers only show that the mechanism works, not what it saves on a GPU.
 */
import { parseArgs } from 'node:util';
import { argmaxRows, createOrtBackend, type OrtSession } from '../src/backends/onnxruntime/index.ts';
import { fillBatch, identityOrder } from '../src/data/batch.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { randomImages } from './common.ts';
import { ortWebgpuForBench, WEBGPU_BENCH_OPTIONS } from './ort-webgpu-common.ts';

const { values: args } = parseArgs({
  options: { ...WEBGPU_BENCH_OPTIONS, batches: { type: 'string', default: '20' } },
});
const B = Number(args.batch);
const BATCHES = Number(args.batches);
const REPEATS = Number(args.repeats);
const S = Number(args.image);

const _ort = await ortWebgpuForBench();
console.log(
  `vgg-small width ${args.width}, ${S}×${S}, batch ${B}, ${BATCHES} batches per pass, ${REPEATS} samples per mode after one warm-up each\n`,
);

const data = randomImages(BATCHES * B, S, S);
const dataset = data.dataset;
const split = dataset.test;
const model = buildModelGraph(
  { arch: 'vgg-small', width: Number(args.width), batchNorm: true, classifier: [256], dropout: 0 },
  { channels: 3, height: S, width: S },
  10,
);
const session = (await createOrtBackend('webgpu').load(model, initWeights(model, 1), {
  optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
  trainBatchSize: B,
  inferBatchSize: B,
  seed: 1,
  dataset,
  training: false,
})) as OrtSession;

const per = 3 * S * S;
const x = new Float32Array(B * per);
const order = identityOrder(split.n);

const modes = {
  host: async () => {
    const ids = new Int32Array(split.n);
    for (let start = 0; start < split.n; start += B) {
      const count = Math.min(B, split.n - start);
      fillBatch(split, dataset, dataset.normalization, order, start, count, 'NCHW', x);
      argmaxRows(await session.logits(x, count), count, 10, ids, start);
    }
    return ids;
  },
  device: () => session.infer({ split, batchSize: B }),
};

/** One pass in `mode`: its time (ms) and its class ids. */
async function sample(mode: keyof typeof modes): Promise<{ ms: number; ids: Int32Array }> {
  const t0 = performance.now();
  const ids = await modes[mode]();
  return { ms: performance.now() - t0, ids };
}

try {
  const firstHost = await sample('host');
  const firstDevice = await sample('device');
  if (firstHost.ids.some((v, i) => v !== firstDevice.ids[i]))
    throw new Error('host-fed and device-resident passes disagree on class ids');
  const before = session.transfers();
  const times = { host: [] as number[], device: [] as number[] };
  for (let r = 0; r < REPEATS; r++) {
    times.host.push((await sample('host')).ms);
    times.device.push((await sample('device')).ms);
  }
  const after = session.transfers();
  const perPass = (phase: string) => {
    const a = after[phase]!;
    const b = before[phase]!;
    return `${((a.uploads - b.uploads) / REPEATS).toFixed(0)} uploads (${((a.uploadBytes - b.uploadBytes) / REPEATS / 1024).toFixed(1)} KiB), ${((a.readbacks - b.readbacks) / REPEATS).toFixed(0)} read-backs (${((a.readbackBytes - b.readbackBytes) / REPEATS / 1024).toFixed(1)} KiB)`;
  };
  const h = sortSamples(times.host);
  const d = sortSamples(times.device);
  const fmt = (s: typeof h) =>
    `${median(s).toFixed(1)} (${min(s).toFixed(1)}–${max(s).toFixed(1)})  ${((split.n / median(s)) * 1000).toFixed(0)} img/s`;
  console.log('mode              ms per pass, median (min–max)');
  console.log(`host-fed          ${fmt(h)}`);
  console.log(`device-resident   ${fmt(d)}`);
  console.log(`\nhost-fed : device-resident ${(median(h) / median(d)).toFixed(2)}×`);
  console.log(`per pass, host-fed:        ${perPass('logits')}`);
  console.log(`per pass, device-resident: ${perPass('infer')}`);
  console.log(
    `warm-up pass: host-fed ${firstHost.ms.toFixed(0)} ms; device-resident ${firstDevice.ms.toFixed(0)} ms, with the split's upload (${split.n} examples, ${((split.n * per * 4) / 2 ** 20).toFixed(1)} MiB)`,
  );
} finally {
  await session.dispose();
}
