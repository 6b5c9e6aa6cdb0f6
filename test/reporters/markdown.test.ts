import { afterEach, describe, expect, it, vi } from 'vitest';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import {
  GiB,
  makeRecord,
  MiB,
  NO_CUDA,
  NO_WEBGPU,
  paperRecords,
  rss,
  samples,
  TABLE2_REFERENCE,
  TABLE3_REFERENCE,
} from './fixtures.ts';
import type { MemoryFigure } from '../../src/runner/record.ts';
import { cellAt, tableAfter } from './md-tables.ts';

const render = (records = paperRecords()) => new MarkdownReporter().document(records);
const TABLE2 = '## Table 2';
const CPU_WASM = 'onnxruntime/cpu : tfjs/wasm';
const CPU_CPU = 'onnxruntime/cpu : tfjs/cpu';
/** A ratio column's header, `a : b` of two backend ids. */
const RATIO = /^[a-z]+\/[a-z]+ : [a-z]+\/[a-z]+$/;

/** How often `needle` occurs in `hay`. */
function occurrences(hay: string, needle: string): number {
  return hay.split(needle).length - 1;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MarkdownReporter', () => {
  it('renders the study artefacts as in the snapshot', async () => {
    const files = new MarkdownReporter().render(paperRecords());
    expect(files.map((f) => f.path)).toEqual(['comparison.md']);
    await expect(files[0]?.content).toMatchFileSnapshot('./__snapshots__/comparison.md');
  });

  it('shows a skipped backend in every row, as a short reason with a letter; the full reason once', () => {
    const doc = render();
    const t2 = tableAfter(doc, TABLE2);
    for (const row of ['graph construction and initialisation', 'training', 'inference']) {
      expect(cellAt(t2, row, '`tfjs/webgpu`')).toBe('skipped: no WebGPU adapter ᵃ');
      expect(cellAt(t2, row, '`onnxruntime/webgpu`')).toBe('skipped: no WebGPU adapter ᵃ');
      expect(cellAt(t2, row, '`onnxruntime/cuda`')).toBe('skipped: CUDA EP binaries are not installed ᵇ');
    }
    const t3 = tableAfter(doc, '## Table 3');
    expect(cellAt(t3, 'training · peak RSS', '`onnxruntime/webgpu`')).toBe('skipped: no WebGPU adapter ᵃ');
    const acc = tableAfter(doc, '## Accuracy');
    expect(cellAt(acc, 'paper-table2 · `vgg-small`', '`tfjs/webgpu`')).toBe('skipped: no WebGPU adapter ᵃ');
    expect(cellAt(acc, 'paper-table2 · `vgg-small`', '`onnxruntime/cuda`')).toBe(
      'skipped: CUDA EP binaries are not installed ᵇ',
    );
    const cases = tableAfter(doc, '## Cases');
    expect(cellAt(cases, 'paper-table2 › tfjs/webgpu', 'Detail')).toBe('skipped: no WebGPU adapter ᵃ');
    // Every cell is short; the long reasons are written out once, in "What did not run".
    for (const t of [t2, t3, acc, cases])
      for (const row of t.rows) for (const c of row) expect(c.length).toBeLessThan(80);
    expect(occurrences(doc, NO_CUDA)).toBe(1);
    expect(occurrences(doc, NO_WEBGPU)).toBe(1);
    const list = doc.slice(doc.indexOf('## What did not run'), doc.indexOf('## Table 2'));
    expect(list).toContain(`ᵃ \`tfjs/webgpu\`, \`onnxruntime/webgpu\` (3 cases) skipped: ${NO_WEBGPU}`);
    expect(list).toContain(`ᵇ \`onnxruntime/cuda\` (case paper-table2 › onnxruntime/cuda) skipped: ${NO_CUDA}`);
    // Each table points at the list for the letters it uses.
    expect(doc).toContain('ᵃ ᵇ: the full reason for each letter is under [What did not run](#what-did-not-run).');
  });

  it('puts medians ± MAD, n, the onnxruntime/cpu : tfjs/wasm ratio and the study figures in Table 2', () => {
    const t2 = tableAfter(render(), TABLE2);
    // tfjs/cpu training samples are [13, 10, 11, 12, 9]: median 11, deviations [2, 1, 0, 1, 2] → MAD 1.
    expect(cellAt(t2, 'training', '`tfjs/cpu`')).toBe('11.0 s ± 1.0 (n=5)');
    // onnxruntime/cpu against tfjs/wasm (native kernels, preferred over tfjs/cpu): 5.5 / 8, 0.2 / 0.5.
    expect(cellAt(t2, 'training', CPU_WASM)).toBe('0.688×');
    expect(cellAt(t2, 'graph construction and initialisation', CPU_WASM)).toBe('0.400×');
    // Both WebGPU backends were skipped: no column of dashes for them.
    expect(t2.header.some((h) => h.includes('webgpu vs'))).toBe(false);
    expect(t2.header.filter((h) => RATIO.test(h))).toEqual([CPU_WASM]);
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) TF')).toBe('4.71 s');
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) Caffe2')).toBe('1.89 s');
    expect(cellAt(t2, 'graph construction and initialisation', 'study (K80) Caffe2 : TF')).toBe('0.401×'); // 1.89 / 4.71
    expect(cellAt(t2, 'inference', 'study (K80) Caffe2 : TF')).toBe('0.101×'); // 0.40 / 3.96
    expect(t2.header.slice(1, 7)).toEqual([
      '`tfjs/cpu`',
      '`tfjs/wasm`',
      '`tfjs/webgpu`',
      '`onnxruntime/cpu`',
      '`onnxruntime/webgpu`',
      '`onnxruntime/cuda`',
    ]);
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
    expect(cellAt(t2, 'training', CPU_CPU)).toBe('0.300×');
  });

  it('pairs backends by device class: CPU with CPU, WebGPU with WebGPU, CUDA with TensorFlow on a GPU', () => {
    const doc = render([
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: samples(10, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: samples(8, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'tfjs/webgpu', train: samples(4, 0.1) }),
      makeRecord({
        artefact: 'table2',
        backend: 'tfjs/tensorflow',
        train: samples(5, 0.1),
        device: 'tfjs-node backend (@tensorflow/tfjs-node-gpu, TensorFlow C library)',
      }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: samples(6, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/webgpu', train: samples(2, 0.1) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cuda', train: samples(1, 0.1) }),
    ]);
    const t2 = tableAfter(doc, TABLE2);
    expect(t2.header.filter((h) => RATIO.test(h))).toEqual([
      CPU_WASM,
      'onnxruntime/webgpu : tfjs/webgpu',
      'onnxruntime/cuda : tfjs/tensorflow',
    ]);
    expect(cellAt(t2, 'training', CPU_WASM)).toBe('0.750×'); // 6 / 8
    expect(cellAt(t2, 'training', 'onnxruntime/webgpu : tfjs/webgpu')).toBe('0.500×'); // 2 / 4
    expect(cellAt(t2, 'training', 'onnxruntime/cuda : tfjs/tensorflow')).toBe('0.200×'); // 1 / 5
  });

  it('compares onnxruntime/cpu with tfjs/tensorflow when tfjs-node ran on the CPU, and with tfjs/cpu when it is the only one', () => {
    const node = render([
      makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: samples(8, 0.5) }),
      makeRecord({
        artefact: 'table2',
        backend: 'tfjs/tensorflow',
        train: samples(3, 0.1),
        device: 'tfjs-node backend (@tensorflow/tfjs-node, TensorFlow C library)',
      }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: samples(6, 0.5) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cuda', status: 'skipped', skipReason: NO_CUDA }),
    ]);
    const t = tableAfter(node, TABLE2);
    expect(t.header.filter((h) => RATIO.test(h))).toEqual(['onnxruntime/cpu : tfjs/tensorflow']);
    expect(cellAt(t, 'training', 'onnxruntime/cpu : tfjs/tensorflow')).toBe('2.00×');
    const cpuOnly = tableAfter(
      render([
        makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: samples(12, 0.5) }),
        makeRecord({
          artefact: 'table2',
          backend: 'tfjs/wasm',
          status: 'failed',
          error: { code: 'BACKEND', phase: 'buildInit', message: 'no wasm' },
        }),
        makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: samples(6, 0.5) }),
      ]),
      TABLE2,
    );
    expect(cellAt(cpuOnly, 'training', CPU_CPU)).toBe('0.500×');
  });

  it('never divides across device classes nor by a case that fell back to another backend', () => {
    const cross = tableAfter(
      render([
        makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: samples(8, 0.5) }),
        makeRecord({ artefact: 'table2', backend: 'onnxruntime/webgpu', train: samples(2, 0.1) }),
      ]),
      TABLE2,
    );
    expect(cross.header.some((h) => RATIO.test(h))).toBe(false);
    const fellBack = tableAfter(
      render([
        makeRecord({ artefact: 'table2', backend: 'tfjs/webgpu', ranOn: 'tfjs/cpu', train: samples(10, 1) }),
        makeRecord({ artefact: 'table2', backend: 'onnxruntime/webgpu', train: samples(2, 0.1) }),
      ]),
      TABLE2,
    );
    expect(fellBack.header.some((h) => RATIO.test(h))).toBe(false);
  });

  it('shows failures as "failed: CODE" with a letter, and the first line of the message once', () => {
    const doc = render();
    const cases = tableAfter(doc, '## Cases');
    expect(cellAt(cases, 'paper-fig2 › vgg19 › onnxruntime/cpu', 'Status')).toBe('failed');
    expect(cellAt(cases, 'paper-fig2 › vgg19 › onnxruntime/cpu', 'Detail')).toBe('failed: BACKEND ᶜ');
    expect(cellAt(tableAfter(doc, '### Fig. 2'), '`vgg19`', '`onnxruntime/cpu`')).toBe('failed: BACKEND ᶜ');
    expect(doc).toContain(
      'ᶜ `onnxruntime/cpu` (case paper-fig2 › vgg19 › onnxruntime/cpu) failed: BACKEND: onnxruntime: failed to allocate 2147483648 bytes (in train)',
    );
    expect(occurrences(doc, 'failed to allocate')).toBe(1);
    expect(doc).not.toContain('at OrtSession.run');
    expect(doc).toContain('24 passed, 1 failed, 4 skipped.');
  });

  it('escapes table separators in messages', () => {
    const doc = render([
      makeRecord({
        backend: 'tfjs/cpu',
        status: 'crashed',
        error: { code: 'WORKER_CRASH', message: 'exit | signal\nsecond line', signal: 'SIGSEGV' },
      }),
    ]);
    expect(cellAt(tableAfter(doc, '## Cases'), 'paper-table2 › tfjs/cpu', 'Detail')).toBe('crashed: WORKER_CRASH ᵃ');
    expect(doc).toContain('crashed: WORKER_CRASH: exit \\| signal (signal SIGSEGV)');
    expect(doc).not.toContain('second line');
  });

  it('gives the memory figures their source and reliability', () => {
    const doc = render();
    const t3 = tableAfter(doc, '## Table 3');
    expect(cellAt(t3, 'training · peak RSS', '`tfjs/cpu`')).toBe('1.50 GiB ¹');
    expect(cellAt(t3, 'training · peak RSS', CPU_CPU)).toBe('0.500×');
    expect(cellAt(t3, 'training · peak RSS', 'study (K80) TF')).toBe('3.96 GB');
    expect(doc).toContain('¹ peak RSS: /proc/self/status VmHWM; reliable.');
    const more = tableAfter(doc, '<summary>More memory figures');
    expect(cellAt(more, 'training · backend-reported', '`tfjs/cpu`')).toBe('300 MiB ¹');
    // The main table shows training and inference; a figure of another phase is never dropped.
    expect(cellAt(more, 'dataset loaded · peak RSS', '`onnxruntime/cpu`')).toBe('700 MiB ²');
    expect(doc).toContain('¹ backend-reported: tf.memory(); not reliable (tensors only).');
  });

  it('keeps peak RSS and device memory in the memory tables and moves the other measures to "more memory figures"', () => {
    const fig = (metric: string, bytes: number, source = 'process.memoryUsage()'): MemoryFigure => ({
      metric,
      bytes,
      source,
      reliable: false,
    });
    const memory = {
      train: [
        rss(GiB),
        fig('device', 2 * GiB, 'nvidia-smi'),
        fig('heap-used', 50 * MiB),
        fig('array-buffers', 10 * MiB),
        fig('external', 30 * MiB),
      ],
      infer: [rss(GiB), fig('heap-used', 40 * MiB)],
      dataset: [{ metric: 'dataset', bytes: 3 * MiB, source: 'bytes of the loaded images and labels', reliable: true }],
    };
    const doc = render([
      makeRecord({ artefact: 'table3', experiment: 'paper-table3', backend: 'tfjs/webgpu', train: [1], memory }),
      makeRecord({ artefact: 'table3', experiment: 'paper-table3', backend: 'onnxruntime/webgpu', train: [1], memory }),
    ]);
    const t3 = tableAfter(doc, '## Table 3');
    expect(t3.rows.map((r) => r[0])).toEqual([
      'training · peak RSS',
      'training · device memory',
      'inference · peak RSS',
    ]);
    expect(cellAt(t3, 'training · device memory', 'onnxruntime/webgpu : tfjs/webgpu')).toBe('1.00×');
    const more = tableAfter(doc, '<summary>More memory figures (JS heap used');
    expect(more.rows.map((r) => r[0])).toEqual([
      'training · JS heap used',
      'training · array buffers',
      'training · external (native objects held by JS)',
      'inference · JS heap used',
      'dataset loaded · images and labels',
    ]);
  });

  it('links the figures that have data and tables their numbers', () => {
    const doc = render();
    expect(doc).toContain('![Fig. 2: training time against depth](figures/paper-fig2-time.train-by-model.arch.svg)');
    expect(doc).toContain('![Fig. 3: memory against architecture](figures/paper-fig3-memory.train-by-model.arch.svg)');
    const f3 = tableAfter(doc, '### Fig. 3');
    expect(f3.header).toEqual([
      'model.arch · measure (training)',
      '`tfjs/cpu`',
      '`onnxruntime/cpu`',
      'onnxruntime/cpu : tfjs/cpu',
    ]);
    expect(f3.rows.map((r) => r[0])).toEqual(
      ['vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19'].map((a) => `\`${a}\` · peak RSS`),
    );
    const noFigs = new MarkdownReporter({ embedFigures: false }).document(paperRecords());
    expect(noFigs).not.toContain('](figures/');
  });

  it('renders without a reference, and tolerates one of an unexpected shape', () => {
    const plain = [
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: samples(10, 1) }),
      makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: samples(5, 1) }),
    ];
    const none = render(plain);
    expect(none).not.toContain('reference tensorflow');
    for (const reference of [
      { tensorflow: 'fast', caffe2: [1, 2] },
      { note: 'see paper' },
      { tf: { training: '89.43' } },
    ]) {
      const doc = render(plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference } })));
      expect(tableAfter(doc, TABLE2).rows.length).toBe(2); // training and throughput
    }
    const aliased = render(
      plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference: { tf: { training: '89.43' } } } })),
    );
    // Without a label or names, the columns say "reference" and the side's key.
    expect(cellAt(tableAfter(aliased, TABLE2), 'training', 'reference tensorflow')).toBe('89.43 s');
    const odd = render(plain.map((r) => ({ ...r, experiment: { ...r.experiment, reference: { caffe2: [1, 2] } } })));
    expect(odd).toContain('`caffe2.0` = 1 s, `caffe2.1` = 2 s');
  });

  it('lists reference figures it cannot place (argmax) under the table', () => {
    expect(render()).toContain(
      "Other figures in the experiment file's `reference` (reference, as published): `tensorflow.argmax` = 0.4066 s, `numpy.argmax` = 0.0075 s.",
    );
  });

  it('marks a case that ran on another backend than requested', () => {
    const doc = render([
      makeRecord({ artefact: 'table2', backend: 'tfjs/webgpu', ranOn: 'tfjs/cpu', train: samples(10, 1) }),
    ]);
    expect(cellAt(tableAfter(doc, TABLE2), 'training', '`tfjs/webgpu`')).toBe('10.0 s ± 1.0 (n=5) (ran on tfjs/cpu)');
  });

  it('describes every machine the records come from', () => {
    const doc = render([
      makeRecord({
        backend: 'tfjs/cpu',
        train: [1],
        env: { fingerprint: 'aaaa', gpu: 'NVIDIA H100 80GB HBM3', driver: '550.54' },
      }),
      makeRecord({
        backend: 'onnxruntime/cpu',
        train: [1],
        env: { fingerprint: 'bbbb' },
        finishedAt: '2025-05-02T08:00:00.000Z',
      }),
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
      makeRecord({
        artefact: 'table2',
        backend: 'tfjs/webgpu',
        status: 'skipped',
        skipReason: NO_WEBGPU,
        reference: TABLE2_REFERENCE,
      }),
      makeRecord({
        artefact: 'table3',
        experiment: 'paper-table3',
        backend: 'tfjs/webgpu',
        status: 'skipped',
        skipReason: NO_WEBGPU,
      }),
    ]);
    const t2 = tableAfter(doc, TABLE2);
    expect(t2.rows.map((r) => r[1])).toEqual([
      'skipped: no WebGPU adapter ᵃ',
      'skipped: no WebGPU adapter ᵃ',
      'skipped: no WebGPU adapter ᵃ',
    ]);
    expect(doc).toContain('No memory figures in these records (`tfjs/webgpu`: skipped: no WebGPU adapter ᵃ).');
  });

  it('takes Table 3 from the Table 2 runs when there is no table3 experiment, without their seconds', () => {
    const doc = render([
      makeRecord({
        artefact: 'table2',
        backend: 'tfjs/cpu',
        train: [1],
        memory: { train: [rss(2 * GiB)], infer: [rss(GiB)] },
        reference: TABLE2_REFERENCE,
      }),
    ]);
    expect(doc).toContain('Measured in the Table 2 runs');
    const t3 = tableAfter(doc, '## Table 3');
    expect(cellAt(t3, 'training · peak RSS', '`tfjs/cpu`')).toBe('2.00 GiB ¹');
    // Table 2's reference (no unit: seconds) is shown in Table 2, never beside memory.
    expect(t3.header.some((h) => h.startsWith('study'))).toBe(false);
    const table3Part = doc.slice(doc.indexOf('## Table 3'), doc.indexOf('## Accuracy'));
    expect(table3Part).not.toMatch(/89\.43|3\.96|4\.71/);
    expect(cellAt(tableAfter(doc, TABLE2), 'training', 'study (K80) TF')).toBe('89.43 s');
  });

  it('shows a reference only beside figures of its unit, in every table', () => {
    const ms = { unit: 's', tensorflow: { train: 3.96, infer: 3.405 }, caffe2: { train: 2.424, infer: 1.854 } };
    // A Table 3 experiment whose reference is in seconds: not shown, and the document says why.
    const t3doc = render([
      makeRecord({
        artefact: 'table3',
        experiment: 'paper-table3',
        backend: 'tfjs/cpu',
        train: [1],
        memory: { train: [rss(GiB)] },
        reference: ms,
      }),
    ]);
    expect(tableAfter(t3doc, '## Table 3').header.some((h) => h.startsWith('reference'))).toBe(false);
    expect(t3doc).toContain("The experiment file's `reference` (reference) is in s, which is not a unit of memory");
    // A Table 2 experiment quoting GB: not beside times.
    const t2doc = render([
      makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: [1], reference: TABLE3_REFERENCE }),
    ]);
    expect(tableAfter(t2doc, TABLE2).header.some((h) => h.startsWith('reference'))).toBe(false);
    expect(t2doc).toContain('is in GB, which is not a unit of times');
  });

  it('says "1 epoch", not "1 epochs", and warns that runs smaller than the study compare by ratio only', () => {
    const small = (b: 'tfjs/cpu' | 'onnxruntime/cpu') => {
      const r = makeRecord({ artefact: 'table2', backend: b, train: [1], reference: TABLE2_REFERENCE });
      r.experiment.epochs = 1;
      r.experiment.trainExamples = 512;
      r.experiment.repeats = 1;
      return r;
    };
    const doc = render([small('tfjs/cpu'), small('onnxruntime/cpu')]);
    expect(doc).toContain('512 training / 9,984 test images · 1 epoch × batch 64 · 1 repeat, seed 42 · profile full');
    expect(doc).not.toMatch(/\b1 epochs\b|\b1 repeats\b/);
    expect(doc).toContain(
      '**What differs from study (K80):** one NVIDIA K80 GPU there, onnxruntime/cpu, tfjs/cpu on AMD EPYC 7B13 (2 cores, no GPU) here; training images 49,984 there, 512 here; epochs 10 there, 1 here. Compare ratios, not absolute figures.',
    );
    // The paper fixture runs at the study's sizes: only the device differs.
    expect(render()).toContain('**What differs from study (K80):** one NVIDIA K80 GPU there, ');
    expect(render()).not.toContain('Compare ratios, not absolute figures');
  });

  it('tables accuracy per architecture, says it is on the test split and with which sizes', () => {
    const doc = render([
      makeRecord({
        artefact: 'fig2',
        experiment: 'fig2',
        arch: 'vgg11',
        backend: 'tfjs/wasm',
        train: [1],
        accuracy: [0.5],
      }),
      makeRecord({
        artefact: 'fig2',
        experiment: 'fig2',
        arch: 'vgg19',
        backend: 'tfjs/wasm',
        train: [1],
        accuracy: [0.25],
        finishedAt: '2025-05-01T11:00:00.000Z',
      }),
    ]);
    expect(doc).toContain('## Accuracy on the test split');
    const acc = tableAfter(doc, '## Accuracy');
    expect(cellAt(acc, 'fig2 · `vgg11`', '`tfjs/wasm`')).toBe('50.0 % (n=1)');
    expect(cellAt(acc, 'fig2 · `vgg19`', '`tfjs/wasm`')).toBe('25.0 % (n=1)');
    expect(cellAt(acc, 'fig2 · `vgg11`', 'Trained on → tested on')).toBe(
      '10 epochs × 49,984 images → 9,984 test images',
    );
    expect(cellAt(acc, 'fig2 · `vgg11`', 'Width · data')).toBe('width 1, no batch norm · cifar10 32×32');
    expect(doc).toContain('Share of the test split (images never trained on) classified correctly');
  });

  it("lists each backend's install size from its records, newest first", () => {
    const r = makeRecord({ artefact: 'table2', backend: 'onnxruntime/cpu', train: [1] });
    r.backend.installBytes = { 'onnxruntime-node': 287 * MiB, 'onnxruntime-common': 512 * 1024 };
    const t = makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: [1] });
    t.backend.installBytes = { '@tensorflow/tfjs-core': 35 * MiB, '@tensorflow/tfjs-backend-wasm': 12 * MiB };
    const doc = render([r, t]);
    expect(doc).toContain(
      '| `tfjs/wasm` | @tensorflow/tfjs-backend-wasm 12.0 MiB, @tensorflow/tfjs-core 35.0 MiB | 47.0 MiB |',
    );
    expect(doc).toContain('| `onnxruntime/cpu` | onnxruntime-common 512 KiB, onnxruntime-node 287 MiB | 288 MiB |');
    expect(render([makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: [1] })])).not.toContain(
      '## Install size',
    );
  });

  it('puts side by side the backends an experiment declares (compare), across devices if so declared', () => {
    const rec = (backend: 'tfjs/wasm' | 'tfjs/webgpu' | 'onnxruntime/cpu', train: number) => {
      const r = makeRecord({ artefact: 'table2', backend, train: [train] });
      r.experiment.compare = [['tfjs/webgpu', 'tfjs/wasm']];
      return r;
    };
    const t2 = tableAfter(
      render([rec('tfjs/wasm', 8), rec('tfjs/webgpu', 2), rec('onnxruntime/cpu', 4)]),
      '## Table 2',
    );
    expect(t2.header.filter((h) => RATIO.test(h))).toEqual(['tfjs/webgpu : tfjs/wasm']);
    expect(cellAt(t2, 'training', 'tfjs/webgpu : tfjs/wasm')).toBe('0.250×');
  });

  it('states the conditions of the cases that ran: a skipped case, which loaded no data, adds no line', () => {
    const ran = makeRecord({ artefact: 'table2', backend: 'tfjs/wasm', train: [1] });
    const skipped = makeRecord({
      artefact: 'table2',
      backend: 'tfjs/webgpu',
      status: 'skipped',
      skipReason: NO_WEBGPU,
    });
    delete skipped.experiment.dataset;
    const doc = render([ran, skipped]);
    expect(doc).toContain('**Conditions:** `vgg-small`, width 1, no batch norm · cifar10 data');
    expect(doc).not.toContain('Conditions differ');
  });
});
