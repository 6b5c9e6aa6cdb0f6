/**
 * tfjs/wasm next to tfjs/cpu in one process: the same weights give the same logits, and training
 * either matches cpu (when expbench's wasm training kernels are registered) or fails naming the
 * missing kernel; switching between the two backends keeps each session working.
 */
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import type { LoadOptions, ModelSession } from '../../src/backends/types.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import type { LayerSpec } from '../../src/models/ir.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { resolveLayers } from '../../src/models/resolve.ts';
import { patternDataset, randomWeights } from './helpers.ts';

const specs: LayerSpec[] = [
  { kind: 'conv', filters: 6, padding: 'same' },
  { kind: 'batchnorm' },
  { kind: 'relu' },
  { kind: 'maxpool' },
  { kind: 'conv', filters: 8, kernel: 3, stride: 2, padding: 1 },
  { kind: 'relu' },
  { kind: 'flatten' },
  { kind: 'dense', units: 12 },
  { kind: 'relu' },
  { kind: 'dense', units: 4 },
];
const graph = resolveLayers('custom', specs, [3, 8, 8], 4);
const ds = patternDataset({ train: 16, test: 10, size: 8, channels: 3, classes: 4, noise: 40, seed: 8 });
const weights = randomWeights(graph, 2);
const opts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 },
  trainBatchSize: 8,
  inferBatchSize: 4,
  seed: 1,
  dataset: ds,
};
const x = new Float32Array(10 * 3 * 8 * 8);
fillBatch(ds.test, ds, ds.normalization, identityOrder(10), 0, 10, 'NCHW', x);

describe('tfjs/wasm', () => {
  it('records wasm as the backend actually used, with its thread count and why', async () => {
    const s = await createTfjsBackend('wasm').load(graph, weights, opts);
    try {
      expect(s.info.backend).toBe('tfjs/wasm');
      expect(s.info.threads).toBeGreaterThanOrEqual(1);
      if (s.info.threads === 1) expect(s.info.notes?.join('\n')).toMatch(/single-threaded/);
      expect(s.info.versions['@tensorflow/tfjs-backend-wasm']).toMatch(/^\d/);
    } finally {
      await s.dispose();
    }
  });

  it('gives the logits tfjs/cpu gives, with both sessions alive and the engine switching between them', async () => {
    const wasm = await createTfjsBackend('wasm').load(graph, weights, opts);
    const cpu = await createTfjsBackend('cpu').load(graph, weights, opts);
    try {
      const a = await wasm.logits(x, 10);
      const b = await cpu.logits(x, 10);
      const again = await wasm.logits(x, 10);
      const c = compareLogits(a, b, 1e-5, { actual: 'tfjs/wasm', reference: 'tfjs/cpu', numClasses: 4 });
      expect(c.passed, formatParity(c)).toBe(true);
      expect(again).toEqual(a);
      const ids = await wasm.infer({ split: ds.test, batchSize: 4 });
      expect(ids).toEqual(await cpu.infer({ split: ds.test, batchSize: 4 }));
    } finally {
      await wasm.dispose();
      await cpu.dispose();
    }
  });

  it('trains like tfjs/cpu, or names the kernel it lacks', async () => {
    const req = { split: ds.train, epochs: 1, batchSize: 8, order: () => identityOrder(16), lossEvery: 1 };
    const run = async (s: ModelSession) => {
      try {
        await s.train(req);
        return await s.getWeights();
      } finally {
        await s.dispose();
      }
    };
    const wasmSession = await createTfjsBackend('wasm').load(graph, weights, opts);
    const wasm = await run(wasmSession).catch((e: unknown) => e as Error);
    if (wasm instanceof Error) {
      // Only acceptable reason: a gradient kernel the stock wasm backend does not have.
      expect(wasm).toMatchObject({
        code: 'BACKEND',
        message: expect.stringMatching(/Kernel '\w+' not registered for backend 'wasm'/),
      });
      return;
    }
    const cpu = await run(await createTfjsBackend('cpu').load(graph, weights, opts));
    for (const p of graph.params) {
      const c = compareLogits(wasm[p.name]!.data, cpu[p.name]!.data, 1e-4, {
        actual: `tfjs/wasm ${p.name}`,
        reference: 'tfjs/cpu',
      });
      expect(c.passed, formatParity(c)).toBe(true);
    }
  });
});
