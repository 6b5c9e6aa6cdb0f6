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
import { mulberry32 as dataMulberry32 } from '../data/prng.ts';
import type { ModelGraph, ParamSpec, Tensor32, Weights } from './ir.ts';

/**
 * The project's one seeded generator (mulberry32, `src/data/prng.ts`) as 32-bit integers in
 * `[0, 2^32)`: the same stream, scaled, that {@link uniformStream} and the data loaders draw from.
 */
export function mulberry32(seed: number): () => number {
  const next = uniformStream(seed);
  return () => next() * 4294967296;
}

/** A uniform `[0, 1)` stream from a seed (exact: a 32-bit integer divided by 2^32). */
export const uniformStream: (seed: number) => () => number = dataMulberry32;

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
