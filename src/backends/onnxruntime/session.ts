/**
 * An ONNX Runtime model session: an InferenceSession on one execution provider, and the weight state
 * the trainer shares.
 *
 * Two forms of the same weights, on purpose:
 * - `state.tensors` (graph-input form): what the trainer feeds its training graph and replaces after
 *   every step (`trainer.ts`); `getWeights()` reads them;
 * - the inference session holds the weights as initializers (constants). ONNX Runtime only
 *   pre-packs weights and rewrites convolutions into its blocked NCHWc kernels when the weights are
 *   constant; with the weights fed as inputs, vgg-small inference ran 1.5–1.8× slower on the CPU EP
 *   (`bench/infer-throughput.ts`, `onnxruntime/cpu+init` vs graph inputs). So the inference session
 *   is rebuilt from the state when the weights change: at the end of `train()` (timed as training,
 *   the phase that changed them, as a trained model is made ready to serve), or, if some other writer
 *   bumped `state.version`, at the next `infer()`/`logits()`. On a device the device inference step
 *   (`device-infer.ts`: test split held there, class ids read back once per pass) holds them as
 *   constants too and is rebuilt with it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { fillBatch, identityOrder } from '../../data/batch.ts';
import { BackendError, ModelError } from '../../errors.ts';
import type { ModelGraph, Weights } from '../../models/ir.ts';
import type {
  BackendId,
  BackendMemory,
  FiguresRequest,
  InferenceCall,
  InferRequest,
  LoadOptions,
  ModelSession,
  OpProfileRequest,
  SessionInfo,
  TestFigures,
  TrainRequest,
  TrainResult,
} from '../types.ts';
import { forwardModelBytes, INPUT_NAME, LOGITS_NAME } from './forward.ts';
import { EXECUTION_PROVIDER, explainEpFailure, ortVersions, sessionOptions } from './runtime.ts';
import type { OrtDevice, OrtModule } from './runtime.ts';
import { DeviceReader, DeviceUploader, type TransferCount, TransferCounter } from './device-io.ts';
import { DeviceInference } from './device-infer.ts';
import { releaseWeightState } from './state.ts';
import { dawnAdapter } from '../software-gpu.ts';
import type { OpProfile } from '../../vocab/op-profile.ts';
import type { CreateOrtTrainer, OrtTrainer, OrtWeightState } from './state.ts';

const TRAINER_URL = new URL('./trainer.ts', import.meta.url);

/** Index of the largest value in each row of a row-major `[rows, cols]` matrix (first on ties). */
export function argmaxRows(logits: ArrayLike<number>, rows: number, cols: number, out: Int32Array, offset = 0): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    let bestV = logits[base]!;
    for (let c = 1; c < cols; c++) {
      const v = logits[base + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[offset + r] = best;
  }
}

/**
 * Puts the weights on the device as `gpu-buffer` tensors (device-io.ts). The uploader is returned as
 * their owner: it must outlive them (OrtWeightState.owners).
 */
async function uploadToDevice(
  ort: OrtModule,
  model: ModelGraph,
  weights: Weights,
  opts: InferenceSession.SessionOptions,
  counter: TransferCounter,
): Promise<{ tensors: Map<string, Tensor>; owner: DeviceUploader }> {
  const uploader = new DeviceUploader(ort, model.params, opts, counter);
  try {
    const feeds: Record<string, Tensor> = {};
    for (const p of model.params) feeds[p.name] = new ort.Tensor('float32', weights[p.name]!.data, p.shape);
    const out = await uploader.run(feeds);
    return { tensors: new Map(model.params.map((p) => [p.name, out[p.name]!])), owner: uploader };
  } catch (e) {
    await uploader.release();
    throw e;
  }
}

export class OrtSession implements ModelSession {
  readonly info: SessionInfo;
  private trainer: OrtTrainer | undefined;
  private trainerUnavailable: string | undefined;
  private batchBuf: Float32Array | undefined;
  private reader: DeviceReader | undefined;
  /** Device inference (test split on the device), where the weights are on the device and it could be built. */
  private deviceInfer: DeviceInference | undefined;
  private disposed = false;
  /** True during `create()`: its warm-up's transfers count as the load's. */
  private loading = true;
  /** `state.version` the inference session's constant weights were taken from. */
  private sessionVersion: number;

  private constructor(
    private readonly ort: OrtModule,
    readonly model: ModelGraph,
    private session: InferenceSession,
    readonly state: OrtWeightState,
    private readonly opts: LoadOptions,
    private readonly options: InferenceSession.SessionOptions,
    info: SessionInfo,
    private readonly counter: TransferCounter,
  ) {
    this.info = info;
    this.sessionVersion = state.version;
  }

  /**
   * Builds the graph, creates the session, puts the weights where the EP wants them, creates the
   * trainer (unless `opts.training === false`) and runs one warm-up inference of `inferBatchSize`
   * examples, so first-run costs (kernel selection, allocation, shader compilation) land here.
   */
  static async create(
    ort: OrtModule,
    device: OrtDevice,
    model: ModelGraph,
    weights: Weights,
    opts: LoadOptions,
  ): Promise<OrtSession> {
    const ds = opts.dataset;
    const [C, H, W] = model.input as [number, number, number];
    if (ds.channels !== C || ds.height !== H || ds.width !== W) {
      throw new ModelError(
        `model ${model.name} expects ${C}×${H}×${W} inputs but dataset ${ds.kind} has ${ds.channels}×${ds.height}×${ds.width}. Hint: build the model from the dataset's geometry.`,
      );
    }
    const id: BackendId = `onnxruntime/${device}`;
    const options = sessionOptions(device);
    const notes: string[] = [
      'inference session holds the weights as constants (rebuilt from the training state after train()); batch dimension symbolic',
    ];
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(forwardModelBytes(model, weights), options);
    } catch (e) {
      throw new BackendError(
        `${id}: cannot create the inference session: ${explainEpFailure(device, (e as Error).message)}`,
        {
          cause: e,
          code: 'BACKEND_UNAVAILABLE',
          hint: 'run the backend probe to see why, or pick another backend',
        },
      );
    }

    // Copies: the trainer replaces these tensors, and the caller's arrays must stay as given.
    const cpuTensors = () => {
      const m = new Map<string, Tensor>();
      for (const p of model.params) {
        const t = weights[p.name];
        if (!t)
          throw new BackendError(
            `${id}: weights lack ${p.name}. Hint: pass the weights initWeights made for this model.`,
          );
        m.set(p.name, new ort.Tensor('float32', t.data.slice(), p.shape));
      }
      return m;
    };
    const state: OrtWeightState = { tensors: cpuTensors(), location: 'cpu', version: 0, aux: new Map() };
    const counter = new TransferCounter();
    if (device !== 'cpu') {
      try {
        const up = await uploadToDevice(ort, model, weights, options, counter);
        for (const t of state.tensors.values()) t.dispose();
        state.tensors = up.tensors;
        state.owners = [up.owner];
        state.location = 'gpu-buffer';
      } catch (e) {
        notes.push(
          `training-state weights kept in CPU memory (each training step uploads them): ${(e as Error).message.split('\n')[0]}`,
        );
      }
    }

    const info: SessionInfo = {
      backend: id,
      // ORT throws rather than silently switching EP when the requested one fails to initialise;
      // nodes the EP does not implement run on the CPU EP, which ORT adds as a fallback.
      device: device === 'cpu' ? 'cpu' : `${EXECUTION_PROVIDER[device]} (+cpu fallback for unsupported nodes)`,
      threads: options.intraOpNumThreads,
      versions: ortVersions(ort),
      notes,
    };
    if (device === 'webgpu') {
      const a = await dawnAdapter();
      if (a) {
        info.adapter = {
          name: a.described,
          software: a.software,
          how: "the adapter Dawn picks here; ONNX Runtime's WebGPU EP brings its own Dawn, which picks from the same drivers",
        };
      }
    }
    const s = new OrtSession(ort, model, session, state, opts, options, info, counter);
    try {
      if (opts.training !== false) await s.createTrainer(device, options);
      else s.trainerUnavailable = 'this session was loaded with training: false';
      if (state.location === 'gpu-buffer') {
        try {
          s.deviceInfer = await DeviceInference.create(
            ort,
            model,
            weights,
            options,
            counter,
            notes,
            opts.inferBatchSize,
          );
        } catch (e) {
          notes.push(
            `inference batches fed from the host (the device inference step could not be built): ${(e as Error).message.split('\n')[0]}`,
          );
        }
      }
      await s.logits(new Float32Array(opts.inferBatchSize * C * H * W), opts.inferBatchSize);
      s.loading = false;
    } catch (e) {
      await s.dispose();
      throw e;
    }
    return s;
  }

  private async createTrainer(device: OrtDevice, sessionOptions: InferenceSession.SessionOptions): Promise<void> {
    // The trainer lives in its own module; without it this backend still infers.
    if (!existsSync(fileURLToPath(TRAINER_URL))) {
      this.trainerUnavailable = `training on ONNX Runtime is not available yet: ${fileURLToPath(TRAINER_URL)} is missing`;
      this.info.notes?.push('training unavailable: trainer module missing');
      return;
    }
    const mod = (await import(TRAINER_URL.href)) as { createOrtTrainer?: CreateOrtTrainer };
    if (typeof mod.createOrtTrainer !== 'function') {
      this.trainerUnavailable = `${fileURLToPath(TRAINER_URL)} does not export createOrtTrainer`;
      return;
    }
    this.trainer = await mod.createOrtTrainer({
      ort: this.ort,
      model: this.model,
      state: this.state,
      opts: this.opts,
      executionProviders: [EXECUTION_PROVIDER[device]],
      sessionOptions,
      notes: this.info.notes,
      transfers: this.counter,
    });
  }

  /** Rebuilds the inference session from the current weight state, if the weights changed since. */
  private async refresh(): Promise<void> {
    if (this.sessionVersion === this.state.version) return;
    const version = this.state.version;
    const weights = await this.readWeights();
    const next = await this.ort.InferenceSession.create(forwardModelBytes(this.model, weights), this.options);
    const old = this.session;
    this.session = next;
    this.sessionVersion = version;
    await old.release();
    await this.deviceInfer?.rebuild(weights, this.opts.inferBatchSize);
  }

  /**
   * Host↔device transfers so far, by the method that made them (`load`, `train`, `infer`, `logits`,
   * `inferenceCall`, `testFigures`, `getWeights`); nothing is counted on the CPU execution provider, where there is no device.
   */
  transfers(): Record<string, TransferCount> {
    return this.counter.snapshot();
  }

  /** A run of a host-fed session on a device EP: its host inputs went up, its host outputs came back. */
  private countHostRun(inputs: Tensor[], outputs: Tensor[]): void {
    if (this.info.backend === 'onnxruntime/cpu') return;
    this.counter.upload(inputs);
    this.counter.readback(outputs);
  }

  private live(): void {
    if (this.disposed)
      throw new BackendError(`${this.info.backend}: session used after dispose(). Hint: load the model again.`);
  }

  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    this.live();
    const per = this.model.input.reduce((a, b) => a * b, 1);
    if (x.length < n * per)
      throw new BackendError(
        `${this.info.backend}: logits() got ${x.length} values for ${n} examples of ${per}. Hint: pass n·C·H·W floats in NCHW.`,
      );
    this.counter.phase = this.loading ? 'load' : 'logits';
    await this.refresh();
    const input = new this.ort.Tensor('float32', x.length === n * per ? x : x.subarray(0, n * per), [
      n,
      ...this.model.input,
    ]);
    const out = await this.session.run({ [INPUT_NAME]: input }, [LOGITS_NAME]);
    const t = out[LOGITS_NAME]!;
    this.countHostRun([input], [t]);
    // The result is read back to the CPU here, so the device is idle when this returns.
    // The inference session's outputs are host tensors (no preferredOutputLocation): never getData()
    // a device one, which aborts ONNX Runtime 1.30 for Node.
    if (t.location !== 'cpu')
      throw new BackendError(`${this.info.backend}: logits came back in '${t.location}', expected host memory`);
    const copy = Float32Array.from(t.data as Float32Array);
    t.dispose();
    return copy;
  }

  async inferenceCall(x: Float32Array, n: number): Promise<InferenceCall> {
    this.live();
    this.counter.phase = 'inferenceCall';
    await this.refresh();
    const per = this.model.input.reduce((a, b) => a * b, 1);
    const input = new this.ort.Tensor('float32', x.slice(0, n * per), [n, ...this.model.input]);
    const session = this.session;
    return {
      // The inference session's outputs are host tensors: run() returns once the logits are in host memory.
      run: async () => {
        const out = await session.run({ [INPUT_NAME]: input }, [LOGITS_NAME]);
        this.countHostRun([input], [out[LOGITS_NAME]!]);
        out[LOGITS_NAME]!.dispose();
      },
      dispose: () => input.dispose(),
    };
  }

  async infer(req: InferRequest): Promise<Int32Array> {
    this.live();
    this.counter.phase = 'infer';
    await this.refresh();
    const { split } = req;
    const B = req.batchSize;
    const onDevice = await this.deviceInfer?.infer(split, B, this.opts.dataset.normalization);
    if (onDevice) return onDevice;
    const [C, H, W] = this.model.input as [number, number, number];
    const per = C * H * W;
    const K = this.model.numClasses;
    if (!this.batchBuf || this.batchBuf.length !== B * per) this.batchBuf = new Float32Array(B * per);
    const buf = this.batchBuf;
    const order = identityOrder(split.n);
    const classes = new Int32Array(split.n);
    const geo = { channels: C, height: H, width: W };
    const norm = this.opts.dataset.normalization;
    // Every example, the final partial batch included (the batch dimension is symbolic).
    for (let start = 0; start < split.n; start += B) {
      const count = Math.min(B, split.n - start);
      fillBatch(split, geo, norm, order, start, count, 'NCHW', buf);
      const x = new this.ort.Tensor('float32', count === B ? buf : buf.subarray(0, count * per), [count, C, H, W]);
      const out = await this.session.run({ [INPUT_NAME]: x }, [LOGITS_NAME]);
      const t = out[LOGITS_NAME]!;
      this.countHostRun([x], [t]);
      argmaxRows(t.data as Float32Array, count, K, classes, start);
      t.dispose();
    }
    return classes;
  }

  /** On the device (the test split held there), the sums read back once; undefined elsewhere. */
  async testFigures(req: FiguresRequest): Promise<TestFigures | undefined> {
    this.live();
    if (!this.deviceInfer) return undefined;
    this.counter.phase = 'testFigures';
    await this.refresh();
    const sums = await this.deviceInfer.figures(req.split, req.batchSize, this.opts.dataset.normalization, {
      topk: req.topk,
      loss: req.loss,
    });
    if (!sums) return undefined;
    return {
      topkHits: req.topk.map((_, i) => sums[i]!),
      lossSum: req.loss ? sums[req.topk.length] : undefined,
    };
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    this.live();
    if (!this.trainer) {
      throw new BackendError(`${this.info.backend}: ${this.trainerUnavailable ?? 'no trainer'}.`, {
        hint: 'use a tfjs backend for training, or an inference-only experiment on onnxruntime',
      });
    }
    const before = this.state.version;
    this.counter.phase = 'train';
    try {
      return await this.trainer.train(req);
    } finally {
      // Steps ran (or may have) and replaced weights: make sure readers see a new version, then
      // rebuild the inference session here, so its cost is part of training, not of inference.
      if (this.state.version === before) this.state.version++;
      await this.refresh();
    }
  }

  async getWeights(): Promise<Weights> {
    this.live();
    this.counter.phase = 'getWeights';
    return this.readWeights();
  }

  /** The current weights, read back from the device where they live there (counted in the caller's phase). */
  private async readWeights(): Promise<Weights> {
    for (const p of this.model.params) {
      if (!this.state.tensors.has(p.name)) {
        throw new BackendError(
          `${this.info.backend}: the weight state lacks ${p.name}. Hint: the trainer must replace tensors, not remove them.`,
        );
      }
    }
    const out: Weights = {};
    if (this.state.location === 'cpu') {
      for (const p of this.model.params)
        out[p.name] = {
          shape: [...p.shape],
          data: Float32Array.from(this.state.tensors.get(p.name)!.data as Float32Array),
        };
      return out;
    }
    this.reader ??= new DeviceReader(this.ort, this.model.params, this.options, this.counter);
    const host = await this.reader.read(this.state.tensors);
    for (const p of this.model.params) out[p.name] = { shape: [...p.shape], data: host.get(p.name)! };
    return out;
  }

  async profileOps(req: OpProfileRequest): Promise<OpProfile> {
    this.live();
    if (!this.trainer?.profileOps) {
      throw new BackendError(`${this.info.backend}: ${this.trainerUnavailable ?? 'this trainer cannot profile'}.`, {
        hint: 'profile a session loaded for training',
      });
    }
    return this.trainer.profileOps(req);
  }

  /** ONNX Runtime for Node exposes no allocator statistics; the runner's RSS sampling covers the CPU. */
  async memory(): Promise<BackendMemory | undefined> {
    return undefined;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.trainer?.dispose();
    } finally {
      await this.deviceInfer?.dispose();
      await this.session.release();
      await this.reader?.release();
      // Tensors first, then the sessions that produced them.
      await releaseWeightState(this.state);
    }
  }
}
