/**
 * Recipes on onnxruntime/webgpu, where an adapter exists (a software Vulkan such as lavapipe will do;
 * skipped with the probe's reason elsewhere): the device-gathered step reads each step's rate from the
 * epoch's rate table at its step counter, and trains Adam under one-cycle with label smoothing to the
 * weights onnxruntime/cpu reaches; augmented batches are gathered and augmented on the device, to the
 * same weights.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { augmentPlan } from '../../src/data/augment.ts';
import { rateFunction } from '../../src/runner/schedule.ts';
import { expectSameTraining, type Recipe, trainOn, vggSetup } from './parity-helpers.ts';

const probe = await createOrtBackend('webgpu').probe();

describe.skipIf(!probe.available)(
  `recipes on onnxruntime/webgpu (${probe.available ? probe.detail : probe.reason})`,
  () => {
    // ε well above float32 noise: Adam's first steps move every weight by about ±lr whatever its gradient's
    // size, so at ε = 1e-8 a gradient that is rounding noise on both devices (≈1e-7) can take either sign.
    const optimizer = { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-3, weightDecay: 1e-3 } as const;
    const gpuTolerance = { lossDigits: 3, abs: 1e-6 };
    const setup = vggSetup();
    const lr = rateFunction(
      { kind: 'one-cycle', pctStart: 0.3, divFactor: 10, finalDivFactor: 100 },
      { lr: optimizer.lr, epochs: 2, stepsPerEpoch: setup.dataset.train.n / setup.batch },
    );

    it('Adam, one-cycle and label smoothing from the device-side rate table, as onnxruntime/cpu', async () => {
      const recipe: Recipe = { optimizer, lr, labelSmoothing: 0.1 };
      const gpu = await trainOn('onnxruntime/webgpu', recipe, setup);
      expect(gpu.notes.join('\n')).toMatch(/training split held in device memory/);
      expectSameTraining(
        gpu,
        await trainOn('onnxruntime/cpu', recipe, setup),
        'onnxruntime/webgpu vs onnxruntime/cpu',
        gpuTolerance,
      );
    }, 120_000);

    it('augmented batches gathered and augmented on the device, as onnxruntime/cpu', async () => {
      const augment = (e: number) =>
        augmentPlan({ crop: { size: 16, padding: 2 }, flip: true }, 9, e, setup.dataset.train.n);
      const recipe: Recipe = { optimizer, lr, augment };
      const gpu = await trainOn('onnxruntime/webgpu', recipe, setup);
      expect(gpu.notes.join('\n')).toMatch(/training split held in device memory/);
      expectSameTraining(
        gpu,
        await trainOn('onnxruntime/cpu', recipe, setup),
        'onnxruntime/webgpu vs onnxruntime/cpu',
        gpuTolerance,
      );
    }, 120_000);
  },
);
