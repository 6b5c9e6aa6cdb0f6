/**
 * A loaded tfjs model: training with SGD, Adam or AdamW (`optimizer.ts`), inference with argmax on the device, parity logits
 * and weight read-back, following the rules of `src/backends/types.ts`.
 *
 * Training step: `tf.variableGrads` over the mean softmax cross-entropy (label smoothing as
 * `tf.losses.softmaxCrossEntropy` defines it), then the optimizer's update at the step's learning rate
 * (`optimizer.ts`: weight decay and the schedule around tfjs's own optimizers). That is what
 * `optimizer.minimize` does, split open so the decay goes on the gradients and the reported loss is
 * the cross-entropy alone. Batch-norm running statistics are updated after the step, outside the tape.
 *
 * Warm-up in `load`, so one-off initialisation lands in build+init and not in the first timed phase.
 * What there is to initialise depends on the backend:
 * - webgpu compiles a shader pipeline per program and shape: one inference-mode forward pass at the
 *   inference batch size, and one training-mode forward + backward pass at the training batch size
 *   whose gradients are discarded. Nothing is applied, so weights, momentum and running statistics are
 *   untouched; only the optimizer's element-wise update shaders are first compiled in training.
 * - cpu, wasm and tensorflow compile nothing: one inference-mode forward pass of a single example
 *   (wasm creates its XNNPACK operators and packs the weights on first use; V8 warms the cpu kernels).
 *   No backward pass: on tfjs/cpu it costs seconds per image for a full-width VGG (its
 *   Conv2DBackpropFilter is a scalar loop), which would swamp build+init with work that initialises
 *   nothing. A backend lacking a gradient kernel therefore fails at the first training step, with the
 *   kernel named.
 */
import * as tf from '@tensorflow/tfjs';
import { fillBatch, identityOrder } from '../../data/batch.ts';
import type { BatchGeometry } from '../../data/batch.ts';
import type { Dataset } from '../../data/types.ts';
import { BackendError, NumericError } from '../../errors.ts';
import { nchwToNhwc } from '../../models/layout.ts';
import type { ModelGraph, Weights } from '../../models/ir.ts';
import type {
  BackendMemory,
  InferenceCall,
  InferRequest,
  LoadOptions,
  ModelSession,
  OpProfileRequest,
  SessionInfo,
  StepInfo,
  TrainRequest,
  TrainResult,
} from '../types.ts';
import { mixSeed, TfjsModel } from './model.ts';
import { createTfjsOptimizer, type TfjsOptimizer } from './optimizer.ts';
import type { BatchStats } from './model.ts';
import { activateRuntime } from './runtime.ts';
import { profileStep, TFJS_PROFILE_SOURCE, type SectionMark } from './op-profile.ts';
import { aggregateOpProfile, type KernelTiming, type OpProfile } from '../../vocab/op-profile.ts';
import type { RuntimeInfo } from './runtime.ts';

/**
 * After a backward pass throws (a missing gradient kernel), tfjs leaves its gradient tape active with
 * the tensors saved for the backward pass still held; later ops would keep recording into it. Frees
 * those tensors and closes the tape, as a successful `engine.gradients` does.
 */
function discardFailedTape(): void {
  const state = (
    tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] | null; gradientDepth: number } }
  ).state;
  if (state.activeTape == null || state.gradientDepth !== 0) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
  state.activeTape = null;
}

export class TfjsSession implements ModelSession {
  readonly info: SessionInfo;
  private readonly runtime: RuntimeInfo;
  private model: TfjsModel | undefined;
  private optimizer: TfjsOptimizer | undefined;
  private readonly opts: LoadOptions;
  private readonly geo: BatchGeometry;
  private readonly dataset: Dataset;
  /** Why this backend cannot train (a missing gradient kernel), found by the warm-up. */
  private trainingUnavailable: string | undefined;
  /** Training steps run so far over the session's life (seeds dropout masks). */
  private globalStep = 0;
  /** Reused input buffers by batch size, so steps do not allocate. */
  private readonly buffers = new Map<number, { x: Float32Array; y: Int32Array }>();

  private constructor(runtime: RuntimeInfo, model: TfjsModel, opts: LoadOptions) {
    this.runtime = runtime;
    this.model = model;
    this.opts = opts;
    this.dataset = opts.dataset;
    this.geo = { channels: opts.dataset.channels, height: opts.dataset.height, width: opts.dataset.width };
    const notes = [...runtime.notes];
    this.info = {
      backend: `tfjs/${runtime.backendName}`,
      device: runtime.description,
      ...(runtime.threads !== undefined ? { threads: runtime.threads } : {}),
      versions: runtime.versions,
      notes,
      ...(runtime.adapter ? { adapter: runtime.adapter } : {}),
    };
  }

  /** Builds the model on the device's backend and warms it up (see the file header). */
  static async create(
    runtime: RuntimeInfo,
    graph: ModelGraph,
    weights: Weights,
    opts: LoadOptions,
  ): Promise<TfjsSession> {
    const [C, H, W] = graph.input as [number, number, number];
    const ds = opts.dataset;
    if (ds.channels !== C || ds.height !== H || ds.width !== W) {
      throw new BackendError(
        `tfjs: model ${graph.name} expects ${C}×${H}×${W} inputs but the dataset ${ds.kind} has ${ds.channels}×${ds.height}×${ds.width}. Hint: build the graph from the dataset's geometry.`,
      );
    }
    if (ds.numClasses !== graph.numClasses) {
      throw new BackendError(
        `tfjs: model ${graph.name} has ${graph.numClasses} classes, the dataset ${ds.numClasses}. Hint: build the graph with the dataset's class count.`,
      );
    }
    const model = new TfjsModel(graph, weights);
    const s = new TfjsSession(runtime, model, opts);
    if (opts.training === false) s.trainingUnavailable = 'the session was loaded with training: false (inference only)';
    else s.optimizer = createTfjsOptimizer(opts.optimizer);
    try {
      await s.warmUp();
    } catch (e) {
      await s.dispose();
      throw new BackendError(`tfjs/${runtime.backendName}: warm-up of ${graph.name} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return s;
  }

  private requireModel(): TfjsModel {
    if (!this.model) throw new BackendError('tfjs: session used after dispose(). Hint: load the model again.');
    return this.model;
  }

  /** Makes this session's backend the active one (another session may have switched it). */
  private async ensureBackend(): Promise<void> {
    if (tf.getBackend() === this.runtime.backendName) return;
    const r = await activateRuntime(this.runtime.device);
    if (!r.ok) throw new BackendError(`tfjs: cannot re-activate ${this.runtime.backendName}: ${r.reason}`);
  }

  private buffer(batch: number): { x: Float32Array; y: Int32Array } {
    let b = this.buffers.get(batch);
    if (!b) {
      b = {
        x: new Float32Array(batch * this.geo.channels * this.geo.height * this.geo.width),
        y: new Int32Array(batch),
      };
      this.buffers.set(batch, b);
    }
    return b;
  }

  private inputTensor(x: Float32Array, n: number): tf.Tensor4D {
    // `tf.tensor4d` may keep a reference to `x` (the cpu backend does); every tensor made from a reused
    // buffer is disposed before the buffer is refilled.
    return tf.tensor4d(
      x.subarray(0, n * this.geo.height * this.geo.width * this.geo.channels),
      [n, this.geo.height, this.geo.width, this.geo.channels],
      'float32',
    );
  }

  private async warmUp(): Promise<void> {
    const model = this.requireModel();
    const split = this.dataset.train.n > 0 ? this.dataset.train : this.dataset.test;
    const order = identityOrder(split.n);
    const compiles = this.runtime.device === 'webgpu';
    const infer = Math.min(compiles ? this.opts.inferBatchSize : 1, split.n);
    const train = compiles && this.opts.training !== false ? Math.min(this.opts.trainBatchSize, split.n) : 0;
    if (infer > 0) {
      const b = this.buffer(infer);
      fillBatch(split, this.geo, this.dataset.normalization, order, 0, infer, 'NHWC', b.x, b.y);
      const ids = tf.tidy(() => tf.argMax(model.forward(this.inputTensor(b.x, infer), { training: false }), 1));
      await ids.data();
      ids.dispose();
    }
    if (train > 0) {
      const b = this.buffer(train);
      fillBatch(split, this.geo, this.dataset.normalization, order, 0, train, 'NHWC', b.x, b.y);
      const stats: BatchStats[] = [];
      try {
        // In a tidy so a failing backward pass (missing kernel) leaves no intermediate tensors behind.
        const out = tf.tidy(() => {
          const { value, grads } = this.lossAndGrads(b.x, b.y, train, stats, 0x5eed);
          return [value, ...Object.values(grads)];
        });
        // Reading every gradient makes the device finish the backward pass before build+init ends.
        await Promise.all(out.map((g) => g.data()));
        tf.dispose(out);
      } catch (e) {
        discardFailedTape();
        // A backend that lacks a gradient kernel can still infer; training then fails with this reason.
        this.trainingUnavailable = `the backward pass fails on ${this.runtime.backendName}: ${(e as Error).message}`;
        this.info.notes?.push(`training unavailable: ${this.trainingUnavailable}`);
      } finally {
        for (const s of stats) {
          s.mean.dispose();
          s.variance.dispose();
        }
      }
    }
  }

  private lossAndGrads(
    x: Float32Array,
    y: Int32Array,
    n: number,
    stats: BatchStats[],
    dropoutSeed: number,
    mark?: SectionMark,
  ): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    const model = this.requireModel();
    mark?.('forward');
    const xs = this.inputTensor(x, n);
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(y.subarray(0, n), 'int32'), model.graph.numClasses));
    try {
      return tf.variableGrads(() => {
        const logits = model.forward(xs, { training: true, batchStats: stats, dropoutSeed });
        const loss = tf.losses.softmaxCrossEntropy(ys, logits, undefined, this.opts.labelSmoothing ?? 0) as tf.Scalar;
        mark?.('backward');
        return loss;
      }, model.trainable);
    } finally {
      xs.dispose();
      ys.dispose();
    }
  }

  /**
   * One optimisation step at learning rate `lr`; returns the loss tensor (caller reads or disposes it).
   * `mark` (profiles only) is called where the forward pass, the backward pass and the update begin.
   */
  private step(x: Float32Array, y: Int32Array, n: number, lr: number, mark?: SectionMark): tf.Scalar {
    const model = this.requireModel();
    const stats: BatchStats[] = [];
    const seed = mixSeed(this.opts.seed, this.globalStep, 1);
    try {
      // Everything but the loss is freed by the tidy, also when a kernel throws midway.
      return tf.tidy(() => {
        const { value, grads } = this.lossAndGrads(x, y, n, stats, seed, mark);
        mark?.('optimizer');
        this.optimizer!.apply(grads, model.trainable, lr);
        model.updateRunningStats(stats);
        return value;
      });
    } catch (e) {
      discardFailedTape();
      throw e;
    } finally {
      for (const s of stats) if (!s.mean.isDisposed) s.mean.dispose();
      for (const s of stats) if (!s.variance.isDisposed) s.variance.dispose();
      this.globalStep++;
    }
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    await this.ensureBackend();
    if (this.trainingUnavailable !== undefined) {
      throw new BackendError(`tfjs/${this.runtime.backendName} cannot train: ${this.trainingUnavailable}`, {
        hint:
          this.opts.training === false
            ? 'load the model without training: false to train it'
            : 'register the missing gradient kernels for this backend, or train on another backend',
      });
    }
    const { split, batchSize } = req;
    const stepsPerEpoch = Math.floor(split.n / batchSize);
    // On the synchronous backends (cpu, wasm, tfjs-node) the loss is already computed when the step
    // returns, so reading it every step costs microseconds and a NaN is caught at the step it appears;
    // on WebGPU a read-back waits for the device, so it happens only every `lossEvery` steps.
    const lossEvery = this.runtime.backendName === 'webgpu' ? Math.max(1, Math.floor(req.lossEvery)) : 1;
    const buf = this.buffer(batchSize);
    const epochLoss: number[] = [];
    let steps = 0;
    let stoppedEarly = false;
    for (let epoch = 0; epoch < req.epochs && !stoppedEarly; epoch++) {
      const order = req.order(epoch);
      if (order.length !== split.n) {
        throw new BackendError(
          `tfjs: order(${epoch}) has ${order.length} entries for a split of ${split.n}. Hint: return a permutation of 0..n-1.`,
        );
      }
      const augment = req.augment?.(epoch);
      let sum = 0;
      let count = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        fillBatch(
          split,
          this.geo,
          this.dataset.normalization,
          order,
          step * batchSize,
          batchSize,
          'NHWC',
          buf.x,
          buf.y,
          augment,
        );
        let loss: tf.Scalar;
        try {
          loss = this.step(buf.x, buf.y, batchSize, req.lr ? req.lr(epoch, step) : this.opts.optimizer.lr);
        } catch (e) {
          throw new BackendError(
            `tfjs/${this.runtime.backendName}: training step ${step} of epoch ${epoch} failed: ${(e as Error).message}`,
            {
              cause: e,
              hint: /not registered for backend/.test((e as Error).message)
                ? 'this backend lacks a kernel the backward pass needs; register it or train on another backend'
                : 'check the model and the backend',
            },
          );
        }
        steps++;
        const info: StepInfo = { epoch, step, stepsPerEpoch };
        // Read the loss back every `lossEvery` steps and at each epoch's end, so every epoch has a loss.
        if (steps % lossEvery === 0 || step === stepsPerEpoch - 1) {
          const v = (await loss.data())[0]!;
          loss.dispose();
          info.loss = v;
          if (!Number.isFinite(v)) {
            // The caller sees the loss first (its own divergence bookkeeping), then training stops.
            req.onStep?.(info);
            throw new NumericError(
              `tfjs/${this.runtime.backendName}: loss is ${v} at epoch ${epoch} step ${step}. Hint: lower the learning rate or check the input normalisation.`,
              step,
              epoch,
            );
          }
          sum += v;
          count++;
        } else {
          loss.dispose();
        }
        if (req.onStep?.(info) === 'stop') {
          stoppedEarly = true;
          break;
        }
      }
      epochLoss.push(count > 0 ? sum / count : Number.NaN);
    }
    await this.sync();
    return { steps, epochLoss, stoppedEarly };
  }

  /**
   * Per-operator profile: `req.warmupSteps + req.steps` real training steps (they update the weights)
   * on `req.order`'s first batches, each under `tf.profile` (`op-profile.ts`).
   */
  async profileOps(req: OpProfileRequest): Promise<OpProfile> {
    await this.ensureBackend();
    if (this.runtime.backendName === 'webgpu')
      throw new BackendError(
        'per-operator profiles are taken on CPU backends only: tf.profile times a WebGPU kernel by its submission, not its execution',
      );
    if (this.trainingUnavailable !== undefined)
      throw new BackendError(`tfjs/${this.runtime.backendName} cannot train: ${this.trainingUnavailable}`, {
        hint: 'profile a session loaded for training',
      });
    const B = req.batchSize;
    const batches = Math.floor(req.split.n / B);
    if (batches < 1)
      throw new BackendError(
        `tfjs profile: ${req.split.n} examples make no batch of ${B}. Hint: profile with a smaller batch or more data.`,
      );
    const buf = this.buffer(B);
    const kernels: KernelTiming[] = [];
    const wall: number[] = [];
    for (let i = 0; i < req.warmupSteps + req.steps; i++) {
      fillBatch(req.split, this.geo, this.dataset.normalization, req.order, (i % batches) * B, B, 'NHWC', buf.x, buf.y);
      const p = await profileStep(i - req.warmupSteps, (mark) =>
        this.step(buf.x, buf.y, B, this.opts.optimizer.lr, mark).dispose(),
      );
      await this.sync();
      if (i < req.warmupSteps) continue;
      kernels.push(...p.kernels);
      wall.push(p.ms);
    }
    return aggregateOpProfile(kernels, {
      source: TFJS_PROFILE_SOURCE,
      batchSize: B,
      warmupSteps: req.warmupSteps,
      steps: req.steps,
      stepWallMs: wall,
      note: `${req.warmupSteps} + ${req.steps} training steps in a separate session, each under tf.profile`,
    });
  }

  /** Waits until the device has finished every queued operation (reads one weight value back). */
  private async sync(): Promise<void> {
    const v = this.requireModel().trainable[0];
    if (v) {
      const one = tf.tidy(() => tf.slice(tf.reshape(v, [-1]), 0, 1));
      await one.data();
      one.dispose();
    }
  }

  async infer(req: InferRequest): Promise<Int32Array> {
    await this.ensureBackend();
    const model = this.requireModel();
    const { split, batchSize } = req;
    const order = identityOrder(split.n);
    const buf = this.buffer(batchSize);
    const out = new Int32Array(split.n);
    // Class ids stay on the device until the end, so the device is never idle waiting for a read-back
    // per batch; the final read is the phase's sync point.
    const pending: { start: number; ids: tf.Tensor1D }[] = [];
    try {
      for (let start = 0; start < split.n; start += batchSize) {
        const n = Math.min(batchSize, split.n - start);
        fillBatch(split, this.geo, this.dataset.normalization, order, start, n, 'NHWC', buf.x);
        const ids = tf.tidy(
          () => tf.argMax(model.forward(this.inputTensor(buf.x, n), { training: false }), 1) as tf.Tensor1D,
        );
        pending.push({ start, ids });
      }
      for (const p of pending) out.set((await p.ids.data()) as Int32Array, p.start);
    } finally {
      for (const p of pending) p.ids.dispose();
    }
    return out;
  }

  async inferenceCall(x: Float32Array, n: number): Promise<InferenceCall> {
    await this.ensureBackend();
    const model = this.requireModel();
    const { channels: C, height: H, width: W } = this.geo;
    const nhwc = nchwToNhwc(x.subarray(0, n * C * H * W), [n, C, H, W]);
    return {
      // From host memory each call, as session.run takes it on onnxruntime: upload, forward, read back.
      run: async () => {
        const t = tf.tidy(() => model.forward(tf.tensor4d(nhwc, [n, H, W, C]), { training: false }));
        await t.data();
        t.dispose();
      },
      dispose: () => {},
    };
  }

  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    await this.ensureBackend();
    const model = this.requireModel();
    const { channels: C, height: H, width: W } = this.geo;
    if (x.length < n * C * H * W)
      throw new BackendError(
        `tfjs: logits() got ${x.length} values for ${n} examples of ${C}×${H}×${W}. Hint: pass n·C·H·W floats in NCHW.`,
      );
    const nhwc = nchwToNhwc(x.subarray(0, n * C * H * W), [n, C, H, W]);
    const out = new Float32Array(n * model.graph.numClasses);
    const bs = Math.max(1, this.opts.inferBatchSize);
    for (let start = 0; start < n; start += bs) {
      const m = Math.min(bs, n - start);
      const per = C * H * W;
      const t = tf.tidy(() =>
        model.forward(tf.tensor4d(nhwc.subarray(start * per, (start + m) * per), [m, H, W, C]), { training: false }),
      );
      out.set((await t.data()) as Float32Array, start * model.graph.numClasses);
      t.dispose();
    }
    return out;
  }

  async getWeights(): Promise<Weights> {
    await this.ensureBackend();
    return this.requireModel().readWeights();
  }

  /**
   * Bytes of every live tfjs tensor (weights, optimizer state, reused buffers) as tfjs's engine counts
   * them. It does not cover backend scratch memory (XNNPACK workspaces, the wasm heap's free space,
   * WebGPU buffer pools and staging buffers), so on webgpu it is marked unreliable.
   */
  async memory(): Promise<BackendMemory | undefined> {
    // tfjs flags the cpu backend's figure `unreliable` only because the JS garbage collector may already
    // have freed some of it (an upper bound); the count of live tensors' bytes is exact on cpu and wasm.
    const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
    const reliable = this.runtime.device !== 'webgpu';
    const out: BackendMemory = { bytes: m.numBytes, source: 'tf.memory()', reliable };
    // The WebGPU backend's buffer manager counts every GPU buffer it allocated, pooled ones included.
    if (typeof m.numBytesAllocatedInGPU === 'number') {
      out.device = { bytes: m.numBytesAllocatedInGPU, source: 'tf.memory().numBytesAllocatedInGPU', reliable: false };
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.optimizer?.dispose();
    this.optimizer = undefined;
    this.model?.dispose();
    this.model = undefined;
    this.buffers.clear();
  }
}
