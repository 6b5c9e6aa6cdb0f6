/**
 * Convergence through the real backend path (`createOrtBackend('cpu')` → load → train → infer): a
 * quarter-width vgg-small trained a few epochs on learnable synthetic 16×16 data (generated here:
 * each class is an oriented colour grating with a random per-example phase and Gaussian noise, so a
 * template match does not solve it but a conv net can) must reach test accuracy far above chance.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import type { StepInfo } from '../../src/backends/types.ts';
import { computeNormalization } from '../../src/data/normalize.ts';
import { epochOrder } from '../../src/data/prng.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';

const S = 16;
const K = 10;

function gratings(n: number, seed: number): Split {
  const rand = uniformStream(seed);
  const images = new Uint8Array(n * S * S * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % K;
    labels[i] = k;
    const theta = (k * Math.PI) / K;
    const freq = 2 + (k % 3);
    const phase = rand() * 2 * Math.PI;
    const colour = [Math.cos(k), Math.sin(k * 1.7), Math.cos(k * 2.3 + 1)];
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const wave = Math.sin((2 * Math.PI * freq * (x * Math.cos(theta) + y * Math.sin(theta))) / S + phase);
        for (let c = 0; c < 3; c++) {
          const noise = (rand() + rand() + rand() - 1.5) * 40;
          const v = 128 + 70 * wave * colour[c]! + 25 * colour[c]! + noise;
          images[((i * S + y) * S + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return { n, images, labels };
}

describe('onnxruntime/cpu training converges', () => {
  it('vgg-small ×0.25 on 16×16 gratings: test accuracy well above chance (10%)', async () => {
    const train = gratings(640, 1);
    const test = gratings(200, 2);
    const dataset: Dataset = {
      kind: 'synthetic-gratings',
      source: 'generated in test/onnxruntime/train-convergence.test.ts',
      channels: 3,
      height: S,
      width: S,
      numClasses: K,
      classNames: Array.from({ length: K }, (_, k) => `c${k}`),
      train,
      test,
      normalization: computeNormalization(train, 3),
      bytes: train.images.length + test.images.length,
    };
    const model = buildModelGraph(
      { arch: 'vgg-small', width: 0.25, batchNorm: true, classifier: [64], dropout: 0.25 },
      { channels: 3, height: S, width: S },
      K,
    );
    const backend = createOrtBackend('cpu');
    const session = await backend.load(model, initWeights(model, 5), {
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      trainBatchSize: 32,
      inferBatchSize: 100,
      seed: 5,
      dataset,
    });
    try {
      const before = await session.infer({ split: test, batchSize: 100 });
      const losses: number[] = [];
      const t0 = performance.now();
      const r = await session.train({
        split: train,
        epochs: 3,
        batchSize: 32,
        order: (e) => epochOrder(5, e, train.n),
        lossEvery: 5,
        onStep: (i: StepInfo) => void (i.loss !== undefined && losses.push(i.loss)),
      });
      const seconds = (performance.now() - t0) / 1000;
      const predicted = await session.infer({ split: test, batchSize: 100 });
      const acc = (p: Int32Array) => p.reduce((a, c, i) => a + (c === test.labels[i] ? 1 : 0), 0) / test.n;
      console.log(
        `vgg-small x0.25 16x16, ${r.steps} steps in ${seconds.toFixed(1)} s: epoch loss ${r.epochLoss.map((l) => l.toFixed(3)).join(' → ')}, test accuracy ${acc(before).toFixed(3)} → ${acc(predicted).toFixed(3)}`,
      );
      expect(r.steps).toBe(3 * 20);
      expect(r.epochLoss[2]!).toBeLessThan(r.epochLoss[0]!);
      expect(acc(predicted)).toBeGreaterThan(0.5);
    } finally {
      await session.dispose();
    }
  });
});
