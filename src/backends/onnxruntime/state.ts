/**
 * The weight state an ONNX Runtime session keeps between calls, shared by inference (`index.ts`) and
 * the trainer (`trainer.ts`).
 *
 * Why a state object and not initializers: ONNX Runtime cannot train, so the training graph takes the
 * weights as graph inputs and returns the updated weights as outputs. The trainer feeds `tensors[name]`
 * each step and stores the step's outputs back into the same map (replacing entries in place), so the
 * inference session, which also takes the weights as inputs, always sees the latest values without a
 * copy. On the WebGPU EP the tensors are `gpu-buffer` tensors (outputs kept on the device through
 * `preferredOutputLocation`), on CPU plain `cpu` tensors.
 */
import type { Tensor } from 'onnxruntime-common';

/** Where the weight tensors live. */
export type OrtTensorLocation = 'cpu' | 'gpu-buffer';

export interface OrtWeightState {
  /**
   * Current value of every parameter (trainable and batch-norm running statistics), keyed by
   * {@link import('../../models/ir.ts').ParamSpec.name}, in canonical layout (OIHW conv weights,
   * `[in, out]` dense weights). Whoever replaces an entry owns disposing the one it replaced
   * (a `gpu-buffer` tensor holds device memory until `dispose()`).
   */
  tensors: Map<string, Tensor>;
  /** Where {@link tensors} live; a trainer producing new values keeps them there. */
  location: OrtTensorLocation;
  /**
   * Bumped by every writer after it replaces tensors, so readers that cache something derived from
   * the weights (a read-back copy) know when it is stale.
   */
  version: number;
  /** Extra state a trainer keeps alongside (momentum buffers), by name; the session disposes these too. */
  aux: Map<string, Tensor>;
  /**
   * Sessions whose outputs may still be in {@link tensors} or {@link aux}. A `gpu-buffer` output belongs
   * to its session's allocator: releasing the session first and disposing the tensor later kills
   * ONNX Runtime 1.30 for Node (SIGSEGV), so these are released only after the tensors are disposed
   * ({@link releaseWeightState}).
   */
  owners?: { release(): Promise<void> }[];
}

/**
 * Disposes every tensor, then releases the sessions that produced them (that order: see
 * {@link OrtWeightState.owners}).
 */
export async function releaseWeightState(state: OrtWeightState): Promise<void> {
  disposeWeightState(state);
  const owners = state.owners ?? [];
  state.owners = [];
  for (const o of owners) await o.release();
}

/** Disposes every tensor the state holds (device buffers on WebGPU) and empties it. */
export function disposeWeightState(state: OrtWeightState): void {
  for (const t of state.tensors.values()) t.dispose();
  for (const t of state.aux.values()) t.dispose();
  state.tensors.clear();
  state.aux.clear();
  state.version++;
}

/**
 * What `load()` hands the trainer (`createOrtTrainer` in `trainer.ts`). The trainer builds its
 * training graph and session in `createOrtTrainer` (timed as build+init with the rest of `load`),
 * feeds `state.tensors` every step and replaces them with the step's outputs.
 */
export interface OrtTrainerContext {
  /** The `onnxruntime-node` module (already imported). */
  ort: typeof import('onnxruntime-node');
  model: import('../../models/ir.ts').ModelGraph;
  state: OrtWeightState;
  opts: import('../types.ts').LoadOptions;
  /** Execution providers the inference session uses, e.g. `['cpu']` or `['webgpu']`. */
  executionProviders: string[];
  /** Session options the inference session was created with (threads, optimisation level). */
  sessionOptions: import('onnxruntime-common').InferenceSession.SessionOptions;
  /** The session's notes ({@link import('../types.ts').SessionInfo.notes}): where the trainer says how it trains. */
  notes?: string[];
  /** The session's count of host↔device transfers (device-io.ts), which the trainer's uploads and reads add to. */
  transfers?: import('./device-io.ts').TransferCounter;
}

export interface OrtTrainer {
  train(req: import('../types.ts').TrainRequest): Promise<import('../types.ts').TrainResult>;
  /** Per-operator profile of training steps (`op-profile.ts`); the state is read, never replaced. */
  profileOps?(req: import('../types.ts').OpProfileRequest): Promise<import('../../vocab/op-profile.ts').OpProfile>;
  dispose(): Promise<void>;
}

/** The signature `trainer.ts` exports as `createOrtTrainer`. */
export type CreateOrtTrainer = (ctx: OrtTrainerContext) => Promise<OrtTrainer>;
