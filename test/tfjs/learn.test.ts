/**
 * End to end on tfjs/cpu: a tiny conv net trained on learnable synthetic data (one fixed random
 * pattern per class plus noise, 8×8 images) must reach test accuracy far above chance in a few seconds.
 */
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import { patternDataset, permutation } from './helpers.ts';

describe('tfjs/cpu learns', () => {
  it('4 classes of noisy 8×8 patterns: test accuracy ≥ 0.8 (chance 0.25)', async () => {
    const ds = patternDataset({ train: 256, test: 100, size: 8, channels: 1, classes: 4, noise: 60, seed: 5 });
    const graph = buildModelGraph(
      {
        arch: 'custom',
        width: 1,
        batchNorm: true,
        classifier: [16],
        dropout: 0.1,
        layers: [{ kind: 'conv', filters: 4 }, { kind: 'relu' }, { kind: 'maxpool' }],
      },
      ds,
      4,
    );
    const s = await createTfjsBackend('cpu').load(graph, initWeights(graph, 3), {
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      trainBatchSize: 32,
      inferBatchSize: 48,
      seed: 3,
      dataset: ds,
    });
    try {
      const before = await s.infer({ split: ds.test, batchSize: 48 });
      const accuracy = (ids: Int32Array) =>
        ids.reduce((a, id, i) => a + (id === ds.test.labels[i] ? 1 : 0), 0) / ds.test.n;
      const r = await s.train({
        split: ds.train,
        epochs: 4,
        batchSize: 32,
        order: (e) => permutation(ds.train.n, 100 + e),
        lossEvery: 4,
      });
      const after = await s.infer({ split: ds.test, batchSize: 48 });
      expect(r.steps).toBe(32);
      expect(r.epochLoss[3]!).toBeLessThan(r.epochLoss[0]!);
      expect(after).toHaveLength(100);
      expect(
        accuracy(after),
        `accuracy before training ${accuracy(before)}, losses ${r.epochLoss.map((l) => l.toFixed(3)).join(' ')}`,
      ).toBeGreaterThanOrEqual(0.8);
    } finally {
      await s.dispose();
    }
  });
});
