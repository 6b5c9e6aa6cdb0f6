/**
 * A result measured on a software WebGPU adapter is marked in the tables themselves, and every GPU
 * session's adapter is named in the cases table, ONNX Runtime's included.
 */
import { describe, expect, it } from 'vitest';
import type { AdapterUsed } from '../../src/backends/types.ts';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import type { BackendId } from '../../src/vocab/backends.ts';
import { makeRecord, samples } from './fixtures.ts';
import { cellAt, tableAfter } from './md-tables.ts';

const LAVAPIPE: AdapterUsed = { name: 'mesa llvmpipe (LLVM 19.1.7, 256 bits)', software: true };
const GPU: AdapterUsed = { name: 'nvidia ampere NVIDIA A100-SXM4-40GB', software: false };

function gpuRecord(backend: BackendId, adapter: AdapterUsed) {
  const r = makeRecord({
    backend,
    artefact: 'table2',
    buildInit: samples(1, 0.1),
    train: samples(100, 2),
    infer: samples(3, 0.1),
    accuracy: [0.6, 0.61, 0.62, 0.6, 0.61],
  });
  if (!r.backend.session) throw new Error('fixture has no session');
  r.backend.session.adapter = adapter;
  return r;
}

describe('software adapter in the report', () => {
  it('marks each software-adapter figure in Table 2 and names every adapter in the cases table', () => {
    const doc = new MarkdownReporter().document([
      gpuRecord('onnxruntime/webgpu', LAVAPIPE),
      gpuRecord('tfjs/webgpu', GPU),
    ]);
    const t2 = tableAfter(doc, '## Table 2');
    for (const row of ['graph construction and initialisation', 'training', 'inference']) {
      expect(cellAt(t2, row, '`onnxruntime/webgpu`')).toMatch(/ \(software adapter: not a GPU result\)$/);
      expect(cellAt(t2, row, '`tfjs/webgpu`')).not.toMatch(/software adapter/);
    }
    const cases = tableAfter(doc, '## Cases');
    expect(cellAt(cases, 'paper-table2 › onnxruntime/webgpu', 'Ran on')).toBe(
      '`onnxruntime/webgpu` (webgpu, adapter mesa llvmpipe (LLVM 19.1.7, 256 bits) (software adapter: not a GPU result))',
    );
    expect(cellAt(cases, 'paper-table2 › tfjs/webgpu', 'Ran on')).toBe(
      '`tfjs/webgpu` (webgpu, adapter nvidia ampere NVIDIA A100-SXM4-40GB)',
    );
  });
});
