import { describe, expect, test } from 'vitest';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import { SvgReporter } from '../../src/reporters/svg.ts';
import { declaredFigureSpec, declaredFigures } from '../../src/reporters/declared-figures.ts';
import { CHECK_FAILED, type MemoryFigure, type ResultRecord } from '../../src/runner/record.ts';
import type { BackendId } from '../../src/vocab/backends.ts';
import {
  FIG2,
  FIG3,
  GiB,
  type MakeRecordOptions,
  MiB,
  makeRecord,
  rss,
  STUDY_CONDITIONS,
  samples,
} from './fixtures.ts';
import { cellAt, tableAfter } from './md-tables.ts';

const FIGURES = [{ x: 'inference.batchSize', y: 'latency.p50', series: 'backend' }];

function latencyRecord(backend: BackendId, batch: number, perCallMs: number, status?: 'skipped'): ResultRecord {
  const r = makeRecord({
    backend,
    experiment: 'latency',
    infer: [1],
    status,
    profile: 'ci',
    skipReason: status && 'no adapter',
  });
  r.key = `latency › inference.batchSize=${batch} › ${backend}`;
  r.experiment.point = { 'inference.batchSize': batch };
  r.experiment.figures = FIGURES;
  if (status !== 'skipped')
    r.metrics = { latency: { batchSize: batch, warmupCalls: 1, samples: [perCallMs / 1e3, perCallMs / 1e3] } };
  return r;
}

const records = [
  latencyRecord('onnxruntime/cpu', 64, 20),
  latencyRecord('onnxruntime/cpu', 1, 1),
  latencyRecord('tfjs/wasm', 1, 3),
  latencyRecord('tfjs/wasm', 64, 40),
  latencyRecord('tfjs/webgpu', 1, 0, 'skipped'),
];

describe('figures declared in the experiment', () => {
  test('points come from each record’s matrix point, backend and metric value, in series then x order; cases without one are counted', () => {
    const [f, ...rest] = declaredFigures(records);
    expect(rest).toEqual([]);
    expect(f!.file).toBe('latency-latency.p50-by-inference.batchSize.svg');
    expect(f!.points).toEqual([
      { x: 1, series: 'tfjs/wasm', value: 0.003 },
      { x: 64, series: 'tfjs/wasm', value: 0.04 },
      { x: 1, series: 'onnxruntime/cpu', value: 0.001 },
      { x: 64, series: 'onnxruntime/cpu', value: 0.02 },
    ]);
    expect(f!.missing).toBe(1);
  });

  test('drawn by the SVG reporter and tabled by the markdown reporter, batch sizes in order', async () => {
    const files = await new SvgReporter().render(records);
    const svg = files.find((f) => f.path === 'figures/latency-latency.p50-by-inference.batchSize.svg');
    expect(svg?.content).toMatch(/<svg/);
    expect(svg?.content).toContain('latency: latency.p50 against inference.batchSize');
    expect(svg?.content).toContain('latency.p50 (ms)');
    const md = new MarkdownReporter().document(records);
    expect(md).toContain(
      '![latency: latency.p50 against inference.batchSize](figures/latency-latency.p50-by-inference.batchSize.svg)',
    );
    const t = tableAfter(md, '### latency: latency.p50');
    expect(t.header).toEqual([
      'inference.batchSize',
      '`tfjs/wasm`',
      '`tfjs/webgpu`',
      '`onnxruntime/cpu`',
      'onnxruntime/cpu : tfjs/wasm',
    ]);
    expect(t.rows.map((r) => r[0])).toEqual(['1', '64']);
    expect(cellAt(t, '64', '`onnxruntime/cpu`')).toBe('20.0 ms');
    expect(md).toContain('1 case(s) without a value are not drawn.');
  });

  test('records without declared figures draw none', () => {
    expect(declaredFigures([makeRecord({ backend: 'onnxruntime/cpu', train: [1] })])).toEqual([]);
  });
});

/** The study's figures as an experiment file quotes them, with what they were measured under. */
const STUDY = {
  label: 'study (K80)',
  names: { tensorflow: 'TF', caffe2: 'Caffe2' },
  note: 'TensorFlow and Caffe2 on one NVIDIA K80 GPU',
  conditions: STUDY_CONDITIONS,
};

/** One case of a swept experiment declaring `figure`, at architecture `arch`. */
function sweepCase(
  figure: typeof FIG2,
  backend: BackendId,
  arch: string,
  o: Omit<MakeRecordOptions, 'backend'> = {},
): ResultRecord {
  const experiment = figure === FIG2 ? 'fig2' : 'fig3';
  return makeRecord({
    experiment,
    artefact: experiment,
    arch,
    point: { 'model.arch': arch },
    figures: [figure],
    backend,
    ...o,
  });
}

const NO_ADAPTER = "no WebGPU adapter: Dawn's requestAdapter() returned null";

/** The markdown of one declared figure, from its heading to the next. */
function section(doc: string, title: string): string {
  const start = doc.indexOf(`### ${title}`);
  const end = doc.indexOf('\n## ', start);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** The data of the layer drawn with a dashed line (the reference), and of the rule layer (MAD bars). */
function layers(records: readonly ResultRecord[]) {
  const [f] = declaredFigures(records);
  const spec = declaredFigureSpec(f!, { width: 480, height: 300, config: {}, subtitle: 'machine' }) as {
    layer: Array<{ mark: { type: string; strokeDash?: number[] }; data: { values: unknown[] } }>;
  };
  return {
    reference: spec.layer.find((l) => l.mark.strokeDash)?.data.values,
    spread: spec.layer.find((l) => l.mark.type === 'rule')?.data.values,
  };
}

describe('Fig. 2 as a declared figure keeps what the study table showed', () => {
  const reference = {
    ...STUDY,
    unit: 's',
    tensorflow: { vgg11: 120, vgg16: 200, argmax: 3 },
    caffe2: { vgg11: 80 },
  };
  const fig2 = [
    sweepCase(FIG2, 'tfjs/wasm', 'vgg11', { train: samples(40, 2), reference }),
    sweepCase(FIG2, 'tfjs/wasm', 'vgg16', { train: samples(60, 3), reference }),
    sweepCase(FIG2, 'onnxruntime/cpu', 'vgg11', { train: samples(20, 1), reference }),
    sweepCase(FIG2, 'onnxruntime/cpu', 'vgg16', { train: samples(30, 1), reference }),
    sweepCase(FIG2, 'tfjs/webgpu', 'vgg11', { status: 'skipped', skipReason: NO_ADAPTER, reference }),
    sweepCase(FIG2, 'tfjs/webgpu', 'vgg16', { status: 'skipped', skipReason: NO_ADAPTER, reference }),
  ];
  const doc = new MarkdownReporter().document(fig2);
  const md = section(doc, FIG2.title!);
  const t = tableAfter(md, `### ${FIG2.title}`);

  test('rows by architecture, a column per backend, the ratio column and the reference’s labelled columns', () => {
    expect(t.header).toEqual([
      'model.arch',
      '`tfjs/wasm`',
      '`tfjs/webgpu`',
      '`onnxruntime/cpu`',
      'onnxruntime/cpu : tfjs/wasm',
      'study (K80) TF',
      'study (K80) Caffe2',
      'study (K80) Caffe2 : TF',
    ]);
    expect(t.rows.map((r) => r[0])).toEqual(['`vgg11`', '`vgg16`']);
    expect(cellAt(t, '`vgg11`', 'onnxruntime/cpu : tfjs/wasm')).toBe('0.500×');
    expect(cellAt(t, '`vgg11`', 'study (K80) TF')).toBe('120 s');
    expect(cellAt(t, '`vgg11`', 'study (K80) Caffe2')).toBe('80 s');
    expect(cellAt(t, '`vgg11`', 'study (K80) Caffe2 : TF')).toBe('0.667×');
    expect(cellAt(t, '`vgg16`', 'study (K80) TF')).toBe('200 s');
    expect(cellAt(t, '`vgg16`', 'study (K80) Caffe2')).toBe('');
    // What the block holds that the figure does not place is listed, not dropped.
    expect(md).toContain('`tensorflow.argmax` = 3 s');
    expect(md).toContain('study (K80): times as published (TensorFlow and Caffe2 on one NVIDIA K80 GPU)');
    expect(md).toMatch(/below 1: a is faster/);
  });

  test('median ± MAD (n) per cell, the reason letter of a skipped case and the conditions line', () => {
    expect(cellAt(t, '`vgg11`', '`tfjs/wasm`')).toBe('40.0 s ± 2.00 s (n=5)');
    expect(cellAt(t, '`vgg16`', '`tfjs/webgpu`')).toBe('skipped: no WebGPU adapter ᵃ');
    expect(md).toContain('ᵃ: the full reason for each letter is under [What did not run](#what-did-not-run).');
    expect(doc).toContain(`ᵃ \`tfjs/webgpu\` (2 cases) skipped: ${NO_ADAPTER}`);
    expect(md).toContain('**Conditions:** width 1, no batch norm · cifar10 data');
    expect(md).toContain('Cells: median ± MAD (median absolute deviation) of the repeats');
  });

  test('the SVG draws the reference as dashed lines labelled with its own label, and MAD bars', async () => {
    const { reference: ref, spread } = layers(fig2);
    expect(ref).toEqual([
      { x: 'vgg11', series: 'study (K80) TF', value: 120 },
      { x: 'vgg16', series: 'study (K80) TF', value: 200 },
      { x: 'vgg11', series: 'study (K80) Caffe2', value: 80 },
    ]);
    expect(spread).toContainEqual({ x: 'vgg11', series: 'tfjs/wasm', low: 38, high: 42 });
    const [svg] = await new SvgReporter().render(fig2);
    expect(svg?.content).toContain('study (K80) Caffe2');
    expect(svg?.content).toContain('dashed: study (K80) TF, study (K80) Caffe2, as published');
    expect(svg?.content).toContain('time.train (s, median ± MAD)');
  });

  test('a reference under the phase sits beside every architecture; one in another unit is not shown', () => {
    const byPhase = { ...STUDY, unit: 's', tensorflow: { train: 89.43 }, caffe2: { train: 55.71 } };
    const rs = ['vgg11', 'vgg16'].map((a) =>
      sweepCase(FIG2, 'onnxruntime/cpu', a, { train: [10], reference: byPhase }),
    );
    const t2 = tableAfter(new MarkdownReporter().document(rs), `### ${FIG2.title}`);
    expect(t2.rows.map((r) => r[t2.header.indexOf('study (K80) TF')])).toEqual(['89.43 s', '89.43 s']);
    // A single repeat says so, without a spread.
    expect(cellAt(t2, '`vgg11`', '`onnxruntime/cpu`')).toBe('10.0 s (n=1)');
    expect(layers(rs).reference).toHaveLength(4);
    const inGB = { ...STUDY, unit: 'GB', tensorflow: { train: 3.96 } };
    const other = [sweepCase(FIG2, 'onnxruntime/cpu', 'vgg11', { train: [10], reference: inGB })];
    expect(tableAfter(new MarkdownReporter().document(other), `### ${FIG2.title}`).header).toEqual([
      'model.arch',
      '`onnxruntime/cpu`',
    ]);
    expect(layers(other).reference).toBeUndefined();
  });
});

describe('Fig. 3 as a declared figure keeps what the study table showed', () => {
  const device = (bytes: number): MemoryFigure => ({
    metric: 'device',
    bytes,
    source: 'nvidia-smi',
    method: 'driver-process',
    reliable: true,
  });
  const heap = (bytes: number): MemoryFigure => ({
    metric: 'heap-used',
    bytes,
    source: 'process.memoryUsage()',
    reliable: true,
  });
  const reference = { ...STUDY, unit: 'GB', tensorflow: { train: 3.96 }, caffe2: { train: 2.424 } };
  const software = (r: ResultRecord) => {
    r.backend.session!.adapter = { name: 'mesa llvmpipe', software: true };
    return r;
  };
  const memory = (g: number) => ({ train: [rss(g * GiB), device(2 * g * GiB), heap(50 * MiB)] });
  const fig3 = [
    sweepCase(FIG3, 'tfjs/webgpu', 'vgg7', { train: [1], memory: memory(1), reference }),
    sweepCase(FIG3, 'tfjs/webgpu', 'vgg11', {
      train: [1],
      memory: memory(2),
      reference,
      status: 'failed',
      error: { code: CHECK_FAILED, message: 'train peak RSS budget exceeded' },
    }),
    software(sweepCase(FIG3, 'onnxruntime/webgpu', 'vgg7', { train: [1], memory: memory(0.5), reference })),
    software(sweepCase(FIG3, 'onnxruntime/webgpu', 'vgg11', { train: [1], memory: memory(1), reference })),
  ];
  fig3[1]!.checks = [
    {
      kind: 'memory',
      id: 'memory.train',
      phase: 'train',
      metric: 'train peak RSS',
      unit: 'bytes',
      measured: 2 * GiB,
      limit: GiB,
      verdict: 'failed',
      reason: 'above the budget',
    },
  ];
  const md = section(new MarkdownReporter().document(fig3), FIG3.title!);
  const t = tableAfter(md, `### ${FIG3.title}`);

  test('device memory rows under peak RSS, each figure with the footnote of its source and method', () => {
    expect(t.rows.map((r) => r[0])).toEqual([
      '`vgg7` · peak RSS',
      '`vgg7` · device memory',
      '`vgg11` · peak RSS',
      '`vgg11` · device memory',
    ]);
    expect(cellAt(t, '`vgg7` · peak RSS', '`tfjs/webgpu`')).toBe('1.00 GiB ¹');
    expect(cellAt(t, '`vgg7` · device memory', '`tfjs/webgpu`')).toBe('2.00 GiB ²');
    expect(md).toContain('¹ peak RSS: /proc/self/status VmHWM; reliable.');
    expect(md).toContain("² device memory: nvidia-smi, the driver's figure for the case's process; reliable.");
    expect(md).toContain('The figure plots peak RSS during training.');
  });

  test('the software-adapter mark, a failed budget’s mark, the ratio and reference columns', () => {
    expect(cellAt(t, '`vgg7` · peak RSS', '`onnxruntime/webgpu`')).toBe(
      '512 MiB ¹ (software adapter: not a GPU result)',
    );
    expect(cellAt(t, '`vgg11` · peak RSS', '`tfjs/webgpu`')).toBe('2.00 GiB ¹ ✗ train peak RSS budget');
    expect(cellAt(t, '`vgg7` · device memory', 'onnxruntime/webgpu : tfjs/webgpu')).toBe('0.500×');
    expect(cellAt(t, '`vgg7` · peak RSS', 'study (K80) TF')).toBe('3.96 GB');
    expect(cellAt(t, '`vgg7` · peak RSS', 'study (K80) Caffe2')).toBe('2.424 GB');
    expect(cellAt(t, '`vgg7` · device memory', 'study (K80) TF')).toBe('');
    expect(md).toMatch(/below 1: a needs less/);
  });

  test('the other memory figures in a collapsed block, and the reference drawn in the SVG’s unit', () => {
    const more = tableAfter(md, '<summary>More memory figures while training');
    expect(more.rows.map((r) => r[0])).toEqual(['`vgg7` · JS heap used', '`vgg11` · JS heap used']);
    const ref = layers(fig3).reference as Array<{ series: string; value: number }>;
    // 3.96 GB (10⁹ bytes) on an axis in GiB.
    expect(ref.find((p) => p.series === 'study (K80) TF')?.value).toBeCloseTo(3.96e9 / GiB, 6);
  });
});
