/**
 * Bringing ONNX Runtime up: importing `onnxruntime-node` once (behind a shared promise), the session
 * options every expbench session uses, and the probe of an execution provider, which tries the real
 * thing (a one-node session, run once) and turns a failure into a reason a person can act on.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import type { Availability } from '../types.ts';
import { OnnxGraph } from './graph.ts';
import { dawnAdapter, softwareAdapterReason, softwareGpuAllowed } from '../software-gpu.ts';

export type OrtModule = typeof import('onnxruntime-node');
export type OrtDevice = 'cpu' | 'webgpu' | 'cuda';

/** ONNX Runtime's name of the execution provider for each device. */
export const EXECUTION_PROVIDER: Record<OrtDevice, string> = { cpu: 'cpu', webgpu: 'webgpu', cuda: 'cuda' };

let ortPromise: Promise<OrtModule> | undefined;

/** Imports `onnxruntime-node` once per process. */
export function loadOrt(): Promise<OrtModule> {
  ortPromise ??= import('onnxruntime-node').then((m) => ((m as { default?: OrtModule }).default ?? m) as OrtModule);
  return ortPromise;
}

/** `onnxruntime-node` and `onnxruntime-common` versions as the runtime reports them. */
export function ortVersions(ort: OrtModule): Record<string, string> {
  const v = ort.env.versions as Record<string, string | undefined>;
  const out: Record<string, string> = {};
  if (v.node) out['onnxruntime-node'] = v.node;
  if (v.common) out['onnxruntime-common'] = v.common;
  return out;
}

/** Threads for intra-op parallelism: every core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * Session options for `device`: full graph optimisation, one intra-op thread per core, sequential
 * execution (a VGG is a chain; inter-op threads would only compete), warnings off the console.
 */
export function sessionOptions(
  device: OrtDevice,
  extra: InferenceSession.SessionOptions = {},
): InferenceSession.SessionOptions {
  return {
    executionProviders: [EXECUTION_PROVIDER[device]],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...extra,
  };
}

/** Folder of the native binding, where optional execution-provider libraries are installed. */
export function bindingDir(): string {
  const req = createRequire(import.meta.url);
  const main = req.resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const CUDA_INSTALL_HINT =
  'install them with `npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  '(or `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`); CUDA 12 and cuDNN 9 libraries must be on the library path';

/** Explains an execution provider's failure to create or run a session. */
export function explainEpFailure(device: OrtDevice, message: string): string {
  // ORT prefixes errors with its source location and the failed check; keep the sentence after it.
  const line = (message.split('\n').find((l) => l.trim() !== '') ?? message).trim();
  const first = line.replace(/^.*? was false\.\s*/, '').replace(/^\/onnxruntime_src\/\S+\s+/, '');
  if (device === 'webgpu') {
    if (/adapter/i.test(message)) {
      return `no WebGPU adapter: ONNX Runtime's WebGPU EP (Dawn) found no usable GPU on this machine (no GPU, or no Vulkan/Metal/D3D12 driver); ORT said: ${first.trim()}`;
    }
    return `ONNX Runtime's WebGPU EP failed to start: ${first.trim()}`;
  }
  if (device === 'cuda') {
    if (
      /shared library|libcudart|libcudnn|libcublas|providers_cuda|providers_shared|cannot open shared object/i.test(
        message,
      )
    ) {
      return `the CUDA execution provider could not be loaded (its libraries or CUDA/cuDNN are missing): ${first.trim()}; ${CUDA_INSTALL_HINT}`;
    }
    return `ONNX Runtime's CUDA EP failed to start: ${first.trim()}`;
  }
  return `ONNX Runtime's CPU EP failed: ${first.trim()}`;
}

let tinyModel: Uint8Array | undefined;

/** A one-node model (`y = Relu(x)`, `x: [1, 4]`): enough to make an EP initialise and run. */
function tinyModelBytes(): Uint8Array {
  if (!tinyModel) {
    const g = new OnnxGraph('probe');
    g.input('x', 'float32', [1, 4]);
    g.output(g.op('Relu', ['x'], {}, 'y'), 'float32', [1, 4]);
    tinyModel = g.toModelBytes();
  }
  return tinyModel;
}

const probeCache = new Map<OrtDevice, Promise<Availability>>();

/** Whether `device` works here (cached per process); never throws. */
export function probeDevice(device: OrtDevice): Promise<Availability> {
  let p = probeCache.get(device);
  if (!p) {
    p = probeUncached(device);
    probeCache.set(device, p);
  }
  return p;
}

async function probeUncached(device: OrtDevice): Promise<Availability> {
  let ort: OrtModule;
  try {
    ort = await loadOrt();
  } catch (e) {
    return {
      available: false,
      reason: `onnxruntime-node cannot be loaded: ${(e as Error).message.split('\n')[0]}; run \`npm install onnxruntime-node\``,
    };
  }
  const ep = EXECUTION_PROVIDER[device];
  const listed = ort.listSupportedBackends().find((b) => b.name === ep);
  if (!listed) {
    return {
      available: false,
      reason: `this onnxruntime-node build (${ort.env.versions.node}, ${process.platform}/${process.arch}) has no '${ep}' execution provider`,
    };
  }
  if (
    device === 'cuda' &&
    !listed.bundled &&
    !existsSync(join(bindingDir(), 'libonnxruntime_providers_cuda.so')) &&
    !existsSync(join(bindingDir(), 'onnxruntime_providers_cuda.dll'))
  ) {
    return {
      available: false,
      reason: `the CUDA execution provider binaries are not installed (onnxruntime-node does not bundle them; looked in ${bindingDir()}); ${CUDA_INSTALL_HINT}`,
    };
  }
  if (device === 'webgpu' && !softwareGpuAllowed()) {
    const a = await dawnAdapter();
    if (a?.software) return { available: false, reason: softwareAdapterReason(a.described) };
  }
  let session: InferenceSession | undefined;
  try {
    // Fatal-only logging: a failing EP otherwise prints its own error to stderr on top of ours.
    session = await ort.InferenceSession.create(tinyModelBytes(), { executionProviders: [ep], logSeverityLevel: 4 });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 0, 1, 2]), [1, 4]) });
    const y = Array.from(out.y!.data as Float32Array);
    if (y.join(',') !== '0,0,1,2')
      return { available: false, reason: `the ${ep} EP computed Relu([-1,0,1,2]) = [${y.join(', ')}]` };
  } catch (e) {
    return { available: false, reason: explainEpFailure(device, (e as Error).message) };
  } finally {
    await session?.release();
  }
  return {
    available: true,
    detail: `onnxruntime-node ${ort.env.versions.node}, ${ep} execution provider${device === 'cpu' ? `, ${defaultThreads()} threads` : ''}`,
  };
}
