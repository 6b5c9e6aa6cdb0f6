import { describe, expect, it } from 'vitest';
import { hodgesLehmann, mannWhitneyU, midranks, mosesRank } from '../../src/stats/mann-whitney.ts';

// Reference values: SciPy 1.17 mannwhitneyu for tie-free data; for tied data a brute-force
// enumeration of every split of the midranks (itertools.combinations), which SciPy's 'exact' method
// does not do (it applies the tie-free distribution).
describe('midranks', () => {
  it('gives tied values the mean of their ranks', () => {
    const { ranks, tieGroups } = midranks([10, 20, 20, 5, 20]);
    expect([...ranks]).toEqual([2, 4, 4, 1, 4]);
    expect(tieGroups).toEqual([3]);
  });
});

describe('Mann–Whitney U', () => {
  const x = [19.1, 20.3, 18.7, 21.4, 19.9];
  const y = [17.2, 18.1, 17.9, 18.4, 16.8, 17.5];
  it('exact, no ties (SciPy: U = 30, p_greater = 0.0021645, two-sided 0.0043290)', () => {
    const r = mannWhitneyU(x, y);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(30);
    expect(r.pGreater).toBeCloseTo(0.0021645021645021645, 12);
    expect(r.pLess).toBeCloseTo(1, 12);
    expect(r.pTwoSided).toBeCloseTo(0.004329004329004329, 12);
  });
  it('is antisymmetric: swapping the groups swaps the tails', () => {
    const a = mannWhitneyU(x, y);
    const b = mannWhitneyU(y, x);
    expect(b.u).toBe(0);
    expect(b.pLess).toBeCloseTo(a.pGreater, 12);
  });
  it('exact with ties uses the midrank permutation distribution', () => {
    const r = mannWhitneyU([3, 4, 4, 5, 6], [1, 2, 3, 3, 4, 5]);
    expect(r.ties).toBe(true);
    expect(r.u).toBe(23.5);
    expect(r.pGreater).toBeCloseTo(0.07792207792207792, 12);
  });
  it('exact with ties, 9 vs 9 (enumeration: p_greater = 0.0649527)', () => {
    const a = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const b = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const r = mannWhitneyU(a, b);
    expect(r.u).toBe(58);
    expect(r.pGreater).toBeCloseTo(0.06495269436445907, 12);
  });
  it('normal approximation with tie and continuity correction for large groups', () => {
    // rng = default_rng(1); round(normal(10, 1, 40), 1) and round(normal(10.5, 1, 35), 1)
    const big1 = [
      10.3, 10.8, 10.3, 8.7, 10.9, 10.4, 9.5, 10.6, 10.4, 10.3, 10.0, 10.5, 9.3, 9.8, 9.5, 10.6, 10.0, 9.7, 9.2, 9.7,
      10.0, 9.7, 11.3, 11.0, 7.3, 8.1, 9.8, 9.6, 10.2, 10.2, 12.1, 8.9, 9.6, 12.0, 10.6, 10.7, 9.5, 8.4, 10.2, 10.1,
    ];
    const big2 = [
      9.3, 9.8, 10.4, 9.6, 10.4, 10.6, 10.5, 10.0, 11.1, 11.4, 10.8, 9.7, 11.2, 10.0, 11.4, 9.4, 11.4, 10.5, 9.3, 10.2,
      10.6, 10.8, 9.5, 9.4, 10.7, 10.0, 10.7, 11.3, 8.9, 10.8, 11.7, 10.2, 9.7, 11.3, 10.8,
    ];
    const r = mannWhitneyU(big1, big2);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(521.5);
    expect(r.pGreater).toBeCloseTo(0.9714959336345733, 6);
    expect(r.pLess).toBeCloseTo(0.02920449147321432, 6);
  });
  it('identical groups are not significant', () => {
    const r = mannWhitneyU([1, 1, 1], [1, 1, 1]);
    expect(r.pGreater).toBe(1);
    expect(r.pLess).toBe(1);
  });
});

describe('Hodges–Lehmann shift and Moses interval', () => {
  it('critical ranks match the published U tables (two-sided 0.05)', () => {
    expect(mosesRank(5, 5, 0.025)).toBe(3); // U_crit 2
    expect(mosesRank(10, 10, 0.025)).toBe(24); // U_crit 23
    expect(mosesRank(8, 6, 0.025)).toBe(9); // U_crit 8
    expect(mosesRank(3, 3, 0.025)).toBe(0); // too few samples for 95%
  });
  it('estimate and interval on fixed samples (enumeration: HL 2.1, CI [0.8, 3.5])', () => {
    const r = hodgesLehmann([19.1, 20.3, 18.7, 21.4, 19.9], [17.2, 18.1, 17.9, 18.4, 16.8, 17.5]);
    expect(r.estimate).toBeCloseTo(2.1, 12);
    expect(r.lower).toBeCloseTo(0.8, 12);
    expect(r.upper).toBeCloseTo(3.5, 12);
  });
  it('an interval that cannot reach the confidence is unbounded, not made up', () => {
    const r = hodgesLehmann([1, 2, 3], [4, 5, 6]);
    expect(r.lower).toBe(-Infinity);
    expect(r.upper).toBe(Infinity);
  });
});
