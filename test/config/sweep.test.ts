import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/config/diagnostics.ts';
import { expandCases, parseExperiment } from '../../src/config/load.ts';

const base = `name: depth
dataset: { kind: synthetic, train: 64, test: 32, imageSize: 32 }
model: { arch: vgg11, width: 0.125 }
backends: [onnxruntime/cpu, tfjs/wasm]
`;

describe('architecture sweep', () => {
  test('expands architecture × backend, each case with its own model.arch and a stable key', () => {
    const exp = parseExperiment(`${base}sweep: { arch: [vgg11, vgg16] }\n`, 'depth.experiment.yaml', { profile: null });
    const cases = expandCases(exp);
    expect(cases.map((c) => c.key)).toEqual([
      'depth › vgg11 › onnxruntime/cpu',
      'depth › vgg11 › tfjs/wasm',
      'depth › vgg16 › onnxruntime/cpu',
      'depth › vgg16 › tfjs/wasm',
    ]);
    expect(cases.map((c) => c.experiment.model.arch)).toEqual(['vgg11', 'vgg11', 'vgg16', 'vgg16']);
    expect(exp.model.arch).toBe('vgg11');
  });

  test('without a sweep, keys have no architecture segment', () => {
    const exp = parseExperiment(base, 'depth.experiment.yaml', { profile: null });
    expect(expandCases(exp).map((c) => c.key)).toEqual(['depth › onnxruntime/cpu', 'depth › tfjs/wasm']);
  });

  test('an unknown architecture in the sweep is a located error with a suggestion', () => {
    const src = `${base}sweep: { arch: [vgg11, vgg61] }\n`;
    try {
      parseExperiment(src, 'depth.experiment.yaml', { profile: null });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const d = (e as ConfigError).diagnostics[0]!;
      expect([d.line, d.col]).toEqual([5, 24]);
      expect((e as ConfigError).message).toMatch(/vgg16|vgg11/);
    }
  });

  test('every swept architecture is shape-checked against the images', () => {
    const src = `${base.replace('imageSize: 32', 'imageSize: 8')}sweep: { arch: [vgg11] }\n`;
    expect(() => parseExperiment(src, 'depth.experiment.yaml', { profile: null })).toThrow(
      /cannot be built for 3×8×8 images/,
    );
  });
});
