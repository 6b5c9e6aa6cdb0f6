/**
 * Number formats of the reports. Times stay in seconds with three significant digits (not the
 * ms / µs of `formatSeconds`), so a table row compares like with like and with the study's seconds;
 * bytes use the project-wide binary format (`formatBytes`: MiB / GiB).
 */
import { formatBytes, toSignificant } from '../stats/format.ts';

/**
 * `x` with `digits` significant digits (`toSignificant`), as tables show it: `—` when not finite, and
 * whole numbers from `10^digits` up with thousands separators (`49,984`).
 */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  return toSignificant(x, digits);
}

/** Seconds: `4.71 s`, `0.401 s`, `89.4 s`. */
export function seconds(x: number): string {
  return `${sig(x)} s`;
}

/** Bytes in binary units: `3.69 GiB`, `512 MiB`. */
export const bytes: (n: number) => string = formatBytes;

/** A ratio: `0.401×`. */
export function times(r: number | undefined): string {
  return r === undefined ? '—' : `${sig(r)}×`;
}

/** A fraction as a percentage with one decimal: `71.3 %`. */
export function percent(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '—';
}

/** Integers with thousands separators: `49,984`. */
export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}
