/**
 * The learning-rate schedules as pure functions of the step: each kind's defining values (start, peak,
 * milestones, end), and the linear warm-up on top of any of them.
 */
import { describe, expect, it } from 'vitest';
import { learningRate, type ScheduleConfig } from '../../src/runner/schedule.ts';

const span = { lr: 0.4, epochs: 10, stepsPerEpoch: 5 };
const all = (s: ScheduleConfig): number[] =>
  Array.from({ length: span.epochs * span.stepsPerEpoch }, (_, i) =>
    learningRate(s, span, Math.floor(i / span.stepsPerEpoch), i % span.stepsPerEpoch),
  );

describe('learning-rate schedules', () => {
  it('constant', () => {
    expect(new Set(all({ kind: 'constant', warmup: 0 }))).toEqual(new Set([0.4]));
  });

  it('step: ×gamma every `every` epochs, constant within an epoch', () => {
    const r = all({ kind: 'step', every: 3, gamma: 0.5, warmup: 0 });
    expect(r[0]).toBe(0.4);
    expect(r[3 * 5 - 1]).toBe(0.4);
    expect(r[3 * 5]).toBeCloseTo(0.2, 12);
    expect(r[9 * 5 + 4]).toBeCloseTo(0.05, 12);
  });

  it('multistep: ×gamma at each milestone epoch', () => {
    const r = all({ kind: 'multistep', milestones: [2, 7], gamma: 0.1, warmup: 0 });
    expect(r[2 * 5 - 1]).toBe(0.4);
    expect(r[2 * 5]).toBeCloseTo(0.04, 12);
    expect(r[7 * 5 - 1]).toBeCloseTo(0.04, 12);
    expect(r[7 * 5]).toBeCloseTo(0.004, 12);
  });

  it('cosine: from lr, half way at the middle, towards minLr, per step and decreasing', () => {
    const r = all({ kind: 'cosine', minLr: 0.01, warmup: 0 });
    expect(r[0]).toBe(0.4);
    expect(r[25]).toBeCloseTo((0.4 + 0.01) / 2, 12);
    expect(r.at(-1)!).toBeCloseTo(0.01 + (0.39 * (1 + Math.cos((Math.PI * 49) / 50))) / 2, 12);
    for (let i = 1; i < r.length; i++) expect(r[i]).toBeLessThan(r[i - 1]!);
  });

  it('linear warm-up multiplies any schedule by (i + 1) / W over the first W steps', () => {
    const warm = all({ kind: 'cosine', minLr: 0, warmup: 2 });
    const cold = all({ kind: 'cosine', minLr: 0, warmup: 0 });
    for (let i = 0; i < 10; i++) expect(warm[i]).toBeCloseTo((cold[i]! * (i + 1)) / 10, 12);
    expect(warm.slice(10)).toEqual(cold.slice(10));
    expect(all({ kind: 'multistep', milestones: [1], gamma: 0.1, warmup: 0.4 }).slice(0, 3)).toEqual([0.2, 0.4, 0.4]);
  });

  it("one-cycle: PyTorch's OneCycleLR (cosine), lr/div → lr at pctStart → lr/(div·finalDiv)", () => {
    const s: ScheduleConfig = { kind: 'one-cycle', pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 };
    const r = all(s);
    expect(r[0]).toBeCloseTo(0.4 / 25, 12);
    const peak = 0.3 * 50 - 1;
    expect(r[peak]).toBeCloseTo(0.4, 12);
    expect(Math.max(...r)).toBeCloseTo(0.4, 12);
    expect(r.at(-1)!).toBeCloseTo(0.4 / 25 / 1e4, 12);
    // Half way up and half way down are the means of their ends.
    expect(learningRate(s, { ...span, stepsPerEpoch: 5 }, 1, 2)).toBeCloseTo((0.4 / 25 + 0.4) / 2, 12);
    for (let i = 1; i <= peak; i++) expect(r[i]).toBeGreaterThan(r[i - 1]!);
    for (let i = peak + 1; i < r.length; i++) expect(r[i]).toBeLessThan(r[i - 1]!);
  });
});
