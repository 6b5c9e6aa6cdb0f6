/**
 * The plugin through real Vitest, as a user runs it: experiment files become test files, a broken
 * file fails alone with its located error, an unavailable backend is skipped with its reason, and an
 * expectation that cannot hold makes the run exit non-zero naming the case and the measured value.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { vitestEntry } from '../../src/cli/main.ts';
import { renderReport } from '../../src/reporters/index.ts';

const ROOT = join(import.meta.dirname, '../fixtures/plugin');
let out = '';
let status: number | null = null;
let results: string;

beforeAll(() => {
  results = mkdtempSync(join(tmpdir(), 'expbench-e2e-'));
  const r = spawnSync(process.execPath, [vitestEntry(), 'run', '--root', ROOT, '--reporter=verbose'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      EXPBENCH_RESULTS_DIR: results,
      EXPBENCH_RUN_ID: 'e2e',
      EXPBENCH_REPORT_DIR: join(results, 'report'),
      CI: 'true',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
    timeout: 180_000,
  });
  out = `${r.stdout}\n${r.stderr}`;
  status = r.status;
}, 200_000);
afterAll(() => rmSync(results, { recursive: true, force: true }));

test('the run fails because of the impossible expectation and the broken file', () => {
  expect(status, out).toBe(1);
});

test('the impossible expectation names the case, the measured value and the limit', () => {
  expect(out).toMatch(/impossible › onnxruntime\/cpu/);
  expect(out).toMatch(
    /impossible › onnxruntime\/cpu: accuracy: median [\d.]+% over 1 repeat is below the floor 99\.9%/,
  );
});

test('a time budget fails the test of its phase, with measured value and limit', () => {
  expect(out).toMatch(
    /impossible › onnxruntime\/cpu: train time: median [\d.]+ ?m?s over 1 sample exceeds the budget 1(\.0+)? ?ms/,
  );
  expect(out).toMatch(/× impossible\.experiment\.yaml > impossible > onnxruntime\/cpu > train/);
  expect(out).toMatch(/✓ impossible\.experiment\.yaml > impossible > onnxruntime\/cpu > infer/);
  expect(out).toMatch(/✓ impossible\.experiment\.yaml > impossible > onnxruntime\/cpu > build\+init/);
});

test('the broken file fails with file:line:col', () => {
  expect(out).toMatch(/broken\.experiment\.yaml:\d+:\d+/);
});

test('the healthy experiment still runs and passes; the missing backend is skipped with its reason', () => {
  expect(out).toMatch(/✓ good\.experiment\.yaml > good > fake\/ok > accuracy/);
  expect(out).toMatch(/skipped: fake\/unavailable: a test backend that is never available/);
  const recs = readdirSync(results).filter((f) => f.endsWith('.json'));
  expect(recs.sort()).toEqual([
    'good__fake-ok.json',
    'good__fake-unavailable.json',
    'impossible__onnxruntime-cpu.json',
    'tta__onnxruntime-cpu.json',
  ]);
});

test('an out-of-reach time-to-accuracy target fails naming the best accuracy and its epoch; the record holds the curve', () => {
  expect(out).toMatch(
    /tta › onnxruntime\/cpu: time to accuracy: seed 5 never reached the target 99\.9% within the configured epochs; best accuracy [\d.]+% at epoch [12]/,
  );
  expect(out).toMatch(/× tta\.experiment\.yaml > tta > onnxruntime\/cpu > time to accuracy/);
  expect(out).toMatch(/✓ tta\.experiment\.yaml > tta > onnxruntime\/cpu > train/);
  const r = JSON.parse(readFileSync(join(results, 'tta__onnxruntime-cpu.json'), 'utf8'));
  expect(r.seeds).toEqual([5]);
  expect(r.curves).toHaveLength(1);
  expect(r.curves[0].points.map((p: { epoch: number }) => p.epoch)).toEqual([1, 2]);
  const [first, second] = r.curves[0].points;
  expect(second.trainSeconds).toBeGreaterThan(first.trainSeconds);
  // The training clock excludes the evaluations, which have their own.
  expect(r.phases.train.samples[0]).toBeCloseTo(second.trainSeconds, 6);
  expect(r.evaluation.samples[0]).toBeGreaterThan(0);
  const t = r.timeToAccuracy.samples[0];
  expect(t).toMatchObject({ seed: 5, reached: false, ended: 'epochs' });
  const best = Math.max(first.accuracy, second.accuracy);
  expect(t.best.accuracy).toBe(best);
  expect(out).toContain(`best accuracy ${(best * 100).toFixed(1)}% at epoch ${t.best.epoch}`);
});

test('the time-to-accuracy report renders the real record: its curve, and that the data were synthetic', async () => {
  const r = JSON.parse(readFileSync(join(results, 'tta__onnxruntime-cpu.json'), 'utf8'));
  const files = await renderReport([r], { reporters: ['curves'] });
  expect(files.map((f) => f.path)).toEqual(['time-to-accuracy.md', 'figures/tta-vgg-small-curves.svg']);
  const page = files[0]!.content;
  expect(page).toContain('## tta › vgg-small');
  expect(page).toContain('synthetic data: a check of the machinery, not a result');
  expect(page).toContain(
    'label smoothing 0.1; augmentation: random crop (image side) after 1 px padding + horizontal flip',
  );
  expect(page).toContain('Target not reached — onnxruntime/cpu, seed 5');
  expect(files[1]!.content).toMatch(/^<svg/);
});

test('a backend filter that leaves a file no case skips that file, saying why, instead of failing it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'expbench-e2e-filter-'));
  try {
    const r = spawnSync(
      process.execPath,
      [vitestEntry(), 'run', '--root', ROOT, '--reporter=verbose', 'good.experiment.yaml'],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          EXPBENCH_BACKENDS: 'webgpu',
          EXPBENCH_RESULTS_DIR: dir,
          EXPBENCH_RUN_ID: 'e2e-filter',
          EXPBENCH_REPORT_DIR: join(dir, 'report'),
          CI: 'true',
          NO_COLOR: '1',
          FORCE_COLOR: '0',
        },
        timeout: 120_000,
      },
    );
    const text = `${r.stdout}\n${r.stderr}`;
    expect(r.status, text).toBe(0);
    expect(text).toMatch(
      /skipped: none of this file's backends \(fake\/ok, fake\/unavailable\) matches EXPBENCH_BACKENDS=webgpu/,
    );
    expect(text).not.toMatch(/No test found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 150_000);
