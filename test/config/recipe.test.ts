/**
 * The training-recipe keys load into the typed experiment: optimizer kinds with their own defaults, a
 * schedule, label smoothing, augmentation, evaluation, seeds (one repeat each) and a time-to-accuracy
 * expectation; a profile can switch the optimizer's kind.
 */
import { describe, expect, test } from 'vitest';
import { parseExperiment } from '../../src/config/load.ts';

const RECIPE = `
name: recipe
dataset: { kind: synthetic, train: 256, test: 64, imageSize: 16 }
model: { arch: vgg-small, width: 0.25, batchNorm: true }
training:
  epochs: 4
  batchSize: 32
  optimizer: { kind: sgd, lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }
  schedule: { kind: multistep, milestones: [3, 1], warmup: 0.5 }
  labelSmoothing: 0.1
  augment: { crop: { padding: 2 }, flip: true }
backends: [onnxruntime/cpu]
seeds: [7, 8, 9]
expect: { timeToAccuracy: { target: 0.9, within: 30m } }
profiles:
  adam: { training: { optimizer: { kind: adamw, lr: 0.001 }, schedule: { kind: one-cycle } } }
`;

describe('training recipes in the experiment file', () => {
  test('load with their defaults; seeds set the repeats; time to accuracy implies evaluation every epoch', () => {
    const exp = parseExperiment(RECIPE, 'recipe.experiment.yaml', { profile: null });
    expect(exp.training.optimizer).toEqual({ kind: 'sgd', lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    expect(exp.training.schedule).toEqual({ kind: 'multistep', milestones: [1, 3], gamma: 0.1, warmup: 0.5 });
    expect(exp.training.labelSmoothing).toBe(0.1);
    expect(exp.training.augment).toEqual({ crop: { padding: 2 }, flip: true });
    expect(exp.seeds).toEqual([7, 8, 9]);
    expect(exp.repeats).toBe(3);
    expect(exp.expect.timeToAccuracy).toEqual({ target: 0.9, within: 1800 });
    expect(exp.evaluate).toEqual({ every: 1 });
  });

  test('a profile switches the optimizer kind: the mapping is replaced, the new kind’s defaults fill it', () => {
    const exp = parseExperiment(RECIPE, 'recipe.experiment.yaml', { profile: 'adam' });
    expect(exp.training.optimizer).toEqual({
      kind: 'adamw',
      lr: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0.01,
    });
    expect(exp.training.schedule).toEqual({ kind: 'one-cycle', pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 });
  });
});
