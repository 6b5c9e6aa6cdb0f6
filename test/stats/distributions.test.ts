import { describe, expect, it } from 'vitest';
import {
  erfc,
  logGamma,
  normalCdf,
  normalQuantile,
  normalSf,
  studentTCdf,
  studentTQuantile,
} from '../../src/stats/distributions.ts';

// Reference values from SciPy 1.17 (scipy.stats.norm / scipy.stats.t).
describe('normal distribution', () => {
  it.each([
    [0.1, 0.8875370839817152],
    [1, 0.15729920705028516],
    [2.9, 4.109787809945884e-5],
    [3.1, 1.1648657367199584e-5],
    [5, 1.5374597944280347e-12],
    [20, 5.395865611607901e-176],
  ])('erfc(%d) to 1e-10 relative', (x, expected) => {
    expect(Math.abs(erfc(x) - expected) / expected).toBeLessThan(1e-10);
    expect(erfc(-x)).toBeCloseTo(2 - expected, 14);
  });
  it('cdf and tails', () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 7);
    expect(normalCdf(0)).toBeCloseTo(0.5, 9);
    const rel = (a: number, b: number) => Math.abs(a - b) / b;
    expect(rel(normalSf(5), 2.866515718791933e-7)).toBeLessThan(1e-10);
    expect(rel(normalSf(8), 6.22096057427174e-16)).toBeLessThan(1e-10);
  });
  it('quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 6);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424308822899, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(() => normalQuantile(2)).toThrow(RangeError);
  });
});

describe("Student's t", () => {
  it.each([
    [1, 12.706204736174694],
    [2, 4.302652729749462],
    [4, 2.7764451051977934],
    [9, 2.262157162798205],
    [29, 2.045229642132703],
    [100, 1.9839715185235518],
  ])('t(0.975, df=%i)', (df, expected) => {
    expect(studentTQuantile(0.975, df)).toBeCloseTo(expected, 8);
    expect(studentTQuantile(0.025, df)).toBeCloseTo(-expected, 8);
  });
  it('cdf', () => {
    expect(studentTCdf(1.5, 3)).toBeCloseTo(0.8847080673775886, 10);
    expect(studentTCdf(-2.2, 7)).toBeCloseTo(0.03186550765131839, 10);
  });
  it('log gamma', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });
});
