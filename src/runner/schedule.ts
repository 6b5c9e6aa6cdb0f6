/**
 * Learning-rate schedules, computed by the runner for every step and handed to every backend the same
 * way (`TrainRequest.lr`), so all backends train at identical rates. Pure functions of the step.
 *
 * Time is counted in steps; `t = epoch + step / stepsPerEpoch` is the fractional epoch at the start of
 * a step, `T` the configured epochs (training that stops early at a target keeps the configured
 * horizon, as DAWNBench recipes do). With `lr` the optimizer's rate:
 *
 * - `constant`: `lr`;
 * - `step`: `lr · gamma^⌊epoch / every⌋` (PyTorch's StepLR stepped per epoch);
 * - `multistep`: `lr · gamma^(milestones ≤ epoch)` (MultiStepLR stepped per epoch);
 * - `cosine`: `minLr + (lr − minLr) · (1 + cos(π t / T)) / 2`, per step (CosineAnnealingLR over T);
 * - `one-cycle`: PyTorch's OneCycleLR with cosine annealing, per step: from `lr / divFactor` up to `lr`
 *   over the first `pctStart` of the steps, then down to `lr / (divFactor · finalDivFactor)`. (The
 *   rate only: momentum is not cycled.)
 *
 * A linear warm-up (`warmup` epochs, any kind but one-cycle, which has its own) multiplies the rate by
 * `(i + 1) / W` for global step `i < W`, `W = round(warmup · stepsPerEpoch)`.
 */
import type { ScheduleConfig } from '../vocab/schedule.ts';

export type { ScheduleConfig };

/** What a schedule is evaluated over. */
export interface ScheduleSpan {
  /** The optimizer's rate (the peak of one-cycle). */
  lr: number;
  epochs: number;
  stepsPerEpoch: number;
}

function cosineBetween(from: number, to: number, pct: number): number {
  return to + ((from - to) * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, pct))))) / 2;
}

/** The rate of step `step` (0-based, within the epoch) of epoch `epoch` (0-based). */
export function learningRate(s: ScheduleConfig, span: ScheduleSpan, epoch: number, step: number): number {
  const { lr, epochs, stepsPerEpoch } = span;
  const i = epoch * stepsPerEpoch + step;
  if (s.kind === 'one-cycle') {
    const total = epochs * stepsPerEpoch;
    const initial = lr / s.divFactor;
    const final = initial / s.finalDivFactor;
    const peakAt = s.pctStart * total - 1;
    if (i <= peakAt) return cosineBetween(initial, lr, peakAt > 0 ? i / peakAt : 1);
    const rest = total - 1 - peakAt;
    return cosineBetween(lr, final, rest > 0 ? (i - peakAt) / rest : 1);
  }
  let rate: number;
  switch (s.kind) {
    case 'constant':
      rate = lr;
      break;
    case 'step':
      rate = lr * s.gamma ** Math.floor(epoch / s.every);
      break;
    case 'multistep':
      rate = lr * s.gamma ** s.milestones.filter((m) => m <= epoch).length;
      break;
    case 'cosine':
      rate = cosineBetween(lr, s.minLr, (epoch + step / stepsPerEpoch) / epochs);
      break;
  }
  const warm = Math.round(s.warmup * stepsPerEpoch);
  return i < warm ? (rate * (i + 1)) / warm : rate;
}

/** The schedule as the `TrainRequest.lr` callback, `epochOffset` added to the epochs a backend counts. */
export function rateFunction(
  s: ScheduleConfig,
  span: ScheduleSpan,
  epochOffset = 0,
): (epoch: number, step: number) => number {
  return (epoch, step) => learningRate(s, span, epoch + epochOffset, step);
}

/** A short description for reports. */
export function describeSchedule(s: ScheduleConfig): string {
  const warm = 'warmup' in s && s.warmup > 0 ? `, linear warm-up ${s.warmup} epoch(s)` : '';
  switch (s.kind) {
    case 'constant':
      return `constant${warm}`;
    case 'step':
      return `step ×${s.gamma} every ${s.every} epoch(s)${warm}`;
    case 'multistep':
      return `multistep ×${s.gamma} at epochs ${s.milestones.join(', ')}${warm}`;
    case 'cosine':
      return `cosine to ${s.minLr}${warm}`;
    case 'one-cycle':
      return `one-cycle (peak at ${s.pctStart * 100} %, ÷${s.divFactor} start, ÷${s.finalDivFactor} end)`;
  }
}
