/**
 * The time-to-accuracy report: one SVG per experiment with an accuracy and a loss panel (a line per
 * backend), and a markdown page that says what ran and gives, per backend, the median and min–max over
 * seeds of the final accuracy and of the time and epochs to the target, naming the seeds that missed it.
 */
import { describe, expect, it } from 'vitest';
import { CurvesReporter, curveRows } from '../../src/reporters/curves.ts';
import type { ResultRecord } from '../../src/runner/record.ts';
import { makeRecord } from './fixtures.ts';

function recipeRecord(
  backend: 'onnxruntime/cpu' | 'tfjs/wasm',
  accs: number[][],
  reachedAt: (number | undefined)[],
): ResultRecord {
  const r = makeRecord({ backend, experiment: 'tta', accuracy: accs.map((a) => a.at(-1)!), train: [1, 1, 1] });
  r.experiment.dataset = { kind: 'cifar10', source: '/data/cifar-10-batches-bin' };
  r.recipe = 'SGD Nesterov momentum 0.9, weight decay 0.0005, lr 0.4; one-cycle schedule';
  r.seeds = accs.map((_, i) => i + 1);
  r.curves = accs.map((a, i) => ({
    seed: i + 1,
    points: a.map((accuracy, e) => ({ epoch: e + 1, accuracy, loss: 2 - accuracy, trainSeconds: 10 * (e + 1) })),
  }));
  r.timeToAccuracy = {
    target: 0.9,
    samples: accs.map((a, i) => {
      const at = reachedAt[i];
      const best = Math.max(...a);
      return at === undefined
        ? {
            seed: i + 1,
            reached: false,
            ended: 'epochs' as const,
            best: { accuracy: best, epoch: a.indexOf(best) + 1 },
          }
        : {
            seed: i + 1,
            reached: true,
            seconds: 10 * at,
            epochs: at,
            best: { accuracy: best, epoch: a.indexOf(best) + 1 },
          };
    }),
  };
  return r;
}

const ort = recipeRecord(
  'onnxruntime/cpu',
  [
    [0.5, 0.8, 0.91],
    [0.6, 0.92],
    [0.55, 0.85, 0.95],
  ],
  [3, 2, 3],
);
const wasm = recipeRecord('tfjs/wasm', [[0.5, 0.7, 0.85]], [undefined]);

describe('time-to-accuracy reporter', () => {
  it('takes the median and range over the seeds that evaluated each epoch', () => {
    const rows = curveRows([ort]).filter((r) => r.metric === 'accuracy');
    expect(rows.map((r) => [r.epoch, r.low, r.high, r.seeds])).toEqual([
      [1, 0.5, 0.6, 3],
      [2, 0.8, 0.92, 3],
      [3, 0.91, 0.95, 2],
    ]);
    expect(rows.map((r) => r.median)).toEqual([0.55, 0.85, expect.closeTo(0.93, 12)]);
  });

  it('writes one figure per experiment and a page with medians, ranges and the misses', async () => {
    const files = await new CurvesReporter().render([ort, wasm, makeRecord({ backend: 'tfjs/cpu', train: [1] })]);
    expect(files.map((f) => f.path)).toEqual(['time-to-accuracy.md', 'figures/tta-vgg-small-curves.svg']);
    const svg = files[1]!.content;
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('Test accuracy');
    expect(svg).toContain('Test loss');
    expect(svg).toContain('median over 3 seeds');
    const md = files[0]!.content;
    expect(md).toContain('**median and the range (min–max)** over the seeds');
    expect(md).toContain('cifar10 (/data/cifar-10-batches-bin), 49,984 training and 9,984 test images');
    expect(md).toContain('recipe: SGD Nesterov');
    expect(md).toContain('- model: vgg-small, width 1;');
    expect(md).toContain(
      '| onnxruntime/cpu | 3 | 92.0 % (91.0 %–95.0 %) | 92.0 % (91.0 %–95.0 %) | 30.0 s (20.0 s–30.0 s) | 3 (2–3) | 3 of 3 |',
    );
    expect(md).toContain('| tfjs/wasm | 1 | 85.0 % | 85.0 % | — | — | 0 of 1 |');
    expect(md).toContain('Target not reached — tfjs/wasm, seed 1: best 85.0 % at epoch 3.');
    // Every evaluated epoch, with the training time spent to it (time to any accuracy reached).
    expect(md).toContain('<details><summary>onnxruntime/cpu: every evaluated epoch</summary>');
    expect(md).toContain('| 2 | 85.0 % (80.0 %–92.0 %) | 1.150 (1.080–1.200) | 20.0 s (20.0 s–20.0 s) |');
    expect(md).toContain('<details><summary>tfjs/wasm: every evaluated epoch</summary>');
    expect(md).toContain('| 3 | 85.0 % | 1.150 | 30.0 s |');
  });

  it('flags synthetic data, and writes nothing without curves', async () => {
    const synthetic = structuredClone(wasm);
    synthetic.experiment.dataset = { kind: 'synthetic', source: 'synthetic seed 0, noise 32' };
    const [md] = await new CurvesReporter().render([synthetic]);
    expect(md!.content).toContain('**synthetic data: a check of the machinery, not a result**');
    expect(await new CurvesReporter().render([makeRecord({ backend: 'tfjs/cpu', train: [1] })])).toEqual([]);
  });
});
