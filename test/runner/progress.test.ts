import { describe, expect, it } from 'vitest';
import { createProgress, formatEta, formatProgress, progressEnabled } from '../../src/runner/progress.ts';

const info = {
  label: 'table2 › tfjs/cpu',
  epoch: 2,
  epochs: 10,
  step: 411,
  stepsPerEpoch: 781,
  loss: 1.23456,
  imagesPerSecond: 1234.4,
  elapsedSeconds: 120,
};

describe('formatProgress', () => {
  it('shows epoch, step, loss, throughput and ETA', () => {
    // done = 2·781 + 412 = 1974 of 7810 steps in 120 s → (120 / 1974) · 5836 ≈ 355 s left.
    expect(formatProgress(info)).toBe(
      'table2 › tfjs/cpu  epoch 3/10  step 412/781  loss 1.2346  1,234 img/s  ETA 5 min 55 s',
    );
  });
  it('shows the latest evaluation during training', () => {
    expect(formatProgress({ ...info, evaluated: { epoch: 2, accuracy: 0.61349, loss: 1.1 } })).toBe(
      'table2 › tfjs/cpu  epoch 3/10  step 412/781  loss 1.2346  1,234 img/s  test 61.3% after epoch 2  ETA 5 min 55 s',
    );
  });
  it('omits what is unknown and ends with the total time', () => {
    expect(formatProgress({ epoch: 0, epochs: 1, step: 9, stepsPerEpoch: 10, elapsedSeconds: 3725 })).toBe(
      'epoch 1/1  step 10/10  done in 1 h 02 min',
    );
    expect(
      formatProgress({ epoch: 0, epochs: 1, step: 0, stepsPerEpoch: 10, loss: Number.NaN, elapsedSeconds: 1 }),
    ).toBe('epoch 1/1  step 1/10  loss NaN  ETA 9 s');
  });
  it('formatEta', () => {
    expect(formatEta(42.4)).toBe('42 s');
    expect(formatEta(252)).toBe('4 min 12 s');
  });
});

describe('progressEnabled', () => {
  it('EXPBENCH_PROGRESS decides; otherwise a terminal outside CI', () => {
    expect(progressEnabled({ EXPBENCH_PROGRESS: '1', CI: 'true' }, false)).toBe(true);
    expect(progressEnabled({ EXPBENCH_PROGRESS: '0' }, true)).toBe(false);
    expect(progressEnabled({ CI: 'true' }, true)).toBe(false);
    expect(progressEnabled({ CI: 'false' }, true)).toBe(true);
    expect(progressEnabled({}, true)).toBe(true);
    expect(progressEnabled({}, false)).toBe(false);
  });
});

describe('createProgress', () => {
  it('throttles, then prints the last state on done (log mode: whole lines)', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({
      stream: { write: (s: string) => out.push(s), isTTY: false },
      enabled: true,
      intervalMs: 1000,
      now: () => t,
    });
    for (let step = 0; step < 30; step++) {
      t = step * 100; // a step every 100 ms
      p.update({ ...info, step, elapsedSeconds: t / 1000 });
    }
    p.done();
    // Lines at t = 0, 1000, 2000 and the final state at done.
    expect(out).toHaveLength(4);
    expect(out.every((l) => l.endsWith('\n'))).toBe(true);
    expect(out[3]).toMatch(/step 30\/781/);
  });
  it('redraws in place on a terminal and ends the line once', () => {
    const out: string[] = [];
    const p = createProgress({
      stream: { write: (s: string) => out.push(s), isTTY: true },
      enabled: true,
      intervalMs: 0,
      now: () => 0,
    });
    p.update(info);
    p.done();
    expect(out).toEqual([`\r${formatProgress(info)}\x1b[K`, '\n']);
  });
  it('prints nothing when disabled', () => {
    const out: string[] = [];
    const p = createProgress({ stream: { write: (s: string) => out.push(s) }, enabled: false });
    p.update(info);
    p.done();
    expect(out).toEqual([]);
  });
});
