/**
 * The smaller kernels of a tfjs/wasm training step, old formulation against new, side by side in one
 * process on vgg-small's shapes at batch 64 (NHWC): the bias-gradient `Sum` over N, H, W (stock wasm
 * kernel against expbench's), `MaxPoolGrad` 2×2/2 (the general scan against the specialised one) and
 * the filter preparation of `Conv2DBackpropInput` (native Reverse + Transpose against one JS pass),
 * and the batch-norm gradient's `Tile` of `[1, 1, 1, C]` over ResNet-20's activations at batch 32
 * (stock wasm kernel against expbench's block copies).
 *
 *   npx tsx bench/wasm-small-kernels.ts [--repeats 7] [--calls 5] [--only sum,maxpoolgrad,filter,tile]
 *
 * wasm is initialised as the backends do it (`activateRuntime('wasm')`: threaded XNNPACK on every
 * core). The same input is used on every call, so a tensor that fits the cache (16 MiB for
 * 64×32×32×64) is read from it: read the figures as compute cost, not cold-memory cost. Each repeat times `--calls` calls of each variant back to back, variants interleaved, after
 * two untimed warm-up calls; reported: ms per call, median and min–max over the repeats.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { activateRuntime } from '../src/backends/tfjs/runtime.ts';
import { makeSumConfig } from '../src/backends/tfjs/wasm-kernels/sum.ts';
import { makeTileConfig } from '../src/backends/tfjs/wasm-kernels/tile.ts';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../src/backends/tfjs/wasm-kernels/index.ts';
import { maxPoolGradConfig, maxPoolGradScan } from '../src/backends/tfjs/wasm-kernels/max-pool-grad.ts';
import { flipSwapFilter } from '../src/backends/tfjs/wasm-kernels/conv2d-backprop-input.ts';
import { withKernelScope } from '../src/backends/tfjs/wasm-kernels/kernel-scope.ts';
import { mulberry32 } from '../src/data/prng.ts';
import { median, sortSamples } from '../src/stats/index.ts';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '7' },
    calls: { type: 'string', default: '5' },
    only: { type: 'string', default: 'sum,maxpoolgrad,filter,tile' },
  },
});
const REPEATS = Number(args.repeats);
const CALLS = Number(args.calls);
const only = new Set(args.only.split(','));

const rt = await activateRuntime('wasm');
if (!rt.ok) throw new Error(`tfjs/wasm unavailable: ${rt.reason}`);
console.log(`${rt.info.description}; ${REPEATS} repeats × ${CALLS} calls per variant`);
const backend = tf.backend() as unknown as KernelBackend;

function normals(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

type Variant = [name: string, run: () => TensorInfo];

/** Times the variants interleaved and prints one line each. */
function compare(label: string, variants: Variant[]): void {
  const samples = variants.map(() => [] as number[]);
  for (let r = -2; r < REPEATS; r++) {
    variants.forEach(([, run], i) => {
      const calls = r < 0 ? 1 : CALLS;
      const t0 = performance.now();
      for (let c = 0; c < calls; c++) backend.disposeData(run().dataId);
      if (r >= 0) samples[i]!.push((performance.now() - t0) / calls);
    });
  }
  const base = median(sortSamples(samples[0]!));
  variants.forEach(([name], i) => {
    const s = samples[i]!;
    const m = median(sortSamples(s));
    console.log(
      `${label.padEnd(34)} ${name.padEnd(28)} ${m.toFixed(2).padStart(8)} ms  (${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)})  ${(base / m).toFixed(2)}×`,
    );
  });
}

const call = (config: KernelConfig, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => () =>
  config.kernelFunc({ inputs, backend, attrs } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;

if (only.has('sum')) {
  // activateRuntime registered expbench's kernels: the stock Sum is the one they set aside.
  unregisterWasmTrainingKernels();
  const stock = getKernel('Sum', 'wasm')!;
  registerWasmTrainingKernels();
  const ours = makeSumConfig(stock);
  const jsSum = (x: tf.Tensor, m: number, c: number) => () => {
    // Float64 accumulators over the heap view: the single-threaded alternative.
    const view = (backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(x);
    const acc = new Float64Array(c);
    for (let r = 0; r < m; r++) {
      const o = r * c;
      for (let j = 0; j < c; j++) acc[j] = acc[j]! + view[o + j]!;
    }
    const dataId = backend.write(Float32Array.from(acc), [c], 'float32');
    return { dataId, shape: [c], dtype: 'float32' } as TensorInfo;
  };
  for (const shape of [
    [64, 32, 32, 64],
    [64, 16, 16, 128],
    [64, 256],
    [64, 10],
  ]) {
    const x = tf.tensor(
      normals(
        shape.reduce((p, v) => p * v, 1),
        7,
      ),
      shape,
    );
    const axis = shape.slice(0, -1).map((_, i) => i);
    const c = shape[shape.length - 1]!;
    const m = x.size / c;
    compare(`Sum [${shape.join('×')}] axes ${axis.join(',')}`, [
      ['stock (transpose + reduce)', call(stock, { x }, { axis, keepDims: false })],
      ['expbench (AvgPool, 2 stages)', call(ours, { x }, { axis, keepDims: false })],
      ['JS float64 loop', jsSum(x, m, c)],
    ]);
    x.dispose();
  }
}

if (only.has('maxpoolgrad')) {
  for (const shape of [
    [64, 32, 32, 64],
    [64, 16, 16, 128],
  ] as [number, number, number, number][]) {
    const info = tf.backend_util.computePool2DInfo(shape, 2, 2, 1, 'valid');
    const x = tf.tensor(
      normals(
        shape.reduce((p, v) => p * v, 1),
        3,
      ),
      shape,
    );
    const dy = tf.tensor(
      normals(
        info.outShape.reduce((p, v) => p * v, 1),
        4,
      ),
      info.outShape,
    );
    // The previous kernel: copies of x and dy out of the heap, the general scan, dx written back.
    const previous = () => {
      const xv = backend.readSync(x.dataId) as Float32Array;
      const g = backend.readSync(dy.dataId) as Float32Array;
      const dx = maxPoolGradScan(xv, g, info, new Float32Array(x.size));
      return { dataId: backend.write(dx, shape, 'float32'), shape, dtype: 'float32' } as TensorInfo;
    };
    compare(`MaxPoolGrad 2×2/2 x [${shape.join('×')}]`, [
      ['copies + general scan', previous],
      [
        'in-heap, 2×2/2 loop',
        call(maxPoolGradConfig, { dy, input: x, output: dy }, { filterSize: 2, strides: 2, pad: 'valid' }),
      ],
    ]);
    tf.dispose([x, dy]);
  }
}

if (only.has('filter')) {
  for (const shape of [
    [3, 3, 64, 64],
    [3, 3, 64, 128],
    [3, 3, 128, 128],
  ]) {
    const w = tf.tensor(
      normals(
        shape.reduce((p, v) => p * v, 1),
        5,
      ),
      shape,
    );
    compare(`flip(W)ᵀ W [${shape.join('×')}]`, [
      [
        'native Reverse + Transpose',
        () =>
          withKernelScope(backend, 'wasm', (sc) => {
            const flipped = sc.run('Reverse', { x: w }, { dims: [0, 1] });
            return sc.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
          }),
      ],
      ['one JS pass on the heap', () => flipSwapFilter(backend, w)],
    ]);
    w.dispose();
  }
}

if (only.has('tile')) {
  // As for Sum: the stock Tile is the one expbench's registration set aside.
  unregisterWasmTrainingKernels();
  const stock = getKernel('Tile', 'wasm')!;
  registerWasmTrainingKernels();
  const ours = makeTileConfig(stock);
  for (const [n, h, c] of [
    [32, 32, 16],
    [32, 16, 32],
    [32, 8, 64],
  ] as const) {
    const x = tf.tensor(normals(c, 11), [1, 1, 1, c]);
    const reps = [n, h, h, 1];
    compare(`Tile [1×1×1×${c}] → [${n}×${h}×${h}×${c}]`, [
      ['stock (C++ index loop)', call(stock, { x }, { reps })],
      ['expbench (block copies)', call(ours, { x }, { reps })],
    ]);
    x.dispose();
  }
}
