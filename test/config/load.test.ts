import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { ExpbenchError } from '../../src/errors.ts';
import {
  ConfigError,
  expandCases,
  formatDiagnostic,
  loadExperiment,
  mergeProfile,
  parseExperiment,
  validateFiles,
} from '../../src/config/index.ts';
import type { Diagnostic, Experiment } from '../../src/config/index.ts';

const EXAMPLE = resolve(import.meta.dirname, 'fixtures/example.experiment.yaml');

/** A small valid experiment, one key per line so line numbers in the tests are easy to read. */
const MINIMAL = `name: mini
dataset:
  kind: synthetic
  train: 256
  test: 64
model:
  arch: vgg-small
backends: [tfjs/cpu]
`;

/** Parses and returns the ConfigError (fails the test when there is none or another error). */
function configError(
  source: string | Uint8Array,
  file = 'exp.experiment.yaml',
  opts: { profile?: string | null } = { profile: null },
): ConfigError {
  try {
    parseExperiment(source, file, opts);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const tmp = mkdtempSync(join(tmpdir(), 'expbench-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('a valid experiment', () => {
  test('the example fixture parses cleanly into the typed experiment', () => {
    const exp = loadExperiment(EXAMPLE, { profile: null });
    const bytes = readFileSync(EXAMPLE);
    expect(exp.file).toBe(EXAMPLE);
    expect(exp.hash).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(exp).toMatchObject({
      name: 'example-vgg-small',
      profile: null,
      artefact: 'table2',
      dataset: {
        kind: 'synthetic',
        train: 512,
        test: 128,
        imageSize: 32,
        channels: 3,
        classes: 10,
        seed: 7,
        noise: 40,
      },
      model: { arch: 'vgg-small', width: 0.5, batchNorm: true, classifier: [128], dropout: 0.25 },
      training: {
        epochs: 2,
        batchSize: 64,
        optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9, weightDecay: 0.0005 },
        seed: 3,
        lossEvery: 4,
      },
      inference: { batchSize: 128 },
      backends: ['tfjs/cpu', 'tfjs/wasm', 'onnxruntime/cpu'],
      repeats: 3,
      warmup: 1,
      parity: { enabled: true, reference: 'onnxruntime/cpu', tolerance: 1e-3 },
      timeout: 5400,
      reference: { source: 'Table 2 of the study', trainSeconds: { tensorflow: 1010, caffe2: 1203 } },
    });
    // Units resolved: seconds and bytes, decimal GB and binary MiB.
    expect(exp.expect).toEqual({
      accuracy: 0.2,
      time: { buildInit: 30, train: 300, infer: 1.5 },
      memory: { train: 2_500_000_000, infer: 512 * 1024 * 1024 },
      regression: { threshold: 0.15, alpha: 0.05 },
    });
  });

  test('defaults fill everything the file leaves out', () => {
    const src = `${MINIMAL}training: {}\n`;
    const exp = parseExperiment(src, 'mini.experiment.yaml', { profile: null });
    const expected: Omit<Experiment, 'file' | 'hash'> = {
      name: 'mini',
      description: '',
      profile: null,
      dataset: { kind: 'synthetic', train: 256, test: 64, imageSize: 32, channels: 3, classes: 10, seed: 0, noise: 32 },
      model: { arch: 'vgg-small', width: 1, batchNorm: false, classifier: [256], dropout: 0 },
      training: {
        epochs: 10,
        batchSize: 64,
        optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false },
        schedule: { kind: 'constant', warmup: 0 },
        labelSmoothing: 0,
        seed: 0,
        lossEvery: 50,
        keepWeights: false,
      },
      inference: { batchSize: 64, seed: 0 },
      trains: true,
      backends: ['tfjs/cpu'],
      repeats: 1,
      warmup: 0,
      parity: { enabled: true, reference: 'onnxruntime/cpu', tolerance: 1e-4 },
      expect: { regression: { threshold: 0.1, alpha: 0.05 } },
      metrics: { topk: [], loss: false, perClass: false, confusion: false, flops: false },
      timeout: 1800,
    };
    expect(exp).toEqual({
      ...expected,
      file: resolve('mini.experiment.yaml'),
      hash: createHash('sha256').update(src).digest('hex'),
    });
  });

  test('without training: the experiment only infers, at the default batch size, on seeded weights', () => {
    const exp = parseExperiment(MINIMAL, 'mini.experiment.yaml', { profile: null });
    expect(exp.trains).toBe(false);
    expect(exp.inference).toEqual({ batchSize: 64, seed: 0 });
    const seeded = parseExperiment(`${MINIMAL}inference: { batchSize: 8, seed: 7 }\n`, 'x.yaml', { profile: null });
    expect(seeded.inference).toEqual({ batchSize: 8, seed: 7 });
  });

  test('inference.batchSize defaults to the training batch size', () => {
    const exp = parseExperiment(`${MINIMAL}training: { batchSize: 16 }\n`, 'x.yaml', { profile: null });
    expect(exp.inference.batchSize).toBe(16);
  });

  test('custom layers in their YAML forms become LayerSpecs', () => {
    const src = MINIMAL.replace(
      '  arch: vgg-small\n',
      `  arch: custom
  classifier: []
  layers:
    - conv: 16
    - relu
    - conv: { filters: 32, kernel: 5, stride: 1, padding: valid, bias: false }
    - batchnorm
    - batchnorm: { momentum: 0.8 }
    - relu: null
    - maxpool
    - maxpool: 2
    - maxpool: { size: 3, stride: 2 }
    - flatten
    - dense: 64
    - dense: { units: 32, bias: false }
    - dropout: 0.5
    - dropout: { rate: 0.1 }
`,
    );
    const exp = parseExperiment(src, 'custom.yaml', { profile: null });
    expect(exp.model.layers).toEqual([
      { kind: 'conv', filters: 16 },
      { kind: 'relu' },
      { kind: 'conv', filters: 32, kernel: 5, stride: 1, padding: 'valid', bias: false },
      { kind: 'batchnorm' },
      { kind: 'batchnorm', momentum: 0.8 },
      { kind: 'relu' },
      { kind: 'maxpool' },
      { kind: 'maxpool', size: 2 },
      { kind: 'maxpool', size: 3, stride: 2 },
      { kind: 'flatten' },
      { kind: 'dense', units: 64 },
      { kind: 'dense', units: 32, bias: false },
      { kind: 'dropout', rate: 0.5 },
      { kind: 'dropout', rate: 0.1 },
    ]);
  });

  test('a relative dataset path is resolved from the experiment file', () => {
    const src = MINIMAL.replace('  kind: synthetic\n', '  kind: cifar10\n  path: data/cifar\n');
    const exp = parseExperiment(src, '/some/where/e.experiment.yaml', { profile: null });
    expect(exp.dataset).toEqual({ kind: 'cifar10', path: '/some/where/data/cifar', train: 256, test: 64 });
  });

  test('a UTF-8 byte order mark and CRLF line endings are fine', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(MINIMAL.replace(/\n/g, '\r\n'))]);
    expect(parseExperiment(bytes, 'bom.yaml', { profile: null }).name).toBe('mini');
  });

  test('brackets and dashes inside strings, comments and block scalars are not nesting', () => {
    const many = '['.repeat(100);
    const src = `${MINIMAL}description: |
  ${many}
  - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x
reference:
  quoted: "${many}"
  single: '${many} it''s'
  plain: see ${many}
  # ${many}
`;
    const exp = parseExperiment(src, 'brackets.yaml', { profile: null });
    expect(exp.description.startsWith(`${many}\n- - -`)).toBe(true);
    expect(exp.reference).toEqual({ quoted: many, single: `${many} it's`, plain: `see ${many}` });
  });

  test('expandCases gives one case per backend keyed "<name> › <backend>"', () => {
    const exp = loadExperiment(EXAMPLE, { profile: null });
    const cases = expandCases(exp);
    expect(cases.map((c) => c.key)).toEqual([
      'example-vgg-small › tfjs/cpu',
      'example-vgg-small › tfjs/wasm',
      'example-vgg-small › onnxruntime/cpu',
    ]);
    expect(cases.every((c) => c.experiment === exp)).toBe(true);
    expect(cases.map((c) => c.backend)).toEqual(exp.backends);
  });
});

describe('profiles', () => {
  test('a profile deep-merges over the base: mappings merge, lists replace', () => {
    const exp = loadExperiment(EXAMPLE, { profile: 'quick' });
    expect(exp.profile).toBe('quick');
    expect(exp.dataset).toMatchObject({ kind: 'synthetic', train: 128, test: 64, seed: 7, noise: 40 });
    expect(exp.training!.epochs).toBe(1);
    expect(exp.training!.optimizer.lr).toBe(0.02); // untouched sibling
    expect(exp.backends).toEqual(['tfjs/cpu', 'onnxruntime/cpu']); // replaced, not concatenated
    expect(exp.expect.accuracy).toBe(0);
    expect(exp.expect.time).toEqual({ buildInit: 30, train: 300, infer: 1.5 });
  });

  test('a dataset of another kind replaces the base dataset as a whole', () => {
    const exp = loadExperiment(EXAMPLE, { profile: 'full' });
    expect(exp.dataset).toEqual({
      kind: 'cifar10',
      path: resolve(import.meta.dirname, '../../.expbench/cifar-10'),
      train: 49984,
      test: 9984,
    });
    expect(exp.repeats).toBe(10);
    expect(exp.model.width).toBe(1);
    expect(exp.model.batchNorm).toBe(true);
  });

  test('mergeProfile: kind change replaces, null-free deep merge, arrays replace', () => {
    expect(mergeProfile({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] } })).toEqual({ a: { b: 1, c: [3] }, d: 1 });
    expect(mergeProfile({ ds: { kind: 'x', p: 1 } }, { ds: { kind: 'y', q: 2 } })).toEqual({ ds: { kind: 'y', q: 2 } });
    expect(mergeProfile({ ds: { kind: 'x', p: 1 } }, { ds: { kind: 'x', q: 2 } })).toEqual({
      ds: { kind: 'x', p: 1, q: 2 },
    });
  });

  test('EXPBENCH_PROFILE selects a profile when the caller does not', () => {
    vi.stubEnv('EXPBENCH_PROFILE', 'quick');
    expect(loadExperiment(EXAMPLE).profile).toBe('quick');
    expect(loadExperiment(EXAMPLE, {}).training!.epochs).toBe(1);
  });

  test('an explicit profile wins over EXPBENCH_PROFILE, and null means none', () => {
    vi.stubEnv('EXPBENCH_PROFILE', 'quick');
    expect(loadExperiment(EXAMPLE, { profile: 'full' }).profile).toBe('full');
    expect(loadExperiment(EXAMPLE, { profile: null }).profile).toBeNull();
    vi.stubEnv('EXPBENCH_PROFILE', '');
    expect(loadExperiment(EXAMPLE).profile).toBeNull();
  });

  test('an unknown profile is an error that lists the available ones with a did-you-mean', () => {
    let e: ConfigError | undefined;
    try {
      loadExperiment(EXAMPLE, { profile: 'quik' });
    } catch (err) {
      e = err as ConfigError;
    }
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.code).toBe('CONFIG');
    const d = e!.diagnostics[0]!;
    expect(d.code).toBe('CONFIG');
    expect(d.line).toBe(readFileSync(EXAMPLE, 'utf8').split('\n').indexOf('profiles:') + 1);
    expect(d.col).toBe(1);
    expect(d.message).toBe('profile "quik" (selected by the profile option) is not defined in this file');
    expect(d.hint).toBe('did you mean "quick"? available profiles: quick, full');
  });

  test('an unknown profile from EXPBENCH_PROFILE says where it came from', () => {
    vi.stubEnv('EXPBENCH_PROFILE', 'gpu');
    expect(() => loadExperiment(EXAMPLE)).toThrow(/profile "gpu" \(selected by EXPBENCH_PROFILE=gpu\) is not defined/);
  });

  test('every profile is checked, not only the selected one', () => {
    const src = `${MINIMAL}profiles:\n  quick:\n    training: { epochs: 1 }\n  broken:\n    training: { epoch: 1 }\n`;
    const e = configError(src, 'p.yaml', { profile: 'quick' });
    expect(e.diagnostics.map((d) => [d.line, d.col, d.message])).toEqual([
      [13, 17, 'unknown key "epoch" in profiles.broken.training'],
    ]);
  });

  test('a problem that only exists once a profile is applied is located in the profile', () => {
    const src = `${MINIMAL}profiles:\n  custom:\n    model: { arch: custom }\n`;
    const e = configError(src);
    expect(e.diagnostics).toHaveLength(1);
    expect(e.diagnostics[0]).toMatchObject({
      line: 11,
      col: 5,
      code: 'SCHEMA',
      message: 'missing required key "layers" in model (with profile "custom")',
    });
  });
});

/**
 * The acceptance criterion: five broken files, each reported at its exact line and column, with the
 * offending line, a caret under the column and a hint.
 */
describe('the five broken files', () => {
  const cases: Array<{
    name: string;
    source: string;
    line: number;
    col: number;
    code: string;
    diag: string;
    shown: string;
    hint: RegExp;
  }> = [
    {
      name: 'bad YAML (an unclosed flow mapping)',
      source: MINIMAL.replace('model:\n  arch: vgg-small\n', 'model: { arch: vgg-small\n'),
      line: 6,
      col: 8,
      code: 'YAML_SYNTAX',
      diag: 'YAML_SYNTAX',
      shown: '  model: { arch: vgg-small\n         ^\n',
      hint: /hint: add `\}` after its last entry/,
    },
    {
      name: 'unknown key',
      source: `${MINIMAL}training:\n  epoch: 10\n`,
      line: 10,
      col: 3,
      code: 'SCHEMA',
      diag: 'SCHEMA',
      shown: '    epoch: 10\n    ^^^^^\n',
      hint: /hint: did you mean "epochs"\?/,
    },
    {
      name: 'wrong type',
      source: MINIMAL.replace('  train: 256', '  train: lots'),
      line: 4,
      col: 10,
      code: 'SCHEMA',
      diag: 'SCHEMA',
      shown: '    train: lots\n           ^^^^\n',
      hint: /hint: train: Number of training images\./,
    },
    {
      name: 'unknown backend',
      source: MINIMAL.replace('backends: [tfjs/cpu]', 'backends: [tfjs/cpu, onnxruntime/cpux]'),
      line: 8,
      col: 22,
      code: 'SCHEMA',
      diag: 'UNKNOWN_BACKEND',
      shown: '  backends: [tfjs/cpu, onnxruntime/cpux]\n                       ^^^^^^^^^^^^^^^^\n',
      hint: /hint: did you mean "onnxruntime\/cpu"\? known backends: tfjs\/cpu, /,
    },
    {
      name: 'missing required field',
      source: MINIMAL.replace('  test: 64\n', ''),
      line: 2,
      col: 1,
      code: 'SCHEMA',
      diag: 'SCHEMA',
      shown: '  dataset:\n  ^^^^^^^\n',
      hint: /hint: add `test:` under dataset \(test: Number of test images\.\)/,
    },
  ];

  test.each(cases)('$name', ({ source, line, col, code, diag, shown, hint }) => {
    const e = configError(source, 'broken.experiment.yaml');
    expect(e).toBeInstanceOf(ExpbenchError);
    expect(e.code).toBe(code);
    expect(e.diagnostics).toHaveLength(1);
    const d = e.diagnostics[0]!;
    expect(d.code).toBe(diag);
    expect([d.line, d.col]).toEqual([line, col]);
    expect(e.location).toEqual({ file: 'broken.experiment.yaml', line, col });
    expect(e.message.startsWith(`broken.experiment.yaml:${line}:${col}: `)).toBe(true);
    expect(e.message).toContain(shown);
    expect(e.message).toMatch(hint);
    expect(e.hint).toBe(d.hint);
    // The shown line is the file's own line.
    expect(d.sourceLine).toBe(source.split('\n')[line - 1]);
  });
});

describe('all problems are collected', () => {
  test('a file with three problems gives three diagnostics, in file order', () => {
    const src =
      MINIMAL.replace('  arch: vgg-small', '  arch: vgg-16').replace('backends: [tfjs/cpu]', 'backends: [tfjs/cpux]') +
      'training:\n  epochs: 1e12\n';
    const e = configError(src, 'three.yaml');
    expect(e.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.reason}`)).toEqual([
      '7:9 SCHEMA enum',
      '8:12 UNKNOWN_BACKEND enum',
      '10:11 SCHEMA maximum',
    ]);
    expect(e.diagnostics.map((d) => d.message)).toEqual([
      'model.arch must be one of vgg-small, vgg7, vgg11, vgg13, vgg16, vgg19, resnet20, resnet32, resnet44, resnet56, resnet110, resnet18, mobilenetv2, custom; got "vgg-16"',
      'unknown backend "tfjs/cpux" in backends[0]',
      'training.epochs must be at most 10,000, got 1,000,000,000,000',
    ]);
    expect(e.diagnostics[0]!.hint).toBe('did you mean "vgg16"?');
    expect(e.message.split('\n\n')).toHaveLength(3);
    expect(e.message).toBe(e.diagnostics.map(formatDiagnostic).join('\n\n'));
  });

  test('an impossible model is a MODEL_SHAPE diagnostic at the model key', () => {
    const src = MINIMAL.replace('  test: 64\n', '  test: 64\n  imageSize: 8\n').replace(
      'arch: vgg-small',
      'arch: vgg19',
    );
    const e = configError(src);
    expect(e.diagnostics).toHaveLength(1);
    expect(e.diagnostics[0]).toMatchObject({ code: 'MODEL_SHAPE', line: 7, col: 1, sourceLine: 'model:' });
    expect(e.diagnostics[0]!.message).toMatch(
      /^the model cannot be built for 3×8×8 images: model vgg19: layer \d+ \(pool4/,
    );
    expect(e.diagnostics[0]!.message).not.toMatch(/Hint:/);
    expect(e.diagnostics[0]!.hint).toMatch(/pooling layer|larger input/);
  });

  test('bytes that are not UTF-8 are located at the first bad byte', () => {
    const text = new TextEncoder().encode(`${MINIMAL}description: "naïve `);
    const bytes = new Uint8Array([...text, 0xff, ...new TextEncoder().encode('"\n')]);
    const e = configError(bytes);
    expect(e.code).toBe('YAML_SYNTAX');
    expect(e.diagnostics[0]).toMatchObject({ reason: 'encoding', line: 9, col: 21 });
    expect(e.message).toContain('byte 0xff');
  });

  test('more than a hundred problems are counted, not all listed', () => {
    const src = MINIMAL.replace(
      'backends: [tfjs/cpu]',
      `backends: [${Array.from({ length: 300 }, (_, i) => `x/y${i}`).join(', ')}]`,
    );
    const e = configError(src);
    expect(e.diagnostics).toHaveLength(100);
    expect(e.omitted).toBe(201); // 300 unknown backends + too many items, 100 shown
    expect(e.message).toMatch(/… and 201 more problems in exp\.experiment\.yaml$/);
  });
});

describe('formatDiagnostic', () => {
  const d: Diagnostic = {
    code: 'SCHEMA',
    reason: 'additionalProperties',
    message: 'unknown key "epoch" in training',
    file: 'a.yaml',
    line: 3,
    col: 3,
    length: 5,
    sourceLine: '\tepoch: 1',
    hint: 'did you mean "epochs"?',
  };

  test('shows file:line:col, the line, a caret under the column and the hint', () => {
    expect(formatDiagnostic({ ...d, sourceLine: '  epoch: 1' })).toBe(
      'a.yaml:3:3: unknown key "epoch" in training\n    epoch: 1\n    ^^^^^\n  hint: did you mean "epochs"?',
    );
  });

  test('copies tabs into the caret line so the caret stays under the column', () => {
    expect(formatDiagnostic({ ...d, col: 2 }).split('\n')[2]).toBe('  \t^^^^^');
  });

  test('cuts long lines around the column, keeping the caret under the right character', () => {
    const long = `description: ${Array.from({ length: 500 }, (_, i) => String.fromCharCode(35 + (i % 90))).join('')}`;
    const out = formatDiagnostic({ ...d, sourceLine: long, col: 300, length: 1 }).split('\n');
    expect(out[1]!.length).toBeLessThan(130);
    expect(out[1]).toMatch(/^ {2}….*…$/);
    const caret = out[2]!.indexOf('^');
    expect(out[1]![caret]).toBe(long[299]);
    expect(out[1]!.slice(caret, caret + 20)).toBe(long.slice(299, 319));
  });

  test('a diagnostic without a position names only the file', () => {
    expect(
      formatDiagnostic({
        ...d,
        line: 0,
        col: 0,
        sourceLine: '',
        message: 'cannot read the experiment file: no such file',
        hint: 'check the path',
      }),
    ).toBe('a.yaml: cannot read the experiment file: no such file\n  hint: check the path');
  });
});

describe('files', () => {
  test('a missing file is a ConfigError naming the file', () => {
    const file = join(tmp, 'nope.experiment.yaml');
    expect(() => loadExperiment(file)).toThrow(ConfigError);
    expect(() => loadExperiment(file)).toThrow(`${file}: cannot read the experiment file: no such file`);
  });

  test('validateFiles reports each file without throwing', async () => {
    const good = join(tmp, 'good.experiment.yaml');
    const bad = join(tmp, 'bad.experiment.yaml');
    writeFileSync(good, MINIMAL);
    writeFileSync(bad, `${MINIMAL}trainig: {}\n`);
    const results = await validateFiles([good, bad, join(tmp, 'missing.yaml'), tmp], { profile: null });
    expect(results.map((r) => [r.file, r.ok, r.error?.code])).toEqual([
      [good, true, undefined],
      [bad, false, 'SCHEMA'],
      [join(tmp, 'missing.yaml'), false, 'CONFIG'],
      [tmp, false, 'CONFIG'],
    ]);
    expect(results[1]!.error!.message).toMatch(
      /bad\.experiment\.yaml:9:1: unknown key "trainig" in the experiment\n {2}trainig: \{\}\n {2}\^{7}\n {2}hint: did you mean "training"\?/,
    );
    expect(results[3]!.error!.message).toMatch(/it is a directory/);
  });
});
