/**
 * Direct access to tfjs-backend-wasm's heap for kernels that only move data: views of a tensor's
 * memory at an element offset (so a native kernel reads a shifted window of a buffer without a copy),
 * and running a native kernel with its output placed in memory the caller allocated.
 *
 * tfjs-backend-wasm 4.22 keeps, per tensor, `{ id, memoryOffset, shape, dtype, refCount }` in
 * `backend.dataIdMap` and registers `(id, size, memoryOffset)` with its C++ side, which kernels look
 * tensors up by. A view is such an entry pointing inside another tensor's allocation; it owns no
 * memory, so it is released with {@link releaseView} (never `disposeData`, which would `free()` an
 * interior pointer), and its base must outlive it.
 */
import { util } from '@tensorflow/tfjs-core';
import type { DataId, KernelBackend, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

interface TensorEntry {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}

/** The parts of tfjs-backend-wasm's BackendWasm these helpers use. */
interface WasmBackendInternals {
  dataIdNextNumber: number;
  dataIdMap: {
    get(d: DataId): TensorEntry | undefined;
    set(d: DataId, v: TensorEntry): void;
    delete(d: DataId): boolean;
  };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  wasm: {
    HEAPU8: Uint8Array;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
  };
}

const internals = (backend: KernelBackend) => backend as unknown as WasmBackendInternals;

/**
 * The whole heap as float32. Take it after the last allocation that precedes its use: an allocation
 * can grow the heap, and a view taken before does not cover the new part.
 */
export function heapF32(backend: KernelBackend): Float32Array {
  const u8 = internals(backend).wasm.HEAPU8;
  return new Float32Array(u8.buffer, 0, u8.buffer.byteLength >>> 2);
}

/** Index of `t`'s first element in {@link heapF32}. */
export function heapIndex(backend: KernelBackend, t: TensorInfo): number {
  return internals(backend).dataIdMap.get(t.dataId)!.memoryOffset >>> 2;
}

/** A fresh float32 tensor of `shape`, not initialised; free it with `disposeData` (or a KernelScope). */
export function allocF32(backend: KernelBackend, shape: number[]): TensorInfo {
  return internals(backend).makeOutput(shape, 'float32');
}

/**
 * A float32 tensor of `shape` whose elements are `base`'s from element `offset` on (the window must
 * lie inside `base`'s allocation). Native kernels may read it, or write it when it is their output;
 * release it with {@link releaseView} before `base` is freed.
 */
export function makeView(backend: KernelBackend, base: TensorInfo, offset: number, shape: number[]): TensorInfo {
  const b = internals(backend);
  const entry = b.dataIdMap.get(base.dataId)!;
  const size = util.sizeFromShape(shape);
  if (offset < 0 || offset + size > util.sizeFromShape(entry.shape)) {
    throw new RangeError(
      `view [${offset}, ${offset + size}) outside a tensor of ${util.sizeFromShape(entry.shape)} elements`,
    );
  }
  const id = b.dataIdNextNumber++;
  const dataId = { id };
  const memoryOffset = entry.memoryOffset + offset * 4;
  b.dataIdMap.set(dataId, { id, memoryOffset, shape, dtype: 'float32', refCount: 1 });
  b.wasm.tfjs.registerTensor(id, size, memoryOffset);
  return { dataId, shape, dtype: 'float32' };
}

/** Forgets a view made by {@link makeView}; the memory stays its base's. */
export function releaseView(backend: KernelBackend, view: TensorInfo): void {
  const b = internals(backend);
  const entry = b.dataIdMap.get(view.dataId);
  if (entry == null) return;
  // The C++ side drops the id (and runs its disposal callbacks); nothing is freed.
  b.wasm.tfjs.disposeData(entry.id);
  b.dataIdMap.delete(view.dataId);
}

/**
 * Runs native kernel `config` with its output placed in `target` (a tensor or view of exactly the
 * output's size): the kernel's one `makeOutput` call is answered with `target`. For kernels that
 * allocate nothing but their output (Transpose, BatchMatMul without transposes).
 */
export function runInto(
  config: KernelConfig,
  backend: KernelBackend,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown>,
  target: TensorInfo,
): TensorInfo {
  let used = false;
  const proxy = Object.create(backend, {
    makeOutput: {
      value: (shape: number[]) => {
        if (used || util.sizeFromShape(shape) !== util.sizeFromShape(target.shape)) {
          throw new RangeError(
            `runInto: ${config.kernelName} asked for an output of [${shape.join(', ')}], the target is [${target.shape.join(', ')}]`,
          );
        }
        used = true;
        return target;
      },
    },
  }) as KernelBackend;
  const out = config.kernelFunc({ inputs: inputs as never, backend: proxy, attrs: attrs as never }) as TensorInfo;
  if (out.dataId !== target.dataId)
    throw new RangeError(`runInto: ${config.kernelName} did not write its output into the target`);
  return out;
}
