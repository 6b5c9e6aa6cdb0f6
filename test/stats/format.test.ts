import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatChange,
  formatP,
  formatSampleList,
  formatSeconds,
  toSignificant,
} from '../../src/stats/format.ts';

describe('toSignificant', () => {
  it.each([
    [0, 3, '0'],
    [4.214, 3, '4.21'],
    [9.9996, 3, '10.0'],
    [0.0012345, 2, '0.0012'],
    [-0.4066, 3, '-0.407'],
    [1e-7, 3, '0.000000100'],
    [1234.5, 3, '1235'],
  ])('%d to %d digits → %s', (v, d, s) => expect(toSignificant(v, d)).toBe(s));
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.50 KiB'],
    [101_082_316, '96.4 MiB'],
    [1.5 * 2 ** 30, '1.50 GiB'],
    [12 * 2 ** 30, '12.0 GiB'],
  ])('%d → %s', (b, s) => expect(formatBytes(b)).toBe(s));
});

describe('formatSeconds', () => {
  it.each([
    [0.00085, '850 µs'],
    [0.0123, '12.3 ms'],
    [0.4066, '407 ms'],
    [4.214, '4.21 s'],
    [59.9, '59.9 s'],
    [9.9996, '10.0 s'],
    [192, '3 min 12 s'],
    [7500, '2 h 05 min'],
  ])('%d → %s', (v, s) => expect(formatSeconds(v)).toBe(s));
});

describe('other formats', () => {
  it('change, p, sample lists', () => {
    expect(formatChange(1.1234)).toBe('+12.3%');
    expect(formatChange(0.9)).toBe('-10.0%');
    expect(formatP(0.0342)).toBe('p = 0.034');
    expect(formatP(0.0021)).toBe('p = 0.0021');
    expect(formatP(1e-7)).toBe('p < 0.0001');
    expect(formatSampleList([1, 2], String)).toBe('[1, 2]');
    expect(formatSampleList([5, 1, 3], String, 2)).toBe('[3 samples, 1 … 5]');
  });
});
