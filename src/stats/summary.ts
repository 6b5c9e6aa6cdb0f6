/**
 * Descriptive statistics as pure functions over sorted samples. Sorting happens once, in
 * {@link sortSamples}, whose branded result type proves to every other function that its input is
 * sorted, finite and non-empty — so none of them sorts or validates again.
 *
 * Names are defined once here and used everywhere (records, budgets, gate, reports):
 * - `sd` is the sample standard deviation (n − 1 denominator),
 * - `sem = sd / √n`, `moe = t(0.975, n − 1) · sem` (half-width of the 95% CI of the mean),
 * - `rme = moe / mean · 100` (percent),
 * - quantiles use Hyndman & Fan's type 7 (linear interpolation between order statistics; the default
 *   of R, NumPy and spreadsheets): `q(p) = x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])` with `h = (n − 1)p`.
 */
import { ExpbenchError } from '../errors.ts';
import { studentTQuantile } from './distributions.ts';

declare const sortedBrand: unique symbol;

/** Samples sorted ascending, all finite, at least one. Only {@link sortSamples} makes one. */
export type SortedSamples = readonly number[] & { readonly [sortedBrand]: true };

/**
 * Copies, validates and sorts samples. Throws an {@link ExpbenchError} (`RECORD`) for an empty list or
 * a non-finite sample, since every statistic of such a list would be meaningless.
 */
export function sortSamples(samples: readonly number[]): SortedSamples {
  if (samples.length === 0) {
    throw new ExpbenchError('RECORD', 'statistics need at least one sample, got none', {
      hint: 'check that the phase ran at least once (repeats ≥ 1) before summarising it',
    });
  }
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (!Number.isFinite(v)) {
      throw new ExpbenchError('RECORD', `sample ${i} is ${v}; statistics need finite numbers`, {
        hint: 'a NaN or infinite timing means the clock or the phase failed; look at that repeat',
      });
    }
  }
  return [...samples].sort((a, b) => a - b) as unknown as SortedSamples;
}

/** Number of samples. */
export const count = (s: SortedSamples): number => s.length;

/** Smallest sample. */
export const min = (s: SortedSamples): number => s[0]!;

/** Largest sample. */
export const max = (s: SortedSamples): number => s[s.length - 1]!;

/** Arithmetic mean (Kahan-compensated, so long lists of similar timings lose no digits). */
export function mean(s: SortedSamples): number {
  let sum = 0;
  let c = 0;
  for (const v of s) {
    const y = v - c;
    const t = sum + y;
    c = t - sum - y;
    sum = t;
  }
  return sum / s.length;
}

/** Quantile `p` ∈ [0, 1] by Hyndman & Fan type 7 (see the module comment). */
export function quantile(s: SortedSamples, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must lie in [0, 1], got ${p}`);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const lower = s[lo]!;
  const upper = s[Math.min(lo + 1, s.length - 1)]!;
  return lower + (h - lo) * (upper - lower);
}

/** Median (type-7 quantile 0.5, i.e. the middle value or the mean of the two middle values). */
export const median = (s: SortedSamples): number => quantile(s, 0.5);
export const p25 = (s: SortedSamples): number => quantile(s, 0.25);
export const p50 = median;
export const p75 = (s: SortedSamples): number => quantile(s, 0.75);
export const p90 = (s: SortedSamples): number => quantile(s, 0.9);
export const p99 = (s: SortedSamples): number => quantile(s, 0.99);

/** Interquartile range p75 − p25. */
export const iqr = (s: SortedSamples): number => p75(s) - p25(s);

/** Sample variance with the n − 1 denominator (0 for a single sample). */
export function variance(s: SortedSamples): number {
  if (s.length < 2) return 0;
  const m = mean(s);
  let acc = 0;
  for (const v of s) acc += (v - m) * (v - m);
  return acc / (s.length - 1);
}

/** Sample standard deviation (n − 1 denominator). */
export const sd = (s: SortedSamples): number => Math.sqrt(variance(s));

/** Standard error of the mean, sd / √n. */
export const sem = (s: SortedSamples): number => sd(s) / Math.sqrt(s.length);

/**
 * Margin of error: half-width of the two-sided 95% confidence interval of the mean,
 * `t(0.975, n − 1) · sem`. NaN for a single sample (no spread can be estimated from one).
 */
export function moe(s: SortedSamples): number {
  if (s.length < 2) return Number.NaN;
  return studentTQuantile(0.975, s.length - 1) * sem(s);
}

/** Relative margin of error in percent of the mean. */
export const rme = (s: SortedSamples): number => (moe(s) / mean(s)) * 100;

/** Median absolute deviation from the median (unscaled). */
export function mad(s: SortedSamples): number {
  const m = median(s);
  return median(sortSamples(s.map((v) => Math.abs(v - m))));
}

/** Every descriptive statistic of one sample set, as stored in reports. */
export interface SampleSummary {
  n: number;
  mean: number;
  median: number;
  sd: number;
  sem: number;
  /** Half-width of the 95% CI of the mean; NaN when n = 1. */
  moe: number;
  /** moe / mean in percent; NaN when n = 1. */
  rme: number;
  min: number;
  max: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  iqr: number;
  mad: number;
}

/** All statistics of `samples` (sorted or not; sorted once here). */
export function summarize(samples: readonly number[]): SampleSummary {
  const s = sortSamples(samples);
  return {
    n: s.length,
    mean: mean(s),
    median: median(s),
    sd: sd(s),
    sem: sem(s),
    moe: moe(s),
    rme: rme(s),
    min: min(s),
    max: max(s),
    p25: p25(s),
    p50: p50(s),
    p75: p75(s),
    p90: p90(s),
    p99: p99(s),
    iqr: iqr(s),
    mad: mad(s),
  };
}
