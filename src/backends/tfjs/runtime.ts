/**
 * Bringing one TensorFlow.js backend up in this Node process: importing its package, the environment it
 * needs (Dawn's `navigator.gpu` for WebGPU, the `.wasm` binaries' folder for wasm), `tf.setBackend`, and a
 * tiny op to prove it computes. tfjs keeps one global engine per process, so each device is initialised
 * once behind a shared promise, and a failed attempt puts the engine back on the backend it had before
 * (a failed `setBackend` otherwise leaves the engine with no backend instance).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { isSoftwareAdapter, softwareAdapterReason, softwareGpuAllowed } from '../software-gpu.ts';
import type { AdapterUsed } from '../types.ts';
import {
  installWasmThreadShim,
  requestedWasmThreads,
  threadSupportProblem,
  settleWasmPool,
  withCoreCountFor,
} from './wasm-threads.ts';

/** The devices expbench runs TensorFlow.js on. `tensorflow` is tfjs-node (the TensorFlow C library). */
export type TfjsDevice = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow';

/** tfjs's own name for the backend each device runs on. */
export const TFJS_BACKEND_NAME: Record<TfjsDevice, string> = {
  cpu: 'cpu',
  wasm: 'wasm',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
};

/** What a successfully initialised backend is, as recorded in a session's {@link SessionInfo}. */
export interface RuntimeInfo {
  device: TfjsDevice;
  /** tfjs backend name active after initialisation (`tf.getBackend()`). */
  backendName: string;
  /** Human-readable device description (adapter, wasm flavour). */
  description: string;
  threads?: number;
  versions: Record<string, string>;
  notes: string[];
  /** Kernels registered by expbench on top of the backend's own (wasm training kernels). */
  extraKernels: string[];
  /** The WebGPU adapter the backend runs on. */
  adapter?: AdapterUsed;
}

export type RuntimeResult = { ok: true; info: RuntimeInfo } | { ok: false; reason: string };

const require = createRequire(import.meta.url);

/** Version of an installed package, or undefined when its package.json cannot be read. */
function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Versions of the tfjs packages every device uses. */
function coreVersions(): Record<string, string> {
  const v: Record<string, string> = { '@tensorflow/tfjs-core': tf.version_core };
  const u = packageVersion('@tensorflow/tfjs');
  if (u) v['@tensorflow/tfjs'] = u;
  return v;
}

function firstLine(e: unknown): string {
  const msg =
    e instanceof Error
      ? e.message
      : typeof e === 'object' && e !== null && 'message' in e
        ? String((e as { message: unknown }).message)
        : String(e);
  return msg.split('\n')[0] ?? msg;
}

/** Whether a module that is not a dependency (tfjs-node) is missing, as opposed to failing to load. */
function isModuleNotFound(e: unknown, name: string): boolean {
  const code = (e as { code?: string } | undefined)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && firstLine(e).includes(name);
}

/**
 * Switches the engine to `name`; on failure restores the previous backend (or, with none, leaves the
 * engine to pick its best registered one on next use) and removes the broken registration so the
 * engine never tries it again on its own.
 */
async function switchBackend(name: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const engine = tf.engine();
  const previous = engine.backendName as string | null;
  const previousReady = previous != null && previous !== name && tf.findBackend(previous) != null;
  let reason: string | undefined;
  const errors: string[] = [];
  const origWarn = console.warn;
  // tfjs reports an initialisation failure only through console.warn; capture it for the reason.
  console.warn = (...args: unknown[]) => {
    errors.push(args.map((a) => firstLine(a)).join(' '));
  };
  try {
    const ok = await tf.setBackend(name);
    if (!ok)
      reason =
        errors.filter((e) => !e.startsWith('Initialization of backend')).join('; ') ||
        `tf.setBackend('${name}') returned false`;
  } catch (e) {
    reason = firstLine(e);
  } finally {
    console.warn = origWarn;
  }
  if (reason === undefined && tf.getBackend() !== name)
    reason = `tfjs is on '${tf.getBackend()}' after setBackend('${name}')`;
  if (reason === undefined) return { ok: true };
  try {
    if (tf.findBackendFactory(name) != null) tf.removeBackend(name);
  } catch {
    // Removing a half-initialised backend can itself fail; the engine is reset below either way.
  }
  try {
    if (previousReady && previous != null) await tf.setBackend(previous);
  } catch {
    // The previous backend was healthy a moment ago; if it is not now there is nothing better to do.
  }
  return { ok: false, reason };
}

/** Runs a tiny op on the active backend and reads it back, proving the backend computes. */
async function smokeTest(): Promise<string | undefined> {
  try {
    const y = tf.tidy(() => tf.sum(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2]))));
    const v = (await y.data())[0];
    y.dispose();
    return v === 10 ? undefined : `smoke test computed ${v}, expected 10`;
  } catch (e) {
    return `smoke test failed: ${firstLine(e)}`;
  }
}

async function initCpu(): Promise<RuntimeResult> {
  const cpu = await import('@tensorflow/tfjs-backend-cpu');
  const sw = await switchBackend('cpu');
  if (!sw.ok) return { ok: false, reason: sw.reason };
  // The cpu backend prints advice to install tfjs-node on its first tensor in Node. expbench runs
  // tfjs/cpu on purpose (tfjs-node is its own backend, tfjs/tensorflow), and the banner would land in
  // every case's stderr, so mark the first use as done.
  const instance = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (instance && 'firstUse' in instance) instance.firstUse = false;
  return {
    ok: true,
    info: {
      device: 'cpu',
      backendName: tf.getBackend(),
      description: 'tfjs cpu backend (plain JavaScript kernels, main thread)',
      threads: 1,
      versions: { ...coreVersions(), '@tensorflow/tfjs-backend-cpu': cpu.version_cpu },
      notes: [],
      extraKernels: [],
    },
  };
}

/** Folder holding tfjs-backend-wasm's `.wasm` binaries, as a file path with a trailing slash. */
export function wasmBinaryDir(): string {
  return `${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`;
}

async function initWasm(): Promise<RuntimeResult> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = wasmBinaryDir();
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    if (!existsSync(dir + f))
      return { ok: false, reason: `missing ${dir}${f}; reinstall @tensorflow/tfjs-backend-wasm` };
  }
  wasm.setWasmPaths(dir);
  const notes: string[] = [];
  let requested: number;
  try {
    requested = requestedWasmThreads();
  } catch (e) {
    return { ok: false, reason: firstLine(e) };
  }
  if (requested > 1) {
    const problem = threadSupportProblem();
    if (problem) {
      notes.push(`wasm runs single-threaded: ${problem}`);
    } else {
      try {
        installWasmThreadShim();
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      } catch (e) {
        notes.push(`wasm runs single-threaded: the pthread worker could not be prepared (${firstLine(e)})`);
      }
    }
  } else {
    notes.push('wasm runs single-threaded: EXPBENCH_WASM_THREADS=1');
  }
  wasm.setThreadsCount(requested);
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const mt = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  const sw = await withCoreCountFor(mt ? requested : 1, () => switchBackend('wasm'));
  if (!sw.ok) return { ok: false, reason: sw.reason };
  if (mt) settleWasmPool((tf.backend() as unknown as { wasm?: unknown }).wasm);
  if (!simd) notes.push('wasm runs without SIMD: WebAssembly.validate rejected the SIMD probe module in this Node');
  let extraKernels: string[] = [];
  // Training kernels the wasm backend lacks live in their own module, imported by a computed specifier
  // so this file type-checks and runs whether or not that module is present.
  const kernelsUrl = new URL('./wasm-kernels/index.ts', import.meta.url);
  if (existsSync(fileURLToPath(kernelsUrl))) {
    try {
      const mod = (await import(/* @vite-ignore */ kernelsUrl.href)) as {
        registerWasmTrainingKernels?: () => { registered: string[] };
      };
      if (typeof mod.registerWasmTrainingKernels === 'function')
        extraKernels = mod.registerWasmTrainingKernels().registered;
      else
        notes.push(
          'wasm-kernels/index.ts has no registerWasmTrainingKernels(); only the stock wasm kernels are registered',
        );
    } catch (e) {
      notes.push(`wasm training kernels not registered: ${firstLine(e)}`);
    }
  } else {
    notes.push('no expbench wasm training kernels present; gradients need kernels the stock wasm backend may lack');
  }
  if (extraKernels.length > 0) notes.push(`expbench registered wasm kernels: ${extraKernels.join(', ')}`);
  const threads = wasm.getThreadsCount();
  if (mt && threads < requested) notes.push(`wasm asked for ${requested} threads and got ${threads}`);
  return {
    ok: true,
    info: {
      device: 'wasm',
      backendName: tf.getBackend(),
      description: `tfjs wasm backend (XNNPACK, ${simd ? 'SIMD' : 'no SIMD'}, ${threads > 1 ? `${threads} threads` : 'single thread'})`,
      threads,
      versions: { ...coreVersions(), '@tensorflow/tfjs-backend-wasm': wasm.version_wasm },
      notes,
      extraKernels,
    },
  };
}

/** Whether the Vulkan loader Dawn needs on Linux can be found (explains a null adapter). */
function vulkanLoaderHint(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const out = execFileSync('ldconfig', ['-p'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    if (!out.includes('libvulkan.so.1'))
      return 'libvulkan.so.1 (the Vulkan loader Dawn uses on Linux) is not installed';
    return 'the Vulkan loader is installed but Dawn found no usable GPU driver';
  } catch {
    return undefined;
  }
}

/** Installs Dawn's WebGPU globals and `navigator.gpu`, unless something already provides `navigator.gpu`. */
async function ensureNavigatorGpu(): Promise<{ gpu: GPULike } | { error: string }> {
  const g = globalThis as { navigator?: { gpu?: GPULike } };
  if (g.navigator?.gpu) return { gpu: g.navigator.gpu };
  let webgpu: { create: (opts: string[]) => unknown; globals: object };
  try {
    webgpu = (await import('webgpu')) as unknown as typeof webgpu;
  } catch (e) {
    return { error: `cannot load the webgpu package (Dawn for Node): ${firstLine(e)}` };
  }
  const gpu = webgpu.create([]) as GPULike;
  Object.assign(globalThis, webgpu.globals);
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  return { gpu };
}

interface GPULike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

function describeAdapter(a: AdapterLike | null | undefined): string {
  const i = a?.info;
  if (!i) return 'unknown adapter';
  return (
    [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0).join(' ') || 'unknown adapter'
  );
}

async function initWebgpu(): Promise<RuntimeResult> {
  const nav = await ensureNavigatorGpu();
  if ('error' in nav) return { ok: false, reason: nav.error };
  let adapter: AdapterLike | null;
  try {
    adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `no WebGPU adapter: requestAdapter failed: ${firstLine(e)}` };
  }
  if (adapter === null) {
    const hint = vulkanLoaderHint();
    return { ok: false, reason: `no WebGPU adapter: Dawn's requestAdapter() returned null${hint ? ` (${hint})` : ''}` };
  }
  const software = isSoftwareAdapter(
    adapter.info,
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
  );
  if (software && !softwareGpuAllowed()) {
    return { ok: false, reason: softwareAdapterReason(describeAdapter(adapter)) };
  }
  // Imported only now: the package registers its backend at import time only if navigator.gpu exists.
  const wgpu = await import('@tensorflow/tfjs-backend-webgpu');
  const sw = await switchBackend('webgpu');
  if (!sw.ok)
    return {
      ok: false,
      reason: `tfjs webgpu backend failed to initialise on ${describeAdapter(adapter)}: ${sw.reason}`,
    };
  const versions: Record<string, string> = coreVersions();
  const wv = packageVersion('@tensorflow/tfjs-backend-webgpu');
  if (wv) versions['@tensorflow/tfjs-backend-webgpu'] = wv;
  const dv = packageVersion('webgpu');
  if (dv) versions.webgpu = dv;
  const backend = tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } };
  void wgpu;
  return {
    ok: true,
    info: {
      device: 'webgpu',
      backendName: tf.getBackend(),
      description: `tfjs webgpu backend on ${describeAdapter(adapter)}${backend.adapterInfo?.vendor ? ` (${backend.adapterInfo.vendor})` : ''}`,
      versions,
      notes: [],
      extraKernels: [],
      adapter: { name: describeAdapter(adapter), software },
    },
  };
}

async function initTensorflow(): Promise<RuntimeResult> {
  // tfjs-node is optional and not a dependency: import it by a computed name so the type checker and
  // bundlers do not require it. The GPU build is preferred when both are installed.
  const tried: string[] = [];
  let loadedName: string | undefined;
  let mod: { version?: Record<string, string> } | undefined;
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      mod = (await import(/* @vite-ignore */ name)) as typeof mod;
      loadedName = name;
      break;
    } catch (e) {
      tried.push(isModuleNotFound(e, name) ? `${name} not installed` : `${name} failed to load: ${firstLine(e)}`);
    }
  }
  if (loadedName === undefined) {
    const allMissing = tried.every((t) => t.endsWith('not installed'));
    return {
      ok: false,
      reason: allMissing
        ? 'not installed: npm install @tensorflow/tfjs-node(-gpu) on a machine with network access'
        : tried.join('; '),
    };
  }
  const sw = await switchBackend('tensorflow');
  if (!sw.ok) return { ok: false, reason: `${loadedName} loaded but its backend failed: ${sw.reason}` };
  const versions: Record<string, string> = { ...coreVersions(), ...(mod?.version ?? {}) };
  const v = packageVersion(loadedName);
  if (v) versions[loadedName] = v;
  return {
    ok: true,
    info: {
      device: 'tensorflow',
      backendName: tf.getBackend(),
      description: `tfjs-node backend (${loadedName}, TensorFlow C library)`,
      versions,
      notes: ["threads are TensorFlow's own intra/inter-op pools (not set by expbench)"],
      extraKernels: [],
    },
  };
}

/** The tfjs backend active now, or undefined when the engine has none initialised. */
export function activeBackendName(): string | undefined {
  const engine = tf.engine() as unknown as { backendName: string | null; backendInstance: unknown };
  return engine.backendName != null && engine.backendInstance != null ? engine.backendName : undefined;
}

/** Makes `name` the active backend again if it is still initialised; never throws. */
export async function restoreBackend(name: string | undefined): Promise<void> {
  if (name === undefined || activeBackendName() === name || tf.findBackend(name) == null) return;
  try {
    await tf.setBackend(name);
  } catch {
    // It was healthy before the probe; if it is not now, the next load re-activates what it needs.
  }
}

const inits: Partial<Record<TfjsDevice, Promise<RuntimeResult>>> = {};

/**
 * Initialises `device` once per process and makes it the active tfjs backend. Never throws: a failure
 * comes back as `{ ok: false, reason }`. Calling again re-activates an already initialised backend
 * (another device may have been activated in between).
 */
export async function activateRuntime(device: TfjsDevice): Promise<RuntimeResult> {
  let p = inits[device];
  if (p === undefined) {
    const init = { cpu: initCpu, wasm: initWasm, webgpu: initWebgpu, tensorflow: initTensorflow }[device];
    p = init().catch((e: unknown): RuntimeResult => ({ ok: false, reason: firstLine(e) }));
    inits[device] = p;
  }
  const r = await p;
  if (!r.ok) return r;
  const name = TFJS_BACKEND_NAME[device];
  if (tf.getBackend() !== name) {
    const sw = await switchBackend(name);
    if (!sw.ok) return { ok: false, reason: sw.reason };
  }
  const smoke = await smokeTest();
  if (smoke !== undefined) return { ok: false, reason: `${name}: ${smoke}` };
  return { ok: true, info: { ...r.info, backendName: tf.getBackend() } };
}
