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
import { buildDeviceInferGraph, type DeviceFigures, type DeviceInferNames } from './infer-graph.ts';

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
  /** Figure passes: `[batches, batch]` float32, 1 for a real example, and zero sums by their length. */
  valid?: Tensor;
  sums0: Map<number, Tensor>;
}

/** A compiled step: its session and value names. */
interface Step {
  session: InferenceSession;
  names: DeviceInferNames;
}

/** The row table of a pass: batch b holds examples b·B … b·B + B − 1, the last batch padded with example 0. */
export function inferenceRows(n: number, batch: number): Int32Array {
  const batches = Math.ceil(n / batch);
  const rows = new Int32Array(batches * batch);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

export class DeviceInference {
  private step: Step;
  /** Steps that also sum figures, by their figures, built at their first pass on the current weights. */
  private readonly figureSteps = new Map<string, Step>();
  private readonly figureReaders = new Map<number, DeviceReader>();
  private weights: Weights;
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
    weights: Weights,
    built: Step,
  ) {
    this.step = built;
    this.weights = weights;
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
      weights,
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
    figures?: DeviceFigures,
  ): Promise<Step> {
    const { bytes, names } = buildDeviceInferGraph(model, weights, figures);
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
    const old = [this.step, ...this.figureSteps.values()];
    this.step = next;
    this.weights = weights;
    this.figureSteps.clear();
    for (const s of old) await s.session.release();
    await this.warmUp(warmBatch);
  }

  /** One run on zeros fed from the host, read back, every output dropped: compiles the step and the read-back. */
  private async warmUp(batch: number): Promise<void> {
    const n = this.step.names;
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
    const out = await this.step.session.run(feeds);
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
    if (split.n === 0) return new Int32Array(0);
    const held = await this.hold(split, batch, norm);
    if (!held) return undefined;
    const n = this.step.names;
    const last = await this.pass(this.step, held, {}, [[n.ids, n.idsNext, held.ids0]]);
    try {
      // The one read-back of the pass: every batch's class ids, after the device ran them all.
      const host = (await this.reader.read({ ids: last.get(n.ids)! })).get('ids')!;
      return Int32Array.from(host.subarray(0, split.n));
    } finally {
      for (const t of last.values()) t.dispose();
    }
  }

  /**
   * The sums of `figures` over `split` (each top-k's hit count, then the summed loss), computed on the
   * device and read back once; undefined when the split does not fit one device buffer.
   */
  async figures(
    split: Split,
    batch: number,
    norm: Normalization,
    figures: DeviceFigures,
  ): Promise<Float32Array | undefined> {
    const m = figures.topk.length + (figures.loss ? 1 : 0);
    if (split.n === 0) return new Float32Array(m);
    const held = await this.hold(split, batch, norm);
    if (!held) return undefined;
    const key = `top${figures.topk.join(',')}${figures.loss ? '+loss' : ''}`;
    let step = this.figureSteps.get(key);
    if (!step) {
      step = await DeviceInference.build(this.ort, this.model, this.weights, this.options, this.notes, figures);
      this.figureSteps.set(key, step);
    }
    if (!held.valid) {
      const valid = new Float32Array(held.batches * held.batch);
      valid.fill(1, 0, split.n);
      held.valid = (
        await this.pool.run('valid', [{ name: 'valid', shape: ['batches', 'batch'] }], {
          valid: new this.ort.Tensor('float32', valid, [held.batches, held.batch]),
        })
      ).valid!;
    }
    let sums0 = held.sums0.get(m);
    if (!sums0) {
      sums0 = (
        await this.pool.run(`sums-${m}`, [{ name: 'sums', shape: [m] }], {
          sums: new this.ort.Tensor('float32', new Float32Array(m), [m]),
        })
      ).sums!;
      held.sums0.set(m, sums0);
    }
    const n = step.names;
    const f = n.figures!;
    const last = await this.pass(step, held, { [f.labelsAll]: held.split.labels, [f.valid]: held.valid }, [
      [n.ids, n.idsNext, held.ids0],
      [f.sums, f.sumsNext, sums0],
    ]);
    try {
      let reader = this.figureReaders.get(m);
      if (!reader) {
        reader = new DeviceReader(this.ort, [{ name: 'sums', shape: [m] }], this.options, this.counter);
        this.figureReaders.set(m, reader);
      }
      return (await reader.read({ sums: last.get(f.sums)! })).get('sums')!;
    } finally {
      for (const t of last.values()) t.dispose();
    }
  }

  /**
   * Runs `step` over every batch of `held`, feeding each run's outputs back: `carried` lists each value
   * fed back (input, output, first value) besides the counter. Returns the last value of each, by input
   * name, for the caller to read and dispose. Every input is a device tensor.
   */
  private async pass(
    step: Step,
    held: Held,
    fixed: Record<string, Tensor>,
    carried: [string, string, Tensor][],
  ): Promise<Map<string, Tensor>> {
    const n = step.names;
    const loop: [string, string, Tensor][] = [[n.step, n.stepNext, held.step0], ...carried];
    const first = new Set(loop.map(([, , t]) => t));
    const now = new Map(loop.map(([input, , t]) => [input, t]));
    const drop = (t: Tensor) => !first.has(t) && t.dispose();
    try {
      for (let b = 0; b < held.batches; b++) {
        const feeds: Record<string, Tensor> = { ...fixed, [n.data]: held.split.data, [n.rows]: held.rows };
        for (const [input] of loop) feeds[input] = now.get(input)!;
        const out = await step.session.run(feeds);
        for (const [, output] of loop) {
          const t = out[output];
          if (t?.location !== 'gpu-buffer') {
            for (const u of Object.values(out)) u.dispose();
            throw new BackendError(
              `${this.model.name}: the device inference step left ${output} in '${t?.location}', not on the device. Hint: the execution provider must keep outputs as gpu-buffer tensors.`,
            );
          }
        }
        for (const [input, output] of loop) {
          drop(now.get(input)!);
          now.set(input, out[output]!);
        }
      }
    } catch (e) {
      for (const t of now.values()) drop(t);
      throw e;
    }
    // Never hand out a first value (it is kept for the next pass): a pass of no batch has none to give.
    const last = new Map<string, Tensor>();
    for (const [input, t] of now) if (!first.has(t)) last.set(input, t);
    return last;
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
      this.held = { split: dev, batch, batches, rows: up.rows!, step0: up.step!, ids0: up.ids!, sums0: new Map() };
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
    this.held.valid?.dispose();
    for (const t of this.held.sums0.values()) t.dispose();
    this.held = undefined;
  }

  /** Device tensors first, then the sessions and uploaders that made them. */
  async dispose(): Promise<void> {
    this.free();
    await this.pool.release();
    await this.reader.release();
    for (const r of this.figureReaders.values()) await r.release();
    for (const s of [this.step, ...this.figureSteps.values()]) await s.session.release();
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
