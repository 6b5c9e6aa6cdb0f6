/**
 * Repeats run in separate processes and merge into one record: every sample kept, accuracy per
 * repeat, the worst memory figure, parity from the first process only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { mergeRecords, recordFileName, runCase } from '../../src/runner/case.ts';
import type { ResultRecord } from '../../src/runner/record.ts';
import { makeRecord } from './baseline-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-repeats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('three repeats give three samples per phase in one record', async () => {
  const exp = parseExperiment(
    `name: rep
dataset: { kind: synthetic, train: 128, test: 64, imageSize: 8, classes: 4 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16 }
backends: [fake/ok]
repeats: 3
parity: { enabled: false }
`,
    join(dir, 'rep.experiment.yaml'),
    { profile: null },
  );
  const [c] = expandCases(exp);
  const r = await runCase(c!, { runId: 'rep', resultsDir: dir });
  expect(r.status).toBe('passed');
  for (const phase of ['buildInit', 'train', 'infer'] as const) expect(r.phases[phase]!.samples).toHaveLength(3);
  expect(r.accuracy!.samples).toHaveLength(3);
  const stored = JSON.parse(readFileSync(join(dir, recordFileName(c!.key)), 'utf8')) as ResultRecord;
  expect(stored.phases.train!.samples).toEqual(r.phases.train!.samples);
}, 60_000);

test('memory figures merge by what they measure: the worst per metric, whatever the source, counted', () => {
  const a = makeRecord('k › onnxruntime/cpu', [1]);
  a.memory.train = [
    { metric: 'peak-rss', bytes: 500, source: 'VmRSS sampled every 50 ms', readings: 7, reliable: false },
    {
      metric: 'heap-used',
      bytes: 10,
      source: 'process.memoryUsage() sampled every 50 ms',
      readings: 7,
      reliable: false,
    },
  ];
  const b = makeRecord('k › onnxruntime/cpu', [2]);
  b.memory.train = [{ metric: 'peak-rss', bytes: 400, source: 'VmHWM', reliable: true, measurements: 2 }];
  const m = mergeRecords([a, b]);
  expect(m.memory.train).toEqual([
    {
      metric: 'peak-rss',
      bytes: 500,
      source: 'VmRSS sampled every 50 ms',
      readings: 7,
      reliable: false,
      measurements: 3,
    },
    {
      metric: 'heap-used',
      bytes: 10,
      source: 'process.memoryUsage() sampled every 50 ms',
      readings: 7,
      reliable: false,
      measurements: 1,
    },
  ]);
});

test('merging keeps every sample, the highest memory figure and the first failure', () => {
  const a = makeRecord('k › onnxruntime/cpu', [1]);
  a.memory.train = [{ metric: 'peak-rss', bytes: 100, source: 's', reliable: true }];
  const b = makeRecord('k › onnxruntime/cpu', [2]);
  b.memory.train = [{ metric: 'peak-rss', bytes: 300, source: 's', reliable: true }];
  const c = makeRecord('k › onnxruntime/cpu', []);
  c.phases = {};
  c.status = 'crashed';
  c.error = { code: 'WORKER_CRASH', message: 'killed', phase: 'train' };
  const m = mergeRecords([a, b, c]);
  expect(m.phases.train!.samples).toEqual([1, 2]);
  expect(m.memory.train).toEqual([{ metric: 'peak-rss', bytes: 300, source: 's', reliable: true, measurements: 2 }]);
  expect(m.status).toBe('crashed');
  expect(m.error?.code).toBe('WORKER_CRASH');
});
