/**
 * Cross-backend training parity: the same tiny model, weights, batches and optimizer trained a few
 * steps on onnxruntime/cpu (generated training graph) and tfjs/cpu (tfjs autodiff) must report the
 * same losses and end with the same weights, velocities' effect included (momentum, weight decay,
 * batch-norm running statistics).
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import type { Backend, LoadOptions, ModelSession, OptimizerConfig } from '../../src/backends/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import type { Weights } from '../../src/models/ir.ts';
import { B, C, dataset, K, order, S, train } from '../training/parity-helpers.ts';

const model = buildModelGraph(
  {
    arch: 'custom',
    width: 1,
    batchNorm: true,
    classifier: [8],
    dropout: 0,
    layers: [
      { kind: 'conv', filters: 4 },
      { kind: 'relu' },
      { kind: 'maxpool' },
      { kind: 'conv', filters: 6 },
      { kind: 'relu' },
    ],
  },
  { channels: C, height: S, width: S },
  K,
);
const optimizer: OptimizerConfig = { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
const opts: LoadOptions = { optimizer, trainBatchSize: B, inferBatchSize: B, seed: 3, dataset };

async function trainOn(backend: Backend, weights: Weights): Promise<{ losses: number[]; weights: Weights } | string> {
  const a = await backend.probe();
  if (!a.available) return a.reason;
  const session: ModelSession = await backend.load(model, weights, opts);
  try {
    const losses: number[] = [];
    await session.train({
      split: train,
      epochs: 2,
      batchSize: B,
      order,
      lossEvery: 1,
      onStep: (i) => void losses.push(i.loss!),
    });
    return { losses, weights: await session.getWeights() };
  } finally {
    await session.dispose();
  }
}

describe('training parity onnxruntime/cpu vs tfjs/cpu', () => {
  it('same losses and weights after 8 SGD-momentum steps with batch norm and weight decay', async () => {
    const weights = initWeights(model, 9);
    const ortRun = await trainOn(createOrtBackend('cpu'), weights);
    const { createTfjsBackend } = await import('../../src/backends/tfjs/index.ts');
    const tfRun = await trainOn(createTfjsBackend('cpu'), weights);
    if (typeof ortRun === 'string') throw new Error(`onnxruntime/cpu unavailable: ${ortRun}`);
    if (typeof tfRun === 'string') throw new Error(`tfjs/cpu unavailable: ${tfRun}`);
    expect(ortRun.losses).toHaveLength(8);
    ortRun.losses.forEach((l, i) => {
      expect(l, `loss of step ${i}`).toBeCloseTo(tfRun.losses[i]!, 4);
    });
    const lines: string[] = [];
    for (const p of model.params) {
      const a = ortRun.weights[p.name]!.data;
      const b = tfRun.weights[p.name]!.data;
      const init = weights[p.name]!.data;
      let diff = 0;
      let moved = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        moved = Math.max(moved, Math.abs(a[i]! - init[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      lines.push(`${p.name.padEnd(12)} moved ${moved.toExponential(2)}  |ort − tfjs| ${diff.toExponential(2)}`);
      // Every conv here is followed by batch norm, which cancels its bias: zero gradient, zero init.
      if (!(p.name.startsWith('conv') && p.name.endsWith('.bias')))
        expect(moved, `${p.name} did not change`).toBeGreaterThan(1e-4);
      expect(diff, p.name).toBeLessThan(1e-4 * Math.max(1, scale));
    }
    console.log(`weights after 8 steps, onnxruntime/cpu vs tfjs/cpu:\n${lines.join('\n')}`);
  });
});
