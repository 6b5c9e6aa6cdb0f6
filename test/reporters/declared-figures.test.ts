import { describe, expect, test } from 'vitest';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import { SvgReporter } from '../../src/reporters/svg.ts';
import { declaredFigures } from '../../src/reporters/declared-figures.ts';
import type { ResultRecord } from '../../src/runner/record.ts';
import type { BackendId } from '../../src/vocab/backends.ts';
import { makeRecord } from './fixtures.ts';

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
    expect(md).toContain('| backend \\ inference.batchSize | 1 | 64 |');
    expect(md).toContain('| onnxruntime/cpu | 1.00 ms | 20.0 ms |');
    expect(md).toContain('1 case(s) without a value are not drawn.');
  });

  test('records without declared figures draw none', () => {
    expect(declaredFigures([makeRecord({ backend: 'onnxruntime/cpu', train: [1] })])).toEqual([]);
  });
});
