/**
 * The one source of randomness for data: a seeded 32-bit PRNG (mulberry32), a seed mixer, and the
 * per-epoch shuffle every backend uses, so two backends given the same seed see the same examples in
 * the same order and their training curves can be compared step for step.
 *
 * Everything here is defined bit-exactly (32-bit integer arithmetic via `Math.imul`), so the same
 * order can be reproduced outside JavaScript from this file alone.
 */

/** A function returning uniform floats in `[0, 1)` with 32 bits of resolution. */
export type Rng = () => number;

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator, widely used as a small seeded PRNG in JS).
 * Period 2^32, passes gjrand's tests at the sizes we draw; good enough for shuffles and noise and,
 * unlike `Math.random`, reproducible from a seed.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** MurmurHash3's 32-bit finaliser: avalanches all input bits into all output bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Derives an independent 32-bit seed from a base seed and any number of integer parts (epoch,
 * stream id). Seeds are taken modulo 2^32 (`x >>> 0` after truncation), so `-1` and `4294967295`
 * are the same seed. Adjacent inputs (epoch 0, 1, 2) give unrelated outputs.
 */
export function mixSeed(seed: number, ...parts: number[]): number {
  let h = fmix32((Math.trunc(seed) >>> 0) ^ 0x9e3779b9);
  for (const p of parts) h = fmix32(h ^ Math.imul((Math.trunc(p) >>> 0) + 0x632be5ab, 0x9e3779b1));
  return h;
}

/** Stream ids for {@link mixSeed}, so that one seed drives several independent generators. */
export const SeedStream = {
  epochOrder: 0x0e0c,
  syntheticPrototypes: 0x5e01,
  syntheticTrain: 0x5e02,
  syntheticTest: 0x5e03,
} as const;

/**
 * The order in which epoch `epoch` (0-based) visits the `n` training examples for `seed`: a
 * Fisher–Yates shuffle of `0..n-1` driven by `mulberry32(mixSeed(seed, 0x0e0c, epoch))`, swapping
 * position `i` (from `n-1` down to 1) with `j = floor(rng() * (i + 1))`.
 * Deterministic for a given `(seed, epoch, n)`; different epochs give different permutations.
 */
export function epochOrder(seed: number, epoch: number, n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`epochOrder: n must be an integer in [0, 2^32), got ${n}`);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new RangeError(`epochOrder: epoch must be a non-negative integer, got ${epoch}`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = mulberry32(mixSeed(seed, SeedStream.epochOrder, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/**
 * Standard normal deviates by the Box–Muller transform, using both outputs of each pair so the
 * generator advances by exactly two draws per two deviates.
 */
export function gaussian(rng: Rng): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    // 1 - rng() is in (0, 1], so the logarithm is finite.
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Inverse of the standard normal CDF, Acklam's rational approximation (relative error < 1.2e-9),
 * for `p` in (0, 1).
 */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

let normalTable: Float32Array | null = null;

/**
 * 65,536 standard normal quantiles at the midpoints `(i + 0.5) / 65536`: indexing it with 16
 * uniform random bits gives a normal deviate (discretised, tails cut at ±4.3σ) for the price of
 * a table load, so one 32-bit draw yields two deviates. Used for pixel noise, where generating
 * hundreds of millions of Box–Muller deviates would dominate the time to build a dataset.
 */
export function normalTable16(): Float32Array {
  if (!normalTable) {
    normalTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) normalTable[i] = normalQuantile((i + 0.5) / 65536);
  }
  return normalTable;
}
