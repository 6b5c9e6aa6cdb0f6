/**
 * onnxruntime/webgpu end to end, where a WebGPU adapter exists (any: a software Vulkan such as Mesa's
 * lavapipe will do); skipped with the probe's reason elsewhere. The state stays on the device as
 * `gpu-buffer` tensors, so this is where ONNX Runtime for Node's device-tensor rules bite: a tensor
 * must be disposed before the session that produced it is released, and a device tensor is never read
 * with `getData()`. Training, reading the weights back, inference and disposal all run in this process,
 * twice, next to onnxruntime/cpu from the same weights and batches.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import type { LoadOptions, ModelSession } from '../../src/backends/types.ts';
import { identityOrder } from '../../src/data/batch.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, mulberry32 } from '../../src/models/init.ts';

function split(n: number, seed: number, size: number, classes: number): Split {
  const r = mulberry32(seed);
  return { n, images: Uint8Array.from({ length: n * size * size * 3 }, () => r() & 255), labels: Uint8Array.from({ length: n }, () => r() % classes) };
}

const S = 16;
const dataset: Dataset = {
  kind: 'synthetic',
  source: 'random bytes (test)',
  channels: 3,
  height: S,
  width: S,
  numClasses: 10,
  classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
  train: split(16, 1, S, 10),
  test: split(12, 2, S, 10),
  normalization: { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], source: 'given' },
  bytes: 0,
};
const model = buildModelGraph({ arch: 'vgg-small', width: 0.125, batchNorm: true, classifier: [32], dropout: 0 }, { channels: 3, height: S, width: S }, 10);
const weights = initWeights(model, 5);
const opts: LoadOptions = { optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }, trainBatchSize: 4, inferBatchSize: 5, seed: 1, dataset };

const probe = await createOrtBackend('webgpu').probe();

async function trainAndRead(device: 'cpu' | 'webgpu'): Promise<{ weights: Awaited<ReturnType<ModelSession['getWeights']>>; classes: Int32Array; logits: Float32Array; losses: number[] }> {
  const s = await createOrtBackend(device).load(model, weights, opts);
  try {
    const losses: number[] = [];
    await s.train({ split: dataset.train, epochs: 1, batchSize: 4, order: () => identityOrder(16), lossEvery: 1, onStep: (i) => void (i.loss !== undefined && losses.push(i.loss)) });
    const w = await s.getWeights();
    const classes = await s.infer({ split: dataset.test, batchSize: 5 });
    const x = new Float32Array(2 * 3 * S * S).fill(0.25);
    return { weights: w, classes, logits: await s.logits(x, 2), losses };
  } finally {
    await s.dispose();
  }
}

describe.skipIf(!probe.available)(`onnxruntime/webgpu (${probe.available ? probe.detail : probe.reason})`, () => {
  it('trains, reads its weights back, infers and disposes like onnxruntime/cpu, twice in one process', async () => {
    const cpu = await trainAndRead('cpu');
    for (let round = 0; round < 2; round++) {
      const gpu = await trainAndRead('webgpu');
      expect(gpu.losses.length).toBe(4);
      for (let i = 0; i < 4; i++) expect(gpu.losses[i]).toBeCloseTo(cpu.losses[i]!, 3);
      for (const p of model.params) {
        const a = gpu.weights[p.name]!.data;
        const b = cpu.weights[p.name]!.data;
        let scale = 0;
        let err = 0;
        for (let i = 0; i < b.length; i++) {
          scale = Math.max(scale, Math.abs(b[i]!));
          err = Math.max(err, Math.abs(a[i]! - b[i]!));
        }
        // Relative to the parameter's scale, with an absolute floor: a conv bias ahead of batch norm gets
        // no gradient, only weight decay, and stays at ~1e-8, where float32 rounding is all there is.
        expect(err, `${p.name}: max abs difference ${err} against a scale of ${scale}`).toBeLessThan(1e-4 * scale + 1e-6);
      }
      let worst = 0;
      for (let i = 0; i < cpu.logits.length; i++) worst = Math.max(worst, Math.abs(gpu.logits[i]! - cpu.logits[i]!));
      expect(worst).toBeLessThan(1e-3);
      expect(Array.from(gpu.classes)).toEqual(Array.from(cpu.classes));
    }
  }, 120_000);
});

describe.skipIf(probe.available)('onnxruntime/webgpu without an adapter', () => {
  it('says why it cannot run', () => {
    expect(probe.available).toBe(false);
    if (!probe.available) expect(probe.reason).toMatch(/WebGPU/);
  });
});
