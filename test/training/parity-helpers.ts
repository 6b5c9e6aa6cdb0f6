/**
 * Cross-backend training parity for the recipe tests: one tiny model (conv without bias → batch norm,
 * a second conv with bias, two dense layers), random bytes as data, and a trainer that runs any recipe
 * (optimizer, rate per step, label smoothing, augmentation) on a backend and returns every step's loss
 * and the final weights. Backends: onnxruntime/cpu (the reference), tfjs/cpu and tfjs/wasm.
 */
import { expect } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';
import type { Backend, LoadOptions, OptimizerConfig, TrainRequest } from '../../src/backends/types.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';
import type { Weights } from '../../src/models/ir.ts';

const rand = uniformStream(11);
export const [C, S, K, B] = [3, 8, 5, 8] as const;
const n = 4 * B;
export const train: Split = {
  n,
  images: Uint8Array.from({ length: n * S * S * C }, () => Math.floor(rand() * 256)),
  labels: Uint8Array.from({ length: n }, (_, i) => i % K),
};
export const dataset: Dataset = {
  kind: 'test',
  source: 'random bytes',
  channels: C,
  height: S,
  width: S,
  numClasses: K,
  classNames: Array.from({ length: K }, (_, i) => String(i)),
  train,
  test: train,
  normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], source: 'given' },
  bytes: train.images.length,
};
export const model = buildModelGraph(
  {
    arch: 'custom',
    width: 1,
    batchNorm: false,
    classifier: [8],
    dropout: 0,
    layers: [
      { kind: 'conv', filters: 4, bias: false },
      { kind: 'batchnorm' },
      { kind: 'relu' },
      { kind: 'maxpool' },
      { kind: 'conv', filters: 6 },
      { kind: 'relu' },
    ],
  },
  { channels: C, height: S, width: S },
  K,
);
export const weights: Weights = initWeights(model, 9);
export const order = (e: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => (i * 7 + e * 3) % n);

/** The backends every recipe is checked on; the first is the reference. */
export const PARITY_BACKENDS = ['onnxruntime/cpu', 'tfjs/cpu', 'tfjs/wasm'] as const;

function backendOf(id: (typeof PARITY_BACKENDS)[number]): Backend {
  if (id === 'onnxruntime/cpu') return createOrtBackend('cpu');
  return createTfjsBackend(id === 'tfjs/cpu' ? 'cpu' : 'wasm');
}

export interface Recipe {
  optimizer: OptimizerConfig;
  labelSmoothing?: number;
  lr?: TrainRequest['lr'];
  augment?: TrainRequest['augment'];
  epochs?: number;
}

export interface Trained {
  losses: number[];
  weights: Weights;
}

/** Trains `recipe` on backend `id` from {@link weights}; throws when the backend is unavailable here. */
export async function trainOn(id: (typeof PARITY_BACKENDS)[number], recipe: Recipe): Promise<Trained> {
  const backend = backendOf(id);
  const a = await backend.probe();
  if (!a.available) throw new Error(`${id} must be available on this machine: ${a.reason}`);
  const opts: LoadOptions = {
    optimizer: recipe.optimizer,
    labelSmoothing: recipe.labelSmoothing,
    trainBatchSize: B,
    inferBatchSize: B,
    seed: 3,
    dataset,
  };
  const session = await backend.load(model, weights, opts);
  try {
    const losses: number[] = [];
    await session.train({
      split: train,
      epochs: recipe.epochs ?? 2,
      batchSize: B,
      order,
      lossEvery: 1,
      lr: recipe.lr,
      augment: recipe.augment,
      onStep: (i) => void losses.push(i.loss!),
    });
    return { losses, weights: await session.getWeights() };
  } finally {
    await session.dispose();
  }
}

/**
 * `got` matches `ref` step for step (losses to 4 decimals) and parameter for parameter (max abs
 * difference below 1e-4 of the parameter's scale), and training moved every parameter that has a
 * gradient: the comparison is not between two untouched copies of the initial weights.
 */
export function expectSameTraining(got: Trained, ref: Trained, label: string): void {
  expect(got.losses.length, label).toBe(ref.losses.length);
  for (const [i, l] of got.losses.entries()) expect(l, `${label}: loss of step ${i}`).toBeCloseTo(ref.losses[i]!, 4);
  for (const p of model.params) {
    const a = got.weights[p.name]!.data;
    const b = ref.weights[p.name]!.data;
    const init = weights[p.name]!.data;
    let diff = 0;
    let moved = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      moved = Math.max(moved, Math.abs(b[i]! - init[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    expect(moved, `${label}: ${p.name} did not change`).toBeGreaterThan(1e-4);
    expect(diff, `${label}: ${p.name}`).toBeLessThan(1e-4 * Math.max(1, scale));
  }
}
