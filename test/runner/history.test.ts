/**
 * The history file: each run's summaries appended under a lock and written atomically (concurrent
 * appends lose nothing, a run appended twice replaces its own points, a foreign file is refused), and
 * `expbench history` lists each series with the change points found in it and draws the trend figure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHistoryCommand } from '../../src/cli/history-command.ts';
import { gaussian, mulberry32 } from '../../src/data/prng.ts';
import {
  appendHistory,
  HISTORY_SCHEMA,
  type HistoryPoint,
  historyPoints,
  readHistory,
} from '../../src/runner/history.ts';
import { plantedHistory } from '../../src/stats/changepoint-eval.ts';
import { makeRecord } from './baseline-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function point(runId: string, median: number, i: number, key = 'exp › onnxruntime/cpu'): HistoryPoint {
  return {
    key,
    metric: 'train',
    median,
    n: 3,
    commit: `c${String(i).padStart(3, '0')}`,
    time: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
    machine: 'aaaaaaaaaaaaaaaa',
    runId,
  };
}

describe('history file', () => {
  it('summarises a record per timed phase and accuracy, with commit, time and machine', () => {
    const r = makeRecord('exp › onnxruntime/cpu', [10, 12, 11], { accuracy: { samples: [0.5, 0.7, 0.6] } });
    const pts = historyPoints([r], 'abc123');
    expect(pts.map((p) => `${p.metric} ${p.median} ${p.n}`)).toEqual([
      'buildInit 0.5 3',
      'train 11 3',
      'infer 3.1 3',
      'accuracy 0.6 3',
    ]);
    expect(pts[0]).toMatchObject({ commit: 'abc123', machine: r.env.fingerprint, runId: r.runId, time: r.finishedAt });
  });

  it('concurrent appends keep every point; a run appended again replaces its own points', async () => {
    const file = join(dir, 'concurrent.json');
    await Promise.all(Array.from({ length: 8 }, (_, i) => appendHistory(file, [point(`run-${i}`, 10 + i, i)])));
    expect((await readHistory(file)).points.map((p) => p.runId).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `run-${i}`),
    );
    await appendHistory(file, [point('run-3', 99, 3)]);
    const again = await readHistory(file);
    expect(again.points).toHaveLength(8);
    expect(again.points.find((p) => p.runId === 'run-3')!.median).toBe(99);
  });

  it('refuses a file that is not a history, naming it', async () => {
    const file = join(dir, 'foreign.json');
    writeFileSync(file, JSON.stringify({ schema: 'something/else', points: [] }));
    await expect(appendHistory(file, [point('r', 1, 0)])).rejects.toThrow(`${file}: not an expbench history`);
    expect(JSON.parse(readFileSync(file, 'utf8')).schema).toBe('something/else'); // untouched
  });
});

describe('expbench history', () => {
  it('lists the series with the planted change points and writes the trend figure', async () => {
    const u = mulberry32(5);
    const g = gaussian(mulberry32(6));
    const planted = plantedHistory(u, g, { length: 200 });
    const file = join(dir, 'planted.json');
    writeFileSync(
      file,
      JSON.stringify({
        schema: HISTORY_SCHEMA,
        points: [
          ...planted.values.map((v, i) => point(`run-${i}`, v, i)),
          ...[1, 1.01, 0.99].map((v, i) => point(`short-${i}`, v, i, 'short › tfjs/wasm')),
        ],
      }),
    );
    const lines: string[] = [];
    const code = await runHistoryCommand(
      { file, out: join(dir, 'fig') },
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
    );
    expect(code).toBe(0);
    const text = lines.join('\n');
    const row = text.split('\n').find((l) => l.startsWith('| exp › onnxruntime/cpu'))!;
    // Each planted step is listed as a change at its run (1-based), within ±2.
    const found = [...row.matchAll(/at run (\d+)/g)].map((m) => Number(m[1]) - 1);
    expect(found).toHaveLength(3);
    for (const [i, f] of found.entries()) expect(Math.abs(f - planted.steps[i]!)).toBeLessThanOrEqual(2);
    expect(text).toMatch(/\| short › tfjs\/wasm \| train \| aaaaaaaa \| 3 \| .* \| too few points \(3 < 6\) \|/);
    expect(text).toContain('PELT (Killick, Fearnhead & Eckley, JASA 2012)');
    expect(readFileSync(join(dir, 'fig', 'history.svg'), 'utf8')).toMatch(/^<svg/);
  });
});
