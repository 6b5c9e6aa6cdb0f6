/**
 * Every learning-rate schedule, label smoothing and augmentation train identically on onnxruntime/cpu,
 * tfjs/cpu and tfjs/wasm: the runner computes the rate of each step and draws each epoch's crops and
 * flips once, and every backend trains on them to the same losses and weights.
 */
import { describe, expect, it } from 'vitest';
import type { OptimizerConfig } from '../../src/backends/types.ts';
import { augmentPlan } from '../../src/data/augment.ts';
import { rateFunction, type ScheduleConfig } from '../../src/runner/schedule.ts';
import { B, expectSameTraining, PARITY_BACKENDS, type Recipe, S, train, trainOn } from './parity-helpers.ts';

const sgd: OptimizerConfig = { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true };
const span = { lr: sgd.lr, epochs: 2, stepsPerEpoch: train.n / B };
const SCHEDULES: ScheduleConfig[] = [
  { kind: 'step', every: 1, gamma: 0.3, warmup: 0.5 },
  { kind: 'multistep', milestones: [1], gamma: 0.2, warmup: 0 },
  { kind: 'cosine', minLr: 0.001, warmup: 1 },
  { kind: 'one-cycle', pctStart: 0.25, divFactor: 10, finalDivFactor: 100 },
];

async function expectParity(name: string, recipe: Recipe): Promise<void> {
  const [refId, ...others] = PARITY_BACKENDS;
  const ref = await trainOn(refId, recipe);
  for (const id of others) expectSameTraining(await trainOn(id, recipe), ref, `${name}: ${id} vs ${refId}`);
}

describe('schedules, label smoothing and augmentation: parity across onnxruntime/cpu, tfjs/cpu and tfjs/wasm', () => {
  for (const schedule of SCHEDULES) {
    it(`${schedule.kind} schedule`, async () => {
      const lr = rateFunction(schedule, span);
      // The schedule really varies the rate over these 8 steps.
      expect(new Set(Array.from({ length: 8 }, (_, i) => lr(Math.floor(i / 4), i % 4))).size).toBeGreaterThan(1);
      await expectParity(schedule.kind, { optimizer: sgd, lr });
    }, 60_000);
  }

  it('label smoothing 0.1 with random crop and flip, under AdamW', async () => {
    const augment = (epoch: number) => augmentPlan({ crop: { size: S, padding: 2 }, flip: true }, 5, epoch, train.n);
    const recipe: Recipe = {
      optimizer: { kind: 'adamw', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 },
      labelSmoothing: 0.1,
      augment,
    };
    await expectParity('smoothing + augmentation', recipe);
    // Both change what is trained: the same recipe without them gives other losses.
    const plain = await trainOn('onnxruntime/cpu', { optimizer: recipe.optimizer });
    const smoothed = await trainOn('onnxruntime/cpu', { ...recipe, augment: undefined });
    const both = await trainOn('onnxruntime/cpu', recipe);
    expect(smoothed.losses[0]).not.toBeCloseTo(plain.losses[0]!, 4);
    expect(both.losses[0]).not.toBeCloseTo(smoothed.losses[0]!, 4);
  }, 90_000);
});
