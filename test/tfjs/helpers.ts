/**
 * Fixtures for the tfjs tests: a seeded RNG and normal floats, an error measure, seeded weights for any
 * graph, and a tiny learnable dataset whose classes are distinct fixed patterns plus noise.
 */
import type { Dataset } from '../../src/data/types.ts';
import type { ModelGraph, Weights } from '../../src/models/ir.ts';
import { mulberry32 } from '../../src/data/prng.ts';

/** The project's seeded generator (mulberry32, uniform in [0, 1)). */
export const rng: (seed: number) => () => number = mulberry32;

/** `n` seeded standard normal floats (mulberry32 + Box–Muller), times `scale`: cases are reproducible. */
export function normals(n: number, seed: number, scale = 1): Float32Array {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Number of elements of a shape. */
export const size = (s: readonly number[]): number => s.reduce((p, v) => p * v, 1);

/** Largest absolute difference, and that divided by the largest reference magnitude (or alone when the reference is all zero). */
export function maxError(got: ArrayLike<number>, ref: ArrayLike<number>): { maxAbs: number; rel: number } {
  if (got.length !== ref.length) throw new Error(`maxError: ${got.length} values against ${ref.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return { maxAbs, rel: maxRef === 0 ? maxAbs : maxAbs / maxRef };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
export function normal(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Seeded weights for every parameter of `graph`: He/Glorot normal for weights, small random values for
 * biases and batch-norm parameters (so their gradients are exercised), positive running variances.
 */
export function randomWeights(graph: ModelGraph, seed: number): Weights {
  const n = normal(rng(seed));
  const out: Weights = {};
  for (const p of graph.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const role = p.name.slice(p.name.lastIndexOf('.') + 1);
    for (let i = 0; i < size; i++) {
      if (role === 'weight') data[i] = n() * Math.sqrt((p.init === 'he' ? 2 : 1) / p.fanIn);
      else if (role === 'gamma') data[i] = 1 + 0.1 * n();
      else if (role === 'var') data[i] = 0.5 + rng(seed + i)();
      else data[i] = 0.1 * n();
    }
    out[p.name] = { shape: [...p.shape], data };
  }
  return out;
}

/**
 * A dataset of `classes` fixed random patterns (one per class) with Gaussian noise, `size`×`size`×`channels`
 * uint8 HWC images, normalised with mean 0.5 / std 0.25.
 */
export function patternDataset(opts: {
  train: number;
  test: number;
  size: number;
  channels: number;
  classes: number;
  noise: number;
  seed: number;
}): Dataset {
  const { size, channels: C, classes } = opts;
  const per = size * size * C;
  const u = rng(opts.seed);
  const n = normal(u);
  const patterns: Float64Array[] = [];
  for (let k = 0; k < classes; k++) patterns.push(Float64Array.from({ length: per }, () => 40 + 175 * u()));
  const split = (count: number) => {
    const images = new Uint8Array(count * per);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const k = Math.floor(u() * classes);
      labels[i] = k;
      const p = patterns[k]!;
      for (let j = 0; j < per; j++)
        images[i * per + j] = Math.max(0, Math.min(255, Math.round(p[j]! + opts.noise * n())));
    }
    return { n: count, images, labels };
  };
  const train = split(opts.train);
  const test = split(opts.test);
  return {
    kind: 'synthetic',
    source: `test patterns seed ${opts.seed}`,
    channels: C,
    height: size,
    width: size,
    numClasses: classes,
    classNames: Array.from({ length: classes }, (_, i) => `class${i}`),
    train,
    test,
    normalization: { mean: Array(C).fill(0.5), std: Array(C).fill(0.25), source: 'given' },
    bytes: train.images.length + test.images.length + train.n + test.n,
  };
}

/** A seeded permutation of `0..n-1` (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const u = rng(seed);
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    const t = o[i]!;
    o[i] = o[j]!;
    o[j] = t;
  }
  return o;
}
