import { describe, expect, it } from 'vitest';
import { newer, newestBy, newestFirst } from '../../src/reporters/newest.ts';
import { makeRecord } from './fixtures.ts';

const at = (finishedAt: string, runId: string, experiment = 'paper-table2') =>
  makeRecord({ backend: 'tfjs/cpu', experiment, finishedAt, runId });

describe('newest record wins', () => {
  it('takes the later-finished record, then the larger run id, then the key that sorts first', () => {
    const early = at('2025-05-01T10:00:00.000Z', 'run-b');
    const late = at('2025-05-01T11:00:00.000Z', 'run-a');
    expect(newer(early, late)).toBe(late);
    expect(newer(late, early)).toBe(late);
    const tieA = at('2025-05-01T11:00:00.000Z', 'run-a');
    const tieB = at('2025-05-01T11:00:00.000Z', 'run-b');
    expect(newer(tieA, tieB)).toBe(tieB);
    expect(newer(tieB, tieA)).toBe(tieB);
    const keyA = at('2025-05-01T11:00:00.000Z', 'run-a', 'a');
    const keyB = at('2025-05-01T11:00:00.000Z', 'run-a', 'b');
    expect(newer(keyB, keyA)).toBe(keyA);
    expect(newestFirst([early, late, keyB, keyA])).toEqual([keyA, keyB, late, early]);
  });

  it('picks the same record per key whatever the input order', () => {
    const rs = [
      at('2025-05-01T10:00:00.000Z', 'run-1', 'x'),
      at('2025-05-01T12:00:00.000Z', 'run-2', 'x'),
      at('2025-05-01T12:00:00.000Z', 'run-3', 'x'),
      at('2025-05-01T09:00:00.000Z', 'run-4', 'y'),
    ];
    const pick = (list: typeof rs) => [...newestBy(list, (r) => r.experiment.name).values()].map((r) => r.runId).sort();
    expect(pick(rs)).toEqual(['run-3', 'run-4']);
    expect(pick([...rs].reverse())).toEqual(['run-3', 'run-4']);
  });
});
