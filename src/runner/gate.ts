/**
 * The regression gate: compares one phase's samples with the stored baseline's and decides whether the
 * change is a regression. Pure and deterministic (no resampling).
 *
 * First a noise guard: when either group's relative spread (a robust standard deviation over the
 * median, see {@link relativeSpread}) exceeds `maxSpread` (default: ¾ of the threshold) the verdict is
 * `incomparable` — too noisy to judge. A machine whose repeats scatter
 * by more than the threshold within one run also shifts by that much between runs, which no test on a
 * handful of repeats can tell from a regression; saying so beats a coin toss.
 *
 * Then a slowdown fails the gate only when it is BOTH
 *
 * 1. statistically significant — the one-sided Mann–Whitney U test of "current slower than baseline"
 *    gives p < `alpha` (rank-based, so one stray slow repeat cannot trigger it), and
 * 2. material — the Hodges–Lehmann estimate of the ratio current/baseline (the median of all pairwise
 *    ratios, computed as a shift on the log scale) exceeds `1 + minEffect · threshold`.
 *
 * Why `minEffect · threshold` and not `threshold` itself: `threshold` is the size of slowdown the gate is
 * meant to catch. A point estimate of a true +10% slowdown lies below 1.10 about half the time, so the
 * rule "estimate > 1 + threshold" misses half of the regressions it exists for (measured: 48–54%).
 * Significance alone is no answer either: it flags every small but consistent shift, and two runs of
 * the same build differ by a few percent in level (process start, memory layout, placement).
 * `minEffect` = 0.6 (a 6% tolerance for a 10% threshold) is what `bench/gate-noise.ts` chose on one set
 * of real timings, and checked on others:
 *
 * - with the repeats of a run spread over separate processes, false alarms 0.0–0.7% and detection
 *   ≥ 97% at +10%, 100% at +20%, for 5 and 10 repeats;
 * - with all repeats of a run inside one process, run-to-run level shifts (±5% on the machine
 *   measured) are not visible in the samples, and false alarms rose to ~3% on the validation set.
 *   Spreading repeats over processes is what makes the samples represent a run.
 *
 * Improvements are reported symmetrically (significantly faster and estimate below
 * `1 / (1 + minEffect · threshold)`), never as failures.
 */
import { hodgesLehmann, mannWhitneyU } from '../stats/mann-whitney.ts';
import { iqr, median, sortSamples, type SortedSamples } from '../stats/summary.ts';
import { formatBytes, formatChange, formatP, formatSeconds, toSignificant } from '../stats/format.ts';

export type GateStatus = 'pass' | 'regression' | 'improvement' | 'no-baseline' | 'incomparable';

export interface GateOptions {
  /** Relative slowdown the gate is meant to catch, e.g. 0.10 for 10%. */
  threshold: number;
  /** One-sided significance level of the Mann–Whitney test, e.g. 0.05. */
  alpha: number;
  /**
   * Fraction of `threshold` the estimated slowdown must exceed to count as material.
   * @default 0.6 (see {@link DEFAULT_GATE})
   */
  minEffect?: number;
  /**
   * Largest relative spread ({@link relativeSpread} of either group) at which a verdict is still given; above it
   * the comparison is `incomparable` ("too noisy"), because a machine whose repeats scatter by more than
   * the threshold within one run also shifts by that much between runs, and any verdict would be a coin
   * toss. Set to Infinity to always decide.
   * @default 0.75 × threshold (see {@link DEFAULT_GATE})
   */
  maxSpread?: number;
  /** What is compared, for the message, e.g. `train time`. @default 'time' */
  metric?: string;
  /** Unit of the samples, for the message. @default 's' */
  unit?: 's' | 'bytes' | 'none';
}

/** Defaults chosen by `bench/gate-noise.ts` (tuned on one set of real timings, validated on another). */
export const DEFAULT_GATE = { threshold: 0.1, alpha: 0.05, minEffect: 0.6, maxSpreadFactor: 0.75 } as const;

/** d2(n): expected range of n standard normal samples, to turn a small sample's range into a sd. */
const D2 = [Number.NaN, Number.NaN, 1.128, 1.693, 2.059, 2.326, 2.534, 2.704] as const;

/**
 * Relative spread of sorted samples: a robust, normal-consistent standard deviation divided by the
 * median. From 8 samples on, IQR / 1.349 (insensitive to a stray repeat); below that the IQR of so few
 * values is itself too noisy — it looked tight for 5 samples of a visibly unsettled machine — so the
 * range / d2(n) estimate (Shewhart's) is used. 0 for a single sample.
 */
export function relativeSpread(s: SortedSamples): number {
  const n = s.length;
  if (n < 2) return 0;
  const sd = n >= 8 ? iqr(s) / 1.349 : (s[n - 1]! - s[0]!) / D2[n]!;
  return sd / median(s);
}

export interface GateVerdict {
  status: GateStatus;
  /** Set on an `incomparable` verdict given because the samples were too noisy to judge (not a mismatch). */
  noisy?: true;
  /** Hodges–Lehmann estimate of current/baseline (NaN when not compared). */
  ratio: number;
  /** Plain ratio of the medians, for display beside the estimate (NaN when not compared). */
  medianRatio: number;
  /**
   * One-sided Mann–Whitney p in the direction of the observed change (slower when ratio ≥ 1, faster
   * otherwise); NaN when not compared.
   */
  pValue: number;
  /**
   * Distribution-free interval of the ratio at confidence `1 − 2·alpha` (so "lower bound > 1" matches
   * "significant at alpha, one-sided"); `[-Infinity, Infinity]`-like bounds (0 and Infinity) when the samples
   * are too few to reach that confidence.
   */
  ci: [number, number];
  /** Confidence of `ci`, e.g. 0.9 for alpha = 0.05. */
  confidence: number;
  current: { n: number; median: number };
  baseline: { n: number; median: number };
  /** One sentence a person can act on: metric, both medians, ratio, samples, verdict. */
  message: string;
}

/**
 * Compares `current` samples with `baseline` samples (same unit; larger is worse, as for times and
 * bytes). Pure: no I/O, deterministic.
 */
export function compareToBaseline(
  current: readonly number[],
  baseline: readonly number[],
  opts: GateOptions,
): GateVerdict {
  const metric = opts.metric ?? 'time';
  const fmt = formatter(opts.unit ?? 's');
  const minEffect = opts.minEffect ?? DEFAULT_GATE.minEffect;
  if (!(opts.threshold > 0)) throw new RangeError(`gate threshold must be > 0, got ${opts.threshold}`);
  if (!(opts.alpha > 0 && opts.alpha < 0.5)) throw new RangeError(`gate alpha must lie in (0, 0.5), got ${opts.alpha}`);
  const confidence = 1 - 2 * opts.alpha;

  if (baseline.length === 0) {
    const cur = current.length > 0 ? median(sortSamples(current)) : Number.NaN;
    return notCompared(
      'no-baseline',
      current,
      baseline,
      cur,
      Number.NaN,
      confidence,
      `${metric}: no baseline samples; measured median ${fmt(cur)} over ${current.length} samples is not compared (record one with expbench baseline update)`,
    );
  }
  const base = sortSamples(baseline);
  const baseMedian = median(base);
  if (current.length === 0) {
    return notCompared(
      'incomparable',
      current,
      baseline,
      Number.NaN,
      baseMedian,
      confidence,
      `${metric}: no current samples to compare with the baseline median ${fmt(baseMedian)} (${baseline.length} samples)`,
    );
  }
  const cur = sortSamples(current);
  const curMedian = median(cur);
  if (!(base[0]! > 0) || !(cur[0]! > 0)) {
    return notCompared(
      'incomparable',
      current,
      baseline,
      curMedian,
      baseMedian,
      confidence,
      `${metric}: samples must be positive to compare as ratios (current min ${fmt(cur[0]!)}, baseline min ${fmt(base[0]!)}): not compared`,
    );
  }
  const maxSpread = opts.maxSpread ?? DEFAULT_GATE.maxSpreadFactor * opts.threshold;
  const spreadCur = relativeSpread(cur);
  const spreadBase = relativeSpread(base);
  if (spreadCur > maxSpread || spreadBase > maxSpread) {
    const verdict = notCompared(
      'incomparable',
      current,
      baseline,
      curMedian,
      baseMedian,
      confidence,
      `${metric}: median ${fmt(curMedian)} vs baseline ${fmt(baseMedian)} (n = ${cur.length} vs ${base.length}): too noisy to judge a ` +
        `${Math.round(opts.threshold * 100)}% change — relative spread (robust sd/median) ${pct(spreadCur)} now, ${pct(spreadBase)} in the baseline, ` +
        `above ${pct(maxSpread)}; not compared. Rerun on an idle machine (other load inflates and scatters timings), or record a calmer baseline`,
    );
    return { ...verdict, noisy: true };
  }

  // Ratios become shifts on the log scale; the rank test is unaffected by the transform.
  const logCur = cur.map(Math.log);
  const logBase = base.map(Math.log);
  const mw = mannWhitneyU(logCur, logBase);
  const hl = hodgesLehmann(logCur, logBase, confidence);
  const ratio = Math.exp(hl.estimate);
  const medianRatio = curMedian / baseMedian;
  const ci: [number, number] = [Math.exp(hl.lower), Math.exp(hl.upper)];
  const bar = 1 + minEffect * opts.threshold;

  let status: GateStatus = 'pass';
  if (mw.pGreater < opts.alpha && ratio > bar) status = 'regression';
  else if (mw.pLess < opts.alpha && ratio < 1 / bar) status = 'improvement';
  const pValue = ratio >= 1 ? mw.pGreater : mw.pLess;

  const figures =
    `median ${fmt(curMedian)} vs baseline ${fmt(baseMedian)} (ratio ${ratio.toFixed(3)}, ${formatChange(ratio)}; ` +
    `${Math.round(confidence * 100)}% CI ${fmtCi(ci)}; ${formatP(pValue)}, Mann–Whitney ${mw.method}; n = ${cur.length} vs ${base.length})`;
  const thr = `${Math.round(opts.threshold * 100)}%`;
  let verdict: string;
  if (status === 'regression')
    verdict = `regression: significantly slower and beyond the tolerance for a ${thr} threshold`;
  else if (status === 'improvement') verdict = 'improvement: significantly faster than the baseline';
  else if (mw.pGreater < opts.alpha)
    verdict = `pass: slower, but within the ${formatChange(bar).slice(1)} tolerance of the ${thr} threshold`;
  else if (ratio > bar) verdict = `pass: the slowdown is within the noise (not significant at alpha ${opts.alpha})`;
  else verdict = 'pass: no significant change';
  return {
    status,
    ratio,
    medianRatio,
    pValue,
    ci,
    confidence,
    current: { n: cur.length, median: curMedian },
    baseline: { n: base.length, median: baseMedian },
    message: `${metric}: ${figures}: ${verdict}`,
  };
}

function notCompared(
  status: 'no-baseline' | 'incomparable',
  current: readonly number[],
  baseline: readonly number[],
  curMedian: number,
  baseMedian: number,
  confidence: number,
  message: string,
): GateVerdict {
  return {
    status,
    ratio: Number.NaN,
    medianRatio: Number.NaN,
    pValue: Number.NaN,
    ci: [Number.NaN, Number.NaN],
    confidence,
    current: { n: current.length, median: curMedian },
    baseline: { n: baseline.length, median: baseMedian },
    message,
  };
}

/** Builds an `incomparable` verdict for callers that know why two sample sets must not be compared. */
export function incomparable(
  reason: string,
  current: readonly number[],
  baseline: readonly number[],
  opts: Pick<GateOptions, 'alpha'>,
): GateVerdict {
  const curMedian = current.length > 0 ? median(sortSamples(current)) : Number.NaN;
  const baseMedian = baseline.length > 0 ? median(sortSamples(baseline)) : Number.NaN;
  return notCompared('incomparable', current, baseline, curMedian, baseMedian, 1 - 2 * opts.alpha, reason);
}

function formatter(unit: 's' | 'bytes' | 'none'): (v: number) => string {
  if (unit === 's') return formatSeconds;
  if (unit === 'bytes') return formatBytes;
  return (v) => (Number.isFinite(v) ? toSignificant(v, 4) : String(v));
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function fmtCi([lo, hi]: [number, number]): string {
  const f = (v: number) => (Number.isFinite(v) && v > 0 ? v.toFixed(3) : v === 0 ? '0' : '∞');
  return `${f(lo)}–${f(hi)}`;
}
