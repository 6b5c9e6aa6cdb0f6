import { describe, expect, it } from 'vitest';
import type { DatasetConfig } from '../../src/config/types.ts';
import { DataError } from '../../src/errors.ts';
import { computeNormalization, loadDataset } from '../../src/data/index.ts';
import type { Split } from '../../src/data/types.ts';

type Synthetic = Extract<DatasetConfig, { kind: 'synthetic' }>;
const base: Synthetic = {
  kind: 'synthetic',
  train: 512,
  test: 256,
  imageSize: 16,
  channels: 3,
  classes: 10,
  seed: 1,
  noise: 20,
};
const load = (over: Partial<Synthetic> = {}) => loadDataset({ ...base, ...over }, { baseDir: process.cwd() });

/** Nearest-centroid accuracy on the raw pixels: a linear-ish learnability probe. */
function nearestCentroid(train: Split, test: Split, K: number, per: number): number {
  const cent = new Float64Array(K * per);
  const cnt = new Float64Array(K);
  for (let i = 0; i < train.n; i++) {
    const k = train.labels[i]!;
    cnt[k]!++;
    for (let j = 0; j < per; j++) cent[k * per + j]! += train.images[i * per + j]!;
  }
  for (let k = 0; k < K; k++) for (let j = 0; j < per; j++) cent[k * per + j]! /= cnt[k]!;
  let ok = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let j = 0; j < per; j++) {
        const t = test.images[i * per + j]! - cent[k * per + j]!;
        d += t * t;
      }
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    if (best === test.labels[i]) ok++;
  }
  return ok / test.n;
}

describe('synthetic dataset', () => {
  it('has the asked shape, uint8 HWC, balanced labels', async () => {
    const ds = await load();
    expect(ds.kind).toBe('synthetic');
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([16, 16, 3, 10]);
    expect(ds.train.n).toBe(512);
    expect(ds.train.images.length).toBe(512 * 16 * 16 * 3);
    expect(ds.test.images.length).toBe(256 * 16 * 16 * 3);
    expect(ds.bytes).toBe(512 * 768 + 512 + 256 * 768 + 256);
    const counts = new Array(10).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // Not sorted by class.
    expect(Array.from(ds.train.labels.slice(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ds.classNames).toHaveLength(10);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await load();
    const b = await load();
    const c = await load({ seed: 2 });
    expect(Buffer.compare(Buffer.from(a.train.images), Buffer.from(b.train.images))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.train.labels), Buffer.from(b.train.labels))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.train.images), Buffer.from(c.train.images))).not.toBe(0);
    // Test examples are new draws, not copies of train ones.
    expect(
      Buffer.compare(Buffer.from(a.train.images.subarray(0, 768)), Buffer.from(a.test.images.subarray(0, 768))),
    ).not.toBe(0);
  });

  it('is learnable far above chance at low noise, and harder (not trivially perfect) at high noise', async () => {
    const accs: Record<number, number[]> = { 20: [], 128: [] };
    for (const seed of [1, 2, 3]) {
      for (const noise of [20, 128]) {
        const ds = await load({ seed, noise });
        accs[noise]!.push(nearestCentroid(ds.train, ds.test, 10, 768));
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    // Chance is 0.1. Measured: ≈0.70 at noise 20, ≈0.48 at noise 128 (3 seeds).
    expect(mean(accs[20]!)).toBeGreaterThan(0.55);
    expect(mean(accs[128]!)).toBeGreaterThan(0.3);
    expect(mean(accs[128]!)).toBeLessThan(0.75);
    expect(mean(accs[128]!)).toBeLessThan(mean(accs[20]!) - 0.1);
  });

  it('supports other sizes, channel counts and class counts', async () => {
    const g = await load({ imageSize: 8, channels: 1, classes: 2, train: 64, test: 32 });
    expect([g.height, g.width, g.channels, g.numClasses]).toEqual([8, 8, 1, 2]);
    expect(g.train.images.length).toBe(64 * 64);
    expect(g.normalization.mean).toHaveLength(1);
    expect(nearestCentroid(g.train, g.test, 2, 64)).toBeGreaterThan(0.6);
    const many = await load({ imageSize: 32, channels: 4, classes: 37, train: 74, test: 37 });
    expect(new Set(many.train.labels).size).toBe(37);
    expect(many.train.images.length).toBe(74 * 32 * 32 * 4);
  });

  it('rejects impossible configs with a DataError', async () => {
    await expect(load({ classes: 1 })).rejects.toThrow(DataError);
    await expect(load({ classes: 300 })).rejects.toThrow(/classes/);
    await expect(load({ noise: -1 })).rejects.toThrow(/noise/);
    await expect(load({ imageSize: 0 })).rejects.toThrow(/imageSize/);
  });
});

describe('normalisation', () => {
  it('is the per-channel mean and population std of the train pixels on the 0–1 scale', async () => {
    const ds = await load({ train: 100, test: 10 });
    for (let c = 0; c < 3; c++) {
      const vals: number[] = [];
      for (let i = c; i < ds.train.images.length; i += 3) vals.push(ds.train.images[i]! / 255);
      const m = vals.reduce((s, v) => s + v, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((s, v) => s + (v - m) ** 2, 0) / vals.length);
      expect(ds.normalization.mean[c]).toBeCloseTo(m, 10);
      expect(ds.normalization.std[c]).toBeCloseTo(sd, 10);
    }
    expect(ds.normalization.source).toBe('computed-from-train');
  });

  it('matches hand-computed figures on a tiny split', () => {
    // Two pixels, two channels: channel 0 = {0, 255} → mean 0.5, std 0.5; channel 1 = {51, 51} → std 0 → 1.
    const n = computeNormalization(
      { n: 1, images: Uint8Array.from([0, 51, 255, 51]), labels: Uint8Array.from([0]) },
      2,
    );
    expect(n.mean[0]).toBeCloseTo(0.5, 12);
    expect(n.std[0]).toBeCloseTo(0.5, 12);
    expect(n.mean[1]).toBeCloseTo(0.2, 12);
    expect(n.std[1]).toBe(1);
  });

  it('uses given figures when the config has them, and checks them', async () => {
    const ds = await loadDataset(
      { ...base, train: 10, test: 10, normalization: { mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5] } },
      { baseDir: '.' },
    );
    expect(ds.normalization).toEqual({ mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5], source: 'given' });
    await expect(
      loadDataset({ ...base, train: 10, test: 10, normalization: { mean: [0.1], std: [0.5] } }, { baseDir: '.' }),
    ).rejects.toThrow(/3 finite means/);
  });

  it('refuses an empty train split when it has to compute the figures', async () => {
    await expect(load({ train: 0 })).rejects.toThrow(/train split is empty/);
  });
});
