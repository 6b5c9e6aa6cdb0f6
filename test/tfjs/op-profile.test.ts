/**
 * Per-operator profiles on tfjs (cpu backend, tiny model): real steps under tf.profile, each kernel in
 * the section the step marked (convolution forward, its filter gradient backward, the momentum update
 * in the optimizer), no tensors left behind, and only kernels counted: tf.profile also lists each
 * custom-gradient op (the loss's `softmaxCrossEntropy__op`) around the kernels it runs.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import type { LoadOptions } from '../../src/backends/types.ts';
import { identityOrder } from '../../src/data/batch.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import { patternDataset } from './helpers.ts';

describe('profileOps on tfjs/cpu', () => {
  it('profiles real steps by section and operator', async () => {
    const model = buildModelGraph(
      {
        arch: 'custom',
        width: 1,
        batchNorm: false,
        classifier: [6],
        dropout: 0,
        layers: [{ kind: 'conv', filters: 4 }, { kind: 'relu' }, { kind: 'maxpool' }],
      },
      { channels: 2, height: 8, width: 8 },
      3,
    );
    const ds = patternDataset({ train: 16, test: 8, size: 8, channels: 2, classes: 3, noise: 10, seed: 5 });
    const opts: LoadOptions = {
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 },
      trainBatchSize: 4,
      inferBatchSize: 4,
      seed: 1,
      dataset: ds,
    };
    const session = await createTfjsBackend('cpu').load(model, initWeights(model, 2), opts);
    try {
      const req = { split: ds.train, batchSize: 4, order: identityOrder(ds.train.n), warmupSteps: 1, steps: 2 };
      // The first steps create the optimizer's momentum buffers; a second profile allocates nothing more.
      await session.profileOps!(req);
      const tensors = tf.memory().numTensors;
      const p = await session.profileOps!(req);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(p.steps).toBe(2);
      for (const s of ['forward', 'backward', 'optimizer'] as const) expect(p.sections[s].ms).toBeGreaterThan(0);
      expect(p.sections.other.ms).toBe(0);
      const op = (name: string) => p.byOpType.find((o) => o.op === name);
      expect(Object.keys(op('Conv2D')!.sections)).toEqual(['forward']);
      expect(Object.keys(op('Conv2DBackpropFilter')!.sections)).toEqual(['backward']);
      expect(op('Conv2D')!.calls).toBe(1);
      expect(p.byOpType.reduce((s, o) => s + o.share, 0)).toBeCloseTo(1, 6);
      for (const o of p.byOpType) expect(tf.getKernel(o.op, tf.getBackend()), o.op).toBeDefined();
      expect(p.byNode[0]!.node).toMatch(/^#\d+ \w+/);
    } finally {
      await session.dispose();
    }
  });
});
