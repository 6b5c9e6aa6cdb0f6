/**
 * The backend registry: lazy factories keyed by id. A factory `import()`s its runtime only when asked,
 * so a missing optional package (tfjs-node, a CUDA build of ONNX Runtime) disables only that backend,
 * and the reason reaches the skipped test's name.
 */
import { isKnownBackend, type KnownBackendId } from '../vocab/backends.ts';
import type { Availability, Backend, BackendFactory, BackendId } from './types.ts';

const factories: Record<KnownBackendId, BackendFactory> = {
  'tfjs/cpu': async () => (await import('./tfjs/index.ts')).createTfjsBackend('cpu'),
  'tfjs/wasm': async () => (await import('./tfjs/index.ts')).createTfjsBackend('wasm'),
  'tfjs/webgpu': async () => (await import('./tfjs/index.ts')).createTfjsBackend('webgpu'),
  'tfjs/tensorflow': async () => (await import('./tfjs/index.ts')).createTfjsBackend('tensorflow'),
  'onnxruntime/cpu': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('cpu'),
  'onnxruntime/webgpu': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('webgpu'),
  'onnxruntime/cuda': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('cuda'),
  'fake/ok': async () => (await import('./fake.ts')).createFakeBackend('ok'),
  'fake/paced': async () => (await import('./fake.ts')).createFakeBackend('paced'),
  'fake/segfault': async () => (await import('./fake.ts')).createFakeBackend('segfault'),
  'fake/abort': async () => (await import('./fake.ts')).createFakeBackend('abort'),
  'fake/hang': async () => (await import('./fake.ts')).createFakeBackend('hang'),
  'fake/oom': async () => (await import('./fake.ts')).createFakeBackend('oom'),
  'fake/nan': async () => (await import('./fake.ts')).createFakeBackend('nan'),
  'fake/throw': async () => (await import('./fake.ts')).createFakeBackend('throw'),
  'fake/unavailable': async () => (await import('./fake.ts')).createFakeBackend('unavailable'),
};

/** The ids the registry has a factory for (the type above makes them the known ids; tests check it). */
export function registeredBackendIds(): string[] {
  return Object.keys(factories);
}

/** Loads a backend; throws for an unknown id. The import itself may fail (missing package). */
export async function getBackend(id: BackendId): Promise<Backend> {
  if (!isKnownBackend(id)) throw new Error(`unknown backend ${id}`);
  return factories[id]();
}

/** Probes a backend, turning a failed import into an unavailable result with the reason. */
export async function probeBackend(id: BackendId): Promise<Availability> {
  try {
    const b = await getBackend(id);
    return await b.probe();
  } catch (e) {
    return { available: false, reason: `cannot load ${id}: ${(e as Error).message.split('\n')[0]}` };
  }
}
