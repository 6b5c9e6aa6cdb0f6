/**
 * expbench's wasm `Tile` (block copies on the heap) against the stock wasm kernel and tfjs/cpu: a tile
 * only moves values, so every case must be equal bit for bit, for the batch-norm gradient's
 * `[1, 1, 1, C] → [N, H, W, C]`, short and long blocks on every axis, repeated axes in the middle,
 * zero repetitions, rank 0 and 1, and int32 and bool.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getKernel } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  registerWasmTrainingKernels,
  tileInPlace,
  unregisterWasmTrainingKernels,
} from '../../src/backends/tfjs/wasm-kernels/index.ts';
import { normals, size } from './helpers.ts';

type Dtype = 'float32' | 'int32' | 'bool';

function values(n: number, dtype: Dtype, seed: number): Float32Array | Int32Array | Uint8Array {
  const v = normals(n, seed);
  if (dtype === 'float32') return v;
  if (dtype === 'int32') return Int32Array.from(v, (x) => Math.round(x * 1000));
  return Uint8Array.from(v, (x) => (x > 0 ? 1 : 0));
}

async function tileOn(backend: string, data: ArrayLike<number>, shape: number[], reps: number[], dtype: Dtype) {
  await tf.setBackend(backend);
  const x = tf.tensor(data as Float32Array, shape, dtype);
  const t = tf.tile(x, reps);
  const r = { shape: t.shape, dtype: t.dtype, values: Array.from(await t.data()) };
  tf.dispose([x, t]);
  return r;
}

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
  expect(await tf.setBackend('wasm')).toBe(true);
  registerWasmTrainingKernels();
});

describe('tileInPlace', () => {
  it('tiles a 2×3 array by [2, 2] as the definition says', () => {
    const out = new Float32Array(24);
    out.set([1, 2, 3, 4, 5, 6]);
    tileInPlace(out, [2, 3], [2, 2]);
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
  });
});

describe('Tile on wasm', () => {
  it('is registered, wrapping the stock kernel', () => {
    expect(registerWasmTrainingKernels().replaced).toContain('Tile');
    expect(getKernel('Tile', 'wasm')?.setupFunc).toBeDefined();
  });

  // [shape, reps, dtype]
  const cases: [number[], number[], Dtype][] = [
    [[1, 1, 1, 16], [8, 32, 32, 1], 'float32'], // the batch-norm gradient's tile, ResNet stage 1 (batch 8)
    [[1, 1, 1, 64], [8, 8, 8, 1], 'float32'],
    [[2, 3], [2, 2], 'float32'],
    [[5, 1], [1, 7], 'float32'], // blocks of one value
    [[3, 4, 5], [2, 3, 2], 'float32'], // every axis repeated, short and long blocks
    [[4, 9, 2], [1, 3, 1], 'float32'], // a middle axis only
    [[7, 11], [3, 1], 'float32'],
    [[6], [5], 'float32'],
    [[], [], 'float32'],
    [[3, 4], [0, 2], 'float32'], // no repetition: an empty result
    [[2, 3, 4], [1, 1, 1], 'float32'], // a copy
    [[2, 5, 3], [3, 2, 4], 'int32'],
    [[4, 3], [2, 5], 'bool'],
  ];
  for (const [shape, reps, dtype] of cases) {
    it(`equals the stock kernel and tfjs/cpu: [${shape.join('×')}] × [${reps.join(', ')}] ${dtype}`, async () => {
      const data = values(size(shape), dtype, 7);
      const ours = await tileOn('wasm', data, shape, reps, dtype);
      unregisterWasmTrainingKernels();
      let stock: Awaited<ReturnType<typeof tileOn>>;
      try {
        stock = await tileOn('wasm', data, shape, reps, dtype);
      } finally {
        registerWasmTrainingKernels();
      }
      const cpu = await tileOn('cpu', data, shape, reps, dtype);
      expect(ours.shape).toEqual(cpu.shape);
      expect(ours.dtype).toBe(dtype);
      expect(ours.values).toEqual(stock.values);
      expect(ours.values).toEqual(cpu.values);
    });
  }

  it('leaves no buffers behind across repeated tiles', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = tf.tensor(normals(16, 3), [1, 1, 1, 16]);
    tf.tile(x, [8, 8, 8, 1]).dispose();
    const ids = backend.numDataIds();
    for (let i = 0; i < 5; i++) tf.tile(x, [8, 8, 8, 1]).dispose();
    expect(backend.numDataIds()).toBe(ids);
    x.dispose();
  });
});
