/**
 * The augmentation nodes of a device-gathered training step (augment-graph.ts): the batch they make
 * from the normalised split held on the device must be byte-identical to the one `fillBatch` makes on
 * the host from the same plan (crop after padding, flip). Checked on the CPU execution provider,
 * which runs everywhere, and on the WebGPU one where an adapter exists (lavapipe with
 * EXPBENCH_SOFTWARE_GPU=1), there with the CPU fallback disabled, so every node runs on the device.
 */
import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { appendAugment } from '../../src/backends/onnxruntime/augment-graph.ts';
import { OnnxGraph } from '../../src/backends/onnxruntime/graph.ts';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { loadOrt, sessionOptions } from '../../src/backends/onnxruntime/runtime.ts';
import { augmentPlan } from '../../src/data/augment.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import { epochOrder } from '../../src/data/prng.ts';
import type { Normalization, Split } from '../../src/data/types.ts';
import { mulberry32 } from '../../src/models/init.ts';

const C = 3;
const H = 6;
const W = 5;
const n = 12;
const B = 4;
const r = mulberry32(4);
const split: Split = {
  n,
  images: Uint8Array.from({ length: n * H * W * C }, () => r() & 255),
  labels: Uint8Array.from({ length: n }, () => r() % 10),
};
const geo = { channels: C, height: H, width: W };
const norm: Normalization = { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], source: 'given' };

/** Gathers rows of the split and augments them: inputs data, rows, dx, dy, flip; output x. */
function graph(padding: number): Uint8Array {
  const g = new OnnxGraph('augment');
  g.input('data', 'float32', ['n', C, H, W]);
  for (const v of ['rows', 'dx', 'dy', 'flip']) g.input(v, 'int32', [B]);
  const black = new Float32Array(C);
  fillBatch(
    { n: 1, images: new Uint8Array(C), labels: Uint8Array.of(0) },
    { channels: C, height: 1, width: 1 },
    norm,
    [0],
    0,
    1,
    'NCHW',
    black,
  );
  appendAugment(g, {
    input: g.op('Gather', ['data', 'rows'], { axis: 0 }),
    output: 'x',
    batch: B,
    shape: [C, H, W],
    padding,
    padValues: Array.from(black),
    dx: 'dx',
    dy: 'dy',
    flip: 'flip',
  });
  g.output('x', 'float32', [B, C, H, W]);
  return g.toModelBytes();
}

/** Every batch of an epoch augmented by the graph and by fillBatch, compared bit for bit. */
async function compare(options: InferenceSession.SessionOptions, padding: number): Promise<void> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(graph(padding), options);
  try {
    const all = new Float32Array(n * C * H * W);
    fillBatch(split, geo, norm, identityOrder(n), 0, n, 'NCHW', all);
    const data = new ort.Tensor('float32', all, [n, C, H, W]);
    const order = epochOrder(5, 1, n);
    const plan = augmentPlan({ crop: { padding }, flip: true }, 5, 1, n);
    expect(new Set(plan.flip).size).toBe(2);
    const int = (a: ArrayLike<number>, start: number) =>
      new ort.Tensor(
        'int32',
        Int32Array.from({ length: B }, (_, i) => a[start + i]!),
        [B],
      );
    for (let start = 0; start < n; start += B) {
      const out = await session.run({
        data,
        rows: int(order, start),
        dx: int(plan.dx, start),
        dy: int(plan.dy, start),
        flip: int(plan.flip, start),
      });
      const want = new Float32Array(B * C * H * W);
      fillBatch(split, geo, norm, order, start, B, 'NCHW', want, undefined, plan);
      const got = out.x!.data as Float32Array;
      expect(Array.from(new Uint32Array(got.buffer, got.byteOffset, got.length)), `batch at ${start}`).toEqual(
        Array.from(new Uint32Array(want.buffer)),
      );
    }
  } finally {
    await session.release();
  }
}

describe('augmentation of a gathered batch, as graph nodes', () => {
  it('makes the bytes fillBatch makes from the same plan (CPU execution provider)', async () => {
    await compare(sessionOptions('cpu'), 2);
    await compare(sessionOptions('cpu'), 0);
  });
});

const probe = await createOrtBackend('webgpu').probe();

describe.skipIf(!probe.available)(
  `augmentation on onnxruntime/webgpu (${probe.available ? probe.detail : probe.reason})`,
  () => {
    it('makes the bytes fillBatch makes from the same plan, every node on the device', async () => {
      const options = { ...sessionOptions('webgpu'), extra: { session: { disable_cpu_ep_fallback: '1' } } };
      await compare(options, 2);
      await compare(options, 0);
    }, 60_000);
  },
);
