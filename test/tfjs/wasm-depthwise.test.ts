/**
 * expbench's depthwise-convolution gradient kernels on tfjs/wasm against tfjs/cpu: the input and
 * filter gradients of `depthwiseConv2d` for the geometries MobileNetV2 uses (3×3 same, stride 1 and
 * 2) and a few beyond them (valid, explicit and odd padding, channel multiplier 2). tfjs computes no
 * gradient of a dilated depthwise conv, so the model builder never asks these kernels for one.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/backends/tfjs/wasm-kernels/index.ts';
import { maxError, normals, size } from './helpers.ts';

interface Case {
  label: string;
  x: [number, number, number, number];
  k: number;
  m: number;
  stride: number;
  pad: 'same' | 'valid' | number;
  dilation: number;
}

const CASES: Case[] = [
  { label: '3×3 same stride 1', x: [2, 6, 7, 5], k: 3, m: 1, stride: 1, pad: 'same', dilation: 1 },
  { label: '3×3 same stride 2 (odd size)', x: [2, 7, 9, 4], k: 3, m: 1, stride: 2, pad: 'same', dilation: 1 },
  { label: '3×3 pad 1 stride 2', x: [1, 8, 8, 6], k: 3, m: 1, stride: 2, pad: 1, dilation: 1 },
  { label: '3×3 valid, multiplier 2', x: [2, 6, 5, 3], k: 3, m: 2, stride: 1, pad: 'valid', dilation: 1 },
  { label: '5×5 pad 2 multiplier 2', x: [1, 7, 7, 2], k: 5, m: 2, stride: 1, pad: 2, dilation: 1 },
];

/** Loss Σ depthwiseConv2d(x, w) ⊙ R and its gradients with respect to x and w, on `backend`. */
async function grads(backend: 'cpu' | 'wasm', c: Case, xv: Float32Array, wv: Float32Array) {
  await tf.setBackend(backend);
  const wShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.m];
  const x = tf.tensor4d(xv, c.x);
  const w = tf.tensor4d(wv, wShape);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation);
    return tf.sum(tf.mul(y, tf.tensor(normals(size(y.shape), 9), y.shape)));
  });
  const [dx, dw] = g([x, w]);
  const out = { dx: (await dx!.data()) as Float32Array, dw: (await dw!.data()) as Float32Array };
  tf.dispose([x, w, dx!, dw!]);
  return out;
}

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
  (tf.findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
  expect(await tf.setBackend('wasm')).toBe(true);
  registerWasmTrainingKernels();
});

describe('tfjs/wasm depthwise conv gradients match tfjs/cpu', () => {
  const rows: string[] = [];
  for (const c of CASES) {
    it(c.label, async () => {
      const xv = normals(size(c.x), 3);
      const wv = normals(c.k * c.k * c.x[3] * c.m, 4, 0.5);
      const ref = await grads('cpu', c, xv, wv);
      const got = await grads('wasm', c, xv, wv);
      const ex = maxError(got.dx, ref.dx);
      const ew = maxError(got.dw, ref.dw);
      rows.push(`${c.label.padEnd(30)} dx rel ${ex.rel.toExponential(2)}  dw rel ${ew.rel.toExponential(2)}`);
      if (rows.length === CASES.length) console.log(`depthwise gradients, wasm vs cpu\n${rows.join('\n')}`);
      expect(ex.rel, 'dx').toBeLessThan(1e-5);
      expect(ew.rel, 'dw').toBeLessThan(1e-5);
      expect(ref.dw.some((v) => v !== 0)).toBe(true);
    });
  }
});
