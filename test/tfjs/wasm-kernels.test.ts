/**
 * expbench's wasm training kernels against tfjs/cpu, kernel by kernel, on the padding and stride cases
 * the model IR emits (3×3 same stride 1 and 2, 1×1, valid, explicit padding; 2×2/2 max pooling on odd
 * sizes) plus a few beyond them. Each case prints its error; the bound is 1e-4 of the largest
 * reference magnitude.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applicableFilterGradStrategies,
  chooseFilterGradStrategy,
  conv2dBackpropFilterNHWC,
  FILTER_GRAD_STRATEGIES,
  KernelScope,
  registerWasmTrainingKernels,
  unregisterWasmTrainingKernels,
} from '../../src/backends/tfjs/wasm-kernels/index.ts';
import { maxError, normals, size } from './helpers.ts';

const REL_BOUND = 1e-4;

interface Err {
  maxAbs: number;
  rel: number;
}

/** Largest absolute difference, and that divided by the largest reference magnitude. */
function error(got: ArrayLike<number>, ref: ArrayLike<number>): Err {
  expect(got.length).toBe(ref.length);
  return maxError(got, ref);
}

const table: string[] = [];
function record(kernel: string, label: string, e: Err): void {
  table.push(
    `${kernel.padEnd(22)} ${label.padEnd(46)} maxAbs ${e.maxAbs.toExponential(2)}  rel ${e.rel.toExponential(2)}`,
  );
}

/** Runs `f` with tfjs on `backend` and returns the values of the tensor it gives. */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const t = f();
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  label: string;
  x: [number, number, number, number]; // NHWC
  k: number;
  co: number;
  s: number;
  pad: Pad;
}

const convCases: ConvCase[] = [
  { label: '3x3 same s1', x: [2, 8, 8, 3], k: 3, co: 5, s: 1, pad: 'same' },
  { label: '3x3 same s1 odd', x: [2, 7, 9, 16], k: 3, co: 8, s: 1, pad: 'same' },
  { label: '3x3 same s1 Ci=40', x: [3, 6, 5, 40], k: 3, co: 7, s: 1, pad: 'same' },
  { label: '3x3 same s2 even', x: [2, 8, 8, 4], k: 3, co: 6, s: 2, pad: 'same' },
  { label: '3x3 same s2 odd', x: [2, 9, 7, 5], k: 3, co: 3, s: 2, pad: 'same' },
  { label: '3x3 same s2 Ci=36', x: [2, 10, 6, 36], k: 3, co: 4, s: 2, pad: 'same' },
  {
    label: '3x3 pad 1 s2 (explicit)',
    x: [2, 8, 8, 3],
    k: 3,
    co: 4,
    s: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  {
    label: '3x3 pad 1 s1 (explicit)',
    x: [2, 7, 6, 34],
    k: 3,
    co: 4,
    s: 1,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  { label: '1x1 s1', x: [2, 6, 6, 40], k: 1, co: 10, s: 1, pad: 'same' },
  { label: '1x1 s2 valid', x: [2, 9, 9, 4], k: 1, co: 6, s: 2, pad: 'valid' },
  { label: '3x3 valid s1', x: [2, 9, 8, 6], k: 3, co: 4, s: 1, pad: 'valid' },
  { label: '3x3 valid s1 Ci=36', x: [2, 9, 8, 36], k: 3, co: 4, s: 1, pad: 'valid' },
  { label: '3x3 valid s2', x: [2, 9, 10, 5], k: 3, co: 4, s: 2, pad: 'valid' },
  { label: '5x5 same s1', x: [1, 7, 7, 3], k: 5, co: 2, s: 1, pad: 'same' },
  { label: '5x5 same s3', x: [3, 11, 12, 4], k: 5, co: 3, s: 3, pad: 'same' },
  // Map sizes where the registered kernel picks each stride-1 formulation (tap-shift up to 16×16).
  { label: '3x3 same s1 2x2 map Ci=40', x: [3, 2, 2, 40], k: 3, co: 24, s: 1, pad: 'same' },
  { label: '3x3 same s1 17x17 Ci=3', x: [1, 17, 17, 3], k: 3, co: 4, s: 1, pad: 'same' },
  { label: '3x3 same s1 17x17 Ci=9', x: [1, 17, 17, 9], k: 3, co: 4, s: 1, pad: 'same' },
];

let wasmBackend: tf.KernelBackend;

beforeAll(async () => {
  // The cpu backend prints advice to install tfjs-node on first use; the reference runs here on purpose.
  expect(await tf.setBackend('cpu')).toBe(true);
  (tf.findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
  expect(await tf.setBackend('wasm')).toBe(true);
  wasmBackend = tf.backend();
  registerWasmTrainingKernels();
});

afterAll(() => {
  // The error table is the report of this file: one line per kernel and case.
  console.log(`wasm kernels vs tfjs/cpu (bound: rel ≤ ${REL_BOUND})\n${table.join('\n')}`);
});

describe('Conv2DBackpropFilter on wasm', () => {
  for (const c of convCases) {
    it(`matches tfjs/cpu: ${c.label}, x ${c.x.join('×')} → ${c.co}`, async () => {
      const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.co];
      const xv = normals(size(c.x), 11);
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.s, 1, c.pad, undefined, false, 'channelsLast');
      const dyv = normals(size(info.outShape), 12);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap;
      const viaKernel = (): tf.Tensor =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tf.tensor(xv, c.x), dy: tf.tensor(dyv, info.outShape) },
            attrs,
          ) as tf.Tensor;
      const ref = await on('cpu', () => tf.tidy(viaKernel));
      const got = await on('wasm', () => tf.tidy(viaKernel));
      const e = error(got, ref);
      record('Conv2DBackpropFilter', `${c.label} [${chooseFilterGradStrategy(info)}]`, e);
      expect(e.rel).toBeLessThanOrEqual(REL_BOUND);

      // Every formulation that applies, whichever the heuristic picks, and none leaves a buffer behind.
      const strategies = applicableFilterGradStrategies(info);
      expect(strategies).toEqual(
        FILTER_GRAD_STRATEGIES.filter((st) => c.s === 1 || (st !== 'tap-shift' && st !== 'tap-view')),
      );
      for (const strategy of strategies) {
        const x = tf.tensor(xv, c.x);
        const dy = tf.tensor(dyv, info.outShape);
        const before = wasmBackend.numDataIds();
        const scope = new KernelScope(wasmBackend, 'wasm');
        const out = scope.keep(conv2dBackpropFilterNHWC(scope, x, dy, info, strategy));
        scope.dispose();
        expect(scope.size).toBe(0);
        expect(wasmBackend.numDataIds()).toBe(before + 1);
        const t = tf.engine().makeTensorFromTensorInfo(out);
        const es = error((await t.data()) as Float32Array, ref);
        record('  strategy', `${c.label} [${strategy}]`, es);
        expect(es.rel, strategy).toBeLessThanOrEqual(REL_BOUND);
        tf.dispose([t, x, dy]);
      }
    });
  }

  it('handles NCHW like tfjs/cpu', async () => {
    const xShape: [number, number, number, number] = [2, 5, 7, 6]; // NCHW
    const filterShape: [number, number, number, number] = [3, 3, 5, 4];
    const info = tf.backend_util.computeConv2DInfo(
      xShape,
      filterShape,
      2,
      1,
      'same',
      undefined,
      false,
      'channelsFirst',
    );
    const xv = normals(size(xShape), 21);
    const dyv = normals(size(info.outShape), 22);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape } as unknown as tf.NamedAttrMap;
    const f = (): tf.Tensor =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: tf.tensor(xv, xShape), dy: tf.tensor(dyv, info.outShape) },
          attrs,
        ) as tf.Tensor;
    const e = error(await on('wasm', () => tf.tidy(f)), await on('cpu', () => tf.tidy(f)));
    record('Conv2DBackpropFilter', 'NCHW 3x3 same s2', e);
    expect(e.rel).toBeLessThanOrEqual(REL_BOUND);
  });
});

describe('Conv2DBackpropInput on wasm', () => {
  for (const c of convCases) {
    it(`matches tfjs/cpu: ${c.label}, x ${c.x.join('×')} → ${c.co}`, async () => {
      const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.co];
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.s, 1, c.pad, undefined, false, 'channelsLast');
      const wv = normals(size(filterShape), 13);
      const dyv = normals(size(info.outShape), 14);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap;
      const f = (): tf.Tensor =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy: tf.tensor(dyv, info.outShape), filter: tf.tensor(wv, filterShape) },
            attrs,
          ) as tf.Tensor;
      const ref = await on('cpu', () => tf.tidy(f));
      await tf.setBackend('wasm');
      const before = wasmBackend.numDataIds();
      const got = await on('wasm', () => tf.tidy(f));
      expect(wasmBackend.numDataIds()).toBe(before);
      const e = error(got, ref);
      record('Conv2DBackpropInput', c.label, e);
      expect(e.rel).toBeLessThanOrEqual(REL_BOUND);
    });
  }

  it('handles NCHW like tfjs/cpu', async () => {
    const xShape: [number, number, number, number] = [2, 5, 7, 6]; // NCHW
    const filterShape: [number, number, number, number] = [3, 3, 5, 4];
    const info = tf.backend_util.computeConv2DInfo(
      xShape,
      filterShape,
      2,
      1,
      'same',
      undefined,
      false,
      'channelsFirst',
    );
    const wv = normals(size(filterShape), 23);
    const dyv = normals(size(info.outShape), 24);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', inputShape: xShape } as unknown as tf.NamedAttrMap;
    const f = (): tf.Tensor =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy: tf.tensor(dyv, info.outShape), filter: tf.tensor(wv, filterShape) },
          attrs,
        ) as tf.Tensor;
    const e = error(await on('wasm', () => tf.tidy(f)), await on('cpu', () => tf.tidy(f)));
    record('Conv2DBackpropInput', 'NCHW 3x3 same s2', e);
    expect(e.rel).toBeLessThanOrEqual(REL_BOUND);
  });
});

describe('BatchMatMul on wasm', () => {
  // [a shape, b shape, transposeA, transposeB]: every transpose combination, with the packed operand
  // chosen each way (B smaller and A smaller), plus a batched product the wrapper leaves native.
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[32, 96], [32, 40], true, false],
    [[5, 7], [3, 7], false, true],
    [[2, 7], [9, 7], false, true],
    [[32, 40], [96, 40], false, true],
    [[7, 5], [3, 7], true, true],
    [[7, 2], [9, 7], true, true],
    [[2, 5, 7], [2, 3, 7], false, true],
  ];
  for (const [as, bs, tA, tB] of cases) {
    it(`matches tfjs/cpu: [${as.join('×')}]${tA ? 'ᵀ' : ''} · [${bs.join('×')}]${tB ? 'ᵀ' : ''}`, async () => {
      const av = normals(size(as), 41);
      const bv = normals(size(bs), 42);
      const f = (): tf.Tensor =>
        tf
          .engine()
          .runKernel(
            'BatchMatMul',
            { a: tf.tensor(av, as), b: tf.tensor(bv, bs) },
            { transposeA: tA, transposeB: tB },
          ) as tf.Tensor;
      const ref = await on('cpu', () => tf.tidy(f));
      await tf.setBackend('wasm');
      const before = wasmBackend.numDataIds();
      const got = await on('wasm', () => tf.tidy(f));
      expect(wasmBackend.numDataIds()).toBe(before);
      const e = error(got, ref);
      record('BatchMatMul', `[${as.join('×')}]${tA ? 'T' : ''} · [${bs.join('×')}]${tB ? 'T' : ''}`, e);
      expect(e.rel).toBeLessThanOrEqual(REL_BOUND);
    });
  }
});

describe('BatchMatMul on wasm: the native operator cache', () => {
  it('keeps the stock setup function, so registering before the backend initialises still binds the native product', () => {
    const ours = tf.getKernel('BatchMatMul', 'wasm');
    expect(ours?.setupFunc).toBeTypeOf('function');
  });

  it('packs a tensor anew when it comes back as B under another shape (the native cache is keyed by tensor id)', async () => {
    const bv = normals(24, 51);
    const a1v = normals(3 * 6, 52);
    const a2v = normals(5 * 12, 53);
    const both = (): tf.Tensor[] => {
      const b = tf.tensor(bv, [6, 4]);
      const p1 = tf.matMul(tf.tensor(a1v, [3, 6]), b);
      const p2 = tf.matMul(tf.tensor(a2v, [5, 12]), b.reshape([12, 2])); // same data id, other [K, N]
      return [p1, p2];
    };
    await tf.setBackend('cpu');
    const ref = await Promise.all(
      tf.tidy(both).map(async (t) => {
        const v = await t.data();
        t.dispose();
        return v;
      }),
    );
    await tf.setBackend('wasm');
    const before = wasmBackend.numDataIds();
    const got = await Promise.all(
      tf.tidy(both).map(async (t) => {
        const v = await t.data();
        t.dispose();
        return v;
      }),
    );
    expect(wasmBackend.numDataIds()).toBe(before);
    for (const [i, g] of got.entries()) {
      const e = error(g as Float32Array, ref[i] as Float32Array);
      record('BatchMatMul', `B reused as [${i === 0 ? '6×4' : '12×2'}]`, e);
      expect(e.rel).toBeLessThanOrEqual(REL_BOUND);
    }
  });
});

interface PoolCase {
  label: string;
  x: [number, number, number, number];
  k: number;
  s: number;
  pad: 'same' | 'valid';
}

const poolCases: PoolCase[] = [
  { label: '2x2 s2 valid even', x: [2, 8, 8, 5], k: 2, s: 2, pad: 'valid' },
  { label: '2x2 s2 valid odd', x: [2, 7, 7, 3], k: 2, s: 2, pad: 'valid' },
  { label: '2x2 s2 valid odd/even', x: [1, 9, 6, 4], k: 2, s: 2, pad: 'valid' },
  { label: '2x2 s2 same odd', x: [2, 7, 5, 3], k: 2, s: 2, pad: 'same' },
  { label: '3x3 s2 valid (overlap)', x: [2, 9, 9, 2], k: 3, s: 2, pad: 'valid' },
  { label: '3x3 s1 same (overlap)', x: [1, 6, 7, 2], k: 3, s: 1, pad: 'same' },
];

/** dx of sum(maxPool(x) · dy) through tf.grad, i.e. through the registered MaxPoolGrad. */
function poolGrad(c: PoolCase, xv: Float32Array, dyv: Float32Array): () => tf.Tensor {
  return () =>
    tf.tidy(() => {
      const dy = tf.tensor(dyv, tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad), dy)))(
        tf.tensor4d(xv, c.x),
      );
    });
}

describe('MaxPoolGrad on wasm', () => {
  for (const c of poolCases) {
    it(`matches tfjs/cpu exactly on N(0,1) data and on data full of ties: ${c.label}, x ${c.x.join('×')}`, async () => {
      const outShape = tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape;
      const dyv = normals(size(outShape), 32);
      const random = normals(size(c.x), 31);
      // Values in {-1, 0, 1}: most windows hold several equal maxima; cpu routes dy to the first.
      const ties = random.map((v) => Math.max(-1, Math.min(1, Math.round(v))));
      for (const [kind, xv] of [
        ['N(0,1)', random],
        ['ties', ties],
      ] as const) {
        const e = error(await on('wasm', poolGrad(c, xv, dyv)), await on('cpu', poolGrad(c, xv, dyv)));
        record('MaxPoolGrad', `${c.label} ${kind}`, e);
        // Non-overlapping windows: each dx gets at most one dy, so the results are identical.
        if (c.k === c.s) expect(e.maxAbs, kind).toBe(0);
        else expect(e.rel, kind).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('routes no gradient from windows of only NaN and −∞, and skips NaN candidates, like tfjs/cpu', async () => {
    for (const c of [poolCases[0]!, poolCases[1]!, poolCases[4]!]) {
      const xv = normals(size(c.x), 41);
      // Every 3rd value NaN, every 5th −∞, and the whole first row of the first image NaN or −∞.
      for (let i = 0; i < xv.length; i++) {
        if (i % 3 === 0) xv[i] = Number.NaN;
        else if (i % 5 === 0) xv[i] = Number.NEGATIVE_INFINITY;
      }
      const firstRows = 2 * c.x[2] * c.x[3];
      for (let i = 0; i < firstRows; i++) xv[i] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
      const dyv = normals(size(tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape), 42);
      const e = error(await on('wasm', poolGrad(c, xv, dyv)), await on('cpu', poolGrad(c, xv, dyv)));
      record('MaxPoolGrad', `${c.label} NaN/−∞`, e);
      if (c.k === c.s) expect(e.maxAbs).toBe(0);
      else expect(e.rel).toBeLessThanOrEqual(1e-6);
    }
  });

  it("replaces a native kernel that is wrong where a window's values are all negative", async () => {
    // Documents why expbench replaces tfjs-backend-wasm's MaxPoolGrad; if this starts failing, a
    // fixed tfjs-backend-wasm has arrived and the replacement can be reconsidered.
    const c = poolCases[0]!;
    const xv = normals(size(c.x), 31).map((v) => -Math.abs(v) - 0.1);
    const dyv = normals(size(tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape), 32);
    const ref = await on('cpu', poolGrad(c, xv, dyv));
    unregisterWasmTrainingKernels();
    try {
      const native = await on('wasm', poolGrad(c, xv, dyv));
      const e = error(native, ref);
      record('MaxPoolGrad (native)', `${c.label} all < 0`, e);
      expect(e.maxAbs).toBeGreaterThan(0.1);
    } finally {
      registerWasmTrainingKernels();
    }
    const e = error(await on('wasm', poolGrad(c, xv, dyv)), ref);
    record('MaxPoolGrad', `${c.label} all < 0`, e);
    expect(e.maxAbs).toBe(0);
  });
});
