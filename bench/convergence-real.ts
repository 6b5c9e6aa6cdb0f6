/**
 * Training on real CIFAR-10 images: the full-width small VGG for a few epochs through the runner, as a
 * case of an experiment would, printing the loss per epoch and the test accuracy.
 *
 *   EXPBENCH_DATA=../shared/datasets/cifar10-jpg-small.tar.gz npx tsx bench/convergence-real.ts [--epochs 3] [--backend onnxruntime/cpu]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendId } from '../src/backends/types.ts';
import { expandCases, loadExperiment } from '../src/config/load.ts';
import { runCase } from '../src/runner/case.ts';
import { machineLines } from './common.ts';

const { values: args } = parseArgs({
  options: { epochs: { type: 'string', default: '3' }, backend: { type: 'string', default: 'onnxruntime/cpu' } },
});
const exp = loadExperiment(join(import.meta.dirname, 'fixtures/cifar10-jpg.experiment.yaml'), { profile: null });
const training = exp.training;
if (!training) throw new Error('the fixture must train');
training.epochs = Number(args.epochs);
exp.backends = [args.backend as BackendId];
const [c] = expandCases(exp);
const dir = mkdtempSync(join(tmpdir(), 'expbench-real-'));
console.log(machineLines());
const r = await runCase(c!, {
  runId: 'real',
  resultsDir: dir,
  onProgress: (p) =>
    process.stderr.write(
      `\repoch ${p.epoch + 1}/${p.epochs} step ${p.step + 1}/${p.stepsPerEpoch} loss ${p.loss?.toFixed(3) ?? '-'} ${p.imagesPerSecond.toFixed(0)} img/s   `,
    ),
});
process.stderr.write('\n');
rmSync(dir, { recursive: true, force: true });
if (r.status !== 'passed') throw new Error(`${r.status}: ${r.error?.message}`);
console.log(
  `data: ${r.experiment.dataset?.source} (${r.experiment.trainExamples} train / ${r.experiment.testExamples} test)`,
);
console.log(`${c!.key}: ${exp.model.arch} ×${exp.model.width}, ${training.epochs} epochs, batch ${training.batchSize}`);
console.log(`loss per epoch: ${r.loss?.map((l) => l.toFixed(4)).join(', ')}`);
console.log(
  `train ${r.phases.train!.samples[0]!.toFixed(1)} s (${r.phases.train!.imagesPerSecond![0]!.toFixed(0)} img/s), infer ${r.phases.infer!.samples[0]!.toFixed(2)} s`,
);
console.log(
  `test accuracy: ${r.accuracy!.samples[0]!.toFixed(4)}; parity ${r.parity ? `${r.parity.maxRel.toExponential(2)} vs ${r.parity.reference}` : r.paritySkipped}`,
);
