/**
 * Rank statistics for comparing two sets of timings without assuming a distribution:
 * the Mann–Whitney U test and the Hodges–Lehmann shift estimate with its distribution-free
 * (Moses) confidence interval — the interval obtained by inverting the same test, so the test and the
 * interval never disagree.
 *
 * Timings are compared on the log scale by the gate (a shift in log time is a ratio), but these
 * functions are scale-free: they see only the numbers they are given.
 */
import { normalQuantile, normalSf } from './distributions.ts';

/** Above this many samples in total the exact null distribution gives way to the normal approximation. */
export const EXACT_MAX_TOTAL = 60;

export interface MannWhitneyResult {
  /** U of the first group: pairs (x, y) with x > y, plus half the ties. */
  u: number;
  n1: number;
  n2: number;
  /** One-sided p of H1 "x tends to be larger than y" (P(U ≥ u) under H0). */
  pGreater: number;
  /** One-sided p of H1 "x tends to be smaller than y". */
  pLess: number;
  /** Two-sided p (2 · the smaller one-sided p, capped at 1). */
  pTwoSided: number;
  /**
   * `exact`: the permutation distribution of the rank sum (midranks when tied), enumerated;
   * `normal`: normal approximation with tie correction and continuity correction.
   */
  method: 'exact' | 'normal';
  /** Whether any value occurs in both or either group more than once. */
  ties: boolean;
}

/** Midranks (1-based; tied values share the mean of their ranks) of `values`, in input order. */
export function midranks(values: readonly number[]): { ranks: Float64Array; tieGroups: number[] } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  const tieGroups: number[] = [];
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = r;
    if (j > i) tieGroups.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieGroups };
}

/**
 * Exact null distribution of the sum of `n1` scores drawn without replacement from `scores`
 * (non-negative integers): `dist[s]` = probability that the sum equals `s`. Counting subsets by size and
 * sum; probabilities kept as doubles, so it stays exact to rounding even where the counts exceed 2^53.
 */
export function exactSubsetSumDistribution(scores: readonly number[], n1: number): Float64Array {
  const total = scores.reduce((a, b) => a + b, 0);
  const width = total + 1;
  // dp[k * width + s]: number of subsets of the scores seen so far with k elements summing to s.
  const dp = new Float64Array((n1 + 1) * width);
  dp[0] = 1;
  let seen = 0;
  let reach = 0;
  for (const sc of scores) {
    seen++;
    reach += sc;
    // 0/1 knapsack in place: k descending so row k − 1 still holds the counts without this score.
    for (let k = Math.min(seen, n1); k >= 1; k--) {
      const from = (k - 1) * width;
      const to = k * width;
      for (let s = reach; s >= sc; s--) {
        const v = dp[from + s - sc]!;
        if (v !== 0) dp[to + s] = dp[to + s]! + v;
      }
    }
  }
  const out = new Float64Array(width);
  let sum = 0;
  for (let s = 0; s < width; s++) sum += dp[n1 * width + s]!;
  for (let s = 0; s < width; s++) out[s] = dp[n1 * width + s]! / sum;
  return out;
}

/**
 * Mann–Whitney U test of `x` against `y`. Exact (full permutation distribution of the midrank sum, which
 * handles ties) when `x.length + y.length ≤` {@link EXACT_MAX_TOTAL}; otherwise the normal approximation
 * with the tie-corrected variance and a continuity correction of ½.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU: both groups need at least one value');
  const all = [...x, ...y];
  const { ranks, tieGroups } = midranks(all);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const ties = tieGroups.length > 0;

  let pGreater: number;
  let pLess: number;
  let method: MannWhitneyResult['method'];
  if (n <= EXACT_MAX_TOTAL) {
    // Doubled midranks are integers; the statistic is their sum over group x.
    const scores = Array.from(ranks, (r) => Math.round(2 * r));
    const dist = exactSubsetSumDistribution(scores, n1);
    const observed = Math.round(2 * r1);
    let ge = 0;
    let le = 0;
    for (let s = 0; s < dist.length; s++) {
      if (s >= observed) ge += dist[s]!;
      if (s <= observed) le += dist[s]!;
    }
    pGreater = Math.min(1, ge);
    pLess = Math.min(1, le);
    method = 'exact';
  } else {
    const mu = (n1 * n2) / 2;
    const tieSum = tieGroups.reduce((a, t) => a + (t * t * t - t), 0);
    const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
    const sigma = Math.sqrt(variance);
    if (sigma === 0) {
      pGreater = 1;
      pLess = 1;
    } else {
      pGreater = normalSf((u - mu - 0.5) / sigma);
      pLess = normalSf((mu - u - 0.5) / sigma);
    }
    method = 'normal';
  }
  return { u, n1, n2, pGreater, pLess, pTwoSided: Math.min(1, 2 * Math.min(pGreater, pLess)), method, ties };
}

/**
 * The largest `k` (1-based order statistic of the n1·n2 pairwise differences) such that
 * `P(U ≤ k − 1) ≤ tail` under H0 without ties: `[D(k), D(n1·n2 + 1 − k)]` then covers the shift with
 * probability ≥ 1 − 2·tail. Returns 0 when even the most extreme order statistics cannot reach the
 * requested confidence (too few samples).
 */
export function mosesRank(n1: number, n2: number, tail: number): number {
  const n = n1 + n2;
  if (n <= EXACT_MAX_TOTAL) {
    const ranks = Array.from({ length: n }, (_, i) => i + 1);
    const dist = exactSubsetSumDistribution(ranks, n1);
    const offset = (n1 * (n1 + 1)) / 2;
    let cum = 0;
    let k = 0;
    // P(U ≤ u) for u = 0, 1, ...; k − 1 is the largest u whose cumulative probability stays ≤ tail.
    for (let uu = 0; uu <= n1 * n2; uu++) {
      cum += dist[uu + offset]!;
      if (cum > tail + 1e-12) break;
      k = uu + 1;
    }
    return k;
  }
  const z = normalQuantile(1 - tail);
  const k = Math.floor((n1 * n2) / 2 - z * Math.sqrt((n1 * n2 * (n + 1)) / 12));
  return Math.max(0, k);
}

export interface ShiftEstimate {
  /** Hodges–Lehmann estimate: the median of all pairwise differences x_i − y_j. */
  estimate: number;
  /** Distribution-free confidence interval of the shift; ±Infinity where the samples are too few. */
  lower: number;
  upper: number;
  /** Confidence actually requested (two-sided). */
  confidence: number;
}

/**
 * Hodges–Lehmann shift of `x` relative to `y` with the Moses confidence interval (two-sided,
 * `confidence`, e.g. 0.95). Distribution-free under the location-shift model.
 */
export function hodgesLehmann(x: readonly number[], y: readonly number[], confidence = 0.95): ShiftEstimate {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('hodgesLehmann: both groups need at least one value');
  const d = new Float64Array(n1 * n2);
  let i = 0;
  for (const a of x) for (const b of y) d[i++] = a - b;
  d.sort();
  const m = d.length;
  const estimate = m % 2 === 1 ? d[(m - 1) / 2]! : (d[m / 2 - 1]! + d[m / 2]!) / 2;
  const k = mosesRank(n1, n2, (1 - confidence) / 2);
  const lower = k >= 1 ? d[k - 1]! : -Infinity;
  const upper = k >= 1 ? d[m - k]! : Infinity;
  return { estimate, lower, upper, confidence };
}
