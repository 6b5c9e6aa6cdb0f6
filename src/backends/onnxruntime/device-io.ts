/**
 * Moving tensors between the host and a WebGPU device with what onnxruntime-node offers: it exposes no
 * device to create buffers with, but keeps a session's outputs where `preferredOutputLocation` asks. So
 * an upload is an Identity (or Concat) session whose outputs stay on the device, and a read-back one
 * whose outputs go to the CPU. Two rules of ONNX Runtime 1.30 for Node, each enforced by a crash:
 * `getData()` on a `gpu-buffer` tensor aborts the process, and a device output must be disposed before
 * the session that produced it is released (see `OrtWeightState.owners`).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { BackendError } from '../../errors.ts';
import { type Dim, OnnxGraph } from './graph.ts';

type Ort = typeof import('onnxruntime-node');

/** One value to move: its name, element type, shape; `concat: k` joins k inputs along axis 0 on the way up. */
export interface DeviceValue {
  name: string;
  type?: 'float32' | 'int32';
  shape: readonly Dim[];
  concat?: number;
}

/** Host↔device crossings of one phase: runs that uploaded host tensors, runs that read device ones back. */
export interface TransferCount {
  uploads: number;
  uploadBytes: number;
  readbacks: number;
  readbackBytes: number;
}

/**
 * Counts the host↔device transfers a session's device code makes, by the phase it was in when it made
 * them (`phase`, set by the session's methods). One upload is one run that took host tensors onto the
 * device, one read-back one run that brought device tensors to host memory; bytes are the host
 * tensors' sizes. Tests read it to prove what crosses the bus, e.g. that inference reads back only
 * class ids.
 */
export class TransferCounter {
  phase = 'load';
  private readonly counts = new Map<string, TransferCount>();

  private entry(): TransferCount {
    let c = this.counts.get(this.phase);
    if (!c) {
      c = { uploads: 0, uploadBytes: 0, readbacks: 0, readbackBytes: 0 };
      this.counts.set(this.phase, c);
    }
    return c;
  }

  upload(tensors: Iterable<Tensor>): void {
    const c = this.entry();
    c.uploads++;
    for (const t of tensors) c.uploadBytes += hostBytes(t);
  }

  readback(tensors: Iterable<Tensor>): void {
    const c = this.entry();
    c.readbacks++;
    for (const t of tensors) c.readbackBytes += hostBytes(t);
  }

  /** A copy of the counts so far, by phase. */
  snapshot(): Record<string, TransferCount> {
    return Object.fromEntries([...this.counts].map(([k, v]) => [k, { ...v }]));
  }
}

/** Bytes of a host tensor's data (0 for a device one, whose data is never touched here). */
function hostBytes(t: Tensor): number {
  return t.location === 'cpu' ? (t.data as ArrayBufferView).byteLength : 0;
}

/** A session that puts host tensors on the device; built at the first run, reused after. */
export class DeviceUploader {
  private session: InferenceSession | undefined;

  constructor(
    private readonly ort: Ort,
    private readonly values: readonly DeviceValue[],
    private readonly opts: InferenceSession.SessionOptions,
    private readonly counter?: TransferCounter,
  ) {}

  /**
   * Runs `feeds` (by value name; `name.i` for the parts of a concatenated one) and returns the device
   * tensors by value name. Keep this uploader alive until they are disposed.
   */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (!this.session) {
      const g = new OnnxGraph('upload');
      for (const v of this.values) {
        const type = v.type ?? 'float32';
        const shape = [...v.shape];
        if (v.concat !== undefined) {
          const parts = Array.from({ length: v.concat }, (_, i) => g.input(`${v.name}.${i}`, type, shape));
          g.output(g.op('Concat', parts, { axis: 0 }, `${v.name}.device`), type, shape);
        } else {
          g.input(v.name, type, shape);
          g.output(g.op('Identity', [v.name], {}, `${v.name}.device`), type, shape);
        }
      }
      this.session = await this.ort.InferenceSession.create(g.toModelBytes(), {
        ...this.opts,
        preferredOutputLocation: 'gpu-buffer',
      });
    }
    this.counter?.upload(Object.values(feeds));
    const out = await this.session.run(feeds);
    const m: Record<string, Tensor> = {};
    for (const v of this.values) {
      const t = out[`${v.name}.device`];
      if (t?.location !== 'gpu-buffer') {
        for (const u of Object.values(out)) u.dispose();
        throw new BackendError(
          `onnxruntime: uploading ${v.name} left it in '${t?.location}', not on the device. Hint: the execution provider must keep outputs as gpu-buffer tensors.`,
        );
      }
      m[v.name] = t;
    }
    return m;
  }

  async release(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}

/** A session that reads device tensors back into host arrays; built at the first read, reused after. */
export class DeviceReader {
  private session: InferenceSession | undefined;

  constructor(
    private readonly ort: Ort,
    private readonly values: readonly DeviceValue[],
    private readonly opts: InferenceSession.SessionOptions,
    private readonly counter?: TransferCounter,
  ) {}

  /** Host copies of `tensors` (by value name), as float32 arrays. */
  async read(tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>): Promise<Map<string, Float32Array>> {
    if (!this.session) {
      const g = new OnnxGraph('readback');
      for (const v of this.values) {
        g.input(v.name, v.type ?? 'float32', [...v.shape]);
        g.output(g.op('Identity', [v.name], {}, `${v.name}.host`), v.type ?? 'float32', [...v.shape]);
      }
      this.session = await this.ort.InferenceSession.create(g.toModelBytes(), {
        ...this.opts,
        preferredOutputLocation: 'cpu',
      });
    }
    const get = (name: string) =>
      tensors instanceof Map ? tensors.get(name) : (tensors as Record<string, Tensor>)[name];
    const feeds: Record<string, Tensor> = {};
    for (const v of this.values) feeds[v.name] = get(v.name)!;
    const out = await this.session.run(feeds);
    this.counter?.readback(Object.values(out));
    const m = new Map<string, Float32Array>();
    for (const v of this.values) {
      const t = out[`${v.name}.host`]!;
      m.set(v.name, Float32Array.from(t.data as Float32Array));
      t.dispose();
    }
    return m;
  }

  async release(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}

/**
 * Uploaders kept by purpose (one Identity/Concat session each, built at first use). Release only
 * after every tensor they uploaded is disposed (a device tensor outliving its session kills ONNX
 * Runtime 1.30 for Node).
 */
export class UploaderPool {
  private readonly uploaders = new Map<string, DeviceUploader>();

  constructor(
    private readonly ort: Ort,
    private readonly opts: InferenceSession.SessionOptions,
    private readonly counter?: TransferCounter,
  ) {}

  /** Runs the uploader kept under `purpose` (made for `values` at its first use) on `feeds`. */
  run(purpose: string, values: DeviceValue[], feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    let uploader = this.uploaders.get(purpose);
    if (!uploader) {
      uploader = new DeviceUploader(this.ort, values, this.opts, this.counter);
      this.uploaders.set(purpose, uploader);
    }
    return uploader.run(feeds);
  }

  async release(): Promise<void> {
    for (const u of this.uploaders.values()) await u.release();
    this.uploaders.clear();
  }
}
