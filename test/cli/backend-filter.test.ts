/**
 * Backend filters (`EXPBENCH_BACKENDS`, `expbench run --backends`): a typo used to skip every case and
 * exit 0; an entry that selects no known backend is now an error with a did-you-mean and the known ids.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { vitestEntry } from '../../src/cli/main.ts';
import { ExpbenchError } from '../../src/errors.ts';
import { parseBackendFilter, runSettings } from '../../src/plugin/settings.ts';
import { expbenchCli } from './helpers.ts';

function usage(fn: () => unknown): ExpbenchError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ExpbenchError);
    return e as ExpbenchError;
  }
  throw new Error('expected an error');
}

describe('parseBackendFilter', () => {
  test('accepts ids, frameworks, devices and the test-only backends', () => {
    expect(parseBackendFilter('tfjs/wasm, onnxruntime ,cpu,fake/ok')).toEqual([
      'tfjs/wasm',
      'onnxruntime',
      'cpu',
      'fake/ok',
    ]);
    expect(parseBackendFilter('')).toEqual([]);
  });

  test('a typo is an error with a did-you-mean and the known ids, without the test-only ones', () => {
    const e = usage(() => parseBackendFilter('onxruntime'));
    expect(e.code).toBe('USAGE');
    expect(e.message).toBe('EXPBENCH_BACKENDS=onxruntime: "onxruntime" matches no backend id, framework or device');
    expect(e.hint).toMatch(
      /^did you mean "onnxruntime"\? known: tfjs\/cpu, tfjs\/wasm, .*onnxruntime\/cuda \(or a framework/,
    );
    expect(e.hint).not.toMatch(/fake\//);
    expect(usage(() => parseBackendFilter('cpu,wsam')).hint).toMatch(/did you mean "wasm"/);
  });

  test('runSettings reads EXPBENCH_BACKENDS through it', () => {
    expect(() => runSettings({ EXPBENCH_BACKENDS: 'onxruntime', EXPBENCH_RUN_ID: 'x' })).toThrow(/onxruntime/);
    const s = runSettings({ EXPBENCH_BACKENDS: 'wasm', EXPBENCH_RUN_ID: 'x' });
    expect([s.backendFilter('tfjs/wasm'), s.backendFilter('onnxruntime/cpu')]).toEqual([true, false]);
  });
});

test('expbench run --backends with a typo stops before running anything', () => {
  const r = expbenchCli(['run', 'experiments/smoke.experiment.yaml', '--backends', 'onxruntime']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(
    'expbench: --backends=onxruntime: "onxruntime" matches no backend id, framework or device',
  );
  expect(r.stderr).toContain('hint: did you mean "onnxruntime"?');
  expect(r.out).not.toMatch(/RUN|Test Files/);
});

test('EXPBENCH_BACKENDS with a typo fails a vitest run instead of skipping every case', () => {
  const r = spawnSync(
    process.execPath,
    [vitestEntry(), 'run', '--root', join(import.meta.dirname, '../fixtures/plugin'), 'good.experiment.yaml'],
    {
      encoding: 'utf8',
      env: { ...process.env, EXPBENCH_BACKENDS: 'onxruntime', EXPBENCH_RUN_ID: 'typo', CI: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    },
  );
  expect(r.status).toBe(1);
  expect(`${r.stdout}${r.stderr}`).toContain('EXPBENCH_BACKENDS=onxruntime: "onxruntime" matches no backend id');
}, 150_000);
