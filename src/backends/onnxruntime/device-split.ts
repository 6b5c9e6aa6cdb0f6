/**
 * A data split held in device memory: the whole split normalised once on the host, in chunks, and
 * uploaded as one `[N, C, H, W]` float32 device tensor with its `[N]` int32 labels. The trainer
 * gathers its batches from the training split held this way, and device inference its batches from
 * the test split, so neither feeds a batch from the host per run.
 */
import type { Tensor } from 'onnxruntime-common';
import { fillBatch, identityOrder } from '../../data/batch.ts';
import type { Normalization, Split } from '../../data/types.ts';
import type { UploaderPool } from './device-io.ts';

type Ort = typeof import('onnxruntime-node');

/** Host memory one upload chunk of a split may take (the normalised float32 copy). */
export const UPLOAD_CHUNK_BYTES = 64 * 1024 * 1024;

/** A split on the device. */
export interface DeviceSplit {
  split: Split;
  /** `[N, C, H, W]` float32, normalised. */
  data: Tensor;
  /** `[N]` int32. */
  labels: Tensor;
}

/** WebGPU's default `maxStorageBufferBindingSize`, assumed when the adapter cannot be asked. */
const WEBGPU_DEFAULT_BINDING = 128 * 1024 * 1024;
let bindingLimit: Promise<number> | undefined;

/**
 * The largest buffer a shader may bind on the WebGPU adapter (ONNX Runtime's WebGPU EP asks Dawn for
 * the adapter's own `maxStorageBufferBindingSize` and `maxBufferSize`), asked through the `webgpu`
 * package's Dawn, which picks from the same drivers. A Gather over a larger tensor would fail as a
 * WebGPU validation error, which ONNX Runtime only logs; so a split is checked against this first.
 */
export function deviceBindingLimit(): Promise<number> {
  bindingLimit ??= (async () => {
    try {
      type Limits = { maxStorageBufferBindingSize?: number; maxBufferSize?: number };
      const webgpu = (await import('webgpu')) as unknown as {
        create: (o: string[]) => { requestAdapter(o?: object): Promise<{ limits?: Limits } | null> };
      };
      const a = await webgpu.create([]).requestAdapter({ powerPreference: 'high-performance' });
      const l = a?.limits;
      if (!l?.maxStorageBufferBindingSize) return WEBGPU_DEFAULT_BINDING;
      return Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize ?? Number.POSITIVE_INFINITY);
    } catch {
      return WEBGPU_DEFAULT_BINDING;
    }
  })();
  return bindingLimit;
}

/** Bytes `split` takes on the device as float32 `[N, ...input]`. */
export function splitDeviceBytes(split: Split, input: readonly number[]): number {
  return split.n * input.reduce((a, b) => a * b, 1) * 4;
}

/**
 * Normalises `split` on the host in chunks of `chunkBytes` and uploads it through `pool`; one Concat on
 * the device joins the chunks, so the host never holds the whole normalised split. The pool's
 * uploaders own the returned tensors (dispose them before releasing it).
 */
export async function uploadSplit(
  ort: Ort,
  pool: UploaderPool,
  split: Split,
  input: readonly [number, number, number],
  norm: Normalization,
  chunkBytes = UPLOAD_CHUNK_BYTES,
): Promise<DeviceSplit> {
  const [C, H, W] = input;
  const per = C * H * W;
  const geo = { channels: C, height: H, width: W };
  const order = identityOrder(split.n);
  const chunk = Math.max(1, Math.floor(chunkBytes / (per * 4)));
  const buf = new Float32Array(Math.min(chunk, split.n) * per);
  const parts: Tensor[] = [];
  try {
    for (let start = 0; start < split.n; start += chunk) {
      const count = Math.min(chunk, split.n - start);
      fillBatch(split, geo, norm, order, start, count, 'NCHW', buf);
      const host = new ort.Tensor('float32', count * per === buf.length ? buf : buf.subarray(0, count * per), [
        count,
        C,
        H,
        W,
      ]);
      parts.push((await pool.run('chunk', [{ name: 'x', type: 'float32', shape: ['n', C, H, W] }], { x: host })).x!);
    }
    const feeds: Record<string, Tensor> = {
      labels: new ort.Tensor('int32', Int32Array.from(split.labels), [split.n]),
    };
    for (const [i, t] of parts.entries()) feeds[`data.${i}`] = t;
    const out = await pool.run(
      `split-${parts.length}`,
      [
        { name: 'data', type: 'float32', shape: ['n', C, H, W], concat: parts.length },
        { name: 'labels', type: 'int32', shape: ['n'] },
      ],
      feeds,
    );
    return { split, data: out.data!, labels: out.labels! };
  } finally {
    for (const t of parts) t.dispose();
  }
}

/** Disposes a device split's tensors. */
export function freeSplit(d: DeviceSplit | undefined): undefined {
  d?.data.dispose();
  d?.labels.dispose();
  return undefined;
}
