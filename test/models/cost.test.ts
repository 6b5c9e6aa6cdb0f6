/**
 * Multiply-adds per example, checked against the figure worked out by hand for vgg-small at 32×32
 * (the number the benchmarks turn into GFLOP/s), and the training step's 3× the forward.
 */
import { describe, expect, it } from 'vitest';
import { flopsPerExample, multiplyAdds } from '../../src/models/cost.ts';
import { buildModelGraph, resolveGraph } from '../../src/models/index.ts';

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

  it('counts grouped convs by their groups; the CIFAR ResNets cost what profilers report', () => {
    const macs = (arch: string) =>
      multiplyAdds(
        buildModelGraph(
          { arch, width: 1, batchNorm: false, classifier: [], dropout: 0 },
          { channels: 3, height: 32, width: 32 },
          10,
        ),
      );
    // ResNet-56 125.49 M and ResNet-110 252.89 M multiply-adds per 32×32 image (thop on the option-A
    // PyTorch models; option-A shortcuts and element-wise nodes cost none here).
    expect(Math.abs(macs('resnet56') - 125.49e6)).toBeLessThan(0.01e6);
    expect(Math.abs(macs('resnet110') - 252.89e6)).toBeLessThan(0.01e6);
    const dw = resolveGraph(
      'dw',
      [
        { spec: { kind: 'conv', filters: 8, groups: 4, bias: false } },
        { spec: { kind: 'flatten' } },
        { spec: { kind: 'dense', units: 2, bias: false } },
      ],
      [4, 5, 5],
      2,
    );
    // 8 outputs × 25 positions × (4/4 input channels × 9 taps), then 200 × 2.
    expect(multiplyAdds(dw)).toBe(8 * 25 * 9 + 200 * 2);
  });
});
