/**
 * How well does `expbench history` find change points? PELT (src/stats/changepoints.ts) on synthetic
 * histories of 200 runs with three planted level steps, for several noise levels and step sizes, each
 * over many random histories (seeded, so the figures are reproducible):
 *
 *   npx tsx bench/changepoints.ts [--histories 1000]
 *
 * Prints per setting: detection rate (planted steps found within ±2 runs), share of histories with
 * every step found, mean false changes per history, share with at most one false change, and the
 * share meeting both ("success"); then false changes on pure noise. Pure computation: the machine's
 * load changes only the time it takes, not the figures.
 */
import { parseArgs } from 'node:util';
import { gaussian, mulberry32 } from '../src/data/prng.ts';
import { evaluateDetector } from '../src/stats/changepoint-eval.ts';
import { detectChangePoints } from '../src/stats/changepoints.ts';

const { values } = parseArgs({ options: { histories: { type: 'string', default: '1000' } } });
const histories = Number(values.histories);

const settings: { noise: number; stepSize: [number, number] }[] = [
  { noise: 0.02, stepSize: [0.08, 0.2] },
  { noise: 0.02, stepSize: [0.05, 0.1] },
  { noise: 0.05, stepSize: [0.1, 0.3] },
  { noise: 0.05, stepSize: [0.05, 0.1] },
];
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
console.log(
  `PELT, penalty 3·ln n, on log medians; ${histories} histories of 200 runs with 3 planted steps per setting\n`,
);
console.log('| noise | step size | steps found (±2) | all 3 found | false changes / history | ≤ 1 false | success |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const [i, s] of settings.entries()) {
  const e = evaluateDetector(mulberry32(100 + i), gaussian(mulberry32(200 + i)), histories, s);
  console.log(
    `| ${pct(s.noise)} | ${pct(s.stepSize[0])}–${pct(s.stepSize[1])} | ${pct(e.detectionRate)} | ${pct(e.allFoundRate)} | ${e.meanFalseChanges.toFixed(3)} | ${pct(e.atMostOneFalseRate)} | ${pct(e.successRate)} |`,
  );
}
const g = gaussian(mulberry32(999));
let falses = 0;
let any = 0;
for (let h = 0; h < histories; h++) {
  const n = detectChangePoints(Array.from({ length: 200 }, () => Math.log(1 + 0.02 * g()))).changes.length;
  falses += n;
  if (n > 0) any++;
}
console.log(
  `\nPure noise (no step), 200 runs: ${(falses / histories).toFixed(3)} false changes per history; ${pct(any / histories)} of histories with any.`,
);
