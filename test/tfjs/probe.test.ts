/**
 * Probing each tfjs device: available ones compute, unavailable ones say what is missing, and a failed
 * probe leaves tfjs's global engine usable.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../../src/backends/tfjs/index.ts';

const require = createRequire(import.meta.url);
function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe('tfjs probe', () => {
  it('tfjs/cpu is available and becomes the active backend', async () => {
    const b = createTfjsBackend('cpu');
    expect(b.id).toBe('tfjs/cpu');
    expect(b.framework).toBe('tfjs');
    const a = await b.probe();
    expect(a).toEqual({ available: true, detail: expect.stringContaining('cpu') });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('tfjs/wasm is available (the .wasm binaries ship in the package); probing it leaves cpu active', async () => {
    const a = await createTfjsBackend('wasm').probe();
    expect(a.available, JSON.stringify(a)).toBe(true);
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.findBackend('wasm')).toBeTruthy();
  });

  it('tfjs/webgpu is available only with an adapter, otherwise says why', async () => {
    const a = await createTfjsBackend('webgpu').probe();
    expect(tf.getBackend()).toBe('cpu');
    if (a.available) {
      expect(tf.findBackend('webgpu')).toBeTruthy();
    } else {
      // Here: Dawn finds no adapter (no GPU, no Vulkan loader); the reason names both.
      expect(a.reason).toMatch(/no WebGPU adapter|webgpu package|only WebGPU adapter is a software one/);
    }
  });

  it('tfjs/tensorflow says tfjs-node is not installed, or probes it when it is', async () => {
    const a = await createTfjsBackend('tensorflow').probe();
    if (!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu')) {
      expect(a).toEqual({
        available: false,
        reason: expect.stringContaining('not installed: npm install @tensorflow/tfjs-node'),
      });
    } else if (!a.available) {
      expect(a.reason).toMatch(/tfjs-node/);
    }
  });

  it('a failed probe leaves the engine on a working backend', async () => {
    await createTfjsBackend('cpu').probe();
    await createTfjsBackend('tensorflow').probe();
    await createTfjsBackend('webgpu').probe();
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), 2)));
    expect(await y.data()).toEqual(new Float32Array([12]));
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Probing again answers the same way (initialisation is shared, not repeated).
    expect((await createTfjsBackend('cpu').probe()).available).toBe(true);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown device', () => {
    expect(() => createTfjsBackend('tpu' as 'cpu')).toThrow(/unknown device/);
  });
});
