/**
 * Declared metrics, their bounds and matrices through real Vitest, as a user runs them: a missed
 * latency bound and a missed top-5 floor each fail their own test naming the metric, the measured
 * value and the limit; a 3×2 matrix gives six stably named cases that `-t` selects one by one; an
 * unknown metric in `expect` fails its file with file:line:col. Fake backends keep it cheap.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { vitestEntry } from '../../src/cli/main.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const ROOT = join(import.meta.dirname, '../fixtures/metrics');
let results: string;
let out = '';
let status: number | null = null;

function vitest(args: string[], dir: string) {
  const r = spawnSync(process.execPath, [vitestEntry(), 'run', '--root', ROOT, '--reporter=verbose', ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      EXPBENCH_RESULTS_DIR: dir,
      EXPBENCH_RUN_ID: 'metrics-e2e',
      EXPBENCH_REPORT_DIR: join(dir, 'report'),
      CI: 'true',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
    timeout: 180_000,
  });
  return { text: `${r.stdout}\n${r.stderr}`, status: r.status };
}

beforeAll(() => {
  results = mkdtempSync(join(tmpdir(), 'expbench-metrics-e2e-'));
  ({ text: out, status } = vitest([], results));
}, 200_000);
afterAll(() => rmSync(results, { recursive: true, force: true }));

test('the run fails', () => {
  expect(status, out).toBe(1);
});

test('a missed latency.p99 bound fails its own test, naming metric, measured value and limit', () => {
  expect(out).toMatch(/× gates\.experiment\.yaml > gates > fake\/ok > expect latency\.p99/);
  expect(out).toMatch(
    /gates › fake\/ok: latency\.p99: [\d.]+ [µm]?s \(p99 of 20 calls at batch 16\) is above the max 1\.00 µs/,
  );
});

test('a missed top5 floor fails its own test, naming metric, measured value and limit', () => {
  expect(out).toMatch(/× gates\.experiment\.yaml > gates > fake\/ok > expect top5/);
  expect(out).toMatch(/gates › fake\/ok: top5: [\d.]+% \(median of 1 repeat\) is below the min 99\.9%/);
  // The bound that holds passes, and the other tests of the case are untouched by the missed ones.
  expect(out).toMatch(/✓ gates\.experiment\.yaml > gates > fake\/ok > expect latency\.calls/);
  expect(out).toMatch(/✓ gates\.experiment\.yaml > gates > fake\/ok > accuracy/);
});

test('the record carries the declared metrics', () => {
  const r = JSON.parse(readFileSync(join(results, 'gates__fake-ok.json'), 'utf8')) as ResultRecord;
  expect(r.metrics?.latency?.samples).toHaveLength(20);
  expect(r.metrics?.topk?.['5']).toHaveLength(1);
});

const POINTS = [
  'inference.batchSize=1, inference.seed=1',
  'inference.batchSize=1, inference.seed=2',
  'inference.batchSize=2, inference.seed=1',
  'inference.batchSize=2, inference.seed=2',
  'inference.batchSize=4, inference.seed=1',
  'inference.batchSize=4, inference.seed=2',
];

test('a 3×2 matrix gives six stably named cases, each inference-only, each recorded with its point', () => {
  for (const p of POINTS) {
    expect(out).toContain(`✓ grid.experiment.yaml > grid > ${p} > fake/ok > infer`);
    expect(out).not.toContain(`grid > ${p} > fake/ok > train`);
  }
  const recs = readdirSync(results).filter((f) => f.startsWith('grid__'));
  expect(recs).toHaveLength(6);
  const r = JSON.parse(
    readFileSync(join(results, 'grid__inference.batchSize-2-inference.seed-1__fake-ok.json'), 'utf8'),
  ) as ResultRecord;
  expect(r.experiment.point).toEqual({ 'inference.batchSize': 2, 'inference.seed': 1 });
  expect(r.experiment.epochs).toBe(0);
  expect(r.phases.train).toBeUndefined();
  expect(r.metrics?.latency?.batchSize).toBe(2);
});

test('an unknown metric in expect fails its file with file:line:col and a suggestion', () => {
  expect(out).toMatch(/unknown-metric\.experiment\.yaml:7:3: unknown metric "latency\.p95" in expect/);
  expect(out).toMatch(/did you mean "latency\.p9\d"\?/);
});

test('-t selects one matrix point by its name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'expbench-metrics-e2e-t-'));
  try {
    const r = vitest(['grid.experiment.yaml', '-t', 'inference.batchSize=2, inference.seed=1'], dir);
    expect(r.status, r.text).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toEqual([
      'grid__inference.batchSize-2-inference.seed-1__fake-ok.json',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 150_000);
