/**
 * expbench's wasm `Sum` against tfjs/cpu: leading-axes float32 reductions (bias gradients) run by
 * pooling and must agree to 1e-6 of the largest reference magnitude, also for 65 536 rows of N(0,1)
 * and of all-positive data (tfjs-cpu adds in float64); every other case (inner or interleaved axes,
 * int32, small tensors) must be the stock kernel's result, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getKernel } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leadingAxesCount,
  registerWasmTrainingKernels,
  SUM_BY_POOLING_MIN_SIZE,
  unregisterWasmTrainingKernels,
} from '../../src/backends/tfjs/wasm-kernels/index.ts';
import { maxError, normals, size } from './helpers.ts';

const REL_BOUND = 1e-6;

function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  return maxError(got, ref).rel;
}

interface Result {
  shape: number[];
  dtype: string;
  values: ArrayLike<number>;
}

/** `tf.sum` of the given values on `backend`. */
async function sumOn(
  backend: string,
  values: Float32Array | Int32Array,
  shape: number[],
  axis: number | number[] | undefined,
  keepDims = false,
): Promise<Result> {
  await tf.setBackend(backend);
  const x = tf.tensor(values, shape, values instanceof Int32Array ? 'int32' : 'float32');
  const t = tf.sum(x, axis, keepDims);
  const r = { shape: t.shape, dtype: t.dtype, values: await t.data() };
  tf.dispose([x, t]);
  return r;
}

const lines: string[] = [];

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
  (tf.findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
  expect(await tf.setBackend('wasm')).toBe(true);
  registerWasmTrainingKernels();
});

afterAll(() => {
  console.log(`wasm Sum vs tfjs/cpu (bound: rel ≤ ${REL_BOUND})\n${lines.join('\n')}`);
});

describe('leadingAxesCount', () => {
  it('counts axes 0..k-1 in any order, negative ones included, and nothing else', () => {
    expect(leadingAxesCount([0, 1, 2], [2, 3, 4, 5])).toBe(3);
    expect(leadingAxesCount([2, 0, 1], [2, 3, 4, 5])).toBe(3);
    expect(leadingAxesCount([-2, 0], [2, 3, 4])).toBe(2);
    expect(leadingAxesCount([0, -3], [2, 3, 4])).toBe(0); // the same axis twice
    expect(leadingAxesCount(0, [2, 3])).toBe(1);
    expect(leadingAxesCount([0, 1], [2, 3])).toBe(2);
    expect(leadingAxesCount([1, 2], [2, 3, 4])).toBe(0);
    expect(leadingAxesCount([0, 2], [2, 3, 4])).toBe(0);
    expect(leadingAxesCount([-1], [2, 3, 4])).toBe(0);
  });
});

describe('Sum on wasm', () => {
  it('is registered, wrapping the stock kernel', () => {
    expect(registerWasmTrainingKernels().replaced).toContain('Sum');
    expect(getKernel('Sum', 'wasm')?.setupFunc).toBeDefined();
  });

  // [shape, axes, keepDims, data]
  const cases: [number[], number | number[] | undefined, boolean, 'normal' | 'positive'][] = [
    [[64, 32, 32, 64], [0, 1, 2], false, 'normal'], // vgg-small conv1/2 bias gradient: 65 536 rows
    [[64, 32, 32, 64], [0, 1, 2], false, 'positive'],
    [[64, 16, 16, 128], [0, 1, 2], true, 'normal'],
    [[64, 16, 16, 128], [2, 0, 1], false, 'positive'],
    [[131, 1031], 0, false, 'normal'], // prime row count: a single pool
    [[1031, 131], [0, 1], true, 'normal'], // every axis: a scalar
    [[40, 50, 70], [0, 1], false, 'positive'],
    [[8, 9, 10, 200], [-4, -3], false, 'normal'],
  ];
  for (const [shape, axis, keepDims, data] of cases) {
    it(`matches tfjs/cpu: [${shape.join('×')}] axes ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}, ${data}`, async () => {
      expect(size(shape)).toBeGreaterThanOrEqual(SUM_BY_POOLING_MIN_SIZE); // exercises the pooled path
      const n = normals(size(shape), 5);
      const xv = data === 'normal' ? n : n.map((v) => Math.abs(v) + 0.01);
      const ref = await sumOn('cpu', xv, shape, axis, keepDims);
      const got = await sumOn('wasm', xv, shape, axis, keepDims);
      expect(got.shape).toEqual(ref.shape);
      expect(got.dtype).toBe('float32');
      const rel = relError(got.values, ref.values);
      lines.push(`[${shape.join('×')}] axes ${JSON.stringify(axis)} ${data}: rel ${rel.toExponential(2)}`);
      expect(rel).toBeLessThanOrEqual(REL_BOUND);
    });
  }

  // Everything the pooled path does not take must come from the stock kernel unchanged.
  const delegated: [string, number[], number | number[] | undefined, boolean, 'float32' | 'int32'][] = [
    ['inner axis', [64, 32, 32, 64], 3, false, 'float32'],
    ['interleaved axes', [64, 16, 16, 128], [0, 2], true, 'float32'],
    ['trailing axes', [64, 16, 16, 128], [1, 2, 3], false, 'float32'],
    ['small tensor', [64, 256], 0, false, 'float32'],
    ['int32 leading axes', [64, 16, 16, 64], [0, 1, 2], false, 'int32'],
    ['int32 all axes', [300, 500], undefined, true, 'int32'],
  ];
  for (const [label, shape, axis, keepDims, dtype] of delegated) {
    it(`delegates to the stock kernel: ${label}, [${shape.join('×')}] axes ${JSON.stringify(axis)}`, async () => {
      const n = normals(size(shape), 9);
      const xv = dtype === 'int32' ? Int32Array.from(n, (v) => Math.round(v * 1000)) : n;
      const ours = await sumOn('wasm', xv, shape, axis, keepDims);
      unregisterWasmTrainingKernels();
      let stock: Result;
      try {
        stock = await sumOn('wasm', xv, shape, axis, keepDims);
      } finally {
        registerWasmTrainingKernels();
      }
      expect(ours.shape).toEqual(stock.shape);
      expect(ours.dtype).toBe(dtype);
      expect(Array.from(ours.values)).toEqual(Array.from(stock.values));
      if (dtype === 'int32') {
        // int32 sums are exact: equal to the cpu backend's.
        const ref = await sumOn('cpu', xv, shape, axis, keepDims);
        expect(Array.from(ours.values)).toEqual(Array.from(ref.values));
      }
    });
  }

  it('frees every intermediate: no buffers or heap growth across repeated sums', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = tf.tensor(normals(64 * 16 * 16 * 128, 3), [64, 16, 16, 128]);
    tf.sum(x, [0, 1, 2]).dispose();
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.sum(x, [0, 1, 2], true).dispose();
    expect(backend.numDataIds()).toBe(ids);
    expect(tf.memory().numTensors).toBe(tensors);
    x.dispose();
  });
});
