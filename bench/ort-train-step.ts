/**
 * The ONNX Runtime training step's variants side by side: gradient formulations of the generated graph
 * and session options, each its own session on the same inputs, their steps interleaved (A B C A B C …)
 * after each variant's own warm-up runs, so load changes hit every variant alike. Prints the median
 * step time, min–max and the ratio to the first variant, and the process's CPU time per step (with
 * `--cpu-time` every variant's threads sleep rather than spin between kernels, so CPU time measures the
 * work and holds up on a loaded machine, where wall time does not). What `onnxruntime/cpu` uses is the first
 * variant of the default list; a formulation or option is kept only if it wins here.
 *
 *   npx tsx bench/ort-train-step.ts [--arch vgg-small] [--batch 64] [--steps 10] [--warmup 3]
 *        [--variants default,filter-conv,extended-opt,no-spin,spin] [--cpu-time]
 *
 * Variants (each on top of the CPU trainer's graph and session options, `default`): `filter-conv` (the
 * other conv filter-gradient formulation, `autodiff.ts`), `pool-mask` / `pool-unpool` (the max-pool
 * gradient formulations), `no-spin` / `spin` (intra-op threads that
 * sleep or spin between kernels, `session.intra_op.allow_spinning`), `no-mem-pattern`, `basic-opt`
 * (graph optimisation level `basic` instead of `all`), `extended-opt` (`extended`: no NCHWc layout
 * rewrite); `a+b` combines two.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { Formulation } from '../src/backends/onnxruntime/autodiff.ts';
import { loadOrt, sessionOptions } from '../src/backends/onnxruntime/runtime.ts';
import { buildTrainStepGraph } from '../src/backends/onnxruntime/train-graph.ts';
import { CPU_FORMULATION } from '../src/backends/onnxruntime/trainer.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights, mulberry32 } from '../src/models/init.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'vgg-small' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'default,filter-conv,extended-opt' },
    'cpu-time': { type: 'boolean', default: false },
  },
});
const B = Number(args.batch);

interface Variant {
  formulation?: Formulation;
  options?: InferenceSession.SessionOptions;
}
const VARIANTS: Record<string, Variant> = {
  default: { formulation: CPU_FORMULATION },
  'filter-conv': { formulation: { convFilterGrad: 'conv' } },
  'pool-mask': { formulation: { maxPoolGrad: 'mask' } },
  'pool-unpool': { formulation: { maxPoolGrad: 'unpool' } },
  'no-spin': { options: { extra: { session: { intra_op: { allow_spinning: '0' } } } } },
  spin: { options: { extra: { session: { intra_op: { allow_spinning: '1' } } } } },
  'no-mem-pattern': { options: { enableMemPattern: false } },
  'basic-opt': { options: { graphOptimizationLevel: 'basic' } },
  'extended-opt': { options: { graphOptimizationLevel: 'extended' } },
};
const names = args.variants.split(',').map((s) => s.trim());

/** A variant by name; `a+b` combines variants (later ones win). */
function variant(name: string): Variant {
  const parts = name.split('+').map((n) => {
    const v = VARIANTS[n];
    if (!v) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')} (combine with +)`);
    return v;
  });
  return {
    formulation: Object.assign({ ...CPU_FORMULATION }, ...parts.map((v) => v.formulation ?? {})),
    options: Object.assign({}, ...parts.map((v) => v.options ?? {})),
  };
}
for (const n of names) variant(n);

const ort = await loadOrt();
const model = buildModelGraph(
  { arch: args.arch, width: 1, batchNorm: false, classifier: [256], dropout: 0 },
  { channels: 3, height: 32, width: 32 },
  10,
);
const weights = initWeights(model, 1);
const optimizer = { kind: 'sgd' as const, lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
const rnd = mulberry32(3);
const x = new ort.Tensor(
  'float32',
  Float32Array.from({ length: B * 3 * 32 * 32 }, () => rnd() * 2 - 1),
  [B, 3, 32, 32],
);
const labels = new ort.Tensor(
  'int32',
  Int32Array.from({ length: B }, () => Math.floor(rnd() * 10)),
  [B],
);
const lr = new ort.Tensor('float32', Float32Array.of(0.01), []);

interface Prepared {
  name: string;
  session: InferenceSession;
  feeds: Record<string, Tensor>;
  ms: number[];
  cpu: number[];
}
const prepared: Prepared[] = [];
for (const name of names) {
  const v = variant(name);
  const g = buildTrainStepGraph(model, { batch: B, optimizer, formulation: v.formulation });
  const noSpin = args['cpu-time'] ? VARIANTS['no-spin']!.options : {};
  const session = await ort.InferenceSession.create(g.bytes, { ...sessionOptions('cpu'), ...noSpin, ...v.options });
  const feeds: Record<string, Tensor> = { [g.inputs.x]: x, [g.inputs.labels]: labels, [g.inputs.lr]: lr };
  for (const p of model.params) {
    const t = new ort.Tensor('float32', weights[p.name]!.data, p.shape);
    feeds[g.inputs.params[p.name] ?? g.inputs.stats[p.name]!] = t;
    const vel = g.inputs.velocities[p.name];
    if (vel) feeds[vel] = new ort.Tensor('float32', new Float32Array(t.size), p.shape);
  }
  prepared.push({ name, session, feeds, ms: [], cpu: [] });
}
console.log(machineLines());
console.log(
  `${args.arch}, batch ${B}, ${availableParallelism()} threads; ${args.warmup} warm-up + ${args.steps} interleaved timed steps per variant`,
);
const run = async (p: Prepared, keep: boolean) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await p.session.run(p.feeds);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  for (const t of Object.values(out)) t.dispose();
  if (keep) {
    p.ms.push(ms);
    p.cpu.push((c.user + c.system) / 1000);
  }
};
for (let i = 0; i < Number(args.warmup); i++) for (const p of prepared) await run(p, false);
for (let i = 0; i < Number(args.steps); i++) for (const p of prepared) await run(p, true);
// CPU time (this process, all threads) is far less disturbed by other processes than wall time; with
// --cpu-time the threads sleep instead of spinning between kernels, so it counts work, not waiting.
const base = median(sortSamples(prepared[0]!.ms));
const cpuBase = median(sortSamples(prepared[0]!.cpu));
console.log('\nvariant                         median ms  min–max ms    vs first   CPU ms/step  vs first');
for (const p of prepared) {
  const s = sortSamples(p.ms);
  const c = median(sortSamples(p.cpu));
  console.log(
    `${p.name.padEnd(30)}${median(s).toFixed(1).padStart(11)}  ${`${min(s).toFixed(0)}–${max(s).toFixed(0)}`.padStart(11)}  ${(median(s) / base).toFixed(3).padStart(9)}×  ${c.toFixed(0).padStart(11)}  ${(c / cpuBase).toFixed(3).padStart(7)}×`,
  );
  await p.session.release();
}
console.log(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
