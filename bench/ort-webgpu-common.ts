/**
 * What the onnxruntime/webgpu benchmarks share: their command-line options and their start, which
 * stops with the probe's reason where the backend cannot run and otherwise prints the machine and the
 * WebGPU adapter (marking a software one, whose timings are the CPU's).
 */
import { createOrtBackend } from '../src/backends/onnxruntime/index.ts';
import { loadOrt, type OrtModule, ortVersions } from '../src/backends/onnxruntime/runtime.ts';
import { dawnAdapter } from '../src/backends/software-gpu.ts';
import { machineLines } from './common.ts';

/** `--batch`, `--width` (vgg-small), `--image` (side) and `--repeats`, for `parseArgs`. */
export const WEBGPU_BENCH_OPTIONS = {
  batch: { type: 'string', default: '64' },
  width: { type: 'string', default: '0.25' },
  image: { type: 'string', default: '32' },
  repeats: { type: 'string', default: '5' },
} as const;

/** The runtime, once onnxruntime/webgpu runs here (else the process exits with the reason); machine and adapter printed. */
export async function ortWebgpuForBench(): Promise<OrtModule> {
  const probe = await createOrtBackend('webgpu').probe();
  if (!probe.available) {
    console.log(`onnxruntime/webgpu unavailable: ${probe.reason}`);
    process.exit(1);
  }
  const adapter = await dawnAdapter();
  const ort = await loadOrt();
  console.log(machineLines());
  console.log(
    `onnxruntime-node ${ortVersions(ort)['onnxruntime-node']}, WebGPU adapter: ${adapter?.described ?? 'unknown'}${adapter?.software ? ' (SOFTWARE: CPU timings, the mechanism only)' : ''}`,
  );
  return ort;
}
