import { describe, expect, it } from 'vitest';
import { compareToBaseline, DEFAULT_GATE, relativeSpread } from '../../src/runner/gate.ts';
import { sortSamples } from '../../src/stats/summary.ts';
import { mulberry32 } from '../../src/data/prng.ts';

const opts = { threshold: DEFAULT_GATE.threshold, alpha: DEFAULT_GATE.alpha, metric: 'train time' };
// A baseline of ten repeats around 10 s with ~1.5% spread (fixed numbers, no randomness).
const base = [10.02, 9.91, 10.11, 9.97, 10.05, 9.88, 10.14, 10.0, 9.95, 10.08];
const scale = (xs: number[], f: number) => xs.map((v) => v * f);
// The same kind of noise, other values: what a second run on the same machine gives.
const rerun = [9.96, 10.09, 9.93, 10.12, 10.01, 9.9, 10.06, 9.98, 10.15, 9.94];

describe('compareToBaseline', () => {
  it('flags a clear regression (+25%) with medians, ratio, interval, p and sample counts in the message', () => {
    const v = compareToBaseline(scale(rerun, 1.25), base, opts);
    expect(v.status).toBe('regression');
    expect(v.ratio).toBeGreaterThan(1.2);
    expect(v.ratio).toBeLessThan(1.3);
    expect(v.pValue).toBeLessThan(1e-4);
    expect(v.ci[0]).toBeGreaterThan(1.15);
    expect(v.current).toEqual({ n: 10, median: expect.closeTo(12.53, 1) });
    expect(v.baseline.median).toBeCloseTo(10.01, 2);
    expect(v.message).toMatch(
      /^train time: median 12\.5 s vs baseline 10\.0 s \(ratio 1\.2\d\d, \+2\d\.\d%; 90% CI 1\.\d{3}–1\.\d{3}; p < 0\.0001, Mann–Whitney exact; n = 10 vs 10\): regression/,
    );
  });

  it('passes noise: a rerun of the same work', () => {
    const v = compareToBaseline(rerun, base, opts);
    expect(v.status).toBe('pass');
    expect(v.pValue).toBeGreaterThan(0.05);
    expect(Math.abs(v.ratio - 1)).toBeLessThan(0.01);
    expect(v.message).toMatch(/pass: no significant change/);
  });

  it('passes a consistent but small slowdown (+2%): significant, yet within the tolerance', () => {
    const v = compareToBaseline(scale(rerun, 1.02), base, opts);
    expect(v.pValue).toBeLessThan(0.05);
    expect(v.status).toBe('pass');
    expect(v.message).toMatch(/slower, but within the 6\.0% tolerance of the 10% threshold/);
  });

  it('catches a +10% slowdown with low noise (the threshold is what the gate exists to catch)', () => {
    expect(compareToBaseline(scale(rerun, 1.1), base, opts).status).toBe('regression');
  });

  it('one stray slow repeat does not make a regression', () => {
    const v = compareToBaseline([...rerun.slice(0, 9), 19.5], base, { ...opts, maxSpread: Infinity });
    expect(v.status).toBe('pass');
  });

  it('reports improvements without failing', () => {
    const v = compareToBaseline(scale(rerun, 0.8), base, opts);
    expect(v.status).toBe('improvement');
    expect(v.ratio).toBeLessThan(0.85);
  });

  it('declines to judge when the timings scatter more than the threshold (too noisy)', () => {
    const noisy = [7.1, 13.2, 9.0, 11.8, 8.2, 14.5, 10.3, 6.9, 12.4, 9.6];
    const v = compareToBaseline(scale(noisy, 1.3), base, opts);
    expect(v.status).toBe('incomparable');
    expect(v.message).toMatch(
      /too noisy to judge a 10% change — relative spread \(robust sd\/median\) \d+\.\d% now, \d\.\d% in the baseline, above 7\.5%; not compared\. Rerun on an idle machine/,
    );
    // With the guard off the same data is judged.
    expect(compareToBaseline(scale(noisy, 1.3), base, { ...opts, maxSpread: Infinity }).status).not.toBe(
      'incomparable',
    );
  });

  it('no baseline: not compared, says how to record one', () => {
    const v = compareToBaseline(rerun, [], opts);
    expect(v.status).toBe('no-baseline');
    expect(v.ratio).toBeNaN();
    expect(v.message).toMatch(/no baseline samples; measured median 10\.0 s over 10 samples/);
  });

  it('small groups: the exact test cannot reach significance with 3 vs 3, so even +20% passes as noise', () => {
    const v = compareToBaseline([12, 12.1, 12.2], [10, 10.1, 10.05], opts);
    // 3 vs 3: the smallest one-sided exact p is 1/20 = 0.05, not below alpha 0.05.
    expect(v.pValue).toBeCloseTo(0.05, 12);
    expect(v.status).toBe('pass');
    expect(v.message).toMatch(/within the noise \(not significant at alpha 0\.05\)/);
    // The 90% interval is then the whole range of pairwise ratios.
    expect(v.ci[0]).toBeCloseTo(12 / 10.1, 12);
    expect(v.ci[1]).toBeCloseTo(12.2 / 10, 12);
    // With alpha 0.01 the interval cannot reach 98% confidence at all.
    const strict = compareToBaseline([12, 12.1, 12.2], [10, 10.1, 10.05], { ...opts, alpha: 0.01 });
    expect(strict.ci).toEqual([0, Infinity]);
    expect(strict.message).toMatch(/98% CI 0–∞/);
  });

  it('relative spread: IQR-based from 8 samples, range-based below', () => {
    // 10 samples: IQR (type 7) of 1..10 is 4.5 → sd 4.5 / 1.349, median 5.5.
    expect(relativeSpread(sortSamples([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBeCloseTo(4.5 / 1.349 / 5.5, 12);
    // 5 samples: range 4 / d2(5) = 2.326, median 3.
    expect(relativeSpread(sortSamples([1, 2, 3, 4, 5]))).toBeCloseTo(4 / 2.326 / 3, 12);
    expect(relativeSpread(sortSamples([7]))).toBe(0);
  });

  it('bytes are formatted as bytes', () => {
    const mib = 2 ** 20;
    const v = compareToBaseline(scale(rerun, 60 * mib), scale(base, 50 * mib), {
      ...opts,
      metric: 'train peak RSS',
      unit: 'bytes',
    });
    expect(v.status).toBe('regression');
    expect(v.message).toMatch(/^train peak RSS: median 600 MiB vs baseline 50\d MiB/);
  });

  it('rejects nonsensical options', () => {
    expect(() => compareToBaseline(rerun, base, { threshold: 0, alpha: 0.05 })).toThrow(RangeError);
    expect(() => compareToBaseline(rerun, base, { threshold: 0.1, alpha: 0.7 })).toThrow(RangeError);
  });
});

describe('operating characteristics under a stated noise model (seeded, deterministic)', () => {
  // mulberry32 + Box–Muller: log-normal timings, every repeat with its own process-level shift
  // (1% sd) and run noise (2% sd) — the regime of an idle machine with repeats spread over processes.
  const rand = mulberry32(20261125);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const group = (n: number) => Array.from({ length: n }, () => 10 * Math.exp(0.01 * gauss() + 0.02 * gauss()));

  it.each([5, 10])('repeats %i: false alarms ≤ 1%, detection ≥ 90% at +10% and ≥ 99% at +20%', (n) => {
    const M = 300;
    let fa = 0;
    let d10 = 0;
    let d20 = 0;
    for (let i = 0; i < M; i++) {
      const c = group(n);
      const b = group(n);
      if (compareToBaseline(c, b, opts).status === 'regression') fa++;
      if (compareToBaseline(scale(c, 1.1), b, opts).status === 'regression') d10++;
      if (compareToBaseline(scale(c, 1.2), b, opts).status === 'regression') d20++;
    }
    expect(fa / M).toBeLessThanOrEqual(0.01);
    expect(d10 / M).toBeGreaterThanOrEqual(0.9);
    expect(d20 / M).toBeGreaterThanOrEqual(0.99);
  });
});
