/**
 * Child of the interruption test: runs one case whose training hangs and prints "training" once the
 * case reports progress, so the test can interrupt it mid-phase.
 * Usage: node --import tsx interrupt-runner.ts EXPERIMENT RESULTS_DIR
 */
import { expandCases, loadExperiment } from '../../src/config/load.ts';
import { runCase } from '../../src/runner/case.ts';

const [file, dir] = process.argv.slice(2);
if (!file || !dir) throw new Error('usage: interrupt-runner.ts EXPERIMENT RESULTS_DIR');
const [c] = expandCases(loadExperiment(file, { profile: null }));
let told = false;
await runCase(c!, {
  runId: 'interrupt',
  resultsDir: dir,
  onProgress: () => {
    if (!told) process.stdout.write('training\n');
    told = true;
  },
});
