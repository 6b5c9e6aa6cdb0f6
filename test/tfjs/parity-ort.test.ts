/**
 * tfjs/cpu against onnxruntime/cpu on vgg-small: the same canonical weights and NCHW batch must give the
 * same logits (scale-relative error ≤ 1e-4), at width 0.25 with batch norm and at the published widths.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import type { Backend, LoadOptions } from '../../src/backends/types.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { patternDataset } from './helpers.ts';

// Imported statically: if the module moves, this file fails to load (and to type-check) instead of
// skipping, so the parity test cannot silently disappear.
describe('tfjs/cpu vs onnxruntime/cpu logits', () => {
  const ds = patternDataset({ train: 2, test: 2, size: 32, channels: 3, classes: 10, noise: 50, seed: 21 });
  const x = new Float32Array(2 * 3 * 32 * 32);
  fillBatch(ds.test, ds, ds.normalization, identityOrder(2), 0, 2, 'NCHW', x);
  const opts: LoadOptions = {
    optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    trainBatchSize: 2,
    inferBatchSize: 2,
    seed: 1,
    dataset: ds,
  };

  for (const [width, batchNorm] of [
    [0.25, true],
    [1, false],
  ] as const) {
    it(`vgg-small width ${width}${batchNorm ? ' with batch norm' : ''}, batch 2`, async () => {
      const ort = createOrtBackend('cpu');
      const avail = await ort.probe();
      expect(avail, 'onnxruntime/cpu must be available on this machine').toMatchObject({ available: true });
      const graph = buildModelGraph({ arch: 'vgg-small', width, batchNorm, classifier: [256], dropout: 0.5 }, ds, 10);
      const weights = initWeights(graph, 1234);
      const logits = async (b: Backend) => {
        const s = await b.load(graph, weights, opts);
        try {
          return await s.logits(x, 2);
        } finally {
          await s.dispose();
        }
      };
      const ref = await logits(ort);
      const got = await logits(createTfjsBackend('cpu'));
      const c = compareLogits(got, ref, 1e-4, { actual: 'tfjs/cpu', reference: 'onnxruntime/cpu', numClasses: 10 });
      expect(c.passed, formatParity(c)).toBe(true);
      // Logits that are all ~0 would pass trivially; these weights give a real spread.
      expect(c.refScale).toBeGreaterThan(1e-2);
    });
  }
});
