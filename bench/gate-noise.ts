/**
 * How good is the regression gate on this machine's real timing noise?
 *
 *   npx tsx bench/gate-noise.ts                          wall time, ORT default threads (as the backends run)
 *   npx tsx bench/gate-noise.ts --threads 1 --batch 24 --metric cpu
 *                                                        process CPU time of a single-threaded session: real
 *                                                        noise of an otherwise idle core, when the machine
 *                                                        is too busy for wall time to mean anything
 *   npx tsx bench/gate-noise.ts --from FILE.json [--metric cpu]   re-analyse saved samples
 *
 * 1. Collects real timings: an ONNX Runtime session (graph built with OnnxGraph: three 3×3
 *    convolutions with ReLU on a [batch, 32, 96, 96] input, ~50–150 ms) run repeatedly. Each block of
 *    samples comes from its own fresh process (session created, two warm-up runs, then `--per-block`
 *    timed runs), so the noise includes what differs between two `vitest run`s: process start, memory
 *    layout, other load on the machine. Two sets are collected one after the other: set A tunes, set B
 *    validates. The 1-minute load average is recorded with each block.
 * 2. Forms comparisons by resampling: a "current" group of `repeats` samples and a "baseline" group,
 *    either each from one process (all repeats of a run in one child process) or one sample per process
 *    ("one process per repeat"). A/A comparisons use the samples as they are; A/B comparisons multiply
 *    the current group by 1.10 or 1.20 (an injected slowdown).
 * 3. Tunes the gate's `alpha`, `minEffect` and `maxSpread` on set A (targets: false alarms ≤ 1%,
 *    detection ≥ 90% at +10% and ≥ 99% at +20%), then reports the tuned and the default settings on
 *    sets A and B next to two plain rules: "median ratio > 1.1" and "mean ratio > 1.1". "declined" is
 *    the share of A/A comparisons the gate called too noisy to judge (`incomparable`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareToBaseline, DEFAULT_GATE, relativeSpread } from '../src/runner/gate.ts';
import { mannWhitneyU } from '../src/stats/mann-whitney.ts';
import { iqr, mean, median, sortSamples } from '../src/stats/summary.ts';
import { mulberry32 } from '../src/data/prng.ts';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..');

const { values: args } = parseArgs({
  options: {
    worker: { type: 'boolean', default: false },
    'per-block': { type: 'string', default: '10' },
    /** ONNX Runtime intra-op threads; 0 = its default (all cores), as the backends run it. */
    threads: { type: 'string', default: '0' },
    /** Batch of the convolution workload (sets the length of one sample). */
    batch: { type: 'string', default: '12' },
    /** Which clock the gate is tuned and validated on: wall time, or the process's CPU time. */
    metric: { type: 'string', default: 'wall' },
    blocks: { type: 'string', default: '30' },
    from: { type: 'string' },
    save: { type: 'string' },
    repeats: { type: 'string', default: '5,10' },
    comparisons: { type: 'string', default: '1000' },
    threshold: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '20261125' },
  },
});

/** One block: a fresh session in this fresh process, warm-up, then timed runs. Prints JSON. */
async function worker(perBlock: number): Promise<void> {
  const ort = await import('onnxruntime-node');
  const { OnnxGraph } = await import('../src/backends/onnxruntime/graph.ts');
  const N = Number(args.batch);
  const C = 32;
  const H = 96;
  const g = new OnnxGraph('gate-noise');
  let x = g.input('x', 'float32', [N, C, H, H]);
  for (let i = 0; i < 3; i++) {
    const w = g.floats(
      Float32Array.from({ length: C * C * 9 }, (_, k) => Math.sin(k + i) * 0.05),
      [C, C, 3, 3],
      'w',
    );
    x = g.op('Relu', [g.op('Conv', [x, w], { pads: [1, 1, 1, 1] })]);
  }
  const y = g.op('ReduceMean', [x], { keepdims: 0 });
  g.output(y, 'float32', []);
  const threads = Number(args.threads);
  const session = await ort.InferenceSession.create(
    g.toModelBytes(),
    threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {},
  );
  const input = new ort.Tensor(
    'float32',
    Float32Array.from({ length: N * C * H * H }, (_, k) => (k % 97) / 97),
    [N, C, H, H],
  );
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < perBlock + 2; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const out = await session.run({ x: input });
    // Reading the result back is part of the work (CPU EP: already on the host).
    void (out[y]!.data as Float32Array)[0];
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const dc = process.cpuUsage(c0);
    if (i >= 2) {
      wall.push(dt);
      cpu.push((dc.user + dc.system) / 1e6);
    }
  }
  await session.release();
  process.stdout.write(`${JSON.stringify({ wall, cpu })}\n`);
}

function runBlock(perBlock: number): Promise<{ wall: number[]; cpu: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        here,
        '--worker',
        '--per-block',
        String(perBlock),
        '--threads',
        args.threads,
        '--batch',
        args.batch,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`worker exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as { wall: number[]; cpu: number[] });
    });
  });
}

interface SampleSets {
  collectedAt: string;
  host: string;
  workload: string;
  perBlock: number;
  A: number[][];
  B: number[][];
  /** 1-minute load average when each block finished (other work on the machine). */
  loadA?: number[];
  loadB?: number[];
  /** Process CPU time (user + system, all threads) of the same runs. */
  cpuA?: number[][];
  cpuB?: number[][];
}

async function collect(blocks: number, perBlock: number): Promise<SampleSets> {
  const sets: SampleSets = {
    collectedAt: new Date().toISOString(),
    host: (await import('node:os')).cpus()[0]?.model ?? 'unknown',
    workload: `onnxruntime-node CPU EP (${Number(args.threads) > 0 ? `${args.threads} intra-op thread(s)` : 'default threads'}), 3× Conv3x3(32→32)+ReLU on [${args.batch},32,96,96]`,
    perBlock,
    A: [],
    B: [],
    loadA: [],
    loadB: [],
    cpuA: [],
    cpuB: [],
  };
  const os = await import('node:os');
  for (const name of ['A', 'B'] as const) {
    for (let b = 0; b < blocks; b++) {
      const block = await runBlock(perBlock);
      sets[name].push(block.wall);
      sets[name === 'A' ? 'cpuA' : 'cpuB']!.push(block.cpu);
      sets[name === 'A' ? 'loadA' : 'loadB']!.push(os.loadavg()[0]!);
      process.stderr.write(`\rset ${name}: block ${b + 1}/${blocks}   `);
    }
  }
  process.stderr.write('\n');
  return sets;
}

/** The project's seeded generator, so every analysis of the same samples gives the same table. */
const rng = mulberry32;

function drawWithoutReplacement(block: number[], k: number, rand: () => number): number[] {
  const pool = [...block];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}

interface Comparison {
  current: number[];
  baseline: number[];
}

/**
 * Comparisons of two groups of `repeats` samples. `grouping`:
 * - `process`: each group's samples come from ONE process (one block) — repeats run inside the case's
 *   single child process, so a run's samples share that process's level;
 * - `spread`: each sample comes from a DIFFERENT process (one per block; the two groups use disjoint
 *   blocks) — repeats run in fresh processes, so the groups carry the run-to-run variation themselves.
 */
function comparisons(
  blocks: number[][],
  repeats: number,
  count: number,
  seed: number,
  grouping: 'process' | 'spread' = 'process',
): Comparison[] {
  const rand = rng(seed);
  const out: Comparison[] = [];
  for (let c = 0; c < count; c++) {
    if (grouping === 'spread') {
      const order = drawWithoutReplacement(
        blocks.map((_, i) => i),
        Math.min(blocks.length, 2 * repeats),
        rand,
      );
      const pick = (ids: number[]) => ids.map((b) => blocks[b]![Math.floor(rand() * blocks[b]!.length)]!);
      out.push({ current: pick(order.slice(0, repeats)), baseline: pick(order.slice(repeats, 2 * repeats)) });
      continue;
    }
    const i = Math.floor(rand() * blocks.length);
    let j = Math.floor(rand() * (blocks.length - 1));
    if (j >= i) j++;
    out.push({
      current: drawWithoutReplacement(blocks[i]!, repeats, rand),
      baseline: drawWithoutReplacement(blocks[j]!, repeats, rand),
    });
  }
  return out;
}

/** A rule's verdict on one comparison: flagged as a regression, passed, or declined (too noisy). */
type Outcome = 'regression' | 'pass' | 'declined';
type Rule = (current: number[], baseline: number[]) => Outcome;

interface Rates {
  falseAlarm: number;
  detect10: number;
  detect20: number;
  /** Share of A/A comparisons the rule declined to judge. */
  declined: number;
}

function rates(rule: Rule, comps: Comparison[]): Rates {
  let fa = 0;
  let d10 = 0;
  let d20 = 0;
  let declined = 0;
  for (const { current, baseline } of comps) {
    const aa = rule(current, baseline);
    if (aa === 'regression') fa++;
    if (aa === 'declined') declined++;
    if (
      rule(
        current.map((v) => v * 1.1),
        baseline,
      ) === 'regression'
    )
      d10++;
    if (
      rule(
        current.map((v) => v * 1.2),
        baseline,
      ) === 'regression'
    )
      d20++;
  }
  const n = comps.length;
  return { falseAlarm: fa / n, detect10: d10 / n, detect20: d20 / n, declined: declined / n };
}

const meets = (r: Rates) => r.falseAlarm <= 0.01 && r.detect10 >= 0.9 && r.detect20 >= 0.99;

interface GateSetting {
  alpha: number;
  minEffect: number;
  /** Noise guard as a multiple of the threshold; Infinity = off. */
  spreadFactor: number;
}

function gateRule(threshold: number, g: GateSetting): Rule {
  return (c, b) => {
    const v = compareToBaseline(c, b, {
      threshold,
      alpha: g.alpha,
      minEffect: g.minEffect,
      maxSpread: g.spreadFactor * threshold,
    });
    return v.status === 'regression' ? 'regression' : v.status === 'incomparable' ? 'declined' : 'pass';
  };
}

/** The same test with the ratio of medians as the effect estimate, to check the estimator choice. */
function medianEstimatorRule(threshold: number, g: GateSetting): Rule {
  return (c, b) => {
    const sc = sortSamples(c);
    const sb = sortSamples(b);
    if (relativeSpread(sc) > g.spreadFactor * threshold || relativeSpread(sb) > g.spreadFactor * threshold)
      return 'declined';
    return mannWhitneyU(c, b).pGreater < g.alpha && median(sc) / median(sb) > 1 + g.minEffect * threshold
      ? 'regression'
      : 'pass';
  };
}

const medianRatioRule: Rule = (c, b) => (median(sortSamples(c)) / median(sortSamples(b)) > 1.1 ? 'regression' : 'pass');
const meanRatioRule: Rule = (c, b) => (mean(sortSamples(c)) / mean(sortSamples(b)) > 1.1 ? 'regression' : 'pass');

/**
 * The choice on the tuning set: a setting that meets every target, with the most detection at +10%;
 * failing that, one that keeps false alarms ≤ 1% (a gate that cries wolf gets switched off) with the
 * most detection; failing that, the fewest false alarms.
 */
function better(r: Rates, best: Rates | undefined): boolean {
  if (!best) return true;
  const tier = (x: Rates) => (meets(x) ? 2 : x.falseAlarm <= 0.01 ? 1 : 0);
  if (tier(r) !== tier(best)) return tier(r) > tier(best);
  if (tier(r) > 0)
    return r.detect10 > best.detect10 || (r.detect10 === best.detect10 && r.falseAlarm < best.falseAlarm);
  return r.falseAlarm < best.falseAlarm || (r.falseAlarm === best.falseAlarm && r.detect10 > best.detect10);
}

const cpuCount = (await import('node:os')).availableParallelism();
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function describeNoise(name: string, blocks: number[][], load: number[] | undefined): string {
  const all = sortSamples(blocks.flat());
  const within = sortSamples(
    blocks.map((b) => {
      const s = sortSamples(b);
      return iqr(s) / median(s);
    }),
  );
  const medians = sortSamples(blocks.map((b) => median(sortSamples(b))));
  const mm = median(medians);
  return (
    `set ${name}: ${blocks.length} blocks × ${blocks[0]?.length} samples; median ${(median(all) * 1e3).toFixed(1)} ms ` +
    `(min ${(all[0]! * 1e3).toFixed(1)}, max ${(all[all.length - 1]! * 1e3).toFixed(1)}); ` +
    `within-block IQR/median: median ${pct(median(within))}, range ${pct(within[0]!)}–${pct(within[within.length - 1]!)}; ` +
    `block medians ${pct(medians[0]! / mm - 1)} … +${pct(medians[medians.length - 1]! / mm - 1)} around their median` +
    (load && load.length > 0
      ? `; load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} on ${cpuCount} cores`
      : '')
  );
}

const row = (name: string, r: Rates) =>
  `| ${name} | ${pct(r.falseAlarm)} | ${pct(r.detect10)} | ${pct(r.detect20)} | ${pct(r.declined)} |`;

async function main(): Promise<void> {
  const threshold = Number(args.threshold);
  let sets: SampleSets;
  if (args.from) {
    sets = JSON.parse(readFileSync(args.from, 'utf8')) as SampleSets;
  } else {
    const t0 = Date.now();
    sets = await collect(Number(args.blocks), Number(args['per-block']));
    const file =
      args.save ?? join(root, '.expbench', 'bench', `gate-noise-${sets.collectedAt.replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(sets)}\n`);
    console.log(
      `collected in ${((Date.now() - t0) / 1000).toFixed(0)} s; samples saved to ${file} (re-analyse with --from)`,
    );
  }
  console.log(`workload: ${sets.workload}; cpu: ${sets.host}; collected ${sets.collectedAt}`);
  console.log(describeNoise('A (tune), wall', sets.A, sets.loadA));
  console.log(describeNoise('B (validate), wall', sets.B, sets.loadB));
  if (sets.cpuA && sets.cpuB) {
    console.log(describeNoise('A, CPU time', sets.cpuA, undefined));
    console.log(describeNoise('B, CPU time', sets.cpuB, undefined));
  }

  const metric = args.metric === 'cpu' ? 'cpu' : 'wall';
  const tuneA = metric === 'cpu' ? sets.cpuA : sets.A;
  const tuneB = metric === 'cpu' ? sets.cpuB : sets.B;
  if (!tuneA || !tuneB) throw new Error(`${args.from}: no ${metric} samples in this file`);
  console.log(`\ntuning and validating on ${metric === 'cpu' ? 'process CPU time' : 'wall time'}`);
  const count = Number(args.comparisons);
  const seed = Number(args.seed);
  const repeatsList = args.repeats.split(',').map(Number);
  const grid: GateSetting[] = [];
  for (const alpha of [0.01, 0.025, 0.05, 0.1])
    for (const minEffect of [0, 0.25, 0.5, 0.6, 0.75, 1])
      for (const spreadFactor of [Infinity, 1, 0.75, 0.5, 0.4, 0.3]) grid.push({ alpha, minEffect, spreadFactor });
  const name = (g: GateSetting) =>
    `alpha ${g.alpha}, minEffect ${g.minEffect}, maxSpread ${Number.isFinite(g.spreadFactor) ? `${g.spreadFactor}×thr` : 'off'}`;

  for (const repeats of repeatsList) {
    const compA = comparisons(tuneA, repeats, count, seed + repeats);
    const compB = comparisons(tuneB, repeats, count, seed + 1000 + repeats);
    let best: { g: GateSetting; r: Rates } | undefined;
    const tuned: string[] = [];
    for (const g of grid) {
      const r = rates(gateRule(threshold, g), compA);
      tuned.push(row(`Hodges–Lehmann, ${name(g)}`, r));
      if (better(r, best?.r)) best = { g, r };
      if (g.minEffect === 0.5)
        tuned.push(row(`median ratio, ${name(g)}`, rates(medianEstimatorRule(threshold, g), compA)));
    }
    console.log(`\n## repeats = ${repeats}: tuning on set A (${count} comparisons each for A/A, +10%, +20%)\n`);
    console.log('| rule | false alarms (A/A) | detect +10% | detect +20% | declined (A/A) |');
    console.log('|---|---|---|---|---|');
    for (const line of tuned) console.log(line);
    const chosen = best!;
    console.log(
      `\nchosen on set A for repeats = ${repeats}: ${name(chosen.g)}${meets(chosen.r) ? ' (meets every target)' : ' (no setting met every target)'}\n`,
    );
    console.log(`## repeats = ${repeats}: chosen rule on set A and on the validation set B, with the plain rules\n`);
    console.log('| rule | false alarms (A/A) | detect +10% | detect +20% | declined (A/A) |');
    console.log('|---|---|---|---|---|');
    const defaults: GateSetting = {
      alpha: DEFAULT_GATE.alpha,
      minEffect: DEFAULT_GATE.minEffect,
      spreadFactor: DEFAULT_GATE.maxSpreadFactor,
    };
    const rows: [string, Rule][] = [
      [`expbench gate, tuned (${name(chosen.g)})`, gateRule(threshold, chosen.g)],
      [`expbench gate, defaults (${name(defaults)})`, gateRule(threshold, defaults)],
      ['median ratio > 1.1', medianRatioRule],
      ['mean ratio > 1.1', meanRatioRule],
    ];
    for (const [label, rule] of rows) {
      console.log(row(`${label} — set A`, rates(rule, compA)));
      console.log(row(`${label} — set B`, rates(rule, compB)));
    }
    // The same rules when every repeat runs in its own process (needs 2 × repeats blocks).
    if (tuneB.length >= 2 * repeats) {
      const spreadA = comparisons(tuneA, repeats, count, seed + 2000 + repeats, 'spread');
      const spreadB = comparisons(tuneB, repeats, count, seed + 3000 + repeats, 'spread');
      for (const [label, rule] of rows.slice(0, 3)) {
        console.log(row(`${label}, one process per repeat — set A`, rates(rule, spreadA)));
        console.log(row(`${label}, one process per repeat — set B`, rates(rule, spreadB)));
      }
    }
    if (metric === 'wall' && sets.cpuA && sets.cpuB) {
      const cA = comparisons(sets.cpuA, repeats, count, seed + repeats);
      const cB = comparisons(sets.cpuB, repeats, count, seed + 1000 + repeats);
      console.log(row(`expbench gate, defaults, on CPU time — set A`, rates(gateRule(threshold, defaults), cA)));
      console.log(row(`expbench gate, defaults, on CPU time — set B`, rates(gateRule(threshold, defaults), cB)));
      console.log(row(`median ratio > 1.1 on CPU time — set B`, rates(medianRatioRule, cB)));
    }
  }
}

// Dispatch last: the rules and helpers above are `const`s that must be initialised first.
if (args.worker) await worker(Number(args['per-block']));
else await main();
