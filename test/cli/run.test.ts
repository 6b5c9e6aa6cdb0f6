/**
 * `expbench run` as a user runs it: on a file kept anywhere (not only under experiments/), from a
 * project folder without a Vitest configuration, writing the report beside the records unless told
 * otherwise, so a partial run never replaces committed docs.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { expbenchCli, TINY_EXPERIMENT, type CliResult } from './helpers.ts';

let dir: string;
let run: CliResult;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'expbench-cli-run-'));
  mkdirSync(join(dir, 'some/where'), { recursive: true });
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs/comparison.md'), 'the committed study\n');
  writeFileSync(join(dir, 'some/where/my.experiment.yaml'), TINY_EXPERIMENT);
  run = expbenchCli(['run', join(dir, 'some/where/my.experiment.yaml'), '--results', 'res'], { cwd: dir });
}, 150_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('runs a file outside experiments/, from a folder with no Vitest configuration', () => {
  expect(run.status, run.out).toBe(0);
  expect(run.out).toMatch(/my\.experiment\.yaml/);
  expect(run.out).not.toMatch(/No test files found/);
  expect(readdirSync(join(dir, 'res'))).toEqual(['mine__fake-ok.json']);
});

test('without --out the report goes to .expbench/report and docs/ is left alone', () => {
  expect(existsSync(join(dir, '.expbench/report/comparison.md'))).toBe(true);
  expect(readdirSync(join(dir, 'docs'))).toEqual(['comparison.md']);
});
