import { describe, expect, test } from 'vitest';
import { ExpbenchError } from '../../src/errors.ts';
import {
  BYTES_PATTERN,
  checkBytes,
  checkDuration,
  DURATION_PATTERN,
  parseBytes,
  parseDuration,
} from '../../src/config/units.ts';

describe('parseDuration', () => {
  test.each([
    ['500ms', 0.5],
    ['60s', 60],
    ['2m', 120],
    ['1.5h', 5400],
    ['1h30m', 5400],
    ['2m 30s', 150],
    ['1d', 86400],
    ['10 seconds', 10],
    ['3 minutes', 180],
    ['  45s  ', 45],
    [90, 90],
    [0.25, 0.25],
    [0, 0],
  ] as const)('%j is %d s', (input, seconds) => {
    expect(parseDuration(input)).toBeCloseTo(seconds, 12);
  });

  test('an unknown unit names the unit and lists the accepted ones', () => {
    expect(() => parseDuration('2.5 parsecs')).toThrow(ExpbenchError);
    expect(() => parseDuration('2.5 parsecs')).toThrow(
      /unknown time unit 'parsecs' in duration '2\.5 parsecs'.*hint: .*500ms, 90s, 2m/,
    );
  });

  test.each([
    ['90', /has no unit/],
    ['', /empty duration/],
    ['s', /cannot read duration/],
    ['-5s', /cannot read duration/],
    ['5S', /unknown time unit 'S'/],
    ['1e3s', /unknown time unit 'e'/],
  ])('%j is rejected: %s', (input, message) => {
    expect(() => parseDuration(input)).toThrow(message);
  });

  test('negative and non-finite numbers are rejected', () => {
    expect(() => parseDuration(-1)).toThrow(/not a finite number of seconds/);
    expect(() => parseDuration(Number.NaN)).toThrow(/not a finite number of seconds/);
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(/not a finite number of seconds/);
  });

  test('the error carries code CONFIG and a hint', () => {
    try {
      parseDuration('3 fortnights');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ExpbenchError);
      expect((e as ExpbenchError).code).toBe('CONFIG');
      expect((e as ExpbenchError).hint).toMatch(/1h30m/);
    }
  });
});

describe('parseBytes', () => {
  test.each([
    ['2.5GB', 2_500_000_000],
    ['512MiB', 536_870_912],
    ['1GiB', 1_073_741_824],
    ['800kB', 800_000],
    ['800KB', 800_000],
    ['4KiB', 4096],
    ['1.5 TB', 1.5e12],
    ['1 TiB', 1024 ** 4],
    ['100B', 100],
    ['100 bytes', 100],
    ['2gib', 2 * 1024 ** 3],
    [1024, 1024],
    [1.6, 2],
  ] as const)('%j is %d bytes', (input, bytes) => {
    expect(parseBytes(input)).toBe(bytes);
  });

  test('decimal and binary units differ as they should', () => {
    expect(parseBytes('1GiB') / parseBytes('1GB')).toBeCloseTo(1.073741824, 12);
  });

  test.each([
    ['2 gigs', /unknown size unit 'gigs'.*hint: .*512MiB, 2\.5GB/],
    ['2.5 parsecs', /unknown size unit 'parsecs'.*hint: .*512MiB, 2\.5GB/],
    ['512', /has no unit; hint: write '512B' for bytes, or the number 512 without quotes/],
    ['GB', /cannot read size.*hint: .*512MiB/],
    ['-1GB', /cannot read size.*hint: .*512MiB/],
    ['4Gb', /'4Gb': a small b after G means bits, not bytes; hint: write '4GB' .* or '4GiB'/],
    ['512Mib', /'512Mib': a small b after Mi means bits/],
  ])('%j is rejected: %s', (input, message) => {
    expect(() => parseBytes(input)).toThrow(message);
  });

  test('negative and non-finite numbers are rejected', () => {
    expect(() => parseBytes(-1)).toThrow(/not a finite number of bytes/);
    expect(() => parseBytes(Number.NaN)).toThrow(/not a finite number of bytes/);
  });
});

describe('the schema patterns agree with the parsers', () => {
  // The patterns are what editors check while typing; they must accept exactly what the loader does.
  const durations = [
    '500ms',
    '60s',
    '2m',
    '1h30m',
    '2m 30s',
    ' 45s ',
    '1.5h',
    '10 seconds',
    '90',
    '',
    's',
    '5S',
    '1e3s',
    '2.5 parsecs',
    '-5s',
    '1h 30',
  ];
  const sizes = [
    '2.5GB',
    '512MiB',
    '800kB',
    '4KiB',
    '1.5 TB',
    '100B',
    '100 bytes',
    '2gib',
    '4Gb',
    '512Mib',
    '2 gigs',
    '512',
    'GB',
    '-1GB',
    '5 KiBytes',
    '1.5.5GB',
  ];
  test.each(durations)('duration %j', (s) => {
    expect(new RegExp(DURATION_PATTERN).test(s)).toBe(checkDuration(s).ok);
  });
  test.each(sizes)('size %j', (s) => {
    expect(new RegExp(BYTES_PATTERN).test(s)).toBe(checkBytes(s).ok);
  });
});
