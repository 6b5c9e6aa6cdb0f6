/**
 * Progress lines (epoch, step, loss, img/s, ETA) under `expbench run`: the command decides, since it
 * has the terminal and Vitest's workers only a pipe; the lines then reach the terminal through Vitest.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { childProgress } from '../../src/cli/main.ts';
import { expbenchCli, TINY_EXPERIMENT } from './helpers.ts';

describe('childProgress', () => {
  test('on for a terminal, off in CI or without one; the flag and EXPBENCH_PROGRESS win', () => {
    expect(childProgress(undefined, {}, true)).toBe('1');
    expect(childProgress(undefined, {}, false)).toBe('0');
    expect(childProgress(undefined, { CI: 'true' }, true)).toBe('0');
    expect(childProgress(undefined, { EXPBENCH_PROGRESS: '1', CI: 'true' }, false)).toBe('1');
    expect(childProgress(undefined, { EXPBENCH_PROGRESS: '0' }, true)).toBe('0');
    expect(childProgress(true, { CI: 'true' }, false)).toBe('1');
    expect(childProgress(false, {}, true)).toBe('0');
  });
});

const dir = mkdtempSync(join(tmpdir(), 'expbench-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('with progress on, a case prints epoch, step, loss, img/s and ETA', () => {
  writeFileSync(join(dir, 'mine.experiment.yaml'), TINY_EXPERIMENT);
  const r = expbenchCli(['run', 'mine.experiment.yaml', '--progress', '--results', 'res'], { cwd: dir });
  expect(r.status, r.out).toBe(0);
  expect(r.out).toMatch(/mine › fake\/ok \(1\/1\) {2}epoch 1\/1 {2}step \d+\/4 {2}loss [\d.]+ {2}[\d,]+ img\/s {2}ETA/);
}, 150_000);
