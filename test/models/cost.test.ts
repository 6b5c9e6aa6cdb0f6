/**
 * Multiply-adds per example, checked against the figure worked out by hand for vgg-small at 32×32
 * (the number the benchmarks turn into GFLOP/s), and the training step's 3× the forward.
 */
import { describe, expect, it } from 'vitest';
import { flopsPerExample, multiplyAdds } from '../../src/models/cost.ts';
import { buildModelGraph } from '../../src/models/index.ts';

describe('multiplyAdds', () => {
  it('counts every conv and dense layer of vgg-small at 32×32', () => {
    const m = buildModelGraph(
      { arch: 'vgg-small', width: 1, batchNorm: false, classifier: [256], dropout: 0 },
      { channels: 3, height: 32, width: 32 },
      10,
    );
    const conv = (o: number, i: number, side: number) => o * side * side * i * 9;
    const byHand =
      conv(64, 3, 32) + conv(64, 64, 32) + conv(128, 64, 16) + conv(128, 128, 16) + 8 * 8 * 128 * 256 + 256 * 10;
    expect(multiplyAdds(m)).toBe(byHand);
    expect(byHand).toBe(98_241_024);
    expect(flopsPerExample(m, 'infer')).toBe(2 * byHand);
    expect(flopsPerExample(m, 'train')).toBe(6 * byHand);
  });
});
