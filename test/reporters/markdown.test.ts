import { afterEach, describe, expect, it, vi } from 'vitest';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import { GiB, makeRecord, NO_WEBGPU, paperRecords, rss, samples, TABLE2_REFERENCE } from './fixtures.ts';
import { cellAt, tableAfter } from './md-tables.ts';

const render = (records = paperRecords()) => new MarkdownReporter().document(records);
const TABLE2 = '## Table 2';

afterEach(() => {
  vi.useRealTimers();
});

describe('MarkdownReporter', () => {
  it('renders the study artefacts as in the snapshot', async () => {
    const files = new MarkdownReporter().render(paperRecords());
    expect(files.map((f) => f.path)).toEqual(['comparison.md']);
    await expect(files[0]?.content).toMatchFileSnapshot('./__snapshots__/comparison.md');
  });

  it('shows a skipped backend as "skipped: <reason>" in every row instead of dropping it', () => {
    const doc = render();
    const t2 = tableAfter(doc, TABLE2);
    for (const column of ['`tfjs/webgpu`', '`onnxruntime/webgpu`']) {
      for (const row of ['graph construction and initialisation', 'training', 'inference']) {
        expect(cellAt(t2, row, column)).toBe(`skipped: ${NO_WEBGPU}`);
      }
    }
    const t3 = tableAfter(doc, '## Table 3');
    expect(cellAt(t3, 'training · peak RSS', '`onnxruntime/webgpu`')).toBe(`skipped: ${NO_WEBGPU}`);
    const acc = tableAfter(doc, '## Accuracy');
    expect(cellAt(acc, 'paper-table2 (`vgg-small`)', '`tfjs/webgpu`')).toBe(`skipped: ${NO_WEBGPU}`);
    const cases = tableAfter(doc, '## Cases');
    expect(cellAt(cases, 'paper-table2 › tfjs/webgpu', 'Detail')).toBe(`skipped: ${NO_WEBGPU}`);
  });

  it('puts medians ± MAD, n, the ONNX Runtime : TF.js ratio and the study figures in Table 2', () => {
    const t2 = tableAfter(render(), TABLE2);
    // tfjs/cpu training samples are [13, 10, 11, 12, 9]: median 11, deviations [2, 1, 0, 1, 2] → MAD 1.
    expect(cellAt(t2, 'training', '`tfjs/cpu`')).toBe('11.0 s ± 1.0 (n=5)');
    // onnxruntime/cpu: median 5.5 → 5.5 / 11.
    expect(cellAt(t2, 'training', 'ONNX Runtime : TF.js (cpu)')).toBe('0.500×');
    expect(cellAt(t2, 'graph construction and initialisation', 'ONNX Runtime : TF.js (cpu)')).toBe('0.250×');
    // Both WebGPU backends were skipped, so their ratio has nothing to divide.
    expect(cellAt(t2, 'training', 'ONNX Runtime : TF.js (webgpu)')).toBe('—');
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) TF')).toBe('4.71 s');
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) Caffe2')).toBe('1.89 s');
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) Caffe2 : TF')).toBe('0.401×'); // 1.89 / 4.71
    expect(cellAt(t2, 'inference', 'study (K80) Caffe2 : TF')).toBe('0.101×'); // 0.40 / 3.96
    expect(t2.header.slice(1, 6)).toEqual(['`tfjs/cpu`', '`tfjs/wasm`', '`tfjs/webgpu`', '`onnxruntime/cpu`', '`onnxruntime/webgpu`']);
  });

  it('computes the median and MAD of an even number of samples', () => {
    const records = [
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: [1, 2, 3, 10] }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: [0.5, 0.5, 1, 4] }),
    ];
    const t2 = tableAfter(render(records), TABLE2);
    // median (2 + 3) / 2 = 2.5; deviations [1.5, 0.5, 0.5, 7.5] → median of [0.5, 0.5, 1.5, 7.5] = 1.
    expect(cellAt(t2, 'training', '`tfjs/cpu`')).toBe('2.50 s ± 1.0 (n=4)');
    // median 0.75 → 0.75 / 2.5.
    expect(cellAt(t2, 'training', 'ONNX Runtime : TF.js (cpu)')).toBe('0.300×');
  });

  it('compares the fastest of each framework when they share no device', () => {
    const records = [
      makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: samples(8, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: samples(10, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/webgpu', train: samples(2, 0.1) }),
    ];
    const t2 = tableAfter(render(records), TABLE2);
    expect(cellAt(t2, 'training', 'ONNX Runtime : TF.js (fastest of each)')).toBe('0.250×');
  });

  it('shows failures with their code and first line, and the failed phase in the tables', () => {
    const doc = render();
    const cases = tableAfter(doc, '## Cases');
    expect(cellAt(cases, 'paper-fig2-vgg19 › onnxruntime/cpu', 'Status')).toBe('failed');
    expect(cellAt(cases, 'paper-fig2-vgg19 › onnxruntime/cpu', 'Detail')).toBe(
      'BACKEND: onnxruntime: failed to allocate 2147483648 bytes (in train)',
    );
    expect(cellAt(tableAfter(doc, '## Fig. 2'), '`vgg19`', '`onnxruntime/cpu`')).toBe('failed: BACKEND');
    expect(doc).toContain('24 passed, 1 failed, 3 skipped.');
  });

  it('escapes table separators in messages', () => {
    const doc = render([
      makeRecord({
        backend: 'tfjs/cpu',
        status: 'crashed',
        error: { code: 'WORKER_CRASH', message: 'exit | signal\nsecond line', signal: 'SIGSEGV' },
      }),
    ]);
    expect(doc).toContain('WORKER_CRASH: exit \\| signal (signal SIGSEGV)');
    expect(doc).not.toContain('second line');
  });

  it('gives the memory figures their source and reliability', () => {
    const doc = render();
    const t3 = tableAfter(doc, '## Table 3');
    expect(cellAt(t3, 'training · peak RSS', '`tfjs/cpu`')).toBe('1.50 GiB ¹');
    expect(cellAt(t3, 'training · backend-reported', '`tfjs/cpu`')).toBe('300 MiB ²');
    expect(cellAt(t3, 'training · peak RSS', 'ONNX Runtime : TF.js (cpu)')).toBe('0.500×');
    expect(cellAt(t3, 'training · peak RSS', 'study (K80) TF')).toBe('3.96 GB');
    expect(doc).toContain('¹ peak RSS: /proc/self/status VmHWM; reliable.');
    expect(doc).toContain('² backend-reported: tf.memory(); not reliable (tensors only).');
  });

  it('links the figures that have data and tables their numbers', () => {
    const doc = render();
    expect(doc).toContain('![Fig. 2: training time against depth](figures/fig2-train-time.svg)');
    expect(doc).toContain('![Fig. 3: peak memory against architecture](figures/fig3-memory.svg)');
    const f3 = tableAfter(doc, '## Fig. 3');
    expect(f3.rows.map((r) => r[0])).toEqual(['vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19'].map((a) => `\`${a}\` · peak RSS`));
    const noFigs = new MarkdownReporter({ embedFigures: false }).document(paperRecords());
    expect(noFigs).not.toContain('](figures/');
  });

  it('renders without a reference, and tolerates one of an unexpected shape', () => {
    const plain = [
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: samples(10, 1) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: samples(5, 1) }),
    ];
    const none = render(plain);
    expect(none).not.toContain('study (K80) TF');
    for (const reference of [{ tensorflow: 'fast', caffe2: [1, 2] }, { note: 'see paper' }, { tf: { training: '89.43' } }]) {
      const doc = render(plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference } })));
      expect(tableAfter(doc, TABLE2).rows.length).toBe(2); // training and throughput
    }
    const aliased = render(plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference: { tf: { training: '89.43' } } } })));
    expect(cellAt(tableAfter(aliased, TABLE2), 'training', 'study (K80) TF')).toBe('89.43 s');
    const odd = render(plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference: { caffe2: [1, 2] } } })));
    expect(odd).toContain('`caffe2.0` = 1 s, `caffe2.1` = 2 s');
  });

  it('lists reference figures it cannot place (argmax) under the table', () => {
    expect(render()).toContain(
      "Other figures in the experiment file's `reference` (study (K80), as published): `tensorflow.argmax` = 0.4066 s, `numpy.argmax` = 0.0075 s.",
    );
  });

  it('marks a case that ran on another backend than requested', () => {
    const doc = render([makeRecord({ artefact: 'table2', backend: 'tfjs/webgpu', ranOn: 'tfjs/cpu', train: samples(10, 1) })]);
    expect(cellAt(tableAfter(doc, TABLE2), 'training', '`tfjs/webgpu`')).toBe('10.0 s ± 1.0 (n=5) (ran on tfjs/cpu)');
  });

  it('describes every machine the records come from', () => {
    const doc = render([
      makeRecord({ backend: 'tfjs/cpu', train: [1], env: { fingerprint: 'aaaa', gpu: 'NVIDIA H100 80GB HBM3', driver: '550.54' } }),
      makeRecord({ backend: 'onnxruntime/cpu', train: [1], env: { fingerprint: 'bbbb' }, finishedAt: '2025-05-02T08:00:00.000Z' }),
    ]);
    const env = tableAfter(doc, '## Environment');
    expect(env.header).toEqual(['', 'machine 1', 'machine 2']);
    expect(cellAt(env, 'GPU', 'machine 1')).toBe('NVIDIA H100 80GB HBM3');
    expect(cellAt(env, 'GPU', 'machine 2')).toBe('none reported');
    expect(cellAt(env, 'Memory', 'machine 1')).toBe('24.0 GiB');
    expect(doc).toContain('finished between 2025-05-01 10:30 UTC and 2025-05-02 08:00 UTC');
  });

  it('depends only on the records: not on their order nor on the clock', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const a = render();
    vi.setSystemTime(new Date('2031-06-01T00:00:00Z'));
    const b = render([...paperRecords()].reverse());
    expect(b).toBe(a);
    expect(a).not.toMatch(/203[01]/);
  });

  it('says so when there is nothing to render', () => {
    expect(render([])).toContain('No result records were given');
  });

  it('keeps a table whose every case was skipped', () => {
    const doc = render([
      makeRecord({ artefact: 'table2', backend: 'tfjs/webgpu', status: 'skipped', skipReason: NO_WEBGPU, reference: TABLE2_REFERENCE }),
      makeRecord({ artefact: 'table3', experiment: 'paper-table3', backend: 'tfjs/webgpu', status: 'skipped', skipReason: NO_WEBGPU }),
    ]);
    const t2 = tableAfter(doc, TABLE2);
    expect(t2.rows.map((r) => r[1])).toEqual([`skipped: ${NO_WEBGPU}`, `skipped: ${NO_WEBGPU}`, `skipped: ${NO_WEBGPU}`]);
    expect(doc).toContain(`No memory figures in these records (\`tfjs/webgpu\`: skipped: ${NO_WEBGPU}).`);
  });

  it('takes Table 3 from the Table 2 runs when there is no table3 experiment', () => {
    const doc = render([makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: [1], memory: { train: [rss(2 * GiB)] } })]);
    expect(doc).toContain('Measured in the Table 2 runs');
    expect(cellAt(tableAfter(doc, '## Table 3'), 'training · peak RSS', '`tfjs/cpu`')).toBe('2.00 GiB ¹');
  });
});
