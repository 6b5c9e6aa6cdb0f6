import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { OnnxGraph } from '../../src/backends/onnxruntime/graph.ts';
import { ConfigError, formatDiagnostic, loadExperiment } from '../../src/config/index.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/onnx');
const tmp = mkdtempSync(join(tmpdir(), 'expbench-onnx-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes an experiment whose model is `model.onnx: onnx` (and `extra` lines under model), returns its path. */
function experiment(onnx: string, opts: { dataset?: string; extra?: string } = {}): string {
  const file = join(tmp, `e${Math.random().toString(36).slice(2)}.experiment.yaml`);
  writeFileSync(
    file,
    `name: byo
dataset: ${opts.dataset ?? '{ kind: synthetic, train: 64, test: 32 }'}
model:
  onnx: ${onnx}
${opts.extra ?? ''}training: { epochs: 1, batchSize: 16 }
backends: [onnxruntime/cpu]
`,
  );
  return file;
}

function configError(file: string): ConfigError {
  try {
    loadExperiment(file, { profile: null });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

copyFileSync(join(FIXTURES, 'resnetish-torchscript-opset13.onnx'), join(tmp, 'resnetish.onnx'));

describe('model: { onnx: file }', () => {
  test('the model, its input geometry and class count come from the file', () => {
    const exp = loadExperiment(experiment('resnetish.onnx'), { profile: null });
    expect(exp.model.onnx).toBe(join(tmp, 'resnetish.onnx'));
    expect(exp.model.arch).toBe('onnx');
    expect(exp.dataset).toMatchObject({ kind: 'synthetic', channels: 3, imageSize: 16, classes: 10 });
  });

  test('the experiment may override the image size of a fully convolutional model', () => {
    const exp = loadExperiment(
      experiment('resnetish.onnx', { dataset: '{ kind: synthetic, train: 64, test: 32, imageSize: 24 }' }),
      {
        profile: null,
      },
    );
    expect(exp.dataset).toMatchObject({ imageSize: 24, classes: 10 });
  });

  test('a class count that differs from the model is a located error', () => {
    const file = experiment('resnetish.onnx', { dataset: '{ kind: synthetic, train: 64, test: 32, classes: 4 }' });
    const d = configError(file).diagnostics[0]!;
    expect(d).toMatchObject({ code: 'MODEL_IMPORT', reason: 'shape', line: 4, col: 9 });
    expect(d.message).toMatch(/the model has 10 classes but the dataset has 4/);
  });

  test('architecture keys next to onnx are located errors', () => {
    const d = configError(experiment('resnetish.onnx', { extra: '  width: 0.5\n' })).diagnostics[0]!;
    expect(d).toMatchObject({ code: 'SCHEMA', reason: 'onnx', line: 5, col: 3 });
    expect(d.message).toMatch(/model\.width does not apply to an ONNX model/);
  });

  test('an unsupported operator: located at model.onnx, naming the ONNX node, its op type and the supported set', () => {
    const g = new OnnxGraph('odd', 13);
    g.input('x', 'float32', ['N', 1, 4, 4]);
    const y = g.node('Sigmoid', ['x'], ['y'], {}, '')[0]!;
    g.output(g.op('Flatten', [y]), 'float32', ['N', 16]);
    writeFileSync(join(tmp, 'odd.onnx'), g.toModelBytes());
    const e = configError(experiment('odd.onnx'));
    const d = e.diagnostics[0]!;
    expect(d).toMatchObject({
      code: 'MODEL_IMPORT',
      reason: 'unsupported-op',
      line: 4,
      col: 9,
      sourceLine: '  onnx: odd.onnx',
    });
    expect(d.message).toMatch(/ONNX node 0 "n_Sigmoid__\d+" \(Sigmoid\): operator Sigmoid is not supported/);
    expect(d.hint).toMatch(/expbench maps these operators: Conv, BatchNormalization/);
    expect(formatDiagnostic(d)).toMatch(/\.experiment\.yaml:4:9: model\.onnx .*odd\.onnx: ONNX node 0/);
  });

  test('a truncated file and a file that is not ONNX: located errors that say which', () => {
    const bytes = readFileSync(join(tmp, 'resnetish.onnx'));
    writeFileSync(join(tmp, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1));
    const cut = configError(experiment('cut.onnx')).diagnostics[0]!;
    expect(cut).toMatchObject({ code: 'MODEL_IMPORT', reason: 'truncated', line: 4, col: 9 });
    expect(cut.message).toMatch(/cut\.onnx: the file ends in the middle of the model/);
    expect(cut.hint).toMatch(/cut short/);
    writeFileSync(join(tmp, 'text.onnx'), 'this is not a model\n');
    const text = configError(experiment('text.onnx')).diagnostics[0]!;
    expect(text).toMatchObject({ code: 'MODEL_IMPORT', reason: 'not-onnx', line: 4 });
    const missing = configError(experiment('missing.onnx')).diagnostics[0]!;
    expect(missing).toMatchObject({ code: 'MODEL_IMPORT', reason: 'read', line: 4 });
    expect(missing.message).toMatch(/no such file/);
  });
});
