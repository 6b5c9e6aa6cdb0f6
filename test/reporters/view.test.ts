import { describe, expect, it } from 'vitest';
import { phaseSummary, summaryOf } from '../../src/reporters/view.ts';
import { summarize } from '../../src/stats/summary.ts';
import { makeRecord } from './fixtures.ts';

describe('summaries of a report', () => {
  it('are computed once per sample list and shared by every reader', () => {
    const r = makeRecord({ backend: 'tfjs/cpu', train: [3, 1, 2] });
    const first = phaseSummary(r, 'train');
    expect(first).toEqual(summarize([3, 1, 2]));
    expect(phaseSummary(r, 'train')).toBe(first);
    expect(summaryOf(r.phases.train?.samples)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Another list with the same values is another sample set.
    expect(summaryOf([3, 1, 2])).not.toBe(first);
    expect(summaryOf([])).toBeUndefined();
    expect(summaryOf(undefined)).toBeUndefined();
  });
});
