import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/config/diagnostics.ts';
import { expandCases, parseExperiment } from '../../src/config/load.ts';

const base = `name: grid
dataset: { kind: synthetic, train: 64, test: 32, imageSize: 16 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16 }
backends: [fake/ok]
`;

const parse = (extra: string) => parseExperiment(`${base}${extra}`, 'grid.experiment.yaml', { profile: null });

function firstError(extra: string) {
  try {
    parse(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).diagnostics[0]!;
  }
  throw new Error('expected a ConfigError');
}

describe('matrix', () => {
  test('a 3×2 matrix gives six cases with stable names, each with its values written in', () => {
    const exp = parse('matrix:\n  training.batchSize: [8, 16, 32]\n  model.width: [0.25, 0.5]\n');
    const cases = expandCases(exp);
    expect(cases.map((c) => c.key)).toEqual([
      'grid › training.batchSize=8, model.width=0.25 › fake/ok',
      'grid › training.batchSize=8, model.width=0.5 › fake/ok',
      'grid › training.batchSize=16, model.width=0.25 › fake/ok',
      'grid › training.batchSize=16, model.width=0.5 › fake/ok',
      'grid › training.batchSize=32, model.width=0.25 › fake/ok',
      'grid › training.batchSize=32, model.width=0.5 › fake/ok',
    ]);
    expect(cases.map((c) => [c.experiment.training!.batchSize, c.experiment.model.width])).toEqual([
      [8, 0.25],
      [8, 0.5],
      [16, 0.25],
      [16, 0.5],
      [32, 0.25],
      [32, 0.5],
    ]);
    // Each point is normalised as a file of its own: the inference batch follows the training batch.
    expect(cases.map((c) => c.experiment.inference.batchSize)).toEqual([8, 8, 16, 16, 32, 32]);
    expect(cases[3]!.experiment.point).toEqual({
      label: 'training.batchSize=16, model.width=0.5',
      values: { 'training.batchSize': 16, 'model.width': 0.5 },
    });
    // Parsing again gives the same names.
    expect(expandCases(parse('matrix:\n  training.batchSize: [8, 16, 32]\n  model.width: [0.25, 0.5]\n'))).toHaveLength(
      6,
    );
  });

  test('a matrix axis times the backends: inference.batchSize over two backends', () => {
    const src = `${base.replace('[fake/ok]', '[fake/ok, fake/nan]')}matrix: { inference.batchSize: [1, 8, 64] }\n`;
    const exp = parseExperiment(src, 'grid.experiment.yaml', { profile: null });
    expect(expandCases(exp).map((c) => c.key)).toEqual([
      'grid › inference.batchSize=1 › fake/ok',
      'grid › inference.batchSize=1 › fake/nan',
      'grid › inference.batchSize=8 › fake/ok',
      'grid › inference.batchSize=8 › fake/nan',
      'grid › inference.batchSize=64 › fake/ok',
      'grid › inference.batchSize=64 › fake/nan',
    ]);
  });

  test('a product over the limit is refused before anything runs, with the count', () => {
    const axis = (k: string) => `  ${k}: [${Array.from({ length: 10 }, (_, i) => i + 1).join(', ')}]\n`;
    const d = firstError(`matrix:\n${axis('training.seed')}${axis('dataset.seed')}${axis('inference.seed')}`);
    expect(d.reason).toBe('matrix-size');
    expect(d.message).toBe(
      'the matrix expands to 1,000 cases (10 × 10 × 10 points × 1 backend), more than the limit of 256',
    );
    expect([d.line, d.col]).toEqual([6, 1]);
  });

  test('a bad value is located at itself, with the key’s own rule', () => {
    const d = firstError('matrix:\n  model.arch: [vgg11, vgg61]\n');
    expect([d.line, d.col]).toEqual([7, 23]);
    expect(d.hint).toMatch(/did you mean "vgg16"|vgg11/);
  });

  test('a key that is not a scalar of the file is an unknown key with a suggestion', () => {
    const d = firstError('matrix:\n  training.batchsize: [8, 16]\n');
    expect(d.message).toBe('unknown key "training.batchsize" in matrix');
    expect(d.hint).toBe('did you mean "training.batchSize"?');
  });

  test('a point that cannot run is an error naming the point', () => {
    const d = firstError('matrix:\n  training.batchSize: [16, 128]\n');
    expect(d.message).toMatch(
      /training\.batchSize 128 is larger than the 64 training images.*\(matrix point training\.batchSize=128\)/,
    );
  });

  test('the architecture sweep is the one-axis special case with bare labels', () => {
    const src = `${base.replace('imageSize: 16', 'imageSize: 32')}sweep: { arch: [vgg11, vgg13] }\nmatrix: { inference.batchSize: [4, 8] }\n`;
    const exp = parseExperiment(src, 'grid.experiment.yaml', { profile: null });
    expect(expandCases(exp).map((c) => [c.key, c.arch])).toEqual([
      ['grid › vgg11, inference.batchSize=4 › fake/ok', 'vgg11'],
      ['grid › vgg11, inference.batchSize=8 › fake/ok', 'vgg11'],
      ['grid › vgg13, inference.batchSize=4 › fake/ok', 'vgg13'],
      ['grid › vgg13, inference.batchSize=8 › fake/ok', 'vgg13'],
    ]);
  });
});

describe('figures', () => {
  test('a figure of a measured metric against a matrix key is kept, and copied to every point', () => {
    const exp = parse(
      'matrix: { inference.batchSize: [1, 8] }\nmetrics: { latency: {} }\nfigures: [{ x: inference.batchSize, y: latency.p50 }]\n',
    );
    expect(exp.figures).toEqual([{ x: 'inference.batchSize', y: 'latency.p50', series: 'backend' }]);
    expect(expandCases(exp).map((c) => c.experiment.figures)).toEqual([exp.figures, exp.figures]);
  });

  test('an axis that is not a matrix key, or a metric not measured, is a located error', () => {
    const axis = firstError(
      'matrix: { inference.batchSize: [1, 8] }\nfigures: [{ x: inference.batchsize, y: top1 }]\n',
    );
    expect(axis.message).toBe('figures[0].x: "inference.batchsize" is not an axis of this experiment');
    expect(axis.hint).toMatch(/^did you mean "inference\.batchSize"\?/);
    expect([axis.line, axis.col]).toEqual([7, 16]);
    const metric = firstError('figures: [{ x: backend, y: latency.p50 }]\n');
    expect(metric.message).toBe('figures[0].y: the experiment does not measure latency.p50');
  });
});
