/**
 * The test run, the comparison report and the pull-request diff agree, end to end through real
 * Vitest on a fixture project (test/fixtures/verdicts, `fake/paced` cases whose phases take a steady
 * time): a first run is accepted as the baseline; the stored baseline of one case is then planted 30 %
 * faster than that run measured, so the second run is a 30 % slowdown against it. In the second run an
 * impossible time budget and the slowdown make `vitest run` fail, and the markdown report and the diff
 * written to `$GITHUB_STEP_SUMMARY` show both as failed with measured value and limit, while the healthy
 * case shows as passed and "same".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runBaselineCommand } from '../../src/cli/baseline-command.ts';
import { runDiffCommand } from '../../src/cli/diff-command.ts';
import { vitestEntry } from '../../src/cli/main.ts';
import { loadRecords } from '../../src/reporters/records.ts';
import type { BaselineFile } from '../../src/runner/baseline.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const ROOT = join(import.meta.dirname, '../fixtures/verdicts');
const dir = mkdtempSync(join(tmpdir(), 'expbench-verdicts-'));
const baseline = join(dir, 'baseline.json');
const summary = join(dir, 'step-summary.md');
const SLOWDOWN = 1.3;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vitest(name: string, extra: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    EXPBENCH_RESULTS_DIR: join(dir, name),
    EXPBENCH_RUN_ID: name,
    EXPBENCH_REPORT_DIR: join(dir, `${name}-report`),
    EXPBENCH_BASELINE: baseline,
    EXPBENCH_HISTORY: join(dir, 'history.json'),
    CI: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    ...extra,
  };
  if (!('GITHUB_STEP_SUMMARY' in extra)) delete env.GITHUB_STEP_SUMMARY;
  const r = spawnSync(process.execPath, [vitestEntry(), 'run', '--root', ROOT], {
    encoding: 'utf8',
    env,
    timeout: 240_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

let second: { status: number | null; out: string };
let records: Map<string, ResultRecord>;
const quiet = { out: () => true, err: () => true };

beforeAll(async () => {
  // Run 1: no baseline yet; only the impossible budget fails. Its passed cases become the baseline.
  const first = vitest('first');
  if (first.status !== 1) throw new Error(`first run: expected exit 1 (the budget), got ${first.status}\n${first.out}`);
  expect(await runBaselineCommand({ action: 'update', inputs: [join(dir, 'first')], file: baseline }, quiet)).toBe(0);
  // Plant the slowdown: the stored train samples of `slowed` become 1/1.3 of what run 1 measured.
  const file = JSON.parse(readFileSync(baseline, 'utf8')) as BaselineFile;
  for (const m of Object.values(file.machines)) {
    const e = m.cases['slowed › fake/paced']?.train;
    if (e) e.samples = e.samples.map((s) => s / SLOWDOWN);
  }
  writeFileSync(baseline, JSON.stringify(file, null, 2));
  // Run 2: gated against the planted baseline, under GitHub Actions' summary variable.
  second = vitest('second', { GITHUB_STEP_SUMMARY: summary });
  records = new Map((await loadRecords([join(dir, 'second')])).records.map((r) => [r.key, r]));
}, 600_000);

test('vitest run fails, naming the blown budget and the slowdown with measured value and limit', () => {
  expect(second.status, second.out).toBe(1);
  expect(second.out).toMatch(
    /overbudget › fake\/paced: train time: median [\d.]+ ?m?s over 1 sample exceeds the budget 1(\.0+)? ?ms/,
  );
  expect(second.out).toMatch(/slowed › fake\/paced: significant regression against the baseline\n.*train time/);
  expect(second.out).toMatch(/✓ healthy\.experiment\.yaml > healthy > fake\/paced > regression/);
  expect(second.out).toMatch(/× slowed\.experiment\.yaml > slowed > fake\/paced > regression/);
  expect(second.out).toMatch(/× overbudget\.experiment\.yaml > overbudget > fake\/paced > train/);
});

test('the records carry the same verdicts the tests asserted', () => {
  const over = records.get('overbudget › fake/paced')!;
  expect(over.status).toBe('failed');
  expect(over.checks!.find((c) => c.id === 'time.train')).toMatchObject({ verdict: 'failed', limit: 0.001 });
  const slowed = records.get('slowed › fake/paced')!;
  expect(slowed.status).toBe('failed');
  const gate = slowed.checks!.find((c) => c.id === 'regression.train')!;
  expect(gate).toMatchObject({ verdict: 'failed', gate: { outcome: 'slower', threshold: 0.25 } });
  expect(gate.measured).toBeGreaterThan(1.15);
  const healthy = records.get('healthy › fake/paced')!;
  expect(healthy.status).toBe('passed');
  expect(healthy.checks!.find((c) => c.id === 'regression.train')).toMatchObject({
    verdict: 'passed',
    gate: { outcome: 'same' },
  });
  expect(healthy.checks!.find((c) => c.id === 'accuracy')).toMatchObject({ verdict: 'passed', limit: 0.5 });
});

test('the markdown report shows both failures with measured value and limit, and the healthy case passed', () => {
  const md = readFileSync(join(dir, 'second-report', 'comparison.md'), 'utf8');
  expect(md).toMatch(
    /\| overbudget › fake\/paced \| train time budget \| [\d.]+ s \| 0\.00100 s \| train time: median/,
  );
  expect(md).toMatch(/\| slowed › fake\/paced \| regression of train time \| 1\.\d+× \| 1\.25× \| .*train time/);
  expect(md).toMatch(
    /\| overbudget › fake\/paced \| — \| `fake\/paced` \(fake-paced\) \| failed \| failed: train time budget /,
  );
  expect(md).toMatch(
    /\| slowed › fake\/paced \| — \| `fake\/paced` \(fake-paced\) \| failed \| failed: regression of train time /,
  );
  expect(md).toMatch(/\| healthy › fake\/paced \| — \| `fake\/paced` \(fake-paced\) \| passed \|\s+\|/);
});

test('the pull-request diff in $GITHUB_STEP_SUMMARY says the same: slower and over budget failed, healthy same', () => {
  const diff = readFileSync(summary, 'utf8');
  expect(diff).toMatch(/❌ 2 of 3 cases failed/);
  expect(diff).toMatch(/\| overbudget › fake\/paced \| ❌ failed \| train time budget: [\d.]+ s vs 0\.00100 s \|/);
  expect(diff).toMatch(/\| slowed › fake\/paced \| ❌ failed \| regression of train time: 1\.\d+× vs 1\.25× \|/);
  expect(diff).toMatch(
    /\| slowed › fake\/paced \| train time \| [\d.]+ s \| [\d.]+ s \| \+[\d.]+ % \| ❌ slower \| 4 → 4 \|/,
  );
  expect(diff).toMatch(/\| healthy › fake\/paced \| ✅ passed \|/);
  expect(diff).toMatch(
    /\| healthy › fake\/paced \| train time \| [\d.]+ s \| [\d.]+ s \| [+−][\d.]+ % \| ✅ same \| 4 → 4 \|/,
  );
  expect(diff).toContain('`EXPBENCH_PROFILE= npx vitest run');
  expect(diff).toMatch(/slowed\.experiment\.yaml -t "slowed fake\/paced"`/);
});

test('expbench diff against the baseline file recomputes the verdicts the run recorded', async () => {
  let text = '';
  const io = { out: (t: string) => (text += t), err: () => {} };
  expect(await runDiffCommand({ inputs: [join(dir, 'second')], baseline }, io)).toBe(0);
  const rows = (s: string) => s.split('\n').filter((l) => l.startsWith('| '));
  expect(rows(text)).toEqual(rows(readFileSync(summary, 'utf8')));
  // Against run 1's own records (no planting there) the slowed case is not slower.
  let vsFirst = '';
  expect(
    await runDiffCommand(
      { inputs: [join(dir, 'second')], against: [join(dir, 'first')] },
      { out: (t) => (vsFirst += t), err: () => {} },
    ),
  ).toBe(0);
  expect(vsFirst).toMatch(/compared with run `first`/);
  expect(vsFirst).not.toMatch(/\| slowed › fake\/paced \| train time \|.*❌ slower/);
});

test('each run appended its summaries to the history, keyed by case and metric, with time and machine', async () => {
  const { readHistory, historySeries } = await import('../../src/runner/history.ts');
  const series = historySeries(await readHistory(join(dir, 'history.json')));
  const slowed = series.find((s) => s.key === 'slowed › fake/paced' && s.metric === 'train')!;
  expect(slowed.points.map((p) => p.runId)).toEqual(['first', 'second']);
  expect(slowed.points[0]).toMatchObject({ n: 4, machine: records.get('slowed › fake/paced')!.env.fingerprint });
});
