/**
 * Backend ids: the names experiment files, records, reports and the registry share. Pure data, so
 * the config, the reporters and anything else can name a backend without importing the registry
 * (whose factories load frameworks).
 */

/** `framework/device`, e.g. `tfjs/cpu`, `tfjs/wasm`, `onnxruntime/webgpu`. */
export type BackendId = `${string}/${string}`;

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
  'fake/paced',
  'fake/segfault',
  'fake/abort',
  'fake/hang',
  'fake/oom',
  'fake/nan',
  'fake/throw',
  'fake/unavailable',
] as const satisfies readonly BackendId[];

export type KnownBackendId = (typeof BACKEND_IDS)[number] | (typeof TEST_BACKEND_IDS)[number];

const KNOWN: readonly string[] = [...BACKEND_IDS, ...TEST_BACKEND_IDS];

export function isKnownBackend(id: string): id is KnownBackendId {
  return KNOWN.includes(id);
}

/** Every id accepted in an experiment file. */
export function knownBackendIds(): string[] {
  return [...KNOWN];
}

/**
 * The class of device a comparison pairs: the study compared both frameworks on one device, so a
 * ratio only ever divides figures measured on the same class.
 */
export type DeviceClass = 'cpu' | 'gpu';

const DEVICE_CLASS: Record<string, DeviceClass> = {
  'tfjs/cpu': 'cpu',
  'tfjs/wasm': 'cpu',
  'onnxruntime/cpu': 'cpu',
  'tfjs/webgpu': 'gpu',
  'onnxruntime/webgpu': 'gpu',
  'onnxruntime/cuda': 'gpu',
};

/**
 * The device class of a backend. `tfjs/tensorflow` (tfjs-node) runs on either, so its class comes from
 * the session's device description (the GPU build names itself `tfjs-node-gpu`); without a session it
 * has none.
 */
export function deviceClass(backend: string, sessionDevice?: string): DeviceClass | undefined {
  const known = DEVICE_CLASS[backend];
  if (known !== undefined) return known;
  if (backend === 'tfjs/tensorflow' && sessionDevice !== undefined)
    return /gpu|cuda/i.test(sessionDevice) ? 'gpu' : 'cpu';
  return undefined;
}
