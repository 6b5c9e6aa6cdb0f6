/**
 * Logit parity: two backends given the same weights and batch must produce the same logits within a
 * float tolerance. The comparison is a pure function; the formatter turns a failure into a message a
 * person can act on.
 */
import type { BackendId } from '../vocab/backends.ts';

/** Where the compared logits came from; only used in messages. */
export interface ParityMeta {
  /** Backend (or reference implementation) that produced `reference`. */
  reference?: BackendId | string;
  /** Backend that produced `actual`. */
  actual?: BackendId | string;
  /** Logits per example; lets the worst index be reported as (example, class). */
  numClasses?: number;
}

export interface LogitComparison {
  /** Largest `|a - b|`. */
  maxAbs: number;
  /** `maxAbs / max(max|b|, tiny)`: the error relative to the reference logits' scale. */
  maxRel: number;
  tolerance: number;
  passed: boolean;
  /** Flat index of the largest absolute difference (-1 when empty or not finite). */
  worstIndex: number;
  worstActual: number;
  worstReference: number;
  /** Largest `|b|`, the scale `maxRel` divides by. */
  refScale: number;
  /** Number of logits compared. */
  count: number;
  /** Elements that are NaN/Inf in either array (a non-finite logit always fails). */
  nonFinite: number;
  /** `[actual.length, reference.length]` when they differ (then the comparison fails). */
  lengthMismatch?: [number, number];
  reference?: string;
  actual?: string;
  numClasses?: number;
}

/** Floor for the reference scale, so all-zero reference logits do not divide by zero. */
const TINY = 1e-12;

/**
 * Compares logits elementwise. `maxRel = max|a−b| / max(max|b|, tiny)` (a scale-relative error: per
 * element relative errors blow up on logits near zero). Passes when `maxRel ≤ tolerance` and every
 * value is finite. Arrays of different length never pass.
 */
export function compareLogits(
  actual: ArrayLike<number>,
  reference: ArrayLike<number>,
  tolerance: number,
  meta: ParityMeta = {},
): LogitComparison {
  const count = Math.min(actual.length, reference.length);
  let maxAbs = 0;
  let refScale = 0;
  let worstIndex = count > 0 ? 0 : -1;
  let nonFinite = 0;
  for (let i = 0; i < count; i++) {
    const a = actual[i]!;
    const b = reference[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      if (nonFinite === 0) worstIndex = i;
      nonFinite++;
      continue;
    }
    const d = Math.abs(a - b);
    if (d > maxAbs && nonFinite === 0) worstIndex = i;
    if (d > maxAbs) maxAbs = d;
    const s = Math.abs(b);
    if (s > refScale) refScale = s;
  }
  if (nonFinite > 0) maxAbs = Number.POSITIVE_INFINITY;
  const maxRel = nonFinite > 0 ? Number.POSITIVE_INFINITY : maxAbs / Math.max(refScale, TINY);
  const passed = actual.length === reference.length && nonFinite === 0 && maxRel <= tolerance;
  return {
    maxAbs,
    maxRel,
    tolerance,
    passed,
    worstIndex,
    worstActual: worstIndex >= 0 ? actual[worstIndex]! : Number.NaN,
    worstReference: worstIndex >= 0 ? reference[worstIndex]! : Number.NaN,
    refScale,
    count,
    nonFinite,
    ...(actual.length !== reference.length
      ? { lengthMismatch: [actual.length, reference.length] as [number, number] }
      : {}),
    ...(meta.reference !== undefined ? { reference: meta.reference } : {}),
    ...(meta.actual !== undefined ? { actual: meta.actual } : {}),
    ...(meta.numClasses !== undefined ? { numClasses: meta.numClasses } : {}),
  };
}

function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(6) : x.toExponential(3);
}

/**
 * A readable account of a comparison, e.g.
 * `logits of onnxruntime/cpu differ from tfjs/cpu: max rel error 3.1e-2 > tolerance 1.0e-4
 *  (max abs 0.0412 at example 1, class 7: 1.234 vs 1.193; reference scale 1.32; 20 logits compared).
 *  Hint: ...`
 */
export function formatParity(c: LogitComparison): string {
  const who = `logits${c.actual ? ` of ${c.actual}` : ''}`;
  const ref = c.reference ? ` ${c.reference}` : ' the reference';
  const at =
    c.worstIndex < 0
      ? 'no logits compared'
      : c.numClasses
        ? `example ${Math.floor(c.worstIndex / c.numClasses)}, class ${c.worstIndex % c.numClasses} (index ${c.worstIndex})`
        : `index ${c.worstIndex}`;
  const lengths = c.lengthMismatch;
  if (c.passed) {
    return `${who} match${ref}: max rel error ${num(c.maxRel)} ≤ tolerance ${num(c.tolerance)} (max abs ${num(c.maxAbs)} at ${at}; ${c.count} logits compared)`;
  }
  const parts: string[] = [];
  if (lengths) parts.push(`${lengths[0]} logits vs ${lengths[1]} in the reference`);
  if (c.nonFinite > 0)
    parts.push(`${c.nonFinite} non-finite value(s), first at ${at}: ${num(c.worstActual)} vs ${num(c.worstReference)}`);
  const head = `${who} differ from${ref}: max rel error ${num(c.maxRel)} > tolerance ${num(c.tolerance)}`;
  const detail =
    c.nonFinite > 0
      ? parts.join('; ')
      : [
          ...parts,
          `max abs ${num(c.maxAbs)} at ${at}: ${num(c.worstActual)} vs ${num(c.worstReference)}; reference scale ${num(c.refScale)}; ${c.count} logits compared`,
        ].join('; ');
  const hint =
    c.nonFinite > 0
      ? 'the weights or inputs reaching this backend contain NaN/Inf, or the backend overflowed; check the weight loading'
      : 'a layout conversion (conv weights, flatten order) or a padding rule differs between the two backends, or the tolerance is tighter than the float precision of the device';
  return `${head} (${detail}). Hint: ${hint}.`;
}
