import { describe, expect, it } from 'vitest';
import { epochOrder, mixSeed, mulberry32 } from '../../src/data/index.ts';
import { gaussian, normalQuantile, normalTable16 } from '../../src/data/prng.ts';

function isPermutation(order: Uint32Array, n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const v of order) {
    if (v >= n || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

describe('mulberry32', () => {
  it('reproduces the reference outputs of the published algorithm', () => {
    // First outputs for seed 1 of the widely circulated reference implementation
    // (`a += 0x6D2B79F5; t = imul(a ^ a >>> 15, a | 1); ...`).
    const r = mulberry32(1);
    expect(r()).toBeCloseTo(0.6270739405881613, 15);
    expect(r()).toBeCloseTo(0.002735721180215478, 15);
    expect(r()).toBeCloseTo(0.5274470399599522, 15);
  });

  it('stays in [0, 1) and looks uniform', () => {
    const r = mulberry32(42);
    const bins = new Array(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = r();
      if (!(v >= 0 && v < 1)) outside++;
      else bins[Math.floor(v * 10)]++;
    }
    expect(outside).toBe(0);
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });

  it('gaussian() has mean ≈ 0 and sd ≈ 1', () => {
    const g = gaussian(mulberry32(7));
    let s = 0;
    let s2 = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = g();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(s2 / n) - 1)).toBeLessThan(0.03);
  });
});

describe('normal quantiles', () => {
  it('normalQuantile matches known values', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 7);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.959963985, 7);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306, 7);
    expect(normalQuantile(0.8413447461)).toBeCloseTo(1, 7);
  });

  it('the 16-bit table is a symmetric standard normal (mean 0, sd ≈ 1)', () => {
    const t = normalTable16();
    let s = 0;
    let s2 = 0;
    for (const v of t) {
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / t.length)).toBeLessThan(1e-6);
    expect(Math.abs(Math.sqrt(s2 / t.length) - 1)).toBeLessThan(0.001);
    expect(t[0]).toBeCloseTo(-t[65535]!, 5);
  });
});

describe('epochOrder', () => {
  it('is a permutation of 0..n-1', () => {
    for (const n of [0, 1, 2, 3, 64, 1000, 49_984]) expect(isPermutation(epochOrder(1, 0, n), n)).toBe(true);
  });

  it('is deterministic for (seed, epoch, n)', () => {
    expect(Array.from(epochOrder(5, 3, 500))).toEqual(Array.from(epochOrder(5, 3, 500)));
  });

  it('differs per epoch and per seed', () => {
    const a = epochOrder(1, 0, 1000);
    const b = epochOrder(1, 1, 1000);
    const c = epochOrder(2, 0, 1000);
    const same = (x: Uint32Array, y: Uint32Array) => x.reduce((s, v, i) => s + (v === y[i] ? 1 : 0), 0);
    // Two random permutations of 1000 agree in ~1 position on average.
    expect(same(a, b)).toBeLessThan(20);
    expect(same(a, c)).toBeLessThan(20);
    // And each really shuffles: not the identity.
    expect(
      same(
        a,
        Uint32Array.from({ length: 1000 }, (_, i) => i),
      ),
    ).toBeLessThan(20);
  });

  it('puts every element in every position about equally often (no Fisher–Yates bias)', () => {
    const n = 4;
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 8000;
    for (let e = 0; e < epochs; e++) {
      const o = epochOrder(11, e, n);
      o.forEach((v, pos) => {
        counts[v]![pos]++;
      });
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan((epochs / n) * 0.08);
  });

  it('pins the order for seed 1, epoch 0, n 10 so a change of algorithm is noticed', () => {
    expect(Array.from(epochOrder(1, 0, 10))).toMatchInlineSnapshot(`
      [
        9,
        5,
        8,
        4,
        6,
        2,
        0,
        1,
        3,
        7,
      ]
    `);
  });

  it('rejects impossible sizes', () => {
    expect(() => epochOrder(1, 0, -1)).toThrow(RangeError);
    expect(() => epochOrder(1, 0, 2.5)).toThrow(RangeError);
    expect(() => epochOrder(1, -1, 5)).toThrow(RangeError);
  });

  it('mixSeed separates neighbouring seeds and parts', () => {
    const s = new Set<number>();
    for (let a = 0; a < 50; a++) for (let b = 0; b < 50; b++) s.add(mixSeed(a, b));
    expect(s.size).toBe(2500);
  });
});
