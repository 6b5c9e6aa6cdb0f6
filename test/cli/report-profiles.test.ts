/**
 * `expbench report` never mixes profiles: after `npm test` (ci records) beside a `paper` run, keeping
 * the newest record per case used to show the ci numbers in the study's report. It now refuses, names
 * the profiles with their record counts, and reports one when asked (--profile).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runReportCommand, type ReportCommandIo } from '../../src/cli/report-command.ts';
import { makeRecord } from '../reporters/fixtures.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'expbench-report-profiles-'));
  for (const [run, profile, backends] of [
    ['run-paper', 'paper', ['tfjs/wasm', 'onnxruntime/cpu']],
    ['run-ci', 'ci', ['tfjs/wasm']],
  ] as const) {
    await mkdir(join(root, run), { recursive: true });
    for (const backend of backends) {
      const r = makeRecord({ backend, runId: run, profile, experiment: 'smoke' });
      await writeFile(join(root, run, `${backend.replace('/', '-')}.json`), JSON.stringify(r));
    }
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(join(root, '..', `${basename(root)}-out`), { recursive: true, force: true });
});

function captured(): ReportCommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

test('records of two profiles are refused, with the profiles and how to choose', async () => {
  const io = captured();
  expect(await runReportCommand({ inputs: [root], out: join(root, '..', `${basename(root)}-out`) }, io)).toBe(1);
  expect(io.stderr.filter((l) => !l.startsWith('warning:'))).toEqual([
    'expbench report: the records are of 2 profiles (ci: 1, paper: 2); a report shows one',
    'hint: choose one with --profile <name> (ci, paper), or pass the folder of one run (.expbench/results/<run id>)',
  ]);
});

test('--profile reports that profile alone; an absent one is an error naming what there is', async () => {
  const io = captured();
  expect(
    await runReportCommand({ inputs: [root], out: join(root, '..', `${basename(root)}-out`), profile: 'paper' }, io),
  ).toBe(0);
  const json = JSON.parse(await readFile(join(root, '..', `${basename(root)}-out`, 'results.json'), 'utf8')) as {
    records: unknown[];
  };
  expect(JSON.stringify(json)).not.toContain('"profile":"ci"');
  const none = captured();
  expect(
    await runReportCommand({ inputs: [root], out: join(root, '..', `${basename(root)}-out`), profile: 'quick' }, none),
  ).toBe(1);
  expect(none.stderr.at(-1)).toBe('expbench report: no records of profile quick; the inputs hold ci: 1, paper: 2');
});
