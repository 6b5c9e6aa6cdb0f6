/**
 * Seeded weight initialisation. Every backend loads the tensors made here, so two backends start from
 * bit-identical weights and their outputs can be compared.
 *
 * Reproducible everywhere: the generator is Mulberry32 (32-bit integer arithmetic only), and the
 * initialisers are the uniform variants of He and Glorot, which need only multiplication and a
 * correctly rounded `Math.sqrt`; normal variants would need `Math.log`/`Math.cos`, whose last bits
 * differ between JavaScript engines. He-uniform `U(-√(6/fanIn), √(6/fanIn))` has the same variance
 * 2/fanIn as He-normal; Glorot-uniform uses `√(6/(fanIn+fanOut))`.
 *
 * One generator is drawn from in parameter order and, within a tensor, in canonical layout order
 * (OIHW for conv, `[in, out]` for dense), so a given model and seed always give the same weights.
 */
import type { ModelGraph, ParamSpec, Tensor32, Weights } from './ir.ts';

/** Mulberry32: a small, fast, well-known 32-bit PRNG. Returns integers in `[0, 2^32)`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniform `[0, 1)` stream from a seed (exact: an integer divided by 2^32). */
export function uniformStream(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** The bound `a` of the uniform distribution `U(-a, a)` a parameter is drawn from, or null for constants. */
export function initBound(p: ParamSpec): number | null {
  switch (p.init) {
    case 'he':
      return Math.sqrt(6 / p.fanIn);
    case 'glorot':
      return Math.sqrt(6 / (p.fanIn + p.fanOut));
    default:
      return null;
  }
}

/**
 * Initial weights for `model` from `seed`: He-uniform for conv/dense weights followed by ReLU,
 * Glorot-uniform for the rest (the logits layer), zeros for biases, batch-norm beta and running mean,
 * ones for gamma and running variance. Plain Float32Arrays in canonical layout, keyed by param name.
 */
export function initWeights(model: ModelGraph, seed: number): Weights {
  const u = uniformStream(seed);
  const out: Weights = {};
  for (const p of model.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const bound = initBound(p);
    if (bound !== null) {
      for (let i = 0; i < size; i++) data[i] = (2 * u() - 1) * bound;
    } else if (p.init === 'ones') {
      data.fill(1);
    }
    const t: Tensor32 = { shape: [...p.shape], data };
    out[p.name] = t;
  }
  return out;
}

/** A deep copy of weights (backends that train in place must not alter the caller's tensors). */
export function cloneWeights(w: Weights): Weights {
  const out: Weights = {};
  for (const [k, t] of Object.entries(w)) out[k] = { shape: [...t.shape], data: t.data.slice() };
  return out;
}
