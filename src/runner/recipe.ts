/**
 * The training phase of a case as its recipe asks: the learning rate of every step from the
 * schedule, each epoch's augmentation drawn from the repeat's seed, and, with evaluation, training in
 * chunks of `evaluate.every` epochs with the test split evaluated between them on a clock of its own,
 * stopping once a time-to-accuracy target is reached (or its `within` budget of training time is spent).
 *
 * Every backend is driven the same way: `train()` over a chunk of epochs, with `order`, `lr` and
 * `augment` shifted to the chunk's first epoch, so the steps a backend runs are those of one long call.
 */
import type { ModelSession, StepInfo, TrainRequest } from '../backends/types.ts';
import { augmentPlan } from '../data/augment.ts';
import { fillBatch, identityOrder } from '../data/batch.ts';
import { epochOrder } from '../data/prng.ts';
import type { Dataset } from '../data/types.ts';
import type { Experiment } from '../config/types.ts';
import { describeOptimizer } from '../vocab/optimizer.ts';
import { describeSchedule, rateFunction } from './schedule.ts';
import type { Curve, CurvePoint, TimeToAccuracySample } from './recipe-record.ts';
import { performance } from 'node:perf_hooks';

export interface RecipeRunOptions {
  exp: Experiment;
  data: Dataset;
  /** The repeat's seed (initial weights were drawn from it too). */
  seed: number;
  /** Sees every step with its epoch counted from the start of training. */
  onStep?: TrainRequest['onStep'];
  /** Called when the evaluation between chunks starts and ends (the worker's phase reports). */
  onEvaluate?(running: boolean): void;
  /** Called with each evaluated point (progress shows the latest). */
  onPoint?(point: CurvePoint): void;
}

export interface RecipeRun {
  /** Training time in seconds, evaluation excluded. */
  trainSeconds: number;
  /** Seconds spent evaluating between chunks. */
  evalSeconds: number;
  epochLoss: number[];
  /** Epochs trained. */
  epochs: number;
  /** With evaluation: accuracy and loss after each evaluated epoch. */
  curve?: Curve;
  timeToAccuracy?: TimeToAccuracySample;
  /** A step's `onStep` said stop (numeric trouble): training ended there. */
  stopped: boolean;
}

/**
 * Epochs a run of the recipe trains: all of them, or the first `stopAfter` (a truncated run; the
 * schedule still spans `epochs`).
 */
export function epochsToRun(t: Pick<Experiment['training'], 'epochs' | 'stopAfter'>): number {
  return Math.min(t.epochs, t.stopAfter ?? t.epochs);
}

/** The recipe in words, for records and reports. */
export function describeRecipe(t: Experiment['training']): string {
  const parts = [`${describeOptimizer(t.optimizer)}, lr ${t.optimizer.lr}`, `${describeSchedule(t.schedule)} schedule`];
  if (epochsToRun(t) < t.epochs) parts.push(`truncated: the first ${epochsToRun(t)} of ${t.epochs} epochs`);
  if (t.labelSmoothing > 0) parts.push(`label smoothing ${t.labelSmoothing}`);
  if (t.augment) {
    const a = [
      t.augment.crop ? `random crop (image side) after ${t.augment.crop.padding} px padding` : '',
      t.augment.flip ? 'horizontal flip' : '',
    ];
    parts.push(`augmentation: ${a.filter(Boolean).join(' + ') || 'none'}`);
  }
  return parts.join('; ');
}

/** Test accuracy and mean cross-entropy of `session` on the whole test split (its logits, in batches). */
export async function evaluateSession(
  session: ModelSession,
  data: Dataset,
  batchSize: number,
): Promise<{ accuracy: number; loss: number }> {
  const split = data.test;
  const K = data.numClasses;
  const per = data.channels * data.height * data.width;
  const x = new Float32Array(Math.min(batchSize, split.n) * per);
  const order = identityOrder(split.n);
  let correct = 0;
  let loss = 0;
  for (let start = 0; start < split.n; start += batchSize) {
    const n = Math.min(batchSize, split.n - start);
    fillBatch(split, data, data.normalization, order, start, n, 'NCHW', x);
    const logits = await session.logits(x, n);
    for (let i = 0; i < n; i++) {
      const row = i * K;
      let best = 0;
      let max = logits[row]!;
      for (let k = 1; k < K; k++) {
        if (logits[row + k]! > max) {
          best = k;
          max = logits[row + k]!;
        }
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(logits[row + k]! - max);
      const label = split.labels[start + i]!;
      loss += Math.log(sum) + max - logits[row + label]!;
      if (best === label) correct++;
    }
  }
  return { accuracy: correct / Math.max(1, split.n), loss: loss / Math.max(1, split.n) };
}

/** Trains `session` as the experiment's recipe says; see the file header. */
export async function runRecipe(session: ModelSession, o: RecipeRunOptions): Promise<RecipeRun> {
  const { exp, data, seed } = o;
  const t = exp.training;
  const n = data.train.n;
  const stepsPerEpoch = Math.floor(n / t.batchSize);
  const rate = rateFunction(t.schedule, { lr: t.optimizer.lr, epochs: t.epochs, stepsPerEpoch });
  const augment = t.augment;
  const target = exp.expect.timeToAccuracy;
  const every = exp.evaluate?.every ?? t.epochs;
  const run: RecipeRun = { trainSeconds: 0, evalSeconds: 0, epochLoss: [], epochs: 0, stopped: false };
  const points: CurvePoint[] = [];
  let best = { accuracy: -1, epoch: 0 };
  let overBudget = false;
  // `stopAfter` truncates the run, not the recipe: the rate still follows the schedule over `t.epochs`.
  const last = epochsToRun(t);
  for (let first = 0; first < last && !run.stopped; first += every) {
    const epochs = Math.min(every, last - first);
    const spentBefore = run.trainSeconds;
    const t0 = performance.now();
    const result = await session.train({
      split: data.train,
      epochs,
      batchSize: t.batchSize,
      lossEvery: t.lossEvery,
      order: (e) => epochOrder(seed, first + e, n),
      lr: (e, s) => rate(first + e, s),
      ...(augment ? { augment: (e: number) => augmentPlan(augment, seed, first + e, n) } : {}),
      onStep: (info: StepInfo) => {
        const verdict = o.onStep?.({ ...info, epoch: first + info.epoch });
        if (verdict === 'stop') return 'stop';
        if (target?.within !== undefined && spentBefore + (performance.now() - t0) / 1000 > target.within) {
          overBudget = true;
          return 'stop';
        }
        return undefined;
      },
    });
    run.trainSeconds += (performance.now() - t0) / 1000;
    run.epochLoss.push(...result.epochLoss);
    run.epochs = first + result.epochLoss.length;
    if (result.stoppedEarly && !overBudget) {
      run.stopped = true;
      break;
    }
    if (!exp.evaluate) continue;
    o.onEvaluate?.(true);
    const e0 = performance.now();
    const { accuracy, loss } = await evaluateSession(session, data, exp.inference.batchSize);
    run.evalSeconds += (performance.now() - e0) / 1000;
    o.onEvaluate?.(false);
    const point = { epoch: run.epochs, accuracy, loss, trainSeconds: run.trainSeconds };
    points.push(point);
    o.onPoint?.(point);
    if (accuracy > best.accuracy) best = { accuracy, epoch: run.epochs };
    if (target && accuracy >= target.target) {
      run.timeToAccuracy = { seed, reached: true, seconds: run.trainSeconds, epochs: run.epochs, best };
      break;
    }
    if (overBudget) break;
  }
  if (exp.evaluate) run.curve = { seed, points };
  if (target && !run.timeToAccuracy)
    run.timeToAccuracy = {
      seed,
      reached: false,
      best,
      ended: overBudget ? 'within' : last < t.epochs ? 'stopAfter' : 'epochs',
    };
  return run;
}
