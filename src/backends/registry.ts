/**
 * The backend registry: lazy factories keyed by id. A factory `import()`s its runtime only when asked,
 * so a missing optional package (tfjs-node, a CUDA build of ONNX Runtime) disables only that backend,
 * and the reason reaches the skipped test's name.
 */
import type { Availability, Backend, BackendFactory, BackendId } from './types.ts';

/** Every backend id expbench knows, in the order reports list them. */
export const BACKEND_IDS = [
  'tfjs/cpu',
  'tfjs/wasm',
  'tfjs/webgpu',
  'tfjs/tensorflow',
  'onnxruntime/cpu',
  'onnxruntime/webgpu',
  'onnxruntime/cuda',
] as const satisfies readonly BackendId[];

/**
 * Backends used only by expbench's own tests of the runner (crash isolation, timeouts). They are
 * accepted in experiment files so fault-injection fixtures are ordinary experiments.
 */
export const TEST_BACKEND_IDS = [
  'fake/ok',
  'fake/segfault',
  'fake/abort',
  'fake/hang',
  'fake/oom',
  'fake/nan',
  'fake/throw',
  'fake/unavailable',
] as const satisfies readonly BackendId[];

export type KnownBackendId = (typeof BACKEND_IDS)[number] | (typeof TEST_BACKEND_IDS)[number];

const factories: Record<KnownBackendId, BackendFactory> = {
  'tfjs/cpu': async () => (await import('./tfjs/index.ts')).createTfjsBackend('cpu'),
  'tfjs/wasm': async () => (await import('./tfjs/index.ts')).createTfjsBackend('wasm'),
  'tfjs/webgpu': async () => (await import('./tfjs/index.ts')).createTfjsBackend('webgpu'),
  'tfjs/tensorflow': async () => (await import('./tfjs/index.ts')).createTfjsBackend('tensorflow'),
  'onnxruntime/cpu': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('cpu'),
  'onnxruntime/webgpu': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('webgpu'),
  'onnxruntime/cuda': async () => (await import('./onnxruntime/index.ts')).createOrtBackend('cuda'),
  'fake/ok': async () => (await import('./fake.ts')).createFakeBackend('ok'),
  'fake/segfault': async () => (await import('./fake.ts')).createFakeBackend('segfault'),
  'fake/abort': async () => (await import('./fake.ts')).createFakeBackend('abort'),
  'fake/hang': async () => (await import('./fake.ts')).createFakeBackend('hang'),
  'fake/oom': async () => (await import('./fake.ts')).createFakeBackend('oom'),
  'fake/nan': async () => (await import('./fake.ts')).createFakeBackend('nan'),
  'fake/throw': async () => (await import('./fake.ts')).createFakeBackend('throw'),
  'fake/unavailable': async () => (await import('./fake.ts')).createFakeBackend('unavailable'),
};

export function isKnownBackend(id: string): id is KnownBackendId {
  return Object.hasOwn(factories, id);
}

/** Every id accepted in an experiment file. */
export function knownBackendIds(): string[] {
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
