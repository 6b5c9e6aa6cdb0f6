/**
 * Records are the unit of merge: a run split with `vitest --shard=1/2` and `--shard=2/2` into separate
 * result folders, merged by `expbench report`, gives the unsharded run's tables case for case (the
 * same rows, columns, statuses and skip reasons; only the measured numbers differ between runs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { vitestEntry } from '../../src/cli/main.ts';
import { runReportCommand } from '../../src/cli/report-command.ts';
import { loadRecords } from '../../src/reporters/records.ts';

const ROOT = join(import.meta.dirname, '../fixtures/shards');
const dir = mkdtempSync(join(tmpdir(), 'expbench-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(name: string, shard?: string): void {
  const args = [vitestEntry(), 'run', '--root', ROOT, ...(shard ? [`--shard=${shard}`] : [])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      EXPBENCH_RESULTS_DIR: join(dir, name),
      EXPBENCH_RUN_ID: name,
      EXPBENCH_REPORT_DIR: join(dir, `${name}-report`),
      CI: 'true',
    },
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`vitest ${shard ?? ''} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/**
 * The tables and footnotes of a report with every measured number (thousands separators included)
 * blanked out.
 * Footnote marks stay: a memory figure's source names the method, not how many readings a phase took,
 * so the same sources are numbered alike in every run.
 */
function skeleton(markdown: string): string[] {
  return (
    markdown
      .split('\n')
      // What legitimately differs between two shard runs and one run: their ids and when they finished
      // (the shards may straddle a minute boundary the single run does not).
      // Table rows and footnotes (the sources of memory figures, compared whole).
      .filter((l) => /^[|⁰¹²³⁴⁵⁶⁷⁸⁹]/.test(l) && !l.startsWith('| Runs |') && !l.startsWith('| Finished |'))
      .map((l) => l.replace(/\d[\d,]*(\.\d+)?(e[-+]?\d+)?/g, '#'))
  );
}

const quiet = { out: () => {}, err: () => {} };

beforeAll(() => {
  run('whole');
  run('s1', '1/2');
  run('s2', '2/2');
}, 300_000);

test("the shards together hold exactly the unsharded run's cases, with the same statuses", async () => {
  const whole = await loadRecords([join(dir, 'whole')]);
  const merged = await loadRecords([join(dir, 's1'), join(dir, 's2')]);
  const s1 = await loadRecords([join(dir, 's1')]);
  expect(s1.records.length).toBeGreaterThan(0);
  expect(s1.records.length).toBeLessThan(whole.records.length); // the shard really is a part
  const view = (rs: typeof whole.records) => rs.map((r) => `${r.key} ${r.status} ${r.skipReason ?? ''}`).sort();
  expect(view(merged.records)).toEqual(view(whole.records));
  expect(whole.records).toHaveLength(8); // 4 experiment×arch groups × 2 backends
});

test('expbench report over the two shard folders renders the unsharded tables case for case', async () => {
  expect(await runReportCommand({ inputs: [join(dir, 'whole')], out: join(dir, 'r-whole') }, quiet)).toBe(0);
  expect(
    await runReportCommand({ inputs: [join(dir, 's1'), join(dir, 's2')], out: join(dir, 'r-merged') }, quiet),
  ).toBe(0);
  const a = skeleton(readFileSync(join(dir, 'r-whole', 'comparison.md'), 'utf8'));
  const b = skeleton(readFileSync(join(dir, 'r-merged', 'comparison.md'), 'utf8'));
  expect(a.length).toBeGreaterThan(10);
  expect(b).toEqual(a);
});
