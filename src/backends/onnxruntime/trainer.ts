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
 * The example order is the runner's (`req.order(epoch)`), full batches only, filled NCHW by
 * `fillBatch` into buffers reused across steps.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { fillBatch } from '../../data/batch.ts';
import { BackendError, NumericError } from '../../errors.ts';
import type { ModelGraph } from '../../models/ir.ts';
import type { LoadOptions, StepInfo, TrainRequest, TrainResult } from '../types.ts';
import { OnnxGraph } from './graph.ts';
import type { OrtTrainer, OrtTrainerContext, OrtWeightState } from './state.ts';
import { buildTrainStepGraph } from './train-graph.ts';
import type { TrainStepGraph } from './train-graph.ts';

type Ort = OrtTrainerContext['ort'];

/** Key of a parameter's velocity in {@link OrtWeightState.aux}. */
export function velocityKey(param: string): string {
  return `${param}.velocity`;
}

/** One state value the step reads and rewrites. */
interface Slot {
  /** Parameter name (the key in state.tensors), or velocity key (in state.aux). */
  key: string;
  where: 'tensors' | 'aux';
  input: string;
  output: string;
  shape: number[];
}

/** A compiled step for one batch size. */
interface Step {
  batch: number;
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
  private readonly steps = new Map<number, Step>();
  private readback: InferenceSession | undefined;
  private readonly lr: Tensor;
  private disposed = false;

  constructor(
    private readonly ort: Ort,
    private readonly model: ModelGraph,
    private readonly state: OrtWeightState,
    private readonly opts: LoadOptions,
    private readonly sessionOptions: InferenceSession.SessionOptions,
  ) {
    this.lr = new ort.Tensor('float32', Float32Array.of(opts.optimizer.lr), []);
  }

  private get onDevice(): boolean {
    return this.state.location === 'gpu-buffer';
  }

  /** Builds (once per batch size) the training graph, its session and the step's buffers. */
  async prepare(batch: number): Promise<Step> {
    const have = this.steps.get(batch);
    if (have) return have;
    const graph = buildTrainStepGraph(this.model, { batch, optimizer: this.opts.optimizer, dropoutSeed: this.opts.seed, labelType: 'int32' });
    const options: InferenceSession.SessionOptions = { ...this.sessionOptions, ...(this.onDevice ? { preferredOutputLocation: 'gpu-buffer' as const } : {}) };
    let session: InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(graph.bytes, options);
    } catch (e) {
      throw new BackendError(`onnxruntime: cannot create the training session of ${this.model.name} (batch ${batch}): ${(e as Error).message.split('\n')[0]}`, {
        cause: e,
        hint: 'the generated training graph uses an operator this execution provider rejects; try onnxruntime/cpu',
      });
    }
    const shapeOf = new Map(this.model.params.map((p) => [p.name, p.shape]));
    const slots: Slot[] = [];
    for (const [p, input] of Object.entries(graph.inputs.params)) slots.push({ key: p, where: 'tensors', input, output: graph.outputs.params[p]!, shape: shapeOf.get(p)! });
    for (const [p, input] of Object.entries(graph.inputs.stats)) slots.push({ key: p, where: 'tensors', input, output: graph.outputs.stats[p]!, shape: shapeOf.get(p)! });
    for (const [p, input] of Object.entries(graph.inputs.velocities)) {
      slots.push({ key: velocityKey(p), where: 'aux', input, output: graph.outputs.velocities[p]!, shape: shapeOf.get(p)! });
      // Velocities start at zero (PyTorch's first step sets v = g, the same thing) and persist across
      // train() calls and batch sizes.
      if (!this.state.aux.has(velocityKey(p))) this.state.aux.set(velocityKey(p), new this.ort.Tensor('float32', new Float32Array(numel(shapeOf.get(p)!)), shapeOf.get(p)!));
    }
    const per = numel(this.model.input);
    const xBuf = new Float32Array(batch * per);
    const labelBuf = new Int32Array(batch);
    const spare = new Map<string, Tensor>();
    if (!this.onDevice) for (const s of slots) spare.set(s.key, new this.ort.Tensor('float32', new Float32Array(numel(s.shape)), s.shape));
    const step: Step = {
      batch,
      graph,
      session,
      slots,
      x: new this.ort.Tensor('float32', xBuf, [batch, ...this.model.input]),
      xBuf,
      labels: new this.ort.Tensor('int32', labelBuf, [batch]),
      labelBuf,
      spare,
      loss: this.onDevice ? undefined : new this.ort.Tensor('float32', new Float32Array(1), []),
      correct: this.onDevice ? undefined : new this.ort.Tensor('float32', new Float32Array(1), []),
    };
    this.steps.set(batch, step);
    return step;
  }

  private current(slot: Slot): Tensor {
    const t = slot.where === 'tensors' ? this.state.tensors.get(slot.key) : this.state.aux.get(slot.key);
    if (!t) throw new BackendError(`onnxruntime trainer: the weight state lacks ${slot.key}. Hint: state entries must be replaced, never removed.`);
    return t;
  }

  private replace(slot: Slot, t: Tensor): Tensor {
    const old = this.current(slot);
    if (slot.where === 'tensors') this.state.tensors.set(slot.key, t);
    else this.state.aux.set(slot.key, t);
    return old;
  }

  /** Runs one step; returns the loss tensor (device mode: caller reads or disposes it). */
  private async runStep(step: Step): Promise<Tensor> {
    const g = step.graph;
    const feeds: Record<string, Tensor> = { [g.inputs.x]: step.x, [g.inputs.labels]: step.labels, [g.inputs.lr]: this.lr };
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
    const out = await step.session.run(feeds);
    for (const s of step.slots) {
      const t = out[s.output];
      if (!t) throw new BackendError(`onnxruntime trainer: the step returned no ${s.output}. Hint: the training graph and the trainer disagree on names.`);
      this.replace(s, t).dispose();
    }
    this.state.version++;
    out[g.outputs.correct]?.dispose();
    return out[g.outputs.loss]!;
  }

  /** The value of a scalar tensor on the CPU; on the device through the Identity read-back session. */
  private async read(t: Tensor): Promise<number> {
    if (t.location === 'cpu') return (t.data as Float32Array)[0]!;
    if (!this.readback) {
      const g = new OnnxGraph('readback');
      g.input('v', 'float32', []);
      g.output(g.op('Identity', ['v'], {}, 'out'), 'float32', []);
      this.readback = await this.ort.InferenceSession.create(g.toModelBytes(), { ...this.sessionOptions, preferredOutputLocation: 'cpu' });
    }
    const out = await this.readback.run({ v: t });
    const value = (out['out']!.data as Float32Array)[0]!;
    out['out']!.dispose();
    return value;
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    if (this.disposed) throw new BackendError('onnxruntime trainer used after dispose(). Hint: load the model again.');
    const B = req.batchSize;
    const step = await this.prepare(B);
    const { split } = req;
    const stepsPerEpoch = Math.floor(split.n / B);
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
    for (let epoch = 0; epoch < req.epochs && !stoppedEarly; epoch++) {
      const order = req.order(epoch);
      if (order.length < stepsPerEpoch * B) {
        throw new BackendError(`onnxruntime trainer: order(${epoch}) has ${order.length} entries for ${split.n} examples. Hint: order must be a permutation of 0..n-1.`);
      }
      let lossSum = 0;
      let lossCount = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        fillBatch(split, geo, norm, order, s * B, B, 'NCHW', step.xBuf, step.labelBuf);
        const lossTensor = await this.runStep(step);
        steps++;
        const info: StepInfo = { epoch, step: s, stepsPerEpoch };
        if ((s + 1) % lossEvery === 0 || s === stepsPerEpoch - 1) {
          pending = this.drop(pending);
          const loss = await this.read(lossTensor);
          this.drop(lossTensor);
          if (!Number.isFinite(loss)) {
            throw new NumericError(
              `onnxruntime: training loss became ${loss} at epoch ${epoch}, step ${s} (lr ${this.opts.optimizer.lr}, batch ${B}). Hint: lower the learning rate or check the input normalisation.`,
              s,
              epoch,
            );
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
    // Device work is asynchronous: return only once the device has finished the last step. The
    // last loss is read after every command of that step was submitted, so its read-back waits for them.
    if (pending) {
      const loss = await this.read(pending);
      this.drop(pending);
      if (!Number.isFinite(loss)) {
        throw new NumericError(
          `onnxruntime: training loss became ${loss} at epoch ${pendingAt.epoch}, step ${pendingAt.step} (lr ${this.opts.optimizer.lr}, batch ${B}). Hint: lower the learning rate or check the input normalisation.`,
          pendingAt.step,
          pendingAt.epoch,
        );
      }
    }
    return { steps, epochLoss, stoppedEarly };
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
      if (this.onDevice) (this.state.owners ??= []).push(step.session);
      else await step.session.release();
    }
    this.steps.clear();
    await this.readback?.release();
  }
}

/**
 * Creates the trainer `load()` uses: builds the training-step graph for `opts.trainBatchSize` and its
 * session now (so the cost lands in build+init), on the execution providers of the inference
 * session. Velocities live in `state.aux` under {@link velocityKey}.
 */
export async function createOrtTrainer(ctx: OrtTrainerContext): Promise<OrtTrainer> {
  const options: InferenceSession.SessionOptions = { ...ctx.sessionOptions, executionProviders: ctx.executionProviders };
  const trainer = new OrtTrainerImpl(ctx.ort, ctx.model, ctx.state, ctx.opts, options);
  await trainer.prepare(ctx.opts.trainBatchSize);
  return trainer;
}
