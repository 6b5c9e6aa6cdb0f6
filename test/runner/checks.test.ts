/**
 * Every check of a case lands in its record with measured value, limit, verdict and reason, and a
 * failed check fails the case, naming it; the regression gate's outcome is kept in pull-request words.
 */
import { describe, expect, it } from 'vitest';
import { type BaselineFile, mergeRecords } from '../../src/runner/baseline.ts';
import { applyChecks, CHECK_FAILED, evaluateChecks, failedByChecks } from '../../src/runner/checks.ts';
import { renderDiff } from '../../src/reporters/diff.ts';
import { aggregateOpProfile } from '../../src/vocab/op-profile.ts';
import { makeRecord } from './baseline-fixtures.ts';

const KEY = 'exp › onnxruntime/cpu';
const steady = [10, 10.1, 9.9, 10.05, 9.95];

function baselineOf(train: number[]): BaselineFile {
  const file: BaselineFile = { schema: 'expbench/baseline@1', machines: {} };
  mergeRecords(file, [makeRecord(KEY, train)]);
  return file;
}

describe('evaluateChecks', () => {
  it('records every budget, held or not, with measured value and limit', () => {
    const r = makeRecord(KEY, steady, { accuracy: { samples: [0.8, 0.82] } });
    const checks = evaluateChecks(
      r,
      { accuracy: 0.9, time: { train: 5, infer: 60 } },
      { kind: 'file', path: 'b.json', file: undefined },
    );
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId.accuracy).toMatchObject({ kind: 'accuracy', verdict: 'failed', measured: 0.81, limit: 0.9 });
    expect(byId['time.train']).toMatchObject({
      kind: 'time',
      phase: 'train',
      verdict: 'failed',
      measured: 10,
      limit: 5,
    });
    expect(byId['time.train']!.reason).toMatch(/train time: median 10(\.0+)? ?s over 5 samples exceeds the budget 5/);
    expect(byId['time.infer']).toMatchObject({ verdict: 'passed', measured: 3.1, limit: 60 });
    expect(byId.regression).toMatchObject({
      verdict: 'skipped',
      reason: expect.stringMatching(/no baseline file at b\.json/),
    });
  });

  it('keeps the gate outcome per phase: slower fails, same passes', () => {
    const r = makeRecord(
      KEY,
      steady.map((x) => x * 1.3),
    );
    const checks = evaluateChecks(r, {}, { kind: 'file', path: 'b.json', file: baselineOf(steady) });
    const train = checks.find((c) => c.id === 'regression.train')!;
    expect(train.verdict).toBe('failed');
    expect(train.gate).toMatchObject({ outcome: 'slower', current: { n: 5 }, baseline: { n: 5 }, threshold: 0.1 });
    expect(train.measured).toBeCloseTo(1.3, 2);
    expect(train.limit).toBeCloseTo(1.1, 10);
    const infer = checks.find((c) => c.id === 'regression.infer')!;
    expect(infer).toMatchObject({ verdict: 'passed', gate: { outcome: 'same' } });
  });

  it('a slower training phase of a profiled run names the operators whose time grew since the profiled baseline', () => {
    // Kernel timings of `steps` identical steps: one node per operator type, its ms per step.
    const profile = (ms: Record<string, number>, batchSize = 64) =>
      aggregateOpProfile(
        Object.entries(ms).flatMap(([op, t]) =>
          [0, 1, 2].map((step) => ({ node: `n_${op}`, op, section: 'backward' as const, ms: t, step })),
        ),
        { source: 'test profiler', batchSize, warmupSteps: 1, steps: 3, stepWallMs: [1, 1, 1], note: '' },
      );
    const base: BaselineFile = { schema: 'expbench/baseline@1', machines: {} };
    mergeRecords(base, [makeRecord(KEY, steady, { opProfile: profile({ Conv: 4, Slice: 2, Gemm: 3 }) })]);
    const slower = (p: ReturnType<typeof profile>) =>
      evaluateChecks(
        makeRecord(
          KEY,
          steady.map((x) => x * 1.3),
          { opProfile: p },
        ),
        {},
        { kind: 'file', path: 'b.json', file: base },
      ).find((c) => c.id === 'regression.train')!;
    const c = slower(profile({ Conv: 6.5, Slice: 2.5, Gemm: 3, Where: 0.5 }));
    expect(c.verdict).toBe('failed');
    expect(c.ops).toEqual([
      { op: 'Conv', beforeMs: 4, afterMs: 6.5 },
      { op: 'Slice', beforeMs: 2, afterMs: 2.5 },
      { op: 'Where', beforeMs: 0, afterMs: 0.5 },
    ]);
    expect(c.reason).toMatch(
      /; operators whose time grew \(per step\): Conv 4\.00 → 6\.50 ms \(\+2\.50 ms, \+63 %\), Slice 2\.00 → 2\.50 ms \(\+0\.50 ms, \+25 %\), Where 0\.00 → 0\.50 ms \(\+0\.50 ms, new\)$/,
    );
    // The pull-request diff's Why column names them too.
    const r = applyChecks(
      makeRecord(
        KEY,
        steady.map((x) => x * 1.3),
      ),
      [c],
    );
    expect(renderDiff([r])).toMatch(/operators whose time grew \(per step\): Conv 4\.00 → 6\.50 ms/);
    // Another batch size's profile is not compared: the verdict stands without operators.
    const other = slower(profile({ Conv: 6.5 }, 32));
    expect(other.verdict).toBe('failed');
    expect(other.ops).toBeUndefined();
    expect(other.reason).not.toMatch(/operators/);
  });

  it('says "too noisy" apart from "not comparable"', () => {
    const noisy = makeRecord(KEY, [10, 14, 8, 12, 9]);
    const [n] = evaluateChecks(noisy, {}, { kind: 'file', path: 'b', file: baselineOf(steady) }).filter(
      (c) => c.id === 'regression.train',
    );
    expect(n!.gate!.outcome).toBe('too-noisy');
    const moved = makeRecord(KEY, steady, { env: { ...makeRecord(KEY, []).env, fingerprint: 'other' } });
    const [m] = evaluateChecks(moved, {}, { kind: 'file', path: 'b', file: baselineOf(steady) }).filter(
      (c) => c.id === 'regression.train',
    );
    expect(m!.gate!.outcome).toBe('not-comparable');
    expect(m!.reason).toMatch(/baseline recorded on .*: not compared/);
  });

  it('an unreadable baseline fails the regression check, naming the file', () => {
    const [c] = evaluateChecks(makeRecord(KEY, steady), {}, { kind: 'unreadable', path: 'b.json', error: 'bad JSON' });
    expect(c).toMatchObject({
      kind: 'regression',
      verdict: 'failed',
      reason: 'the baseline b.json cannot be read: bad JSON',
    });
  });

  it('a skipped case has no checks', () => {
    expect(
      evaluateChecks(
        makeRecord(KEY, [], { status: 'skipped', skipReason: 'not here' }),
        { accuracy: 0.5 },
        { kind: 'file', path: 'b', file: undefined },
      ),
    ).toEqual([]);
  });
});

describe('applyChecks', () => {
  it('fails a finished case whose check failed, naming the check; a passing case stays passed', () => {
    const r = applyChecks(
      makeRecord(KEY, steady),
      evaluateChecks(makeRecord(KEY, steady), { time: { train: 1 } }, { kind: 'file', path: 'b', file: undefined }),
    );
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({
      code: CHECK_FAILED,
      message: expect.stringMatching(/^a check failed: train time: median/),
    });
    expect(failedByChecks(r)).toBe(true);
    const ok = applyChecks(
      makeRecord(KEY, steady),
      evaluateChecks(makeRecord(KEY, steady), { time: { train: 100 } }, { kind: 'file', path: 'b', file: undefined }),
    );
    expect(ok.status).toBe('passed');
    expect(ok.checks!.find((c) => c.id === 'time.train')!.verdict).toBe('passed');
  });

  it('a crashed case keeps its own status and error', () => {
    const crashed = makeRecord(KEY, [], { status: 'crashed', error: { code: 'WORKER_CRASH', message: 'killed' } });
    crashed.phases = {};
    const r = applyChecks(
      crashed,
      evaluateChecks(crashed, { accuracy: 0.5 }, { kind: 'file', path: 'b', file: undefined }),
    );
    expect(r.status).toBe('crashed');
    expect(r.error!.code).toBe('WORKER_CRASH');
    expect(r.checks!.map((c) => `${c.id} ${c.verdict}`)).toEqual(['accuracy failed']);
  });
});
