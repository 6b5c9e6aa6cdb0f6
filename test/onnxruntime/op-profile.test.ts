/**
 * Per-operator profiles on ONNX Runtime: the sections of the generated training graph, the parser on a
 * hand-made trace (warm-up runs dropped, inserted nodes placed), and a real profile of a tiny model's
 * training step through the backend, which must leave the weights as they were.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from '../../src/backends/onnxruntime/index.ts';
import { parseOrtProfile } from '../../src/backends/onnxruntime/op-profile.ts';
import { buildTrainStepGraph } from '../../src/backends/onnxruntime/train-graph.ts';
import type { LoadOptions } from '../../src/backends/types.ts';
import { identityOrder } from '../../src/data/batch.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import { patternDataset } from '../tfjs/helpers.ts';

const INPUT = { channels: 2, height: 8, width: 8 };
const model = buildModelGraph(
  {
    arch: 'custom',
    width: 1,
    batchNorm: false,
    classifier: [6],
    dropout: 0,
    layers: [{ kind: 'conv', filters: 4 }, { kind: 'relu' }, { kind: 'maxpool' }],
  },
  INPUT,
  3,
);
const optimizer = { kind: 'sgd' as const, lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };

describe('training-graph sections', () => {
  it('puts the forward pass and loss, the gradients and the update in order', () => {
    const g = buildTrainStepGraph(model, { batch: 4, optimizer });
    const order = g.graph.nodes.map((n) => g.sections.get(n.name));
    expect(order.every((s) => s !== undefined)).toBe(true);
    const first = (s: string) => order.indexOf(s as never);
    const last = (s: string) => order.lastIndexOf(s as never);
    expect(first('forward')).toBe(0);
    expect(last('forward')).toBeLessThan(first('backward'));
    expect(last('backward')).toBeLessThan(first('optimizer'));
    expect(last('optimizer')).toBe(order.length - 1);
    // The forward convolution is forward; the Conv computing its input gradient is not there (the
    // first conv needs none), its filter gradient is backward.
    const conv = g.graph.nodes.find((n) => n.op === 'Conv')!;
    expect(g.sections.get(conv.name)).toBe('forward');
    const gemms = g.graph.nodes.filter((n) => n.op === 'Gemm').map((n) => g.sections.get(n.name));
    expect(gemms).toContain('backward');
  });
});

describe('parseOrtProfile', () => {
  it('keeps the runs after the warm-up, in order, and places nodes ONNX Runtime inserted', () => {
    const sections = new Map([
      ['conv', 'forward' as const],
      ['dconv', 'backward' as const],
      ['upd', 'optimizer' as const],
    ]);
    const run = (ts: number) => [
      { cat: 'Session', name: 'model_run', ts, dur: 100 },
      { cat: 'Node', name: 'ReorderInput_kernel_time', ts: ts + 1, dur: 5000, args: { op_name: 'ReorderInput' } },
      { cat: 'Node', name: 'conv_kernel_time', ts: ts + 10, dur: 20_000, args: { op_name: 'FusedConv' } },
      { cat: 'Node', name: 'conv_fence_before', ts: ts + 11, dur: 1 },
      { cat: 'Node', name: 'reorder_out_kernel_time', ts: ts + 30, dur: 1000, args: { op_name: 'ReorderOutput' } },
      { cat: 'Node', name: 'dconv_kernel_time', ts: ts + 50, dur: 40_000, args: { op_name: 'Conv' } },
      { cat: 'Node', name: 'upd/Fusion/_kernel_time', ts: ts + 90, dur: 2000, args: { op_name: 'FusedMul' } },
    ];
    const trace = [...run(0), ...run(1000), ...run(2000)];
    const { kernels, runMs } = parseOrtProfile(trace, sections, 1);
    expect(runMs).toEqual([0.1, 0.1]);
    expect(kernels).toHaveLength(10);
    expect(kernels.slice(5).every((k) => k.step === 1)).toBe(true);
    expect(kernels.slice(0, 5)).toEqual([
      { node: 'ReorderInput', op: 'ReorderInput', ms: 5, section: 'forward', step: 0 },
      { node: 'conv', op: 'FusedConv', ms: 20, section: 'forward', step: 0 },
      { node: 'reorder_out', op: 'ReorderOutput', ms: 1, section: 'forward', step: 0 },
      { node: 'dconv', op: 'Conv', ms: 40, section: 'backward', step: 0 },
      { node: 'upd/Fusion/', op: 'FusedMul', ms: 2, section: 'optimizer', step: 0 },
    ]);
  });

  it('says so when the trace is not an event list', () => {
    expect(() => parseOrtProfile({ traceEvents: [] }, new Map(), 0)).toThrow(/profile format/);
  });
});

describe('profileOps on onnxruntime/cpu', () => {
  it('profiles real steps by section and operator and leaves the weights untouched', async () => {
    const ds = patternDataset({ train: 16, test: 8, size: 8, channels: 2, classes: 3, noise: 10, seed: 5 });
    const opts: LoadOptions = { optimizer, trainBatchSize: 4, inferBatchSize: 4, seed: 1, dataset: ds };
    const session = await createOrtBackend('cpu').load(model, initWeights(model, 2), opts);
    try {
      const before = await session.getWeights();
      const p = await session.profileOps!({
        split: ds.train,
        batchSize: 4,
        order: identityOrder(ds.train.n),
        warmupSteps: 1,
        steps: 2,
      });
      expect(p.steps).toBe(2);
      expect(p.batchSize).toBe(4);
      expect(p.kernelMs).toBeGreaterThan(0);
      expect(p.stepMs).toBeGreaterThan(0);
      for (const s of ['forward', 'backward', 'optimizer'] as const) expect(p.sections[s].ms).toBeGreaterThan(0);
      expect(p.byOpType.reduce((s, o) => s + o.share, 0)).toBeCloseTo(1, 6);
      // The CPU trainer's graph takes the max-pool gradient by MaxUnpool (CPU_FORMULATION).
      expect(p.byOpType.map((o) => o.op)).toEqual(expect.arrayContaining(['Gemm', 'MaxPool', 'MaxUnpool']));
      expect(p.byOpType.some((o) => /Conv/.test(o.op))).toBe(true);
      const after = await session.getWeights();
      for (const name of Object.keys(before)) expect(after[name]!.data).toEqual(before[name]!.data);
    } finally {
      await session.dispose();
    }
  });
});
