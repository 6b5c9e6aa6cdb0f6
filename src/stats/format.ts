/**
 * Human-readable numbers for messages and reports, defined once so budgets, the gate and the
 * reporters print the same figure the same way.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** Bytes in binary units with three significant digits: `512 B`, `1.50 KiB`, `96.4 MiB`, `1.23 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${sign}${Math.round(v)} B`;
  return `${sign}${toSignificant(v, 3)} ${BYTE_UNITS[u]}`;
}

/**
 * Seconds in the unit a person would use: `850 µs`, `12.3 ms`, `4.21 s`, `3 min 12 s`, `2 h 05 min`.
 * Three significant digits below a minute.
 */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s === 0) return '0 s';
  if (s < 1e-3) return `${sign}${toSignificant(s * 1e6, 3)} µs`;
  if (s < 1) return `${sign}${toSignificant(s * 1e3, 3)} ms`;
  if (s < 60) return `${sign}${toSignificant(s, 3)} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = Math.round(s - m * 60);
    return rest === 60 ? `${sign}${m + 1} min 0 s` : `${sign}${m} min ${rest} s`;
  }
  const h = Math.floor(s / 3600);
  const m = Math.round((s - h * 3600) / 60);
  return m === 60 ? `${sign}${h + 1} h 00 min` : `${sign}${h} h ${String(m).padStart(2, '0')} min`;
}

/** A ratio as a signed percentage change: 1.123 → `+12.3%`, 0.9 → `-10.0%`. */
export function formatChange(ratio: number): string {
  const pct = (ratio - 1) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

/** A p-value: `p = 0.034`, `p < 0.0001`. */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return `p = ${p}`;
  if (p < 1e-4) return 'p < 0.0001';
  return `p = ${p < 0.01 ? p.toPrecision(2) : p.toFixed(3)}`;
}

/** A short sample list for messages: every value when few, otherwise min…max and the count. */
export function formatSampleList(samples: readonly number[], fmt: (v: number) => string, maxShown = 12): string {
  if (samples.length <= maxShown) return `[${samples.map(fmt).join(', ')}]`;
  const sorted = [...samples].sort((a, b) => a - b);
  return `[${samples.length} samples, ${fmt(sorted[0]!)} … ${fmt(sorted[sorted.length - 1]!)}]`;
}

/**
 * `v` with `digits` significant digits in fixed notation (never an exponent): `0.0123`, `4.21`, `96.4`,
 * and whole numbers from `10^digits` up (`1234`). The one rounding rule behind every figure printed.
 */
export function toSignificant(v: number, digits: number): string {
  if (v === 0) return '0';
  // Magnitude after rounding, so 9.9996 prints as 10.0 and not 10.00.
  const mag = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(digits)))));
  const decimals = Math.min(20, Math.max(0, digits - 1 - mag));
  return v.toFixed(decimals);
}
