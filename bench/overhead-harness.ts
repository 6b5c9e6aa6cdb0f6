/**
 * Harness overhead: the same training loop timed bare and through expbench, side by side in one run.
 *
 *   npx tsx bench/overhead-harness.ts [--rounds 8]
 *
 * Bare: bench/harness-bare.ts in a fresh process calls `session.train` directly. Through expbench:
 * `runCase` (child process, IPC progress, memory sampler, NaN/divergence checks, loss read-back) on the
 * same experiment file. The two alternate round by round so drift on the machine hits both alike. The
 * overhead is the median over rounds of (harness / bare − 1), with the spread of the per-round ratios.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { expandCases, loadExperiment } from '../src/config/load.ts';
import { runCase } from '../src/runner/case.ts';
import { iqr, median, sortSamples } from '../src/stats/index.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '8' } } });
const ROUNDS = Number(args.rounds);
const FILE = join(import.meta.dirname, 'fixtures/overhead.experiment.yaml');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const exp = loadExperiment(FILE, { profile: null });
const [c] = expandCases(exp);
const dir = mkdtempSync(join(tmpdir(), 'expbench-overhead-'));

const bare: number[] = [];
const harness: number[] = [];
const ratios: number[] = [];
console.log(machineLines());
console.log(
  `workload: ${exp.model.arch} ×${exp.model.width} on ${c!.backend}, ${exp.dataset.train} images ${exp.training?.epochs} epoch(s), batch ${exp.training?.batchSize}`,
);
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which side goes first, so neither always runs on a warmer machine.
  const sides = round % 2 === 0 ? (['bare', 'harness'] as const) : (['harness', 'bare'] as const);
  let b = 0;
  let h = 0;
  for (const side of sides) {
    if (side === 'bare') {
      const out = execFileSync(
        process.execPath,
        ['--import', TSX, join(import.meta.dirname, 'harness-bare.ts'), FILE],
        { encoding: 'utf8' },
      );
      b = (JSON.parse(out.trim().split('\n').pop()!) as { train: number }).train;
    } else {
      const r = await runCase(c!, { runId: `overhead-${round}`, resultsDir: dir });
      if (r.status !== 'passed') throw new Error(`harness run ${r.status}: ${r.error?.message}`);
      h = r.phases.train!.samples[0]!;
    }
  }
  bare.push(b);
  harness.push(h);
  ratios.push(h / b);
  console.log(`round ${round + 1}: bare ${b.toFixed(3)} s  expbench ${h.toFixed(3)} s  ratio ${(h / b).toFixed(4)}`);
}
rmSync(dir, { recursive: true, force: true });
const sb = sortSamples(bare);
const sh = sortSamples(harness);
const sr = sortSamples(ratios);
console.log('');
console.log('| | median train s | IQR |');
console.log('|---|---:|---:|');
console.log(`| bare session.train | ${median(sb).toFixed(3)} | ${iqr(sb).toFixed(3)} |`);
console.log(`| through expbench | ${median(sh).toFixed(3)} | ${iqr(sh).toFixed(3)} |`);
console.log('');
console.log(
  `overhead: ratio of medians ${((median(sh) / median(sb) - 1) * 100).toFixed(2)}%; median of per-round ratios ${((median(sr) - 1) * 100).toFixed(2)}% (IQR of ratios ${(iqr(sr) * 100).toFixed(2)} points, ${ROUNDS} rounds); target ≤ 2%`,
);
