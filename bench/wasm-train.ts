/**
 * Training throughput of a vgg-small-shaped network (conv64 conv64 pool conv128 conv128 pool fc256
 * fc10, 3×3 same convolutions with bias and ReLU, 2×2/2 max pooling, NHWC, 32×32×3 inputs, softmax
 * cross-entropy, momentum SGD through `optimizer.minimize`) on tfjs/wasm with expbench's training
 * kernels, next to tfjs/cpu and onnxruntime/cpu, in one process.
 *
 *   npx tsx bench/wasm-train.ts [--batch 32] [--steps 5] [--cpu-batch 2] [--cpu-steps 2]
 *                               [--variants wasm,wasm-no-replace,cpu,ort]
 *
 * - `wasm`: tfjs-backend-wasm (XNNPACK, SIMD, on every core through expbench's runtime) +
 *   registerWasmTrainingKernels().
 * - `wasm-no-replace`: registerWasmTrainingKernels({ replaceNative: false }): only the missing
 *   Conv2DBackpropFilter and the corrected MaxPoolGrad, tfjs-backend-wasm's own (loop-nest)
 *   Conv2DBackpropInput and transposed BatchMatMul, to show what replacing those buys. (With no
 *   expbench kernels at all, wasm cannot train: Conv2DBackpropFilter is missing.)
 * - `cpu`: tfjs-backend-cpu (plain JavaScript). It is so slow that it runs only `--cpu-steps` steps of
 *   `--cpu-batch` images, with no warm-up; compare per-image throughput.
 * - `ort`: expbench's ONNX Runtime backend (onnxruntime-node, CPU EP) training the same architecture
 *   from the model IR through its generated training graph (NCHW, its own batch filling included).
 *
 * tfjs variants build the network here from tfjs ops (no shared model builder), with the same seeded
 * weights, and time `minimize` plus reading the loss back, one step per sample, after one untimed
 * warm-up step (XNNPACK operator creation, heap growth). The input batch is made once, outside the
 * timing. Reported per variant: wall ms per step (median, min–max), images/s from it and its ratio to
 * tfjs/cpu; the same from the process's CPU time per step, which other processes on shared cores do
 * not inflate (a single-threaded variant's CPU time is its compute; a multi-threaded one sums its
 * threads).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { activateRuntime } from '../src/backends/tfjs/runtime.ts';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../src/backends/tfjs/wasm-kernels/index.ts';
import { mulberry32 } from '../src/data/prng.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '5' },
    'cpu-batch': { type: 'string', default: '2' },
    'cpu-steps': { type: 'string', default: '2' },
    variants: { type: 'string', default: 'wasm,wasm-no-replace,cpu,ort' },
  },
});
const BATCH = Number(args.batch);
const STEPS = Number(args.steps);
const CPU_BATCH = Number(args['cpu-batch']);
const CPU_STEPS = Number(args['cpu-steps']);
const variants = args.variants
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const [H, W, C, CLASSES] = [32, 32, 3, 10];

/** [name, shape, fan-in] of every parameter, NHWC filters `[kh, kw, in, out]`. */
const PARAMS: [string, number[], number][] = [
  ['conv1.w', [3, 3, 3, 64], 27],
  ['conv1.b', [64], 0],
  ['conv2.w', [3, 3, 64, 64], 576],
  ['conv2.b', [64], 0],
  ['conv3.w', [3, 3, 64, 128], 576],
  ['conv3.b', [128], 0],
  ['conv4.w', [3, 3, 128, 128], 1152],
  ['conv4.b', [128], 0],
  ['fc1.w', [8 * 8 * 128, 256], 8192],
  ['fc1.b', [256], 0],
  ['fc2.w', [256, CLASSES], -(256 + CLASSES)],
  ['fc2.b', [CLASSES], 0],
];

/** The same seeded initial values for every variant (He normal, Glorot for the logits layer, whose
 * fan-in is given negated as fan-in + fan-out; zero biases). */
function initialValues(): Map<string, Float32Array> {
  const u = mulberry32(12345);
  const out = new Map<string, Float32Array>();
  for (const [name, shape, fanIn] of PARAMS) {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const std = fanIn > 0 ? Math.sqrt(2 / fanIn) : fanIn < 0 ? Math.sqrt(2 / -fanIn) : 0;
    if (std > 0)
      for (let i = 0; i < v.length; i++) v[i] = std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    out.set(name, v);
  }
  return out;
}
const INIT = initialValues();

function logits(p: Map<string, tf.Variable>, x: tf.Tensor4D): tf.Tensor2D {
  const conv = (h: tf.Tensor4D, name: string) =>
    tf.relu(tf.add(tf.conv2d(h, p.get(`${name}.w`) as tf.Tensor4D, 1, 'same'), p.get(`${name}.b`)!)) as tf.Tensor4D;
  let h = conv(conv(x, 'conv1'), 'conv2');
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.maxPool(conv(conv(h, 'conv3'), 'conv4'), 2, 2, 'valid');
  const f = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  const hid = tf.relu(tf.add(tf.matMul(f, p.get('fc1.w') as tf.Tensor2D), p.get('fc1.b')!)) as tf.Tensor2D;
  return tf.add(tf.matMul(hid, p.get('fc2.w') as tf.Tensor2D), p.get('fc2.b')!) as tf.Tensor2D;
}

interface Result {
  variant: string;
  backend: string;
  batch: number;
  stepMs: number[];
  /** CPU time of this process per step (all its threads), immune to other processes on the cores. */
  cpuMs: number[];
  warmupMs?: number;
  loss?: number;
  /** Loss of every timed step. */
  losses?: number[];
  note?: string;
  skipped?: string;
}

/** Trains `steps` timed steps (after `warmup` untimed ones) on the active tfjs backend. */
async function tfjsRun(variant: string, batch: number, steps: number, warmup: number): Promise<Result> {
  const p = new Map<string, tf.Variable>(
    PARAMS.map(([name, shape]) => [name, tf.variable(tf.tensor(INIT.get(name)!, shape), true, `${variant}/${name}`)]),
  );
  const x = tf.randomNormal([batch, H, W, C], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 7) % CLASSES),
      'int32',
    ),
    CLASSES,
  );
  const opt = tf.train.momentum(0.005, 0.9);
  const step = async () => {
    const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, logits(p, x)) as tf.Scalar, true)!;
    const v = (await cost.data())[0]!;
    cost.dispose();
    return v;
  };
  let warmupMs: number | undefined;
  let loss = NaN;
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    loss = await step();
    warmupMs = performance.now() - t0;
  }
  const tensorsBefore = tf.memory().numTensors;
  const stepMs: number[] = [];
  const cpuMs: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    loss = await step();
    losses.push(loss);
    stepMs.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    process.stdout.write('.');
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  opt.dispose();
  tf.dispose([x, y, ...p.values()]);
  const note = warmup > 0 && leaked !== 0 ? `${leaked} tensors leaked over ${steps} steps` : undefined;
  return { variant, backend: tf.getBackend(), batch, stepMs, cpuMs, warmupMs, loss, losses, note };
}

async function ortRun(): Promise<Result> {
  const variant = 'ort';
  let mod: typeof import('../src/backends/onnxruntime/index.ts');
  try {
    mod = await import('../src/backends/onnxruntime/index.ts');
  } catch (e) {
    return {
      variant,
      backend: 'onnxruntime/cpu',
      batch: BATCH,
      stepMs: [],
      cpuMs: [],
      skipped: `cannot import the ONNX Runtime backend: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const { buildModelGraph } = await import('../src/models/index.ts');
  const { initWeights } = await import('../src/models/init.ts');
  const backend = mod.createOrtBackend('cpu');
  const avail = await backend.probe();
  if (!avail.available)
    return { variant, backend: 'onnxruntime/cpu', batch: BATCH, stepMs: [], cpuMs: [], skipped: avail.reason };
  const model = buildModelGraph(
    { arch: 'vgg-small', width: 1, batchNorm: false, classifier: [256], dropout: 0 },
    { channels: C, height: H, width: W },
    CLASSES,
  );
  const n = BATCH * (STEPS + 1);
  const images = new Uint8Array(n * H * W * C);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % CLASSES);
  const split = { n, images, labels };
  const dataset = {
    kind: 'synthetic' as const,
    source: 'bench pattern',
    channels: C,
    height: H,
    width: W,
    numClasses: CLASSES,
    classNames: Array.from({ length: CLASSES }, (_, i) => String(i)),
    train: split,
    test: split,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], source: 'given' as const },
    bytes: images.byteLength,
  };
  const session = await backend.load(model, initWeights(model, 1), {
    optimizer: { kind: 'sgd', lr: 0.005, momentum: 0.9, weightDecay: 0 },
    trainBatchSize: BATCH,
    inferBatchSize: BATCH,
    seed: 1,
    dataset,
  });
  try {
    const stepMs: number[] = [];
    const cpuMs: number[] = [];
    let loss = NaN;
    let last = performance.now();
    let lastCpu = process.cpuUsage();
    let warmupMs: number | undefined;
    await session.train({
      split,
      epochs: 1,
      batchSize: BATCH,
      order: () => Uint32Array.from({ length: n }, (_, i) => i),
      lossEvery: 1,
      onStep: (info) => {
        const now = performance.now();
        const c = process.cpuUsage(lastCpu);
        if (warmupMs === undefined) warmupMs = now - last;
        else {
          stepMs.push(now - last);
          cpuMs.push((c.user + c.system) / 1000);
          process.stdout.write('.');
        }
        last = now;
        lastCpu = process.cpuUsage();
        if (info.loss !== undefined) loss = info.loss;
      },
    });
    return {
      variant,
      backend: `onnxruntime/cpu (${session.info.device}${session.info.threads ? `, ${session.info.threads} threads` : ''})`,
      batch: BATCH,
      stepMs,
      cpuMs,
      warmupMs,
      loss,
      note: 'includes batch filling (uint8 → normalised NCHW); CPU time sums its threads',
    };
  } finally {
    await session.dispose();
  }
}

const med = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(machineLines());

// Through expbench's runtime, as every case brings wasm up: the threaded binary on every core.
const wasmRuntime = await activateRuntime('wasm');
if (!wasmRuntime.ok) throw new Error(`tfjs/wasm unavailable: ${wasmRuntime.reason}`);
const results: Result[] = [];
for (const v of variants) {
  process.stdout.write(`${v} `);
  if (v === 'wasm' || v === 'wasm-no-replace') {
    await tf.setBackend('wasm');
    unregisterWasmTrainingKernels();
    const reg = registerWasmTrainingKernels({ replaceNative: v === 'wasm' });
    const r = await tfjsRun(v, BATCH, STEPS, 1);
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'SIMD' : 'no SIMD';
    r.backend = `tfjs/wasm (XNNPACK, ${simd}, ${tfwasm.getThreadsCount()} thread${tfwasm.getThreadsCount() === 1 ? '' : 's'}; expbench kernels: ${reg.registered.join(', ')})`;
    results.push(r);
  } else if (v === 'cpu') {
    await tf.setBackend('cpu');
    const inst = tf.findBackend('cpu') as unknown as { firstUse?: boolean };
    inst.firstUse = false; // the install-tfjs-node banner
    const r = await tfjsRun(v, CPU_BATCH, CPU_STEPS, 0);
    r.backend = 'tfjs/cpu (plain JavaScript)';
    r.note = 'no warm-up step; the first step is among the samples';
    results.push(r);
  } else if (v === 'ort') {
    results.push(await ortRun());
  } else {
    results.push({
      variant: v,
      backend: '?',
      batch: 0,
      stepMs: [],
      cpuMs: [],
      skipped: 'unknown variant (use wasm, wasm-no-replace, cpu, ort)',
    });
  }
  console.log(' done');
}

const cpu = results.find((r) => r.variant === 'cpu' && r.stepMs.length > 0);
const cpuRate = cpu ? cpu.batch / (med(cpu.stepMs) / 1000) : undefined;
console.log(
  `\nvgg-small-shaped training, 32×32×3, momentum SGD; tfjs batch ${BATCH} (cpu ${CPU_BATCH}), onnxruntime batch ${BATCH}`,
);
const cpuCpuRate = cpu ? cpu.batch / (med(cpu.cpuMs) / 1000) : undefined;
console.log(
  '(wall: elapsed time, what a user waits; cpu: CPU time of this process, what the work costs when the shared cores are busy)',
);
console.log(
  'variant             batch  steps  wall ms/step median (min–max)  images/s wall  vs tfjs/cpu  cpu ms/step  images/cpu-s  vs tfjs/cpu  warm-up ms  loss',
);
for (const r of results) {
  if (r.skipped || r.stepMs.length === 0) {
    console.log(`${r.variant.padEnd(19)} skipped: ${r.skipped ?? 'no timed steps'}`);
    continue;
  }
  const m = med(r.stepMs);
  const rate = r.batch / (m / 1000);
  const mc = med(r.cpuMs);
  const cpuRateHere = r.batch / (mc / 1000);
  const ratio = cpuRate ? `${(rate / cpuRate).toFixed(0)}×` : '—';
  const ratioCpu = cpuCpuRate ? `${(cpuRateHere / cpuCpuRate).toFixed(0)}×` : '—';
  const wall = `${m.toFixed(0)} (${Math.min(...r.stepMs).toFixed(0)}–${Math.max(...r.stepMs).toFixed(0)})`;
  console.log(
    `${r.variant.padEnd(19)} ${String(r.batch).padStart(5)}  ${String(r.stepMs.length).padStart(5)}  ${wall.padStart(30)}  ${rate.toFixed(2).padStart(13)}  ${ratio.padStart(11)}  ${mc.toFixed(0).padStart(11)}  ${cpuRateHere.toFixed(2).padStart(12)}  ${ratioCpu.padStart(11)}  ${(r.warmupMs?.toFixed(0) ?? '—').padStart(10)}  ${r.loss?.toFixed(3) ?? '—'}`,
  );
  console.log(`${''.padEnd(20)}${r.backend}${r.note ? `; ${r.note}` : ''}`);
}
if (cpu && variants.includes('wasm')) {
  // The same network, weights, batch and steps as tfjs/cpu ran, on wasm: the losses must agree.
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
  const w = await tfjsRun('wasm', CPU_BATCH, CPU_STEPS, 0);
  const pairs = cpu.losses!.map((l, i) => `${w.losses![i]!.toFixed(5)} / ${l.toFixed(5)}`);
  const worst = Math.max(...cpu.losses!.map((l, i) => Math.abs(w.losses![i]! - l)));
  console.log(
    `\nparity: loss per step, tfjs/wasm / tfjs/cpu, batch ${CPU_BATCH} from the same weights: ${pairs.join(', ')} (largest |difference| ${worst.toExponential(1)})`,
  );
}
console.log(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
