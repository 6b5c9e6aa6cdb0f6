import { describe, expect, it } from 'vitest';
import { sig } from '../../src/reporters/format.ts';

describe('sig (table figures)', () => {
  it.each([
    [4.714, 3, '4.71'],
    [0.4012, 3, '0.401'],
    [9.996, 3, '10.0'],
    [49_984, 3, '49,984'],
    [1234.4, 2, '1,234'],
    [Number.NaN, 3, '—'],
    [Number.POSITIVE_INFINITY, 3, '—'],
  ])('%d to %d digits → %s', (v, d, s) => expect(sig(v, d)).toBe(s));
});
