/**
 * A software WebGPU adapter (Mesa's lavapipe, SwiftShader, WARP) is not a GPU: GPU backends refuse it
 * unless EXPBENCH_SOFTWARE_GPU=1, and say how to opt in. Where this machine has a Dawn adapter, both
 * frameworks' probes are checked against what it is, in child processes (one tfjs engine per process).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Availability } from '../../src/backends/types.ts';
import {
  dawnAdapter,
  isSoftwareAdapter,
  softwareAdapterReason,
  softwareGpuAllowed,
} from '../../src/backends/software-gpu.ts';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('isSoftwareAdapter', () => {
  it('knows the CPU implementations by what Dawn reports for them', () => {
    expect(
      isSoftwareAdapter({
        vendor: 'mesa',
        architecture: 'software',
        device: 'llvmpipe-llvm-15-0-6-256-bits-',
        description: 'llvmpipe: Mesa 25.0.7',
      }),
    ).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device' })).toBe(
      true,
    );
    expect(isSoftwareAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver (WARP)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia' }, true)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', isFallbackAdapter: true })).toBe(true);
  });
  it('takes real GPUs for GPUs', () => {
    expect(
      isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3' }),
    ).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX' })).toBe(
      false,
    );
    expect(isSoftwareAdapter(undefined)).toBe(false);
  });
  it('is allowed only by EXPBENCH_SOFTWARE_GPU=1, and the refusal says so', () => {
    expect(softwareGpuAllowed({})).toBe(false);
    expect(softwareGpuAllowed({ EXPBENCH_SOFTWARE_GPU: '0' })).toBe(false);
    expect(softwareGpuAllowed({ EXPBENCH_SOFTWARE_GPU: '1' })).toBe(true);
    expect(softwareAdapterReason('mesa software llvmpipe')).toMatch(
      /software one \(mesa software llvmpipe\).*EXPBENCH_SOFTWARE_GPU=1/,
    );
  });
});

/** Both GPU probes in a fresh process with `env`. */
function probeBoth(env: NodeJS.ProcessEnv): Promise<{ tfjs: Availability; ort: Availability }> {
  const code = `
    const { createTfjsBackend } = await import(${JSON.stringify(new URL('../../src/backends/tfjs/index.ts', import.meta.url).href)});
    const { createOrtBackend } = await import(${JSON.stringify(new URL('../../src/backends/onnxruntime/index.ts', import.meta.url).href)});
    const tfjs = await createTfjsBackend('webgpu').probe();
    const ort = await createOrtBackend('webgpu').probe();
    console.log('RESULT ' + JSON.stringify({ tfjs, ort }));
    process.exit(0);`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', TSX, '--input-type=module', '-e', code],
      { env, timeout: 90_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line)
          return reject(
            new Error(`probe child printed no result (${err?.message ?? 'no error'}):\n${stderr.slice(-1500)}`),
          );
        resolve(JSON.parse(line.slice(7)));
      },
    );
  });
}

const adapter = await dawnAdapter();

describe.skipIf(!adapter?.software)(`on this machine's software adapter (${adapter?.described ?? 'none'})`, () => {
  it('both GPU backends refuse it by default and name it, and run on it with EXPBENCH_SOFTWARE_GPU=1', async () => {
    const { EXPBENCH_SOFTWARE_GPU: _, ...rest } = process.env;
    const [refused, allowed] = await Promise.all([probeBoth(rest), probeBoth({ ...rest, EXPBENCH_SOFTWARE_GPU: '1' })]);
    const softwareRefusal = {
      available: false,
      reason: expect.stringMatching(/only WebGPU adapter is a software one.*EXPBENCH_SOFTWARE_GPU=1/),
    };
    expect(refused.tfjs).toMatchObject(softwareRefusal);
    expect(refused.ort).toMatchObject(softwareRefusal);
    expect(allowed.tfjs).toMatchObject({ available: true });
    expect(allowed.ort).toMatchObject({ available: true });
  }, 120_000);
});
