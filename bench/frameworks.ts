/**
 * expbench's CPU backends against the reference frameworks, side by side in one run: training and
 * inference images/s of the same network and batch in expbench `onnxruntime/cpu` and `tfjs/wasm`,
 * and, where Python with TensorFlow and/or PyTorch is importable, in those (bench/frameworks_ref.py,
 * one long-lived Python process per framework; it installs nothing). Rounds are interleaved: round r
 * of every system runs before round r + 1 of any, so a change in machine load hits every system alike
 * and the ratios stay meaningful on a shared machine. Prints medians, min–max, the first timed round
 * (a slow first round means warm-up leaked into the timings), ratios against TensorFlow and achieved
 * GFLOP/s against a measured peak.
 *
 *   npx tsx bench/frameworks.ts [--archs vgg-small,vgg16] [--batch 64] [--infer-batches 64,500]
 *        [--rounds 3] [--round-seconds 3] [--python /path/to/venv/bin/python]
 *        [--systems onnxruntime/cpu,tfjs/wasm,tensorflow,pytorch] [--modes train,infer]
 *
 * Python: `--python`, else `EXPBENCH_REF_PYTHON`, else `python3` (README, "Benchmarks", says how to
 * install TensorFlow and PyTorch into a virtual environment). Threads: every system gets the cores
 * this process may use (ONNX Runtime's and tfjs/wasm's defaults; TensorFlow intra-op threads and
 * PyTorch's `set_num_threads` set to the same).
 *
 * Peak: the best 2048³ float32 GEMM in ONNX Runtime (MLAS) on the same threads, a measured stand-in
 * for the machine's FMA peak (a tuned GEMM reaches ~90 % of it), taken at the start and again before
 * every round (the best seen so far counts), so a peak measured while the machine was busy does not
 * stand; on a loaded machine the percentages are still only indicative.
 *
 * What a step is: expbench's steps go through its backends as the runner calls them (`session.train`,
 * `session.infer`: batch filling and normalisation from uint8 included, argmax included in inference);
 * the Python frameworks run their step on a batch already in framework memory. FLOP per image come from
 * `src/models/cost.ts` (3× the forward multiply-adds ×2 for training).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadOrt, ortVersions, sessionOptions } from '../src/backends/onnxruntime/runtime.ts';
import { OnnxGraph } from '../src/backends/onnxruntime/graph.ts';
import { getBackend } from '../src/backends/registry.ts';
import type { BackendId, LoadOptions, ModelSession } from '../src/backends/types.ts';
import { epochOrder } from '../src/data/prng.ts';
import { flopsPerExample } from '../src/models/cost.ts';
import { buildModelGraph } from '../src/models/index.ts';
import { initWeights } from '../src/models/init.ts';
import type { ModelGraph } from '../src/models/ir.ts';
import { withDefaults } from '../src/models/resolve.ts';
import { max, median, min, sortSamples } from '../src/stats/index.ts';
import { machineLines, randomImages } from './common.ts';

const { values: args } = parseArgs({
  options: {
    archs: { type: 'string', default: 'vgg-small,vgg16' },
    batch: { type: 'string', default: '64' },
    'infer-batches': { type: 'string', default: '64,500' },
    rounds: { type: 'string', default: '3' },
    'round-seconds': { type: 'string', default: '3' },
    python: { type: 'string' },
    systems: { type: 'string', default: 'onnxruntime/cpu,tfjs/wasm,tensorflow,pytorch' },
    modes: { type: 'string', default: 'train,infer' },
  },
});
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const ARCHS = list(args.archs);
const TRAIN_BATCH = Number(args.batch);
const INFER_BATCHES = list(args['infer-batches']).map(Number);
const ROUNDS = Number(args.rounds);
const ROUND_SECONDS = Number(args['round-seconds']);
const SYSTEMS = list(args.systems);
const MODES = list(args.modes);
const PYTHON = args.python ?? process.env.EXPBENCH_REF_PYTHON ?? 'python3';
const THREADS = availableParallelism();
const PY_FRAMEWORKS = new Set(['tensorflow', 'pytorch']);
const [C, H, W] = [3, 32, 32];
const LR = 0.01;
const MOMENTUM = 0.9;
const MAX_STEPS = 16;

/** A workload every system runs: one network, one mode, one batch size. */
interface Workload {
  arch: string;
  model: ModelGraph;
  mode: 'train' | 'infer';
  batch: number;
}

/** One system prepared for a workload: runs a timed round of `steps` batches, returns seconds. */
interface Runner {
  round(steps: number): Promise<number>;
  close(): Promise<void>;
}

// ───────────────────────────── the Python reference frameworks ─────────────────────────────

/** A long-lived bench/frameworks_ref.py process speaking JSON lines. */
class PyRef {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];
  private stderr = '';
  private exited = false;

  constructor(readonly framework: string) {
    const script = fileURLToPath(new URL('./frameworks_ref.py', import.meta.url));
    this.child = spawn(PYTHON, [script, '--framework', framework], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.on('exit', () => {
      this.exited = true;
      for (const p of this.pending.splice(0)) p('');
    });
    this.child.on('error', (e) => {
      this.stderr += String(e);
    });
    this.child.stdin.on('error', () => {}); // a process that exited is reported by ask()
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (l) => this.pending.shift()?.(l));
  }

  /** The reply to `msg`; throws with the framework's own words when it fails. */
  async ask(msg: object): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(`${this.framework} process exited: ${this.stderr.trim().split('\n').pop() ?? ''}`);
    const line = new Promise<string>((resolve) => this.pending.push(resolve));
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    const text = await line;
    if (!text) throw new Error(`${this.framework} process exited: ${this.stderr.trim().split('\n').pop() ?? ''}`);
    const reply = JSON.parse(text) as Record<string, unknown>;
    if (!reply.ok) throw new Error(String(reply.error));
    return reply;
  }

  /** The first reply (import failures arrive unasked). */
  async probe(): Promise<Record<string, unknown>> {
    return this.ask({ cmd: 'probe' });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    await once(this.child, 'exit');
  }
}

async function pyRunner(ref: PyRef, w: Workload): Promise<Runner> {
  await ref.ask({
    cmd: 'build',
    layers: w.model.nodes.map((l) => withDefaults(l.spec)),
    input: w.model.input,
    classes: w.model.numClasses,
    mode: w.mode,
    batch: w.batch,
    threads: THREADS,
    lr: LR,
    momentum: MOMENTUM,
  });
  return {
    round: async (steps) => Number((await ref.ask({ cmd: 'round', steps })).seconds),
    close: async () => {},
  };
}

// ───────────────────────────── expbench's backends ─────────────────────────────

const data = randomImages(MAX_STEPS * Math.max(TRAIN_BATCH, ...INFER_BATCHES), H, W, C);

async function expbenchRunner(id: string, w: Workload): Promise<Runner> {
  const backend = await getBackend(id as BackendId);
  const a = await backend.probe();
  if (!a.available) throw new Error(a.reason);
  const opts: LoadOptions = {
    optimizer: { kind: 'sgd', lr: LR, momentum: MOMENTUM, weightDecay: 0 },
    trainBatchSize: w.batch,
    inferBatchSize: w.batch,
    seed: 1,
    dataset: data.dataset,
    training: w.mode === 'train',
  };
  // load() is the backend's build+init, warm-up included: nothing else runs before the timed rounds.
  const session: ModelSession = await backend.load(w.model, initWeights(w.model, 1), opts);
  let epoch = 0;
  return {
    round: async (steps) => {
      const split = data.sub(steps * w.batch);
      const t0 = performance.now();
      if (w.mode === 'train') {
        const e = epoch++;
        await session.train({
          split,
          epochs: 1,
          batchSize: w.batch,
          order: () => epochOrder(1, e, split.n),
          lossEvery: steps,
        });
      } else {
        await session.infer({ split, batchSize: w.batch });
      }
      return (performance.now() - t0) / 1000;
    },
    close: () => session.dispose(),
  };
}

// ───────────────────────────── peak ─────────────────────────────

/** The best GEMM rate seen so far in this run (GFLOP/s). */
let peak = 0;

/** GFLOP/s of the best of `reps` 2048³ float32 GEMMs in ONNX Runtime on THREADS threads. */
async function measurePeak(reps = 5): Promise<number> {
  const ort = await loadOrt();
  const n = 2048;
  const g = new OnnxGraph('peak');
  g.input('a', 'float32', [n, n]);
  g.input('b', 'float32', [n, n]);
  g.output(g.op('MatMul', ['a', 'b'], {}, 'c'), 'float32', [n, n]);
  const s = await ort.InferenceSession.create(g.toModelBytes(), sessionOptions('cpu'));
  const a = new ort.Tensor(
    'float32',
    Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7),
    [n, n],
  );
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    (await s.run({ a, b: a })).c!.dispose();
    if (i > 0) best = Math.min(best, (performance.now() - t0) / 1000);
  }
  await s.release();
  return (2 * n ** 3) / best / 1e9;
}

// ───────────────────────────── the run ─────────────────────────────

interface Row {
  system: string;
  skipped?: string;
  seconds: number[];
  steps: number;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

async function runWorkload(w: Workload, py: Map<string, PyRef>): Promise<Row[]> {
  const rows: Row[] = [];
  const runners = new Map<string, Runner>();
  for (const system of SYSTEMS) {
    try {
      const ref = py.get(system);
      if (PY_FRAMEWORKS.has(system) && !ref) throw new Error('not importable (see the header)');
      runners.set(system, ref ? await pyRunner(ref, w) : await expbenchRunner(system, w));
      rows.push({ system, seconds: [], steps: 0 });
    } catch (e) {
      rows.push({ system, skipped: firstLine(e), seconds: [], steps: 0 });
    }
  }
  // Steps per round: one timed probe of one step on the slowest ready system sets a round of about
  // ROUND_SECONDS for it; every system runs the same steps (so each round is the same work). The probe
  // is the first timed round of nobody.
  let perStep = 0;
  for (const [system, r] of runners) {
    try {
      perStep = Math.max(perStep, await r.round(1));
    } catch (e) {
      const row = rows.find((x) => x.system === system)!;
      row.skipped = `failed: ${firstLine(e)}`;
      runners.delete(system);
    }
  }
  const steps = Math.max(1, Math.min(MAX_STEPS, Math.round(ROUND_SECONDS / Math.max(perStep, 1e-3))));
  for (let round = 0; round < ROUNDS; round++) {
    peak = Math.max(peak, await measurePeak(2));
    for (const [system, r] of runners) {
      const row = rows.find((x) => x.system === system)!;
      try {
        row.seconds.push(await r.round(steps));
        row.steps = steps;
      } catch (e) {
        row.skipped = `failed in round ${round + 1}: ${firstLine(e)}`;
        runners.delete(system);
      }
    }
  }
  for (const r of runners.values()) await r.close();
  return rows;
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(3));

function report(w: Workload, rows: Row[], peak: number): void {
  console.log(`(peak so far: ${peak.toFixed(0)} GFLOP/s)`);
  const flop = flopsPerExample(w.model, w.mode);
  const rate = (r: Row) => r.seconds.map((s) => (r.steps * w.batch) / s);
  const tf = rows.find((r) => r.system === 'tensorflow' && !r.skipped && r.seconds.length);
  const tfMed = tf ? median(sortSamples(rate(tf))) : undefined;
  console.log(
    `\n${w.arch} · ${w.mode === 'train' ? 'training' : 'inference'} · batch ${w.batch} · ${(flop / 1e6).toFixed(0)} MFLOP per image`,
  );
  console.log(
    'system            rounds×steps  median img/s  min–max img/s  first round  vs TensorFlow  GFLOP/s  % of peak',
  );
  for (const r of rows) {
    if (r.skipped || r.seconds.length === 0) {
      console.log(`${r.system.padEnd(18)}skipped: ${r.skipped ?? 'no rounds'}`);
      continue;
    }
    const rates = rate(r);
    const s = sortSamples(rates);
    const m = median(s);
    const gflops = (m * flop) / 1e9;
    console.log(
      `${r.system.padEnd(18)}${`${rates.length}×${r.steps}`.padStart(12)}  ${fmt(m).padStart(12)}  ${`${fmt(min(s))}–${fmt(max(s))}`.padStart(13)}  ${fmt(rates[0]!).padStart(11)}  ${(tfMed ? `${(m / tfMed).toFixed(2)}×` : '—').padStart(13)}  ${fmt(gflops).padStart(7)}  ${((100 * gflops) / peak).toFixed(0).padStart(7)} %`,
    );
  }
}

const ort = await loadOrt();
console.log(machineLines());
console.log(
  `onnxruntime-node ${ortVersions(ort)['onnxruntime-node']}; interleaved rounds: absolute figures drop with load, ratios much less`,
);
const py = new Map<string, PyRef>();
for (const f of SYSTEMS.filter((s) => PY_FRAMEWORKS.has(s))) {
  const ref = new PyRef(f);
  try {
    const p = await ref.probe();
    console.log(`${f}: ${String(p.detail)} (${PYTHON})`);
    py.set(f, ref);
  } catch (e) {
    console.log(`${f}: skipped: ${firstLine(e)} (${PYTHON})`);
    await ref.close();
  }
}
peak = await measurePeak();
console.log(
  `peak: ${peak.toFixed(0)} GFLOP/s at the start (best 2048³ float32 GEMM, ONNX Runtime MLAS, ${THREADS} threads; remeasured before every round)`,
);
console.log(`${ROUNDS} interleaved timed rounds per workload, about ${ROUND_SECONDS} s each on the slowest system`);

for (const arch of ARCHS) {
  const model = buildModelGraph(
    { arch, width: 1, batchNorm: false, classifier: [256], dropout: 0 },
    { channels: C, height: H, width: W },
    10,
  );
  const workloads: Workload[] = [
    ...(MODES.includes('train') ? [{ arch, model, mode: 'train' as const, batch: TRAIN_BATCH }] : []),
    ...(MODES.includes('infer') ? INFER_BATCHES.map((batch) => ({ arch, model, mode: 'infer' as const, batch })) : []),
  ];
  for (const w of workloads) {
    const rows = await runWorkload(w, py);
    report(w, rows, peak);
  }
}
for (const ref of py.values()) await ref.close();
console.log(
  `\nload average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
