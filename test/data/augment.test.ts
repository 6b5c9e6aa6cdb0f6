/**
 * Augmentation: the plan is a pure function of (seed, epoch, position); fillBatch's crop and flip equal
 * a direct pad → crop → mirror of the uint8 image; and the NCHW batch (onnxruntime) and the NHWC batch
 * (tfjs) of one plan are the same floats bit for bit, so every backend trains on identical images.
 */
import { describe, expect, it } from 'vitest';
import { type AugmentConfig, augmentPlan } from '../../src/data/augment.ts';
import { fillBatch } from '../../src/data/batch.ts';
import { mulberry32 } from '../../src/data/prng.ts';
import type { Normalization, Split } from '../../src/data/types.ts';

const [C, H, W, n] = [3, 6, 5, 12];
const rand = mulberry32(5);
const split: Split = {
  n,
  images: Uint8Array.from({ length: n * H * W * C }, () => 1 + Math.floor(rand() * 255)),
  labels: Uint8Array.from({ length: n }, (_, i) => i % 4),
};
const norm: Normalization = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3], source: 'given' };
const geo = { channels: C, height: H, width: W };
const cfg: AugmentConfig = { crop: { size: W, padding: 2 }, flip: true };
const order = Uint32Array.from({ length: n }, (_, i) => (i * 5) % n);

/** The augmented uint8 HWC image of the example at `position`, by padding, cropping and mirroring directly. */
function direct(position: number, dx: number, dy: number, flip: boolean, pad: number): Uint8Array {
  const src = order[position]! * H * W * C;
  const PW = W + 2 * pad;
  const padded = new Uint8Array((H + 2 * pad) * PW * C);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < C; c++) padded[((y + pad) * PW + x + pad) * C + c] = split.images[src + (y * W + x) * C + c]!;
  const out = new Uint8Array(H * W * C);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const cx = flip ? W - 1 - x : x;
      for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = padded[((y + dy) * PW + cx + dx) * C + c]!;
    }
  return out;
}

describe('augmentation', () => {
  it('draws the same plan for the same seed and epoch, another for another epoch or seed', () => {
    const a = augmentPlan(cfg, 7, 2, n);
    expect(augmentPlan(cfg, 7, 2, n)).toEqual(a);
    expect(augmentPlan(cfg, 7, 3, n)).not.toEqual(a);
    expect(augmentPlan(cfg, 8, 2, n)).not.toEqual(a);
    expect(Math.max(...a.dx, ...a.dy)).toBeLessThanOrEqual(4);
    expect(new Set(a.flip).size).toBe(2);
    const none = augmentPlan({ flip: false }, 7, 2, n);
    expect([...none.dx, ...none.dy, ...none.flip].every((v) => v === 0)).toBe(true);
  });

  it('crops and mirrors as padding, cropping and mirroring the image directly does', () => {
    const plan = augmentPlan(cfg, 11, 0, n);
    const out = new Float32Array(n * C * H * W);
    const labels = new Int32Array(n);
    fillBatch(split, geo, norm, order, 0, n, 'NHWC', out, labels, plan);
    const plain = new Float32Array(n * C * H * W);
    let moved = 0;
    for (let p = 0; p < n; p++) {
      const img = direct(p, plan.dx[p]!, plan.dy[p]!, plan.flip[p] === 1, plan.padding);
      const one: Split = { n: 1, images: img, labels: Uint8Array.of(split.labels[order[p]!]!) };
      fillBatch(one, geo, norm, [0], 0, 1, 'NHWC', plain.subarray(p * C * H * W));
      expect(labels[p]).toBe(split.labels[order[p]!]);
      if (plan.dx[p] !== 2 || plan.dy[p] !== 2 || plan.flip[p]) moved++;
    }
    expect(moved).toBeGreaterThan(n / 2);
    expect(Array.from(out)).toEqual(Array.from(plain));
  });

  it('gives bit-identical NCHW and NHWC batches for one plan (what onnxruntime and tfjs are fed)', () => {
    const plan = augmentPlan(cfg, 3, 1, n);
    const nchw = new Float32Array(4 * C * H * W);
    const nhwc = new Float32Array(4 * C * H * W);
    fillBatch(split, geo, norm, order, 8, 4, 'NCHW', nchw, undefined, plan);
    fillBatch(split, geo, norm, order, 8, 4, 'NHWC', nhwc, undefined, plan);
    const asHwc = new Float32Array(nchw.length);
    for (let b = 0; b < 4; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) asHwc[b * C * H * W + p * C + c] = nchw[b * C * H * W + c * H * W + p]!;
    expect(Buffer.from(asHwc.buffer).equals(Buffer.from(nhwc.buffer))).toBe(true);
  });

  it('without crop or flip leaves the batch as fillBatch makes it unaugmented', () => {
    const plan = augmentPlan({ flip: false }, 3, 1, n);
    const a = new Float32Array(n * C * H * W);
    const b = new Float32Array(n * C * H * W);
    fillBatch(split, geo, norm, order, 0, n, 'NCHW', a, undefined, plan);
    fillBatch(split, geo, norm, order, 0, n, 'NCHW', b);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });
});
