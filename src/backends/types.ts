/**
 * The backend contract, in two levels (as ONNX Runtime's JS API splits Backend from SessionHandler):
 * a {@link Backend} probes whether its runtime is usable here and loads a model into a
 * {@link ModelSession}, which trains and infers.
 *
 * Rules every implementation follows:
 * - A method that does device work returns only when the device is idle (results read back or the
 *   backend's sync awaited), so the runner's clocks measure the work and not the enqueueing.
 * - Weights come in canonical layout (`src/models/ir.ts`); any conversion is the backend's business
 *   and happens in `load`, which the runner times as build+init.
 * - Every example order comes from the runner (`TrainRequest.order`), so all backends see identical
 *   batches.
 */
import type { AugmentConfig, AugmentPlan } from '../data/augment.ts';
import type { Dataset, Split } from '../data/types.ts';
import type { ModelGraph, Weights } from '../models/ir.ts';
import type { BackendId } from '../vocab/backends.ts';
import type { OpProfile } from '../vocab/op-profile.ts';
import type { AdamConfig, OptimizerConfig, SgdConfig } from '../vocab/optimizer.ts';

export type { AdamConfig, BackendId, OptimizerConfig, SgdConfig };

export type Availability = { available: true; detail?: string } | { available: false; reason: string };

export interface LoadOptions {
  optimizer: OptimizerConfig;
  trainBatchSize: number;
  inferBatchSize: number;
  /** Label smoothing ε of the training loss (0 or absent: none). */
  labelSmoothing?: number;
  /** The recipe's augmentation, so a backend that augments on the device can build for it in `load`. */
  augment?: AugmentConfig;
  /** Seed for anything random inside the backend (dropout masks). */
  seed: number;
  /** Dataset whose normalisation and shape the session uses; GPU backends may upload it in `load`. */
  dataset: Dataset;
  /**
   * False when the session will only infer (parity checks, inference benchmarks): a backend that
   * builds a separate training graph in `load` may then skip it. `train()` on such a session throws.
   * @default true
   */
  training?: boolean;
}

export interface StepInfo {
  epoch: number;
  /** Step within the epoch, 0-based. */
  step: number;
  stepsPerEpoch: number;
  /** Loss of this step when the backend read it back (it need not every step). */
  loss?: number;
}

export interface TrainRequest {
  split: Split;
  epochs: number;
  batchSize: number;
  /** The example order of an epoch (a permutation of `0..n-1`); only `floor(n / batchSize)` full batches run. */
  order(epoch: number): Uint32Array;
  /**
   * Called after steps; return `'stop'` to end training early (numeric failure, budget). A backend
   * should read the loss back at least once per `lossEvery` steps and report it here.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that returns nothing is the common case; only a stop request returns a value
  onStep?(info: StepInfo): void | 'stop';
  /** How often to read the loss back (steps). Reading it back syncs the device, so not every step. */
  lossEvery: number;
  /**
   * The learning rate of each step (the runner's schedule); default the optimizer's constant `lr`.
   * A backend may ask for a whole epoch's rates before its first step (a device-side rate table).
   */
  lr?(epoch: number, step: number): number;
  /**
   * The augmentation of an epoch (crop offsets and flips by position in `order(epoch)`), applied on
   * the host by `fillBatch` (or by the same copies on the device, where a backend gathers its batches
   * there); absent: none. Drawn by the runner, so every backend sees the same images.
   */
  augment?(epoch: number): AugmentPlan;
}

export interface TrainResult {
  steps: number;
  /** Mean loss per epoch over the steps whose loss was read back. */
  epochLoss: number[];
  stoppedEarly: boolean;
}

/** A per-operator profile of training steps ({@link ModelSession.profileOps}). */
export interface OpProfileRequest {
  split: Split;
  batchSize: number;
  /** Example order; steps take consecutive batches of it. */
  order: Uint32Array;
  /** Steps run first and not counted (allocation, kernel selection). */
  warmupSteps: number;
  /** Steps profiled. */
  steps: number;
}

export interface InferRequest {
  split: Split;
  batchSize: number;
}

/** The test-set figures the declared metrics take from logits: top-k hit counts and the summed loss. */
export interface FiguresRequest extends InferRequest {
  topk: readonly number[];
  loss: boolean;
}

export interface TestFigures {
  /** Examples whose true class is among the k best, for each k of the request, in its order. */
  topkHits: number[];
  /** Σ softmax cross-entropy over the examples, when asked. */
  lossSum?: number;
}

export interface SessionInfo {
  /** The backend that actually ran (e.g. tfjs reports the backend it fell back to). */
  backend: BackendId;
  /** ONNX Runtime execution provider(s) actually used, tfjs backend name, adapter. */
  device: string;
  threads?: number;
  /** Runtime package versions. */
  versions: Record<string, string>;
  notes?: string[];
  /** GPU backends: the adapter the session ran on, and whether it is a software (CPU) one. */
  adapter?: AdapterUsed;
}

/** A GPU adapter a session used, as described by the driver. */
export interface AdapterUsed {
  /** Vendor, architecture, device and description, as the adapter reports them. */
  name: string;
  /** A software (CPU) implementation: its timings are not GPU timings. */
  software: boolean;
  /** How the adapter was identified, where not from the runtime itself. */
  how?: string;
}

export interface BackendMemory {
  /** Bytes the runtime says it holds, and where that figure came from. */
  bytes: number;
  source: string;
  reliable: boolean;
  /** Bytes the runtime counts on the GPU, where it counts them (tfjs webgpu's `numBytesInGPU`). */
  device?: { bytes: number; source: string; reliable: boolean };
}

/** One inference call on a fixed batch: the unit the runner's latency loop times. */
export interface InferenceCall {
  /** One forward pass of the batch from host memory, logits read back to the host. */
  run(): Promise<void>;
  dispose(): void;
}

export interface ModelSession {
  readonly info: SessionInfo;
  train(req: TrainRequest): Promise<TrainResult>;
  /** Class ids (argmax over logits, part of inference as in the study) for every example. */
  infer(req: InferRequest): Promise<Int32Array>;
  /** Logits for `n` normalised examples given in NCHW float32 (parity checks). */
  logits(x: Float32Array, n: number): Promise<Float32Array>;
  /**
   * Prepares `n` normalised NCHW examples in the runtime's own host layout, so that each `run()` is one
   * `session.run` / forward pass and read-back and nothing else. Optional: without it the runner times
   * {@link ModelSession.logits}.
   */
  inferenceCall?(x: Float32Array, n: number): Promise<InferenceCall>;
  /**
   * Top-k hits and summed loss computed where the logits are (a GPU backend: on the device, reading
   * back only the sums). Optional, and undefined when it cannot: the runner then computes them from
   * {@link ModelSession.logits}.
   */
  testFigures?(req: FiguresRequest): Promise<TestFigures | undefined>;
  /** Current weights in canonical layout (read back from the device). */
  getWeights(): Promise<Weights>;
  memory?(): Promise<BackendMemory | undefined>;
  /**
   * Runs training steps under the runtime's own profiler and returns where their time went by
   * operator. The steps may update the weights: call it on a session loaded for the purpose, never
   * inside a timed phase.
   */
  profileOps?(req: OpProfileRequest): Promise<OpProfile>;
  dispose(): Promise<void>;
}

export interface Backend {
  readonly id: BackendId;
  readonly framework: 'tfjs' | 'onnxruntime' | (string & {});
  readonly device: string;
  /** Whether this backend can run here; never throws. */
  probe(): Promise<Availability>;
  /** Builds the graph and initialises the session (the study's "graph construction and initialisation"). */
  load(model: ModelGraph, weights: Weights, opts: LoadOptions): Promise<ModelSession>;
}

/** A lazily imported backend, so a missing optional package disables only that backend. */
export type BackendFactory = () => Promise<Backend>;
