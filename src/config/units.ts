/**
 * Durations and byte sizes as people write them in experiment files: `'90s'`, `'2m'`, `'1h30m'`,
 * `'500ms'`, `'2.5GB'`, `'512MiB'`, or plain numbers (seconds, bytes).
 *
 * The parsers come in two forms: `parseDuration` / `parseBytes` throw an {@link ExpbenchError}
 * (code `CONFIG`) and are what callers outside the loader use; `checkDuration` / `checkBytes` return
 * the problem as data so the loader can place it at the value's line and column.
 */
import { ExpbenchError } from '../errors.ts';

/** Seconds per duration unit. Long forms are accepted because people type them. */
const DURATION_UNITS: Record<string, number> = {
  ms: 1e-3,
  msec: 1e-3,
  millisecond: 1e-3,
  milliseconds: 1e-3,
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
};

/**
 * Bytes per size unit, keyed in lower case: decimal (kB = 1000) and binary (KiB = 1024) are both
 * accepted because memory figures are quoted both ways and mixing them up is a 7 % error at GB scale.
 */
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  byte: 1,
  bytes: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * The same grammars as JSON Schema patterns, used by `schema/experiment.schema.json` so editors flag
 * a bad unit while typing. A test keeps them in step with the parsers.
 */
export const DURATION_PATTERN = `^\\s*(\\d+(\\.\\d+)?\\s*(${Object.keys(DURATION_UNITS)
  .sort((a, b) => b.length - a.length)
  .join('|')})\\s*)+$`;
export const BYTES_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([kmgt][iI]?[bB]|[KMGT][iI]?B|[bB]|[bB][yY][tT][eE][sS]?)\\s*$';

/** The outcome of checking one value: the number, or what is wrong and how to fix it. */
export type UnitCheck = { ok: true; value: number } | { ok: false; message: string; hint: string };

const DURATION_HINT = 'write a number of seconds or a number with a unit: 500ms, 90s, 2m, 1h30m, 1d';
const BYTES_HINT =
  'write a number of bytes or a number with a unit: 512MiB, 2.5GB, 800kB (kB/MB/GB = 1000ⁿ, KiB/MiB/GiB = 1024ⁿ)';

/** Checks a duration (number of seconds or unit string) and returns seconds. */
export function checkDuration(input: unknown): UnitCheck {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0)
      return { ok: false, message: `duration ${input} is not a finite number of seconds ≥ 0`, hint: DURATION_HINT };
    return { ok: true, value: input };
  }
  if (typeof input !== 'string')
    return {
      ok: false,
      message: `a duration must be a number of seconds or a string such as '90s', got ${describe(input)}`,
      hint: DURATION_HINT,
    };
  const text = input.trim();
  if (text === '') return { ok: false, message: 'empty duration', hint: DURATION_HINT };
  if (/^\d+(\.\d+)?$/.test(text)) {
    return {
      ok: false,
      message: `duration '${input}' has no unit`,
      hint: `write '${text}s' for seconds, or the number ${text} without quotes`,
    };
  }
  // One or more `<number><unit>` parts: '1h30m', '2m 30s'.
  const part = /(\d+(?:\.\d+)?)\s*([a-zA-Zµ]+)\s*/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m)
      return { ok: false, message: `cannot read duration '${input}' (at '${text.slice(pos)}')`, hint: DURATION_HINT };
    const unit = m[2] ?? '';
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) {
      return { ok: false, message: `unknown time unit '${unit}' in duration '${input}'`, hint: DURATION_HINT };
    }
    total += Number(m[1]) * scale;
    pos = part.lastIndex;
  }
  return { ok: true, value: total };
}

/** Checks a byte size (number of bytes or unit string) and returns whole bytes. */
export function checkBytes(input: unknown): UnitCheck {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0)
      return { ok: false, message: `size ${input} is not a finite number of bytes ≥ 0`, hint: BYTES_HINT };
    return { ok: true, value: Math.round(input) };
  }
  if (typeof input !== 'string')
    return {
      ok: false,
      message: `a size must be a number of bytes or a string such as '2.5GB', got ${describe(input)}`,
      hint: BYTES_HINT,
    };
  const text = input.trim();
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Zµ]*)$/.exec(text);
  if (!m) {
    return { ok: false, message: `cannot read size '${input}'`, hint: BYTES_HINT };
  }
  const unit = m[2] ?? '';
  if (unit === '')
    return {
      ok: false,
      message: `size '${input}' has no unit`,
      hint: `write '${text}B' for bytes, or the number ${text} without quotes`,
    };
  // `Gb`, `Mb`: a capital multiplier and a small b reads as bits; a budget 8 times off is worse than an error.
  if (/^[KMGT]i?b$/.test(unit))
    return {
      ok: false,
      message: `'${input}': a small b after ${unit.slice(0, -1)} means bits, not bytes`,
      hint: `write '${m[1]}${unit.slice(0, -1)}B' (bytes, powers of 1000) or '${m[1]}${unit[0]}iB' (powers of 1024)`,
    };
  const scale = BYTE_UNITS[unit.toLowerCase()];
  if (scale === undefined) return { ok: false, message: `unknown size unit '${unit}' in '${input}'`, hint: BYTES_HINT };
  return { ok: true, value: Math.round(Number(m[1]) * scale) };
}

/**
 * Parses a duration and returns seconds: `parseDuration('2m') === 120`, `parseDuration(1.5) === 1.5`.
 * @throws ExpbenchError code `CONFIG` with a hint listing the accepted units.
 */
export function parseDuration(input: string | number): number {
  const r = checkDuration(input);
  if (!r.ok) throw new ExpbenchError('CONFIG', `${r.message}; hint: ${r.hint}`, { hint: r.hint });
  return r.value;
}

/**
 * Parses a byte size and returns bytes: `parseBytes('2.5GB') === 2_500_000_000`,
 * `parseBytes('512MiB') === 536_870_912`, `parseBytes(1024) === 1024`.
 * @throws ExpbenchError code `CONFIG` with a hint listing the accepted units.
 */
export function parseBytes(input: string | number): number {
  const r = checkBytes(input);
  if (!r.ok) throw new ExpbenchError('CONFIG', `${r.message}; hint: ${r.hint}`, { hint: r.hint });
  return r.value;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
