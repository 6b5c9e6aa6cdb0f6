import { expect, test } from 'vitest';
import { confusionMatrix, crossEntropySum, perClassAccuracy, topKHits } from '../../src/stats/classification.ts';

// Three examples, four classes.
const logits = [
  [0.1, 0.9, 0.5, 0.2], // label 2: second largest
  [3, 2, 1, 0], // label 0: largest
  [0, 0, 0, 0], // label 3: tied with every other class
].flat();
const labels = [2, 0, 3];

test('top-k hits: the true class among the k largest, ties counted against the example', () => {
  expect(topKHits(logits, labels, 4, 1)).toBe(1);
  expect(topKHits(logits, labels, 4, 2)).toBe(2);
  expect(topKHits(logits, labels, 4, 3)).toBe(2);
  expect(topKHits(logits, labels, 4, 4)).toBe(3);
});

test('cross-entropy matches −log softmax computed directly, and stays finite for huge logits', () => {
  const direct = (row: number[], y: number) => -Math.log(Math.exp(row[y]!) / row.reduce((a, v) => a + Math.exp(v), 0));
  const rows = [logits.slice(0, 4), logits.slice(4, 8), logits.slice(8, 12)];
  const want = rows.reduce((a, r, i) => a + direct(r, labels[i]!), 0);
  expect(crossEntropySum(logits, labels, 4)).toBeCloseTo(want, 12);
  expect(crossEntropySum([1000, 0], [1], 2)).toBeCloseTo(1000, 9);
});

test('confusion matrix rows are true classes, columns predictions; per-class accuracy is its diagonal share', () => {
  const m = confusionMatrix([0, 1, 1, 2, 0], [0, 1, 0, 2, 0], 4);
  expect(m).toEqual([
    [2, 1, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 0],
  ]);
  const acc = perClassAccuracy(m);
  expect(acc.slice(0, 3)).toEqual([2 / 3, 1, 1]);
  expect(acc[3]).toBeNaN();
});
