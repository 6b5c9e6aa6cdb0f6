import { describe, expect, it } from 'vitest';
import { ExpbenchError } from '../../src/errors.ts';
import {
  iqr,
  mad,
  max,
  mean,
  median,
  min,
  moe,
  p25,
  p75,
  p90,
  p99,
  quantile,
  rme,
  sd,
  sem,
  sortSamples,
  summarize,
} from '../../src/stats/summary.ts';

// Reference values computed with NumPy 2.4 / SciPy 1.17 (np.percentile default = type 7, ddof=1,
// scipy.stats.t.ppf(0.975, 9)).
const SAMPLES = [0.412, 0.398, 0.455, 0.401, 0.977, 0.42, 0.409, 0.415, 0.403, 0.43];

describe('sortSamples', () => {
  it('copies and sorts without touching the input', () => {
    const input = [3, 1, 2];
    const s = sortSamples(input);
    expect([...s]).toEqual([1, 2, 3]);
    expect(input).toEqual([3, 1, 2]);
  });

  it('rejects empty and non-finite samples with a RECORD error', () => {
    expect(() => sortSamples([])).toThrow(ExpbenchError);
    expect(() => sortSamples([1, Number.NaN])).toThrow(/sample 1 is NaN/);
    try {
      sortSamples([Infinity]);
      expect.unreachable();
    } catch (e) {
      expect((e as ExpbenchError).code).toBe('RECORD');
    }
  });
});

describe('descriptive statistics on fixed samples', () => {
  const s = sortSamples(SAMPLES);
  it('location', () => {
    expect(mean(s)).toBeCloseTo(0.472, 12);
    expect(median(s)).toBeCloseTo(0.4135, 12);
    expect(min(s)).toBe(0.398);
    expect(max(s)).toBe(0.977);
  });
  it('spread', () => {
    expect(sd(s)).toBeCloseTo(0.1782252008617811, 12);
    expect(sem(s)).toBeCloseTo(0.05635975711642325, 12);
    expect(moe(s)).toBeCloseTo(0.12749462825448396, 9);
    expect(rme(s)).toBeCloseTo(27.01157378272965, 6);
    expect(iqr(s)).toBeCloseTo(0.023, 12);
    expect(mad(s)).toBeCloseTo(0.0115, 12);
  });
  it('type-7 quantiles', () => {
    expect(p25(s)).toBeCloseTo(0.4045, 12);
    expect(p75(s)).toBeCloseTo(0.4275, 12);
    expect(p90(s)).toBeCloseTo(0.5072, 12);
    expect(p99(s)).toBeCloseTo(0.93002, 12);
    expect(quantile(s, 0)).toBe(0.398);
    expect(quantile(s, 1)).toBe(0.977);
    expect(() => quantile(s, 1.5)).toThrow(RangeError);
  });
  it('median of an odd count is the middle value', () => {
    expect(median(sortSamples([5, 1, 3]))).toBe(3);
  });
  it('one sample: no spread, moe undefined (NaN), quantiles all equal', () => {
    const one = summarize([2.5]);
    expect(one).toMatchObject({ n: 1, mean: 2.5, median: 2.5, sd: 0, p99: 2.5, iqr: 0 });
    expect(one.moe).toBeNaN();
    expect(one.rme).toBeNaN();
  });
  it('summarize returns every statistic at once', () => {
    const sum = summarize(SAMPLES);
    expect(sum.n).toBe(10);
    expect(sum.p50).toBe(sum.median);
    expect(sum.moe).toBeCloseTo(0.12749462825448396, 9);
    expect(Object.keys(sum).sort()).toEqual(
      [
        'iqr',
        'mad',
        'max',
        'mean',
        'median',
        'min',
        'moe',
        'n',
        'p25',
        'p50',
        'p75',
        'p90',
        'p99',
        'rme',
        'sd',
        'sem',
      ].sort(),
    );
  });
});
