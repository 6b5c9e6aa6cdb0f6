/**
 * The "top operators per backend" section: rendered from the records' profiles only, one block per
 * backend in the usual backend order, the reason where a requested profile is missing, nothing at all
 * when no record asked for one.
 */
import { describe, expect, it } from 'vitest';
import { aggregateOpProfile, type KernelTiming } from '../../src/vocab/op-profile.ts';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import { opProfileSection, TOP_OP_TYPES } from '../../src/reporters/op-profile.ts';
import { makeRecord } from './fixtures.ts';

function profile(): ReturnType<typeof aggregateOpProfile> {
  const kernels: KernelTiming[] = [
    { node: 'n_Conv_0', op: 'FusedConv', section: 'forward', ms: 30, step: 0 },
    { node: 'n_Gemm_9', op: 'Gemm', section: 'backward', ms: 50, step: 0 },
    { node: 'n_Conv_7', op: 'Conv', section: 'backward', ms: 15, step: 0 },
    { node: 'n_Add_12', op: 'Add', section: 'optimizer', ms: 5, step: 0 },
    ...Array.from({ length: TOP_OP_TYPES }, (_, i) => ({
      node: `tiny${i}`,
      op: `Tiny${i}`,
      section: 'backward' as const,
      ms: 0.01,
      step: 0,
    })),
  ];
  return aggregateOpProfile(kernels, {
    source: 'ONNX Runtime session profiler',
    batchSize: 64,
    warmupSteps: 3,
    steps: 1,
    stepWallMs: [110],
    note: 'a separate session',
  });
}

describe('opProfileSection', () => {
  it('shows each backend’s split and top operators, and why a profile is missing', () => {
    const ort = makeRecord({ backend: 'onnxruntime/cpu', train: [10] });
    ort.opProfile = profile();
    const wasm = makeRecord({ backend: 'tfjs/wasm', train: [20] });
    wasm.opProfileSkipped = 'profiling failed: out of memory';
    const md = opProfileSection([wasm, ort]).join('\n\n');
    expect(md).toContain("## Where a training step's time goes: top operators per backend");
    expect(md).toContain('### Experiment `paper-table2` · model `vgg-small`');
    expect(md).toContain('**onnxruntime/cpu** — batch 64, per-node medians of 1 profiled step after 3 warm-up steps');
    expect(md).toMatch(/forward 30\.0 % \(30(\.0)? ms\) · backward 65\.\d % \(65\.\d ms\) · optimizer 5\.0 %/);
    expect(md).toContain('| `Gemm` | 50.0 | 50.0 % | 1 |  | 50.0 |  |');
    expect(md).toContain(`${TOP_OP_TYPES + 4 - TOP_OP_TYPES} more operator types`);
    expect(md).toContain('**tfjs/wasm** — no profile: profiling failed: out of memory');
    // Backend order as in every other table: tfjs before onnxruntime.
    expect(md.indexOf('**tfjs/wasm**')).toBeLessThan(md.indexOf('**onnxruntime/cpu**'));
  });

  it('is absent when no record asked for a profile, and part of the document when one did', () => {
    const plain = makeRecord({ backend: 'onnxruntime/cpu', train: [10] });
    expect(opProfileSection([plain])).toEqual([]);
    const profiled = makeRecord({ backend: 'onnxruntime/cpu', train: [10] });
    profiled.opProfile = profile();
    const doc = new MarkdownReporter().document([profiled]);
    expect(doc).toContain('top operators per backend');
    expect(new MarkdownReporter().document([plain])).not.toContain('top operators per backend');
  });
});
