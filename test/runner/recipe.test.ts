/**
 * The recipe's training loop against a scripted session: chunks of `evaluate.every` epochs with the
 * order, rate and augmentation shifted to each chunk, evaluation outside the training clock, a stop at
 * the time-to-accuracy target, the best accuracy and its epoch when the target is never reached, and
 * the `within` budget of training time, and `stopAfter`'s truncated run of a longer recipe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ModelSession, TrainRequest, TrainResult } from '../../src/backends/types.ts';
import { parseExperiment } from '../../src/config/load.ts';
import { epochOrder } from '../../src/data/prng.ts';
import type { Dataset } from '../../src/data/types.ts';
import { runRecipe } from '../../src/runner/recipe.ts';
import { timeToAccuracyFailures, timeToAccuracyNotJudged } from '../../src/runner/recipe-record.ts';
import { learningRate } from '../../src/runner/schedule.ts';

const data: Dataset = {
  kind: 'test',
  source: 'scripted',
  channels: 1,
  height: 2,
  width: 2,
  numClasses: 2,
  classNames: ['a', 'b'],
  train: { n: 8, images: new Uint8Array(32), labels: new Uint8Array(8) },
  test: { n: 10, images: new Uint8Array(40), labels: new Uint8Array(10) },
  normalization: { mean: [0.5], std: [0.5], source: 'given' },
  bytes: 72,
};

/** A session whose test accuracy after epoch k is `accuracy[k - 1]`; each step takes `stepMs`. */
function scripted(accuracy: number[], stepMs = 0) {
  const calls: { epochs: number; order0: number[]; lr0: number; augment: boolean }[] = [];
  let epochsDone = 0;
  let seen = 0;
  const session = {
    info: { backend: 'fake/ok', device: 'script', versions: {} },
    async train(req: TrainRequest): Promise<TrainResult> {
      seen = 0;
      calls.push({ epochs: req.epochs, order0: [...req.order(0)], lr0: req.lr!(0, 0), augment: !!req.augment?.(0) });
      const steps = Math.floor(req.split.n / req.batchSize);
      const epochLoss: number[] = [];
      for (let e = 0; e < req.epochs; e++) {
        for (let s = 0; s < steps; s++) {
          if (stepMs) await sleep(stepMs);
          if (req.onStep?.({ epoch: e, step: s, stepsPerEpoch: steps, loss: 1 }) === 'stop') {
            epochLoss.push(1);
            epochsDone++;
            return { steps: 0, epochLoss, stoppedEarly: true };
          }
        }
        epochLoss.push(1);
        epochsDone++;
      }
      return { steps: steps * req.epochs, epochLoss, stoppedEarly: false };
    },
    async logits(_x: Float32Array, n: number): Promise<Float32Array> {
      // Class 0 (every test label) for the first accuracy·N examples of an evaluation.
      const right = Math.round(accuracy[epochsDone - 1]! * data.test.n);
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) out[i * 2 + (seen++ < right ? 0 : 1)] = 1;
      return out;
    },
  } as unknown as ModelSession;
  return { session, calls };
}

const experiment = (expectYaml: string, epochs = 4, trainingYaml = '') =>
  parseExperiment(
    `name: r
dataset: { kind: synthetic, train: 8, test: 10, imageSize: 2, channels: 1, classes: 2 }
model: { arch: custom, layers: [relu], classifier: [] }
training:
  epochs: ${epochs}
  batchSize: 4
  optimizer: { kind: sgd, lr: 0.1 }
  schedule: { kind: cosine }
  augment: { flip: true }
${trainingYaml}
inference: { batchSize: 4 }
backends: [onnxruntime/cpu]
expect: ${expectYaml}
`,
    'r.experiment.yaml',
    { profile: null },
  );

describe('training with evaluation and a time-to-accuracy target', () => {
  it('trains epoch by epoch, evaluates off the clock and stops at the target', async () => {
    const exp = experiment('{ timeToAccuracy: { target: 0.7 } }');
    const { session, calls } = scripted([0.3, 0.8, 0.9, 1]);
    const run = await runRecipe(session, { exp, data, seed: 4 });
    expect(calls.map((c) => c.epochs)).toEqual([1, 1]);
    // The second chunk is epoch 1 of the whole run: its order, rate and augmentation.
    expect(calls[1]!.order0).toEqual([...epochOrder(4, 1, 8)]);
    const span = { lr: 0.1, epochs: 4, stepsPerEpoch: 2 };
    expect(calls[1]!.lr0).toBe(learningRate(exp.training.schedule, span, 1, 0));
    expect(calls[0]!.lr0).toBe(0.1);
    expect(calls.every((c) => c.augment)).toBe(true);
    expect(run.curve!.points.map((p) => [p.epoch, p.accuracy])).toEqual([
      [1, 0.3],
      [2, 0.8],
    ]);
    expect(run.timeToAccuracy).toMatchObject({ seed: 4, reached: true, epochs: 2, best: { accuracy: 0.8, epoch: 2 } });
    expect(run.timeToAccuracy!.seconds).toBe(run.trainSeconds);
    expect(run.epochs).toBe(2);
    expect(run.evalSeconds).toBeGreaterThan(0);
  });

  it('never reached: fails naming the best accuracy and the epoch it came at', async () => {
    const exp = experiment('{ timeToAccuracy: { target: 0.95 } }');
    const { session } = scripted([0.3, 0.9, 0.6, 0.7]);
    const run = await runRecipe(session, { exp, data, seed: 4 });
    expect(run.epochs).toBe(4);
    expect(run.timeToAccuracy).toEqual({
      seed: 4,
      reached: false,
      ended: 'epochs',
      best: { accuracy: 0.9, epoch: 2 },
    });
    expect(timeToAccuracyFailures({ timeToAccuracy: { target: 0.95, samples: [run.timeToAccuracy!] } })).toEqual([
      'time to accuracy: seed 4 never reached the target 95.0% within the configured epochs; best accuracy 90.0% at epoch 2',
    ]);
  });

  it('stops when the training time (evaluation excluded) passes `within`', async () => {
    const exp = experiment('{ timeToAccuracy: { target: 0.95, within: 150ms } }', 50);
    const { session, calls } = scripted(new Array(50).fill(0.5), 20);
    const run = await runRecipe(session, { exp, data, seed: 1 });
    expect(run.timeToAccuracy).toMatchObject({ reached: false, ended: 'within' });
    expect(run.epochs).toBeLessThan(50);
    expect(calls.length).toBe(run.epochs);
    expect(run.trainSeconds).toBeGreaterThan(0.15);
    expect(
      timeToAccuracyFailures({ timeToAccuracy: { target: 0.95, within: 0.15, samples: [run.timeToAccuracy!] } })[0],
    ).toMatch(/within the 0\.15 s training budget; best accuracy 50\.0% at epoch 1$/);
  });

  it('stopAfter runs the first epochs of the recipe at the rates of the whole schedule, and says so', async () => {
    const exp = experiment('{ timeToAccuracy: { target: 0.95 } }', 4, '  stopAfter: 2');
    const { session, calls } = scripted([0.3, 0.5, 0.9, 1]);
    const run = await runRecipe(session, { exp, data, seed: 4 });
    expect(calls.map((c) => c.epochs)).toEqual([1, 1]);
    // Epoch 1's rate is the 4-epoch cosine's, not a 2-epoch one's.
    const span = { lr: 0.1, epochs: 4, stepsPerEpoch: 2 };
    expect(calls[1]!.lr0).toBe(learningRate(exp.training.schedule, span, 1, 0));
    expect(calls[1]!.lr0).not.toBe(learningRate(exp.training.schedule, { ...span, epochs: 2 }, 1, 0));
    expect(run.epochs).toBe(2);
    expect(run.timeToAccuracy).toEqual({
      seed: 4,
      reached: false,
      ended: 'stopAfter',
      best: { accuracy: 0.5, epoch: 2 },
    });
    // Cut short, the run is no evidence against the target: not judged, and said so.
    const record = { timeToAccuracy: { target: 0.95, samples: [run.timeToAccuracy!] } };
    expect(timeToAccuracyFailures(record)).toEqual([]);
    expect(timeToAccuracyNotJudged(record)).toEqual([
      'time to accuracy not judged: seed 4 stopped by training.stopAfter (a truncated run) before the target 95.0%; best accuracy 50.0% at epoch 2',
    ]);
  });
});
