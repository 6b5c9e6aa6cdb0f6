/**
 * ONNX Runtime for Node as an expbench backend: `onnxruntime/cpu`, `onnxruntime/webgpu` and
 * `onnxruntime/cuda`, one per execution provider. The network is the model IR's forward graph
 * (`forward.ts`) with the weights as graph inputs, run by an {@link OrtSession}; training runs a
 * generated training graph (`trainer.ts`) on the same weight state.
 */
import { BackendError } from '../../errors.ts';
import type { ModelGraph, Weights } from '../../models/ir.ts';
import type { Availability, Backend, BackendId, LoadOptions, ModelSession } from '../types.ts';
import { loadOrt, probeDevice } from './runtime.ts';
import type { OrtDevice } from './runtime.ts';
import { OrtSession } from './session.ts';

export type { OrtDevice } from './runtime.ts';
export { OrtSession, argmaxRows } from './session.ts';
export { buildForwardGraph, exportOnnx, forwardModelBytes } from './forward.ts';
export type { ForwardGraph, ForwardOptions } from './forward.ts';

const DEVICES: readonly OrtDevice[] = ['cpu', 'webgpu', 'cuda'];

class OrtBackend implements Backend {
  readonly id: BackendId;
  readonly framework = 'onnxruntime' as const;

  constructor(readonly device: OrtDevice) {
    this.id = `onnxruntime/${device}`;
  }

  /** Creates and runs a one-node session on the execution provider; the reason says why not. */
  probe(): Promise<Availability> {
    return probeDevice(this.device);
  }

  async load(model: ModelGraph, weights: Weights, opts: LoadOptions): Promise<ModelSession> {
    const avail = await probeDevice(this.device);
    if (!avail.available) {
      throw new BackendError(`${this.id} is unavailable: ${avail.reason}`, {
        code: 'BACKEND_UNAVAILABLE',
        hint: 'pick another backend, or fix the reason above',
      });
    }
    return OrtSession.create(await loadOrt(), this.device, model, weights, opts);
  }
}

/** The ONNX Runtime backend for `device`. Creating it is free; `probe`/`load` import the runtime. */
export function createOrtBackend(device: OrtDevice): Backend {
  if (!DEVICES.includes(device))
    throw new BackendError(`onnxruntime: unknown device ${String(device)}. Hint: use one of ${DEVICES.join(', ')}.`);
  return new OrtBackend(device);
}
