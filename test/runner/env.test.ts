import { describe, expect, it } from 'vitest';
import {
  collectEnvironment,
  describeMachine,
  fingerprintOf,
  packageVersions,
  parseNvidiaSmiGpus,
} from '../../src/runner/env.ts';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

describe('fingerprint', () => {
  const parts = { cpu: 'AMD EPYC 7B13', cores: 16, memoryBytes: 64 * 2 ** 30 - 300 * 2 ** 20 };
  it('is stable and ignores what does not identify hardware', () => {
    expect(fingerprintOf(parts)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintOf({ ...parts, cpu: ' AMD  EPYC 7B13 ' })).toBe(fingerprintOf(parts));
    // Memory is rounded to whole GiB: a few MiB of kernel reservation do not change the machine.
    expect(fingerprintOf({ ...parts, memoryBytes: parts.memoryBytes + 50 * 2 ** 20 })).toBe(fingerprintOf(parts));
  });
  it('changes with CPU, cores, memory size or GPU', () => {
    const fp = fingerprintOf(parts);
    expect(fingerprintOf({ ...parts, cpu: 'Intel Xeon' })).not.toBe(fp);
    expect(fingerprintOf({ ...parts, cores: 8 })).not.toBe(fp);
    expect(fingerprintOf({ ...parts, memoryBytes: 32 * 2 ** 30 })).not.toBe(fp);
    expect(fingerprintOf({ ...parts, gpu: 'NVIDIA H100 80GB HBM3' })).not.toBe(fp);
  });
  it('describes a machine in one line', () => {
    expect(describeMachine({ ...parts, gpu: 'NVIDIA H100 80GB HBM3' })).toBe(
      'AMD EPYC 7B13, 16 cores, 64 GiB, NVIDIA H100 80GB HBM3',
    );
  });
});

describe('nvidia-smi output', () => {
  it('parses name, driver and memory per GPU', () => {
    expect(parseNvidiaSmiGpus('NVIDIA H100 80GB HBM3, 550.54.15, 81559\n')).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', driver: '550.54.15', memoryMiB: 81559 },
    ]);
    expect(parseNvidiaSmiGpus('\n')).toEqual([]);
  });
});

describe('collectEnvironment (this machine)', () => {
  it('collects hardware, OS, Node and package versions once per process', async () => {
    const a = collectEnvironment();
    expect(collectEnvironment()).toBe(a);
    const env = await a;
    expect(env.cores).toBe(cpus().length);
    expect(env.memoryBytes).toBe(totalmem());
    expect(env.node).toBe(process.version);
    expect(env.cpu.length).toBeGreaterThan(0);
    expect(env.os).toMatch(new RegExp(process.arch));
    expect(env.fingerprint).toBe(
      fingerprintOf({ cpu: env.cpu, cores: env.cores, memoryBytes: env.memoryBytes, gpu: env.gpu }),
    );
    expect(env.packages['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
    expect(env.packages['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
  });
  it('lists only installed packages, with the versions in their package.json', async () => {
    const v = await packageVersions(root);
    expect(v.expbench).toBe('0.1.0');
    expect(v['@tensorflow/tfjs-node']).toBeUndefined();
  });
});
