import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/config/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initBound, initWeights, mulberry32, uniformStream } from '../../src/models/init.ts';
import {
  chwRowsToHwc,
  flattenPermutation,
  fromChannelsLast,
  hwcRowsToChw,
  hwioToOihw,
  nchwToNhwc,
  nhwcToNchw,
  oihwToHwio,
  toChannelsLast,
} from '../../src/models/layout.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { referenceForward } from '../../src/models/reference.ts';

const cfg = (arch: string, over: Partial<ModelConfig> = {}): ModelConfig => ({
  arch,
  width: 1,
  batchNorm: false,
  classifier: [256],
  dropout: 0,
  ...over,
});
const CIFAR = { channels: 3, height: 32, width: 32 };

/** Bitwise equality of two float arrays (vitest's deep equality is slow on millions of elements). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

function randomArray(n: number, seed: number): Float32Array {
  const u = uniformStream(seed);
  return Float32Array.from({ length: n }, () => 2 * u() - 1);
}

describe('initWeights', () => {
  const model = buildModelGraph(cfg('vgg-small', { batchNorm: true }), CIFAR, 10);

  it('is deterministic per seed and differs between seeds', () => {
    const a = initWeights(model, 42);
    const b = initWeights(model, 42);
    const c = initWeights(model, 43);
    for (const p of model.params) {
      expect(a[p.name]!.shape).toEqual(p.shape);
      expect(sameBits(a[p.name]!.data, b[p.name]!.data)).toBe(true);
    }
    expect(sameBits(a['conv1.weight']!.data, c['conv1.weight']!.data)).toBe(false);
  });

  it('draws He-uniform before ReLU, Glorot-uniform for the logits, constants elsewhere', () => {
    const w = initWeights(model, 7);
    for (const p of model.params) {
      const d = w[p.name]!.data;
      const bound = initBound(p);
      if (bound === null) {
        expect(d.every((v) => v === (p.init === 'ones' ? 1 : 0))).toBe(true);
        continue;
      }
      let max = 0;
      let sum = 0;
      let sq = 0;
      for (const v of d) {
        max = Math.max(max, Math.abs(v));
        sum += v;
        sq += v * v;
      }
      const mean = sum / d.length;
      const variance = sq / d.length - mean * mean;
      const expected = p.init === 'he' ? 2 / p.fanIn : 2 / (p.fanIn + p.fanOut);
      expect(max).toBeLessThanOrEqual(bound);
      // Uniform(-a, a) has variance a²/3; with ≥ 1,728 draws the sample variance is within 15 %.
      expect(Math.abs(variance / expected - 1)).toBeLessThan(0.15);
      expect(Math.abs(mean)).toBeLessThan(bound / 10);
    }
    expect(model.params.find((p) => p.name === 'fc2.weight')!.init).toBe('glorot');
  });

  it('uses the reference Mulberry32 stream (integer-only, identical on every platform)', () => {
    // The generator's defining recurrence, written out independently of the implementation.
    let state = 12345;
    const ref = () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    };
    const g = mulberry32(12345);
    for (let i = 0; i < 1000; i++) expect(g()).toBe(ref());
  });
});

describe('layout conversions', () => {
  it('round-trips conv weights and activations', () => {
    const oihw = [5, 3, 3, 2] as const;
    const w = randomArray(5 * 3 * 3 * 2, 1);
    const hwio = oihwToHwio(w, oihw);
    expect(hwio[((1 * 2 + 0) * 3 + 2) * 5 + 4]).toBe(w[((4 * 3 + 2) * 3 + 1) * 2 + 0]);
    expect(hwioToOihw(hwio, [3, 2, 3, 5])).toEqual(w);
    const x = randomArray(2 * 4 * 3 * 5, 2);
    const nhwc = nchwToNhwc(x, [2, 4, 3, 5]);
    expect(nhwc[((1 * 3 + 2) * 5 + 4) * 4 + 3]).toBe(x[((1 * 4 + 3) * 3 + 2) * 5 + 4]);
    expect(nhwcToNchw(nhwc, [2, 3, 5, 4])).toEqual(x);
    expect(() => oihwToHwio(w, [5, 3, 3, 3])).toThrow(/needs 135/);
  });

  it('permutes the first dense rows so NHWC flatten computes the same product', () => {
    const chw = [4, 3, 2] as const;
    const F = 24;
    const units = 5;
    const act = randomArray(F, 3);
    const W = randomArray(F * units, 4);
    const canonical = new Float64Array(units);
    for (let i = 0; i < F; i++) for (let u = 0; u < units; u++) canonical[u]! += act[i]! * W[i * units + u]!;
    const actNhwc = nchwToNhwc(act, [1, ...chw]);
    const Wp = chwRowsToHwc(W, chw, units);
    const permuted = new Float64Array(units);
    for (let i = 0; i < F; i++) for (let u = 0; u < units; u++) permuted[u]! += actNhwc[i]! * Wp[i * units + u]!;
    for (let u = 0; u < units; u++) expect(permuted[u]).toBeCloseTo(canonical[u]!, 12);
    expect(hwcRowsToChw(Wp, chw, units)).toEqual(W);
    expect(Array.from(flattenPermutation([2, 1, 2]))).toEqual([0, 2, 1, 3]);
  });

  it('converts a whole model to channels-last and back', () => {
    const model = buildModelGraph(cfg('vgg-small', { width: 0.125, batchNorm: true }), CIFAR, 10);
    const w = initWeights(model, 5);
    const cl = toChannelsLast(model, w);
    expect(cl['conv2.weight']!.shape).toEqual([3, 3, 8, 8]);
    expect(sameBits(cl['fc1.weight']!.data, w['fc1.weight']!.data)).toBe(false);
    expect(cl['fc2.weight']!.data).toBe(w['fc2.weight']!.data);
    const back = fromChannelsLast(model, cl);
    for (const p of model.params) expect(sameBits(back[p.name]!.data, w[p.name]!.data)).toBe(true);
  });
});

describe('compareLogits', () => {
  it('passes identical logits and reports max abs / rel', () => {
    const ref = Float32Array.from([1, -2, 4, 0.5]);
    const c = compareLogits(Float32Array.from([1, -2, 4.0001, 0.5]), ref, 1e-4, { numClasses: 2 });
    expect(c.passed).toBe(true);
    expect(c.worstIndex).toBe(2);
    expect(c.maxAbs).toBeCloseTo(1e-4, 6);
    expect(c.maxRel).toBeCloseTo(2.5e-5, 6);
  });

  it('fails NaN, length mismatch, and a corrupted weight with a readable message', () => {
    expect(compareLogits([1, Number.NaN], [1, 2], 1).passed).toBe(false);
    expect(formatParity(compareLogits([1, Number.NaN], [1, 2], 1))).toMatch(/1 non-finite value/);
    expect(compareLogits([1, 2], [1, 2, 3], 1).passed).toBe(false);

    const model = buildModelGraph(cfg('vgg-small', { width: 0.125 }), { channels: 3, height: 8, width: 8 }, 10);
    const w = initWeights(model, 1);
    const x = randomArray(2 * 3 * 8 * 8, 9);
    const ref = referenceForward(model, w, x, 2);
    const bad = { ...w, 'fc2.weight': { shape: w['fc2.weight']!.shape, data: w['fc2.weight']!.data.slice() } };
    bad['fc2.weight'].data[3] = bad['fc2.weight'].data[3]! + 0.5; // column 3 → class 3
    const got = referenceForward(model, bad, x, 2);
    const c = compareLogits(got, ref, 1e-4, { reference: 'reference/float64', actual: 'corrupted', numClasses: 10 });
    expect(c.passed).toBe(false);
    expect(c.worstIndex % 10).toBe(3);
    const msg = formatParity(c);
    console.log(msg);
    expect(msg).toMatch(
      /^logits of corrupted differ from reference\/float64: max rel error \S+ > tolerance 1\.000e-4 \(max abs \S+ at example \d, class 3 \(index \d+\)/,
    );
    expect(msg).toMatch(/Hint: /);
  });
});
