import { describe, expect, it } from 'vitest';
import { letterMarker, shortReason, SHORT_REASON_MAX } from '../../src/reporters/reasons.ts';
import { NO_CUDA, NO_WEBGPU } from './fixtures.ts';

describe('shortReason', () => {
  it('keeps the first clause of the reasons the backends write', () => {
    expect(shortReason(NO_WEBGPU)).toBe('no WebGPU adapter');
    expect(shortReason('not installed: npm install @tensorflow/tfjs-node(-gpu) on a machine with network access')).toBe(
      'not installed',
    );
    expect(
      shortReason(
        "no WebGPU adapter: ONNX Runtime's WebGPU EP (Dawn) found no usable GPU on this machine (no GPU, or no Vulkan/Metal/D3D12 driver); ORT said: Failed",
      ),
    ).toBe('no WebGPU adapter');
    expect(
      shortReason('onnxruntime-node cannot be loaded: Cannot find module; run `npm install onnxruntime-node`'),
    ).toBe('onnxruntime-node cannot be loaded');
  });

  it('shortens a first clause that is too long without losing its outcome', () => {
    // 55 characters before the first "(": article dropped, "execution provider" abbreviated.
    expect(shortReason(NO_CUDA)).toBe('CUDA EP binaries are not installed');
    // The predicate sits after a parenthesised aside: the aside goes, not the predicate.
    expect(shortReason("this onnxruntime-node build (v20.20.2, linux/x64) has no 'cuda' execution provider")).toBe(
      "onnxruntime-node build has no 'cuda' EP",
    );
    const long = shortReason(
      'tfjs webgpu backend failed to initialise on NVIDIA GeForce RTX 4090 Laptop GPU: device lost',
    );
    expect(long.length).toBeLessThanOrEqual(SHORT_REASON_MAX);
    expect(long).toBe('tfjs webgpu backend failed … Laptop GPU');
    const oneWord = shortReason(
      `missing /work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm; reinstall`,
    );
    expect(oneWord.length).toBeLessThanOrEqual(SHORT_REASON_MAX);
    expect(oneWord.endsWith('…')).toBe(true);
  });

  it('falls back to the start of the line when the reason opens with its detail', () => {
    expect(shortReason('(probe) : nothing')).toBe('(probe) : nothing');
  });

  it('never exceeds the limit', () => {
    for (const r of [
      NO_CUDA,
      NO_WEBGPU,
      'x'.repeat(200),
      `a ${'word '.repeat(60)}`,
      'the quick brown fox jumps over the lazy dog is not installed ever again',
    ]) {
      expect(shortReason(r).length).toBeLessThanOrEqual(SHORT_REASON_MAX);
    }
  });
});

describe('letterMarker', () => {
  it('counts in superscript letters, then pairs of them', () => {
    expect([0, 1, 2, 3].map(letterMarker)).toEqual(['ᵃ', 'ᵇ', 'ᶜ', 'ᵈ']);
    expect(letterMarker(24)).toBe('ᶻ');
    expect(letterMarker(25)).toBe('ᵃᵃ');
    expect(letterMarker(26)).toBe('ᵃᵇ');
  });
});
