/**
 * Crash isolation, proven with real process deaths: each faulty case is reported as its own failure
 * with the cause, and the healthy case in the same run passes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expandCases, loadExperiment } from '../../src/config/load.ts';
import { runCase } from '../../src/runner/case.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/runner/faults.experiment.yaml');
let dir: string;
const records = new Map<string, ResultRecord>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'expbench-faults-'));
  const exp = loadExperiment(FIXTURE, { profile: null });
  // All cases at once: a crash in one must not disturb the others running beside it.
  const results = await Promise.all(expandCases(exp).map((c) => runCase(c, { runId: 'faults', resultsDir: dir })));
  for (const r of results) records.set(r.backend.requested, r);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('crash isolation', () => {
  test('the healthy case passes and learns', () => {
    const r = records.get('fake/ok')!;
    expect(r.status, JSON.stringify(r.error)).toBe('passed');
    expect(r.phases.train?.samples.length).toBe(1);
    expect(r.accuracy!.samples[0]).toBeGreaterThan(0.5);
  });

  test('a segfault is reported with its signal and phase', () => {
    const r = records.get('fake/segfault')!;
    expect(r.status).toBe('crashed');
    expect(r.error).toMatchObject({ code: 'WORKER_CRASH', signal: 'SIGSEGV', phase: 'train' });
  });

  test('an abort is reported with its signal', () => {
    const r = records.get('fake/abort')!;
    expect(r.status).toBe('crashed');
    expect(r.error).toMatchObject({ code: 'WORKER_CRASH', signal: 'SIGABRT', phase: 'train' });
  });

  test('a hang is stopped at the timeout', () => {
    const r = records.get('fake/hang')!;
    expect(r.status).toBe('crashed');
    expect(r.error).toMatchObject({ code: 'WORKER_TIMEOUT', phase: 'train' });
    expect(r.error?.message).toMatch(/timed out after 8 s/);
  });

  test('a runaway allocation is stopped by the memory budget', () => {
    const r = records.get('fake/oom')!;
    expect(r.status).toBe('crashed');
    expect(r.error).toMatchObject({ code: 'BUDGET', phase: 'train', signal: 'SIGKILL' });
    expect(r.error?.message).toMatch(/memory budget exceeded: resident set \d+ MB > limit 600 MB in phase train/);
  });

  test('NaN loss stops training at the step it appears', () => {
    const r = records.get('fake/nan')!;
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'NUMERIC', phase: 'train', step: 2, epoch: 0 });
  });

  test('an exception while building is a failure of that phase', () => {
    const r = records.get('fake/throw')!;
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ phase: 'buildInit' });
    expect(r.error?.message).toMatch(/load failed on purpose/);
  });

  test('every case left exactly one complete record', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(7);
    for (const f of files) expect(JSON.parse(readFileSync(join(dir, f), 'utf8')).schema).toBe('expbench/result@2');
  });
});
