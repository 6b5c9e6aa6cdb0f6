/**
 * Training on ONNX Runtime: the generated training-step graph (`train-graph.ts`) in one
 * InferenceSession, run once per step, its state (weights, velocities, batch-norm running statistics)
 * fed in and taken back out every step.
 *
 * Where the state lives follows `state.location`:
 * - `cpu`: two sets of tensors per state value, ping-ponged. Each step's outputs are written into
 *   the spare set through ORT's pre-allocated outputs (the `fetches` argument), then the sets swap,
 *   so a step allocates nothing in JS; the loss is a pre-allocated scalar read at no cost.
 * - `gpu-buffer` (WebGPU EP): every output stays on the device (`preferredOutputLocation`) and is fed
 *   back next step; the replaced buffers are disposed. The loss is read back only every `lossEvery`
 *   steps, through a one-node Identity session whose output location is `cpu` (`getData()` on a
 *   `gpu-buffer` tensor crashes ONNX Runtime 1.30 for Node), which also waits for the device.
 *
 * The example order is the runner's (`req.order(epoch)`), full batches only.
 *
 * Where a step's batch comes from:
 * - host-fed (`cpu`, and `gpu-buffer` when asked or when the split does not fit one device buffer):
 *   `fillBatch` normalises each batch NCHW into buffers reused across steps, fed as host tensors.
 * - device-gathered (`gpu-buffer`, the default there): at the first `train()` on a split the whole
 *   split is normalised once on the host (in chunks of {@link UPLOAD_CHUNK_BYTES}) and uploaded as one
 *   `[N, C, H, W]` float32 device tensor with its int32 labels; each epoch uploads its order
 *   (`[steps, batch]` int32) and a zero step counter once; the training graph (`batchSource: 'gather'`)
 *   gathers its batch from them and returns the counter plus one, fed back like the weights. The
 *   learning rate comes from the epoch's rate table (`req.lr` per step, uploaded with the order) read
 *   at the same counter; an augmented epoch's plan (crop offsets and flips by position) goes up with the
 *   order and the step augments its gathered batch in the graph (`augment-graph.ts`), byte-identical to
 *   `fillBatch`. So every input of a step is already on the device: ONNX
 *   Runtime's WebGPU EP then spends ~0.1 ms per run on overhead instead of ~1 ms plus the upload
 *   (measured on an H100; `bench/ort-webgpu-step.ts` times both here).
 *   Memory: the training split then lives in device memory for the trainer's life (N·C·H·W·4 bytes:
 *   614 MB for CIFAR-10's 49,984 training images), next to the weights and optimizer state, as the
 *   study's design asks (weights, optimizer state and data on the device). It is uploaded at the first
 *   `train()` on a split (so the upload is timed as training), cached for that split object, and freed
 *   when another split comes or on `dispose()`.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { fillBatch } from '../../data/batch.ts';
import type { Split } from '../../data/types.ts';
import { BackendError, NumericError } from '../../errors.ts';
import type { ModelGraph } from '../../models/ir.ts';
import { aggregateOpProfile, type OpProfile } from '../../vocab/op-profile.ts';
import type { LoadOptions, OpProfileRequest, StepInfo, TrainRequest, TrainResult } from '../types.ts';
import { DeviceReader, type DeviceValue, type TransferCounter, UploaderPool } from './device-io.ts';
import { type DeviceSplit, deviceBindingLimit, freeSplit, splitDeviceBytes, uploadSplit } from './device-split.ts';
import { ORT_PROFILE_SOURCE, parseOrtProfile, withProfiledSession } from './op-profile.ts';
import type { OrtTrainer, OrtTrainerContext, OrtWeightState } from './state.ts';
import type { Formulation } from './autodiff.ts';
import { buildTrainStepGraph } from './train-graph.ts';
import { velocityKey } from './optimizer.ts';
import type { BatchSource, TrainStepGraph } from './train-graph.ts';

type Ort = OrtTrainerContext['ort'];

export { UPLOAD_CHUNK_BYTES } from './device-split.ts';

/**
 * Untimed runs of a CPU training step in build+init. ONNX Runtime's first run of a session grows its
 * memory arena and records the allocation pattern, the second allocates that pattern as one block, and
 * both touch fresh pages: on vgg-small at batch 64 the first two runs took 3–4× a steady step and the
 * third 1.3× (the first timed round of `bench/train-throughput.ts` was the slowest in every run).
 */
export const CPU_WARMUP_RUNS = 3;

/**
 * Gradient formulations of the training graph on the CPU EP alone (`autodiff.ts`): the max-pool
 * gradient by MaxUnpool of the forward pool's indices took 0.92–0.95× the CPU time per vgg-small step of the
 * portable mask (`bench/ort-train-step.ts`, pool-mask vs default); the WebGPU EP rejects those indices.
 */
export const CPU_FORMULATION: Formulation = { maxPoolGrad: 'unpool' };

/** Whether every execution provider of `eps` is the CPU's. */
function cpuOnly(eps: InferenceSession.SessionOptions['executionProviders']): boolean {
  const names = (eps ?? []).map((e) => (typeof e === 'string' ? e : e.name));
  return names.length > 0 && names.every((n) => n === 'cpu');
}

/** {@link CPU_FORMULATION} on the CPU execution provider alone, else the portable defaults. */
export function formulationFor(eps: InferenceSession.SessionOptions['executionProviders']): Formulation | undefined {
  return cpuOnly(eps) ? CPU_FORMULATION : undefined;
}

/** Options of {@link createOrtTrainer} beyond what `load()` passes. */
export interface OrtTrainerOptions {
  /**
   * Where a `gpu-buffer` trainer takes its batches from: `device` (default) gathers them on the device
   * from the uploaded split, `host` fills and feeds them every step (what a `cpu` trainer always does).
   */
  batches?: 'host' | 'device';
  /** Host bytes per upload chunk of the split; default {@link UPLOAD_CHUNK_BYTES}. */
  uploadChunkBytes?: number;
  /** Largest split (bytes, float32) to hold on the device; default the adapter's buffer limit. */
  deviceBufferLimit?: number;
}

/** Device tensors a gathered step reads besides the state. */
interface GatherFeeds {
  split: DeviceSplit;
  /** `[steps, batch]` int32. */
  order: Tensor;
  /** Scalar int32; replaced by each step's `step.next`. */
  step: Tensor;
  /** `[steps]` float32: the epoch's learning rate per step. */
  lrs: Tensor;
  /** Augmented steps: the epoch's plan, `[steps, batch]` int32 each (crop offsets, flips). */
  aug?: { dx: Tensor; dy: Tensor; flip: Tensor };
}

/** Key of a parameter's SGD velocity in {@link OrtWeightState.aux} (optimizer state lives there by its slot key). */
export { velocityKey };

/** One state value the step reads and rewrites. */
interface Slot {
  /** Parameter name (the key in state.tensors), or optimizer state key (in state.aux). */
  key: string;
  where: 'tensors' | 'aux';
  input: string;
  output: string;
  shape: number[];
}

/** A compiled step for one batch size and batch source. */
interface Step {
  batch: number;
  source: BatchSource;
  graph: TrainStepGraph;
  session: InferenceSession;
  slots: Slot[];
  x: Tensor;
  xBuf: Float32Array;
  labels: Tensor;
  labelBuf: Int32Array;
  /** CPU mode: the spare tensor of each slot (written by the next step). */
  spare: Map<string, Tensor>;
  loss: Tensor | undefined;
  correct: Tensor | undefined;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Trainer implementation; see the file header. */
class OrtTrainerImpl implements OrtTrainer {
  private readonly steps = new Map<string, Step>();
  private readback: DeviceReader | undefined;
  /** Host-fed steps: the learning rate, rewritten before each step (its buffer is {@link lrBuf}). */
  private readonly lr: Tensor;
  private readonly lrBuf: Float32Array;
  /** Device mode: the split uploaded last (one at a time). */
  private deviceSplit: DeviceSplit | undefined;
  /** Splits found too large for one device buffer, and why (host-fed instead). */
  private readonly tooLarge = new WeakMap<Split, string>();
  /** Identity/Concat sessions that put host data on the device, by purpose; released after their outputs. */
  private readonly uploaders: UploaderPool;
  private disposed = false;

  constructor(
    private readonly ort: Ort,
    private readonly model: ModelGraph,
    private readonly state: OrtWeightState,
    private readonly opts: LoadOptions,
    private readonly sessionOptions: InferenceSession.SessionOptions,
    private readonly options: OrtTrainerOptions = {},
    private readonly notes: string[] | undefined = undefined,
    private readonly transfers: TransferCounter | undefined = undefined,
  ) {
    this.uploaders = new UploaderPool(ort, sessionOptions, transfers);
    this.lrBuf = Float32Array.of(opts.optimizer.lr);
    this.lr = new ort.Tensor('float32', this.lrBuf, []);
  }

  private get onDevice(): boolean {
    return this.state.location === 'gpu-buffer';
  }

  /** The batch source a train() starts from: gathered on the device unless asked otherwise or on the CPU. */
  get defaultSource(): BatchSource {
    return this.onDevice && this.options.batches !== 'host' ? 'gather' : 'inputs';
  }

  /**
   * Builds (once per batch size, source and augmentation) the training graph, its session and the
   * step's buffers. `padding`, with a gathered source: the step augments its batch on the device
   * (crop after that padding, and flip), byte-identical to `fillBatch` with the same plan.
   */
  async prepare(batch: number, source: BatchSource = 'inputs', padding?: number): Promise<Step> {
    const augment =
      source === 'gather' && padding !== undefined ? { padding, padValues: this.blackPixel() } : undefined;
    const key = `${source}:${batch}${augment ? `:augment${padding}` : ''}`;
    const have = this.steps.get(key);
    if (have) return have;
    const graph = buildTrainStepGraph(this.model, {
      batch,
      formulation: formulationFor(this.sessionOptions.executionProviders),
      optimizer: this.opts.optimizer,
      dropoutSeed: this.opts.seed,
      labelSmoothing: this.opts.labelSmoothing ?? 0,
      labelType: 'int32',
      batchSource: source,
      augment,
    });
    const options: InferenceSession.SessionOptions = {
      ...this.sessionOptions,
      ...(this.onDevice ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    };
    let session: InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(graph.bytes, options);
    } catch (e) {
      throw new BackendError(
        `onnxruntime: cannot create the training session of ${this.model.name} (batch ${batch}): ${(e as Error).message.split('\n')[0]}`,
        {
          cause: e,
          hint: 'the generated training graph uses an operator this execution provider rejects; try onnxruntime/cpu',
        },
      );
    }
    const shapeOf = new Map(this.model.params.map((p) => [p.name, p.shape]));
    const slots: Slot[] = [];
    for (const [p, input] of Object.entries(graph.inputs.params))
      slots.push({ key: p, where: 'tensors', input, output: graph.outputs.params[p]!, shape: shapeOf.get(p)! });
    for (const [p, input] of Object.entries(graph.inputs.stats))
      slots.push({ key: p, where: 'tensors', input, output: graph.outputs.stats[p]!, shape: shapeOf.get(p)! });
    for (const o of graph.inputs.optimizer) {
      slots.push({ key: o.key, where: 'aux', input: o.input, output: o.output, shape: o.shape });
      // Optimizer state starts as the optimizer says (velocities and moments at zero, β powers at one)
      // and persists across train() calls and batch sizes.
      if (!this.state.aux.has(o.key))
        this.state.aux.set(
          o.key,
          new this.ort.Tensor('float32', new Float32Array(numel(o.shape)).fill(o.initial), o.shape),
        );
    }
    // A gathered step reads no host batch: its buffers are empty.
    const per = source === 'inputs' ? numel(this.model.input) : 0;
    const xBuf = new Float32Array(batch * per);
    const labelBuf = new Int32Array(source === 'inputs' ? batch : 0);
    const spare = new Map<string, Tensor>();
    if (!this.onDevice)
      for (const s of slots)
        spare.set(s.key, new this.ort.Tensor('float32', new Float32Array(numel(s.shape)), s.shape));
    const step: Step = {
      batch,
      source,
      graph,
      session,
      slots,
      x: new this.ort.Tensor('float32', xBuf, [source === 'inputs' ? batch : 0, ...this.model.input]),
      xBuf,
      labels: new this.ort.Tensor('int32', labelBuf, [labelBuf.length]),
      labelBuf,
      spare,
      loss: this.onDevice ? undefined : new this.ort.Tensor('float32', new Float32Array(1), []),
      correct: this.onDevice ? undefined : new this.ort.Tensor('float32', new Float32Array(1), []),
    };
    this.steps.set(key, step);
    return step;
  }

  /**
   * The split on the device, uploaded now if it is not the one there already; undefined when it does not
   * fit one device buffer (the trainer then feeds batches from the host, and says so in the notes).
   */
  private async deviceSplitOf(split: Split): Promise<DeviceSplit | undefined> {
    if (this.deviceSplit?.split === split) return this.deviceSplit;
    if (this.tooLarge.has(split)) return undefined;
    const [C, H, W] = this.model.input as [number, number, number];
    const bytes = splitDeviceBytes(split, this.model.input);
    const limit = this.options.deviceBufferLimit ?? (await deviceBindingLimit());
    if (bytes > limit) {
      const why = `training split of ${split.n} examples (${(bytes / 2 ** 20).toFixed(0)} MiB as float32) exceeds the device's ${(limit / 2 ** 20).toFixed(0)} MiB buffer limit: batches fed from the host every step`;
      this.tooLarge.set(split, why);
      this.notes?.push(why);
      return undefined;
    }
    this.freeDeviceSplit();
    this.deviceSplit = await uploadSplit(
      this.ort,
      this.uploaders,
      split,
      [C, H, W],
      this.opts.dataset.normalization,
      this.options.uploadChunkBytes,
    );
    if (this.notes && !this.notes.some((n) => n.startsWith('training split held in device memory'))) {
      this.notes.push(
        'training split held in device memory (N·C·H·W float32, uploaded at the first train()); batches gathered on the device',
      );
    }
    return this.deviceSplit;
  }

  private freeDeviceSplit(): void {
    this.deviceSplit = freeSplit(this.deviceSplit);
  }

  /** A device step's run that takes host tensors (a host-fed batch, the warm-up's zeros) uploads them. */
  private countHostFeeds(feeds: Record<string, Tensor>): void {
    const host = Object.values(feeds).filter((t) => t.location === 'cpu');
    if (host.length > 0) this.transfers?.upload(host);
  }

  /** The normalised value of a black pixel per channel, as `fillBatch` writes it (the padding of a crop). */
  private blackPixel(): number[] {
    const C = this.model.input[0]!;
    const out = new Float32Array(C);
    const black = { n: 1, images: new Uint8Array(C), labels: Uint8Array.of(0) };
    fillBatch(black, { channels: C, height: 1, width: 1 }, this.opts.dataset.normalization, [0], 0, 1, 'NCHW', out);
    return Array.from(out);
  }

  private current(slot: Slot): Tensor {
    const t = slot.where === 'tensors' ? this.state.tensors.get(slot.key) : this.state.aux.get(slot.key);
    if (!t)
      throw new BackendError(
        `onnxruntime trainer: the weight state lacks ${slot.key}. Hint: state entries must be replaced, never removed.`,
      );
    return t;
  }

  private replace(slot: Slot, t: Tensor): Tensor {
    const old = this.current(slot);
    if (slot.where === 'tensors') this.state.tensors.set(slot.key, t);
    else this.state.aux.set(slot.key, t);
    return old;
  }

  /**
   * Runs one step; returns the loss tensor (device mode: caller reads or disposes it). A gathered step
   * reads `gather` and replaces `gather.step` with the step's `step.next`.
   */
  private async runStep(step: Step, gather?: GatherFeeds): Promise<Tensor> {
    const g = step.graph;
    const feeds: Record<string, Tensor> = {};
    const gi = g.inputs.gather;
    if (gi) {
      if (!gather)
        throw new BackendError(
          'onnxruntime trainer: a gathered step ran without its device tensors. Hint: upload the split and the order first.',
        );
      feeds[gi.data] = gather.split.data;
      feeds[gi.labelsAll] = gather.split.labels;
      feeds[gi.order] = gather.order;
      feeds[gi.step] = gather.step;
      feeds[gi.lrs] = gather.lrs;
      if (gi.augment) {
        if (!gather.aug)
          throw new BackendError(
            'onnxruntime trainer: an augmenting step ran without its plan. Hint: upload the epoch plan with the order.',
          );
        feeds[gi.augment.dx] = gather.aug.dx;
        feeds[gi.augment.dy] = gather.aug.dy;
        feeds[gi.augment.flip] = gather.aug.flip;
      }
    } else {
      feeds[g.inputs.x] = step.x;
      feeds[g.inputs.labels] = step.labels;
      feeds[g.inputs.lr] = this.lr;
    }
    for (const s of step.slots) feeds[s.input] = this.current(s);
    if (!this.onDevice) {
      const fetches: Record<string, Tensor> = { [g.outputs.loss]: step.loss!, [g.outputs.correct]: step.correct! };
      for (const s of step.slots) fetches[s.output] = step.spare.get(s.key)!;
      await step.session.run(feeds, fetches);
      // The pre-allocated tensors now hold the new state: swap them in, keep the old as spares.
      for (const s of step.slots) step.spare.set(s.key, this.replace(s, step.spare.get(s.key)!));
      this.state.version++;
      return step.loss!;
    }
    this.countHostFeeds(feeds);
    const out = await step.session.run(feeds);
    for (const s of step.slots) {
      const t = out[s.output];
      if (!t)
        throw new BackendError(
          `onnxruntime trainer: the step returned no ${s.output}. Hint: the training graph and the trainer disagree on names.`,
        );
      this.replace(s, t).dispose();
    }
    this.state.version++;
    out[g.outputs.correct]?.dispose();
    if (gi && gather) {
      const next = out[gi.stepNext];
      if (!next)
        throw new BackendError(
          `onnxruntime trainer: the step returned no ${gi.stepNext}. Hint: the training graph and the trainer disagree on names.`,
        );
      gather.step.dispose();
      gather.step = next;
    }
    return out[g.outputs.loss]!;
  }

  /**
   * Runs the step on zeros and throws every output away, so first-run costs land here (build+init) and
   * not in the first timed training step. The state is only read: weights, velocities and running
   * statistics stay as they are.
   * - Device mode: once; the WebGPU EP compiles its shaders and sizes its buffers. The inputs come from
   *   the host, which is slower than a real step but is not timed as one.
   * - CPU mode: {@link CPU_WARMUP_RUNS} times, written into the step's spare outputs as a real step
   *   writes them (see the constant for why more than once).
   */
  async warmUp(step: Step): Promise<void> {
    if (!this.onDevice) {
      const g = step.graph;
      step.xBuf.fill(0);
      step.labelBuf.fill(0);
      const feeds: Record<string, Tensor> = {
        [g.inputs.x]: step.x,
        [g.inputs.labels]: step.labels,
        [g.inputs.lr]: this.lr,
      };
      for (const s of step.slots) feeds[s.input] = this.current(s);
      const fetches: Record<string, Tensor> = { [g.outputs.loss]: step.loss!, [g.outputs.correct]: step.correct! };
      for (const s of step.slots) fetches[s.output] = step.spare.get(s.key)!;
      for (let i = 0; i < CPU_WARMUP_RUNS; i++) await step.session.run(feeds, fetches);
      return;
    }
    const g = step.graph;
    const B = step.batch;
    const feeds: Record<string, Tensor> = {};
    const gi = g.inputs.gather;
    if (gi) {
      feeds[gi.lrs] = new this.ort.Tensor('float32', Float32Array.of(0), [1]);
      feeds[gi.data] = new this.ort.Tensor('float32', new Float32Array(B * numel(this.model.input)), [
        B,
        ...this.model.input,
      ]);
      feeds[gi.labelsAll] = new this.ort.Tensor('int32', new Int32Array(B), [B]);
      feeds[gi.order] = new this.ort.Tensor(
        'int32',
        Int32Array.from({ length: B }, (_, i) => i),
        [1, B],
      );
      feeds[gi.step] = new this.ort.Tensor('int32', new Int32Array(1), []);
      if (gi.augment)
        for (const t of [gi.augment.dx, gi.augment.dy, gi.augment.flip])
          feeds[t] = new this.ort.Tensor('int32', new Int32Array(B), [1, B]);
    } else {
      feeds[g.inputs.x] = new this.ort.Tensor('float32', new Float32Array(B * numel(this.model.input)), [
        B,
        ...this.model.input,
      ]);
      feeds[g.inputs.labels] = new this.ort.Tensor('int32', new Int32Array(B), [B]);
      feeds[g.inputs.lr] = this.lr;
    }
    for (const s of step.slots) feeds[s.input] = this.current(s);
    this.countHostFeeds(feeds);
    const out = await step.session.run(feeds);
    // Waits for the device: the loss comes back through the read-back session.
    await this.read(out[g.outputs.loss]!);
    for (const t of Object.values(out)) t.dispose();
  }

  /** The value of a scalar tensor on the CPU; on the device through the Identity read-back session. */
  private async read(t: Tensor): Promise<number> {
    if (t.location === 'cpu') return (t.data as Float32Array)[0]!;
    this.readback ??= new DeviceReader(this.ort, [{ name: 'v', shape: [] }], this.sessionOptions, this.transfers);
    return (await this.readback.read({ v: t })).get('v')![0]!;
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    if (this.disposed) throw new BackendError('onnxruntime trainer used after dispose(). Hint: load the model again.');
    const B = req.batchSize;
    const { split } = req;
    const stepsPerEpoch = Math.floor(split.n / B);
    const onDeviceSplit =
      this.defaultSource === 'gather' && stepsPerEpoch > 0 ? await this.deviceSplitOf(split) : undefined;
    // The first epoch's plan names the padding the step is built for (the same every epoch).
    const firstPlan = req.augment?.(0);
    const step = await this.prepare(B, onDeviceSplit ? 'gather' : 'inputs', firstPlan?.padding);
    const rate = req.lr ?? (() => this.opts.optimizer.lr);
    /** A non-finite loss at (epoch, step), naming the learning rate that step ran at. */
    const lossError = (loss: number, epoch: number, step: number): NumericError =>
      new NumericError(
        `onnxruntime: training loss became ${loss} at epoch ${epoch}, step ${step} (lr ${rate(epoch, step)}, batch ${B}). Hint: lower the learning rate or check the input normalisation.`,
        step,
        epoch,
      );
    const [C, H, W] = this.model.input as [number, number, number];
    const geo = { channels: C, height: H, width: W };
    const norm = this.opts.dataset.normalization;
    // With the state in host memory the loss is a host tensor once the step returns: reading it costs
    // nothing, so every step is checked and a NaN is caught where it appears. On the device a read
    // waits for the GPU, so it happens only every `lossEvery` steps.
    const lossEvery = this.onDevice ? Math.max(1, Math.floor(req.lossEvery)) : 1;
    const epochLoss: number[] = [];
    let steps = 0;
    /** Device mode: the newest loss not read back yet, and where it came from. */
    let pending: Tensor | undefined;
    let pendingAt = { epoch: 0, step: 0 };
    let stoppedEarly = false;
    /** Gathered steps: this epoch's order and step counter on the device. */
    let gather: GatherFeeds | undefined;
    try {
      for (let epoch = 0; epoch < req.epochs && !stoppedEarly; epoch++) {
        const order = req.order(epoch);
        if (order.length < stepsPerEpoch * B) {
          throw new BackendError(
            `onnxruntime trainer: order(${epoch}) has ${order.length} entries for ${split.n} examples. Hint: order must be a permutation of 0..n-1.`,
          );
        }
        if (onDeviceSplit) {
          gather = this.dropGather(gather);
          // The epoch's order, its rate per step and a zero counter, uploaded in one run: the only host
          // inputs of the epoch (the step reads its rate from the table at its counter).
          const rows = new Int32Array(stepsPerEpoch * B);
          for (let i = 0; i < rows.length; i++) {
            const v = order[i]!;
            if (v >= split.n)
              throw new BackendError(
                `onnxruntime trainer: order(${epoch})[${i}] = ${v} for ${split.n} examples. Hint: order must be a permutation of 0..n-1.`,
              );
            rows[i] = v;
          }
          const values: DeviceValue[] = [
            { name: 'order', type: 'int32', shape: ['steps', B] },
            { name: 'step', type: 'int32', shape: [] },
            { name: 'lrs', type: 'float32', shape: ['steps'] },
          ];
          const feeds: Record<string, Tensor> = {
            order: new this.ort.Tensor('int32', rows, [stepsPerEpoch, B]),
            step: new this.ort.Tensor('int32', Int32Array.of(0), []),
            lrs: new this.ort.Tensor(
              'float32',
              Float32Array.from({ length: stepsPerEpoch }, (_, s) => rate(epoch, s)),
              [stepsPerEpoch],
            ),
          };
          // The epoch's augmentation plan by position goes up with them, one table per choice.
          const plan = epoch === 0 ? firstPlan : req.augment?.(epoch);
          if (plan) {
            for (const k of ['dx', 'dy', 'flip'] as const) {
              values.push({ name: k, type: 'int32', shape: ['steps', B] });
              feeds[k] = new this.ort.Tensor('int32', Int32Array.from(plan[k].subarray(0, rows.length)), [
                stepsPerEpoch,
                B,
              ]);
            }
          }
          const up = await this.uploaders.run(plan ? 'order+augment' : 'order', values, feeds);
          gather = { split: onDeviceSplit, order: up.order!, step: up.step!, lrs: up.lrs! };
          if (plan) gather.aug = { dx: up.dx!, dy: up.dy!, flip: up.flip! };
        }
        const augment = epoch === 0 ? firstPlan : req.augment?.(epoch);
        let lossSum = 0;
        let lossCount = 0;
        for (let s = 0; s < stepsPerEpoch; s++) {
          if (!gather) {
            fillBatch(split, geo, norm, order, s * B, B, 'NCHW', step.xBuf, step.labelBuf, augment);
            this.lrBuf[0] = rate(epoch, s);
          }
          const lossTensor = await this.runStep(step, gather);
          steps++;
          const info: StepInfo = { epoch, step: s, stepsPerEpoch };
          if ((s + 1) % lossEvery === 0 || s === stepsPerEpoch - 1) {
            pending = this.drop(pending);
            const loss = await this.read(lossTensor);
            this.drop(lossTensor);
            if (!Number.isFinite(loss)) {
              throw lossError(loss, epoch, s);
            }
            info.loss = loss;
            lossSum += loss;
            lossCount++;
          } else {
            this.drop(pending);
            pending = lossTensor;
            pendingAt = { epoch, step: s };
          }
          if (req.onStep?.(info) === 'stop') {
            stoppedEarly = true;
            break;
          }
        }
        epochLoss.push(lossCount > 0 ? lossSum / lossCount : Number.NaN);
      }
    } finally {
      // Disposed now: each step's work was submitted, and the device runs commands in order.
      this.dropGather(gather);
    }
    // Device work is asynchronous: return only once the device has finished the last step. The
    // last loss is read after every command of that step was submitted, so its read-back waits for them.
    if (pending) {
      const loss = await this.read(pending);
      this.drop(pending);
      if (!Number.isFinite(loss)) {
        throw lossError(loss, pendingAt.epoch, pendingAt.step);
      }
    }
    return { steps, epochLoss, stoppedEarly };
  }

  /**
   * Per-operator profile: the host-fed training step of `req.batchSize` in a session of its own with
   * ONNX Runtime's profiler on, fed the current state and `req.order`'s first batches. Its outputs are
   * dropped, so the state is read and never replaced.
   */
  async profileOps(req: OpProfileRequest): Promise<OpProfile> {
    if (this.disposed) throw new BackendError('onnxruntime trainer used after dispose(). Hint: load the model again.');
    if (!cpuOnly(this.sessionOptions.executionProviders))
      throw new BackendError(
        'per-operator profiles are taken on the CPU execution provider only: on a GPU one, ONNX Runtime times a kernel by its submission, not its execution',
      );
    const B = req.batchSize;
    const total = req.warmupSteps + req.steps;
    if (Math.floor(req.split.n / B) < 1)
      throw new BackendError(
        `onnxruntime profile: ${req.split.n} examples make no batch of ${B}. Hint: profile with a smaller batch or more data.`,
      );
    const step = await this.prepare(B, 'inputs');
    const g = step.graph;
    const [C, H, W] = this.model.input as [number, number, number];
    const geo = { channels: C, height: H, width: W };
    const batches = Math.floor(req.split.n / B);
    const trace = await withProfiledSession(this.ort, g.bytes, this.sessionOptions, async (session) => {
      for (let i = 0; i < total; i++) {
        const start = (i % batches) * B;
        fillBatch(
          req.split,
          geo,
          this.opts.dataset.normalization,
          req.order,
          start,
          B,
          'NCHW',
          step.xBuf,
          step.labelBuf,
        );
        const feeds: Record<string, Tensor> = {
          [g.inputs.x]: step.x,
          [g.inputs.labels]: step.labels,
          [g.inputs.lr]: this.lr,
        };
        for (const s of step.slots) feeds[s.input] = this.current(s);
        const out = await session.run(feeds);
        for (const t of Object.values(out)) t.dispose();
      }
    });
    const { kernels, runMs } = parseOrtProfile(trace, g.sections, req.warmupSteps);
    return aggregateOpProfile(kernels, {
      source: ORT_PROFILE_SOURCE,
      batchSize: B,
      warmupSteps: req.warmupSteps,
      steps: runMs.length,
      stepWallMs: runMs,
      note: `the training step graph in a separate session with profiling on, run ${req.warmupSteps} + ${req.steps} times on the trained weights; outputs discarded`,
    });
  }

  /** Disposes an epoch's order, rate table and step counter (not the split, which outlives the epoch). */
  private dropGather(g: GatherFeeds | undefined): undefined {
    g?.order.dispose();
    g?.step.dispose();
    g?.lrs.dispose();
    g?.aug?.dx.dispose();
    g?.aug?.dy.dispose();
    g?.aug?.flip.dispose();
    return undefined;
  }

  /** Disposes a device loss tensor (CPU ones are the step's reused buffer); returns undefined. */
  private drop(t: Tensor | undefined): undefined {
    if (t && t.location !== 'cpu') t.dispose();
    return undefined;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const step of this.steps.values()) {
      for (const t of step.spare.values()) t.dispose();
      // On the device the current weights and velocities are this session's outputs: it is released
      // with the state, after they are disposed (OrtWeightState.owners).
      if (this.onDevice) {
        this.state.owners ??= [];
        this.state.owners.push(step.session);
      } else await step.session.release();
    }
    this.steps.clear();
    await this.readback?.release();
    // The uploaders' outputs first, then the uploaders.
    this.freeDeviceSplit();
    await this.uploaders.release();
  }
}

/**
 * Creates the trainer `load()` uses: builds the training-step graph for `opts.trainBatchSize` and its
 * session now (so the cost lands in build+init), on the execution providers of the inference
 * session. Velocities live in `state.aux` under {@link velocityKey}. `options` picks the batch source
 * (tests and benches compare both on one state); `load()` passes none.
 */
export async function createOrtTrainer(ctx: OrtTrainerContext, options: OrtTrainerOptions = {}): Promise<OrtTrainer> {
  const sessionOptions: InferenceSession.SessionOptions = {
    ...ctx.sessionOptions,
    executionProviders: ctx.executionProviders,
  };
  const trainer = new OrtTrainerImpl(
    ctx.ort,
    ctx.model,
    ctx.state,
    ctx.opts,
    sessionOptions,
    options,
    ctx.notes,
    ctx.transfers,
  );
  const padding = ctx.opts.augment ? (ctx.opts.augment.crop?.padding ?? 0) : undefined;
  const step = await trainer.prepare(ctx.opts.trainBatchSize, trainer.defaultSource, padding);
  await trainer.warmUp(step);
  return trainer;
}
