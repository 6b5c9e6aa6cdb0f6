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
import type { ModelGraph, Weights } from '../../src/models/ir.ts';

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

/** The parity backends, and onnxruntime/webgpu where an adapter exists. */
export type RecipeBackend = (typeof PARITY_BACKENDS)[number] | 'onnxruntime/webgpu';

function backendOf(id: RecipeBackend): Backend {
  if (id === 'onnxruntime/cpu') return createOrtBackend('cpu');
  if (id === 'onnxruntime/webgpu') return createOrtBackend('webgpu');
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
  /** What was trained (default {@link TINY}). */
  setup?: Setup;
}

/** Trains `recipe` on backend `id` from {@link weights}; throws when the backend is unavailable here. */
/** What a recipe trains: the model, its initial weights and the data; {@link TINY} unless a test says otherwise. */
export interface Setup {
  model: ModelGraph;
  weights: Weights;
  dataset: Dataset;
  batch: number;
  order(epoch: number): Uint32Array;
  /** Parameters without a gradient (a conv bias ahead of batch norm), which need not move. */
  noGradient?: (param: string) => boolean;
}

export const TINY: Setup = { model, weights, dataset, batch: B, order };

/**
 * vgg-small at width 0.125 with batch norm on 16 random 16×16 images, batch 4: the setup on which
 * onnxruntime/webgpu and onnxruntime/cpu agree step for step (test/onnxruntime/webgpu.test.ts). On
 * {@link TINY} the two part by ~1e-3 in the loss from the second step, with any optimizer.
 */
export function vggSetup(): Setup {
  const r = uniformStream(21);
  const n16 = 16;
  const split: Split = {
    n: n16,
    images: Uint8Array.from({ length: n16 * 16 * 16 * 3 }, () => Math.floor(r() * 256)),
    labels: Uint8Array.from({ length: n16 }, (_, i) => i % 10),
  };
  const ds: Dataset = {
    ...dataset,
    height: 16,
    width: 16,
    numClasses: 10,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    train: split,
    test: split,
    bytes: split.images.length,
  };
  const m = buildModelGraph(
    { arch: 'vgg-small', width: 0.125, batchNorm: true, classifier: [32], dropout: 0 },
    { channels: 3, height: 16, width: 16 },
    10,
  );
  return {
    model: m,
    weights: initWeights(m, 5),
    dataset: ds,
    batch: 4,
    order: (e) => Uint32Array.from({ length: n16 }, (_, i) => (i * 5 + e * 3) % n16),
    // Every conv is followed by batch norm, which cancels its bias.
    noGradient: (p) => p.startsWith('conv') && p.endsWith('.bias'),
  };
}

export async function trainOn(
  id: RecipeBackend,
  recipe: Recipe,
  setup: Setup = TINY,
): Promise<Trained & { notes: string[]; setup: Setup }> {
  const backend = backendOf(id);
  const a = await backend.probe();
  if (!a.available) throw new Error(`${id} must be available on this machine: ${a.reason}`);
  const opts: LoadOptions = {
    optimizer: recipe.optimizer,
    labelSmoothing: recipe.labelSmoothing,
    trainBatchSize: setup.batch,
    inferBatchSize: setup.batch,
    seed: 3,
    dataset: setup.dataset,
  };
  const session = await backend.load(setup.model, setup.weights, opts);
  try {
    const losses: number[] = [];
    await session.train({
      split: setup.dataset.train,
      epochs: recipe.epochs ?? 2,
      batchSize: setup.batch,
      order: setup.order,
      lossEvery: 1,
      lr: recipe.lr,
      augment: recipe.augment,
      onStep: (i) => void losses.push(i.loss!),
    });
    return { losses, weights: await session.getWeights(), notes: session.info.notes ?? [], setup };
  } finally {
    await session.dispose();
  }
}

/**
 * `got` matches `ref` step for step (losses to `lossDigits` decimals) and parameter for parameter (max
 * abs difference below `rel` of the parameter's scale plus `abs`), and training moved every parameter:
 * the comparison is not between two untouched copies of the initial weights. The defaults hold between
 * CPU backends; a GPU's other summation order needs `{ lossDigits: 3, abs: 1e-6 }` (as
 * test/onnxruntime/webgpu.test.ts allows).
 */
export function expectSameTraining(
  got: Trained,
  ref: Trained,
  label: string,
  tol: { lossDigits?: number; rel?: number; abs?: number } = {},
): void {
  const { lossDigits = 4, rel = 1e-4, abs = 0 } = tol;
  expect(got.losses.length, label).toBe(ref.losses.length);
  for (const [i, l] of got.losses.entries())
    expect(l, `${label}: loss of step ${i}`).toBeCloseTo(ref.losses[i]!, lossDigits);
  const setup = ref.setup ?? TINY;
  for (const p of setup.model.params) {
    const a = got.weights[p.name]!.data;
    const b = ref.weights[p.name]!.data;
    const init = setup.weights[p.name]!.data;
    let diff = 0;
    let moved = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      moved = Math.max(moved, Math.abs(b[i]! - init[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    if (!setup.noGradient?.(p.name)) expect(moved, `${label}: ${p.name} did not change`).toBeGreaterThan(1e-4);
    expect(diff, `${label}: ${p.name}`).toBeLessThan(rel * Math.max(1, scale) + abs);
  }
}
