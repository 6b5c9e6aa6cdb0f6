/**
 * TensorFlow.js as an expbench backend: `tfjs/cpu`, `tfjs/wasm`, `tfjs/webgpu` and `tfjs/tensorflow`
 * (tfjs-node, optional and not a dependency). Each is a tfjs-core backend brought up in this process
 * (`runtime.ts`); the network is built from the model IR with tfjs-core ops (`model.ts`) and trained and
 * run by a {@link TfjsSession} (`session.ts`).
 *
 * tfjs has one global engine per process: a session re-activates its backend on each call, and the
 * backend actually used (`tf.getBackend()`) is what the session's `info.backend` records.
 */
import { BackendError } from '../../errors.ts';
import type { ModelGraph, Weights } from '../../models/ir.ts';
import type { Availability, Backend, BackendId, LoadOptions, ModelSession } from '../types.ts';
import { activateRuntime, activeBackendName, restoreBackend, TFJS_BACKEND_NAME } from './runtime.ts';
import type { TfjsDevice } from './runtime.ts';
import { TfjsSession } from './session.ts';

export type { TfjsDevice } from './runtime.ts';
export { TfjsSession } from './session.ts';

const DEVICES: readonly TfjsDevice[] = ['cpu', 'wasm', 'webgpu', 'tensorflow'];

class TfjsBackend implements Backend {
  readonly id: BackendId;
  readonly framework = 'tfjs' as const;
  readonly device: TfjsDevice;

  constructor(device: TfjsDevice) {
    this.device = device;
    this.id = `tfjs/${device}`;
  }

  /**
   * Initialises the device's backend (once per process) and runs a tiny op on it. A query, not a
   * switch: the backend that was active before is active again afterwards (`load` activates).
   */
  async probe(): Promise<Availability> {
    const previous = activeBackendName();
    try {
      const r = await activateRuntime(this.device);
      if (!r.ok) return { available: false, reason: r.reason };
      const fellBack = r.info.backendName !== TFJS_BACKEND_NAME[this.device];
      if (fellBack)
        return {
          available: false,
          reason: `tfjs ran on '${r.info.backendName}' instead of '${TFJS_BACKEND_NAME[this.device]}'`,
        };
      return { available: true, detail: r.info.description };
    } catch (e) {
      return { available: false, reason: (e as Error).message };
    } finally {
      await restoreBackend(previous);
    }
  }

  async load(model: ModelGraph, weights: Weights, opts: LoadOptions): Promise<ModelSession> {
    const r = await activateRuntime(this.device);
    if (!r.ok) {
      throw new BackendError(`${this.id} is unavailable: ${r.reason}`, {
        code: 'BACKEND_UNAVAILABLE',
        hint: 'run probe() first, or pick another backend',
      });
    }
    return TfjsSession.create(r.info, model, weights, opts);
  }
}

/** The tfjs backend for `device`. Creating it is free; the runtime is brought up by `probe`/`load`. */
export function createTfjsBackend(device: TfjsDevice): Backend {
  if (!DEVICES.includes(device))
    throw new BackendError(`tfjs: unknown device ${String(device)}. Hint: use one of ${DEVICES.join(', ')}.`);
  return new TfjsBackend(device);
}
