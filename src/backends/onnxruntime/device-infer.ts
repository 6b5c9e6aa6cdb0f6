/**
 * Inference with the test split held on the device (`onnxruntime/webgpu`): the split is uploaded at
 * the first `infer()` on it (timed as inference) with a row table and the zeros the first run starts
 * from, then every batch is one run of the device inference step (`infer-graph.ts`) whose inputs are
 * all device tensors, and the class ids of the whole pass come back in one read, which also waits for
 * the device. The host round trip per batch (fill, upload, read the logits back, argmax on the host)
 * is gone; what crosses is counted by the session's {@link TransferCounter}.
 *
 * Lifetimes (ONNX Runtime 1.30 for Node crashes otherwise): a run's outputs are disposed before the
 * session that made them is released, the uploaded tensors before their uploaders.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { Normalization, Split } from '../../data/types.ts';
import { BackendError } from '../../errors.ts';
import type { ModelGraph, Weights } from '../../models/ir.ts';
import { DeviceReader, type TransferCounter, UploaderPool } from './device-io.ts';
import { type DeviceSplit, deviceBindingLimit, freeSplit, splitDeviceBytes, uploadSplit } from './device-split.ts';
import { buildDeviceInferGraph, type DeviceInferNames } from './infer-graph.ts';

type Ort = typeof import('onnxruntime-node');

/** What one pass over a split reads besides the weights: uploaded once, reused by later passes. */
interface Held {
  split: DeviceSplit;
  batch: number;
  batches: number;
  /** `[batches, batch]` int32. */
  rows: Tensor;
  /** Scalar int32 zero: the first run's counter (inputs are never written, so it serves every pass). */
  step0: Tensor;
  /** `[batches, batch]` int32 zeros: the first run's accumulator. */
  ids0: Tensor;
}

/** The row table of a pass: batch b holds examples b·B … b·B + B − 1, the last batch padded with example 0. */
export function inferenceRows(n: number, batch: number): Int32Array {
  const batches = Math.ceil(n / batch);
  const rows = new Int32Array(batches * batch);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

export class DeviceInference {
  private session: InferenceSession;
  private names: DeviceInferNames;
  private readonly pool: UploaderPool;
  private readonly reader: DeviceReader;
  private held: Held | undefined;
  /** Splits too large for one device buffer, and why (inferred from the host instead). */
  private readonly tooLarge = new WeakMap<Split, string>();

  private constructor(
    private readonly ort: Ort,
    private readonly model: ModelGraph,
    private readonly options: InferenceSession.SessionOptions,
    private readonly counter: TransferCounter,
    private readonly notes: string[],
    built: { session: InferenceSession; names: DeviceInferNames },
  ) {
    this.session = built.session;
    this.names = built.names;
    this.pool = new UploaderPool(ort, options, counter);
    this.reader = new DeviceReader(
      ort,
      [{ name: 'ids', type: 'int32', shape: ['batches', 'batch'] }],
      options,
      counter,
    );
  }

  /** Builds the step for `weights` and runs it once on zeros (`warmBatch` examples), so shaders compile now. */
  static async create(
    ort: Ort,
    model: ModelGraph,
    weights: Weights,
    options: InferenceSession.SessionOptions,
    counter: TransferCounter,
    notes: string[],
    warmBatch: number,
  ): Promise<DeviceInference> {
    const d = new DeviceInference(
      ort,
      model,
      options,
      counter,
      notes,
      await DeviceInference.build(ort, model, weights, options, notes),
    );
    try {
      await d.warmUp(warmBatch);
    } catch (e) {
      await d.dispose();
      throw e;
    }
    return d;
  }

  /**
   * The step's session, outputs kept on the device. Built with the CPU EP fallback disabled first, so
   * that a node the execution provider lacks (which would run on the CPU, a host round trip inside the
   * run) is said in the notes rather than hidden.
   */
  private static async build(
    ort: Ort,
    model: ModelGraph,
    weights: Weights,
    options: InferenceSession.SessionOptions,
    notes: string[],
  ): Promise<{ session: InferenceSession; names: DeviceInferNames }> {
    const { bytes, names } = buildDeviceInferGraph(model, weights);
    const opts: InferenceSession.SessionOptions = { ...options, preferredOutputLocation: 'gpu-buffer' };
    try {
      const session = await ort.InferenceSession.create(bytes, {
        ...opts,
        logSeverityLevel: 4,
        extra: { session: { disable_cpu_ep_fallback: '1' } },
      });
      return { session, names };
    } catch (e) {
      const why = `device inference runs some nodes on the CPU execution provider: ${(e as Error).message.split('\n')[0]}`;
      if (!notes.includes(why)) notes.push(why);
      return { session: await ort.InferenceSession.create(bytes, opts), names };
    }
  }

  /** Replaces the step with one holding `weights` (after training), warmed up; the held split stays. */
  async rebuild(weights: Weights, warmBatch: number): Promise<void> {
    const next = await DeviceInference.build(this.ort, this.model, weights, this.options, this.notes);
    const old = this.session;
    this.session = next.session;
    this.names = next.names;
    await old.release();
    await this.warmUp(warmBatch);
  }

  /** One run on zeros fed from the host, read back, every output dropped: compiles the step and the read-back. */
  private async warmUp(batch: number): Promise<void> {
    const n = this.names;
    const feeds: Record<string, Tensor> = {
      [n.data]: new this.ort.Tensor('float32', new Float32Array(batch * numel(this.model.input)), [
        batch,
        ...this.model.input,
      ]),
      [n.rows]: new this.ort.Tensor('int32', inferenceRows(batch, batch), [1, batch]),
      [n.step]: new this.ort.Tensor('int32', new Int32Array(1), []),
      [n.ids]: new this.ort.Tensor('int32', new Int32Array(batch), [1, batch]),
    };
    this.counter.upload(Object.values(feeds));
    const out = await this.session.run(feeds);
    try {
      await this.reader.read({ ids: out[n.idsNext]! });
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /**
   * Class ids of every example of `split`, `batch` per run; undefined when the split does not fit one
   * device buffer (the caller then infers from the host, and the notes say why).
   */
  async infer(split: Split, batch: number, norm: Normalization): Promise<Int32Array | undefined> {
    const held = await this.hold(split, batch, norm);
    if (!held) return undefined;
    const n = this.names;
    let step = held.step0;
    let ids = held.ids0;
    const drop = (t: Tensor) => t !== held.step0 && t !== held.ids0 && t.dispose();
    try {
      for (let b = 0; b < held.batches; b++) {
        const out = await this.session.run({
          [n.data]: held.split.data,
          [n.rows]: held.rows,
          [n.step]: step,
          [n.ids]: ids,
        });
        drop(step);
        drop(ids);
        step = out[n.stepNext]!;
        ids = out[n.idsNext]!;
        if (step?.location !== 'gpu-buffer' || ids?.location !== 'gpu-buffer') {
          for (const t of Object.values(out)) t.dispose();
          throw new BackendError(
            `${this.model.name}: the device inference step left its outputs in '${ids?.location}', not on the device. Hint: the execution provider must keep outputs as gpu-buffer tensors.`,
          );
        }
      }
      // The one read-back of the pass: every batch's class ids, after the device ran them all.
      const host = (await this.reader.read({ ids })).get('ids')!;
      return Int32Array.from(host.subarray(0, split.n));
    } finally {
      drop(step);
      drop(ids);
    }
  }

  /** The split, row table and zeros of a pass on the device, uploaded if not there already. */
  private async hold(split: Split, batch: number, norm: Normalization): Promise<Held | undefined> {
    if (this.held?.split.split === split && this.held.batch === batch) return this.held;
    if (this.tooLarge.has(split)) return undefined;
    const bytes = splitDeviceBytes(split, this.model.input);
    const limit = await deviceBindingLimit();
    if (bytes > limit) {
      const why = `test split of ${split.n} examples (${(bytes / 2 ** 20).toFixed(0)} MiB as float32) exceeds the device's ${(limit / 2 ** 20).toFixed(0)} MiB buffer limit: inference batches fed from the host`;
      this.tooLarge.set(split, why);
      this.notes.push(why);
      return undefined;
    }
    this.free();
    const dev = await uploadSplit(this.ort, this.pool, split, this.model.input as [number, number, number], norm);
    const batches = Math.ceil(split.n / batch);
    try {
      const up = await this.pool.run(
        'pass',
        [
          { name: 'rows', type: 'int32', shape: ['batches', 'batch'] },
          { name: 'step', type: 'int32', shape: [] },
          { name: 'ids', type: 'int32', shape: ['batches', 'batch'] },
        ],
        {
          rows: new this.ort.Tensor('int32', inferenceRows(split.n, batch), [batches, batch]),
          step: new this.ort.Tensor('int32', new Int32Array(1), []),
          ids: new this.ort.Tensor('int32', new Int32Array(batches * batch), [batches, batch]),
        },
      );
      this.held = { split: dev, batch, batches, rows: up.rows!, step0: up.step!, ids0: up.ids! };
    } catch (e) {
      freeSplit(dev);
      throw e;
    }
    if (!this.notes.some((s) => s.startsWith('test split held in device memory')))
      this.notes.push(
        'test split held in device memory (uploaded at the first infer()); batches gathered and class ids accumulated on the device, read back once per pass',
      );
    return this.held;
  }

  private free(): void {
    if (!this.held) return;
    freeSplit(this.held.split);
    this.held.rows.dispose();
    this.held.step0.dispose();
    this.held.ids0.dispose();
    this.held = undefined;
  }

  /** Device tensors first, then the sessions and uploaders that made them. */
  async dispose(): Promise<void> {
    this.free();
    await this.pool.release();
    await this.reader.release();
    await this.session.release();
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
