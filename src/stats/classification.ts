/**
 * Classification figures over a test set, as pure functions of logits (row-major, one row of `classes`
 * per example) or predicted class ids and the true labels: top-k hits, softmax cross-entropy, the
 * confusion matrix and per-class accuracy.
 */

/**
 * Examples whose true class is among the `k` largest logits. Ties count against the example: the true
 * class must beat all but k − 1 others strictly, so a constant row is a hit only when k = classes.
 */
export function topKHits(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number, k: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const base = i * classes;
    const own = logits[base + labels[i]!]!;
    let notBelow = 0; // other classes scoring at least as high as the true one
    for (let c = 0; c < classes; c++) if (c !== labels[i] && logits[base + c]! >= own) notBelow++;
    if (notBelow < k) hits++;
  }
  return hits;
}

/** Sum over examples of −log softmax(logits)[label], computed stably (max subtracted). */
export function crossEntropySum(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const base = i * classes;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
    let z = 0;
    for (let c = 0; c < classes; c++) z += Math.exp(logits[base + c]! - max);
    sum += Math.log(z) + max - logits[base + labels[i]!]!;
  }
  return sum;
}

/** Counts `m[true][predicted]` over the examples. */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]!]![predicted[i]!]!++;
  return m;
}

/** Accuracy of each class (diagonal over row sum); NaN for a class with no example. */
export function perClassAccuracy(confusion: readonly (readonly number[])[]): number[] {
  return confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? Number.NaN : row[c]! / n;
  });
}
