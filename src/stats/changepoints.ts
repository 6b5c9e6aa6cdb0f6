/**
 * Change points in a series (a metric's medians run after run): where its level steps.
 *
 * Method: PELT, "Pruned Exact Linear Time" — R. Killick, P. Fearnhead, I. A. Eckley, "Optimal
 * detection of changepoints with a linear computational cost", Journal of the American Statistical
 * Association 107(500):1590–1598, 2012 (doi:10.1080/01621459.2012.737745). It finds the segmentation
 * that minimises the sum of segment costs plus a penalty per change, exactly, pruning candidates that
 * can never be optimal again, so the cost is about linear in the series length.
 *
 * - Segment cost: the normal change-in-mean cost with known variance, Σ (xᵢ − mean)² / σ² (−2 × the
 *   log-likelihood up to a constant).
 * - σ: estimated robustly from the first differences (their MAD / 0.6745 / √2), so the steps
 *   themselves hardly inflate it — one difference per step among hundreds.
 * - Penalty per change: `3 · ln n` by default, the modified BIC order (Zhang & Siegmund, Biometrics
 *   63(1):22–32, 2007, use ~3 ln n for a change in mean), stricter than BIC's 2 ln n, which on pure
 *   noise admits a spurious change in a sizeable share of long series.
 *
 * Pure and deterministic. `bench/changepoints.ts` measures detection and false changes on synthetic
 * histories with planted steps; `test/stats/changepoints.test.ts` holds it to them.
 */
import { mad, sortSamples } from './summary.ts';

export interface ChangePointOptions {
  /** Penalty per change, in units of the normalised cost. @default 3 · ln(n) */
  penalty?: number;
  /** Shortest segment, in points. @default 2 */
  minSegment?: number;
  /** Noise standard deviation, if known; estimated from the differences otherwise. */
  sigma?: number;
}

export interface Segment {
  /** First index (inclusive). */
  start: number;
  /** Last index (exclusive). */
  end: number;
  mean: number;
}

export interface ChangePoints {
  /** Indices where a new level starts (each the first point after a change), ascending. */
  changes: number[];
  segments: Segment[];
  /** The noise level used. */
  sigma: number;
  penalty: number;
}

/** Robust noise standard deviation of a series whose level is piecewise constant: from its first differences. */
export function differenceSigma(x: readonly number[]): number {
  if (x.length < 3) return 0;
  const d: number[] = [];
  for (let i = 1; i < x.length; i++) d.push(x[i]! - x[i - 1]!);
  return mad(sortSamples(d)) / 0.6745 / Math.SQRT2;
}

/** Change points of `x` by PELT with the normal mean-change cost. */
export function detectChangePoints(x: readonly number[], opts: ChangePointOptions = {}): ChangePoints {
  const n = x.length;
  const minSeg = Math.max(1, opts.minSegment ?? 2);
  const penalty = opts.penalty ?? 3 * Math.log(Math.max(n, 2));
  const sigma = opts.sigma ?? differenceSigma(x);
  const whole = (): ChangePoints => ({
    changes: [],
    segments: n === 0 ? [] : [{ start: 0, end: n, mean: x.reduce((a, b) => a + b, 0) / n }],
    sigma,
    penalty,
  });
  // Without noise there is no scale to judge a step by; without room there is no second segment.
  if (!(sigma > 0) || n < 2 * minSeg) return whole();

  const s1 = new Float64Array(n + 1);
  const s2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    s1[i + 1] = s1[i]! + x[i]!;
    s2[i + 1] = s2[i]! + x[i]! * x[i]!;
  }
  const inv = 1 / (sigma * sigma);
  /** Normalised cost of x[s..t). */
  const cost = (s: number, t: number): number => {
    const sum = s1[t]! - s1[s]!;
    return Math.max(0, s2[t]! - s2[s]! - (sum * sum) / (t - s)) * inv;
  };

  const F = new Float64Array(n + 1);
  const last = new Int32Array(n + 1);
  F[0] = -penalty;
  let candidates: number[] = [0];
  for (let t = minSeg; t <= n; t++) {
    let best = Number.POSITIVE_INFINITY;
    let arg = 0;
    for (const s of candidates) {
      if (t - s < minSeg) continue;
      const v = F[s]! + cost(s, t) + penalty;
      if (v < best) {
        best = v;
        arg = s;
      }
    }
    F[t] = best;
    last[t] = arg;
    // Pruning (Killick et al., Theorem 3.1): s can never be the last change again once
    // F[s] + C(s, t) > F[t]; candidates too recent to close a segment yet are kept.
    candidates = candidates.filter((s) => t - s < minSeg || F[s]! + cost(s, t) <= F[t]!);
    candidates.push(t);
  }

  const changes: number[] = [];
  for (let t = n; t > 0; t = last[t]!) if (last[t]! > 0) changes.push(last[t]!);
  changes.reverse();
  const bounds = [0, ...changes, n];
  const segments: Segment[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    const end = bounds[i + 1]!;
    segments.push({ start, end, mean: (s1[end]! - s1[start]!) / (end - start) });
  }
  return { changes, segments, sigma, penalty };
}
