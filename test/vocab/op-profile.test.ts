/**
 * The profile summary every backend shares: per-step means by operator type, node and section, shares
 * of the kernel time, and the section fill-in for kernels the graph does not name.
 */
import { describe, expect, it } from 'vitest';
import { aggregateOpProfile, fillSections, type KernelTiming, TOP_NODES } from '../../src/vocab/op-profile.ts';

const meta = { source: 'test', batchSize: 8, warmupSteps: 1, steps: 2, stepWallMs: [12, 14], note: 'n' };

describe('aggregateOpProfile', () => {
  const kernels: KernelTiming[] = [
    // Two steps of: conv (forward) 4 ms, conv (backward) 3 ms + gemm 2 ms, add (optimizer) 1 ms.
    ...[0, 1].flatMap((step) => [
      { node: 'c1', op: 'Conv', section: 'forward' as const, ms: 4, step },
      { node: 'c1.dx', op: 'Conv', section: 'backward' as const, ms: 3, step },
      { node: 'c1.dw', op: 'Gemm', section: 'backward' as const, ms: 2, step },
      { node: 'upd', op: 'Add', section: 'optimizer' as const, ms: 1, step },
    ]),
  ];
  const p = aggregateOpProfile(kernels, meta);

  it('takes each node’s median step and shares the kernel time', () => {
    expect(p.kernelMs).toBeCloseTo(10);
    expect(p.stepMs).toBeCloseTo(13);
    expect(p.sections.forward).toEqual({ ms: 4, share: 0.4 });
    expect(p.sections.backward.ms).toBeCloseTo(5);
    expect(p.sections.optimizer.share).toBeCloseTo(0.1);
    expect(p.sections.other.ms).toBe(0);
  });

  it('orders operator types by time, with calls and per-section time', () => {
    expect(p.byOpType.map((o) => o.op)).toEqual(['Conv', 'Gemm', 'Add']);
    expect(p.byOpType[0]).toMatchObject({ ms: 7, share: 0.7, calls: 2, sections: { forward: 4, backward: 3 } });
    expect(p.byOpType.reduce((s, o) => s + o.share, 0)).toBeCloseTo(1);
  });

  it('keeps nodes apart and caps them', () => {
    expect(p.byNode.map((n) => n.node)).toEqual(['c1', 'c1.dx', 'c1.dw', 'upd']);
    expect(p.byNode[1]).toMatchObject({ op: 'Conv', section: 'backward', ms: 3, share: 0.3 });
    const many = Array.from({ length: TOP_NODES + 5 }, (_, i) => ({
      node: `n${i}`,
      op: 'Relu',
      section: 'forward' as const,
      ms: i + 1,
      step: 0,
    }));
    const q = aggregateOpProfile(many, { ...meta, steps: 1 });
    expect(q.byNode).toHaveLength(TOP_NODES);
    expect(q.byNode[0]!.node).toBe(`n${TOP_NODES + 4}`);
  });

  it('rejects a profile of no steps, and kernels of steps it does not have', () => {
    expect(() => aggregateOpProfile(kernels, { ...meta, steps: 0 })).toThrow(/positive integer/);
    expect(() => aggregateOpProfile(kernels, { ...meta, steps: 1 })).toThrow(/step 1, outside 0\.\.0/);
  });

  it('is not moved by one preempted kernel: each node counts its median step', () => {
    const k = (node: string, ms: number, step: number): KernelTiming => ({
      node,
      op: 'Conv',
      section: 'forward',
      ms,
      step,
    });
    // Node a: 10, 10, 500 (preempted once); node b: runs twice per step, 2 + 3 each time.
    const q = aggregateOpProfile(
      [k('a', 10, 0), k('a', 10, 1), k('a', 500, 2), ...[0, 1, 2].flatMap((s) => [k('b', 2, s), k('b', 3, s)])],
      { ...meta, steps: 3, stepWallMs: [20, 600, 21] },
    );
    expect(q.byNode.map((n) => [n.node, n.ms])).toEqual([
      ['a', 10],
      ['b', 5],
    ]);
    expect(q.kernelMs).toBe(15);
    expect(q.stepMs).toBe(21);
    expect(q.byOpType[0]).toMatchObject({ op: 'Conv', ms: 15, calls: 3 });
  });
});

describe('fillSections', () => {
  it('gives unnamed kernels the section before them, leading ones the next, and other when none', () => {
    const seq = [
      { node: 'reorder0', section: undefined },
      { node: 'a', section: 'forward' as const },
      { node: 'reorder1', section: undefined },
      { node: 'b', section: 'backward' as const },
      { node: 'reorder2', section: undefined },
    ];
    expect(fillSections(seq).map((k) => k.section)).toEqual(['forward', 'forward', 'forward', 'backward', 'backward']);
    expect(fillSections([{ section: undefined }]).map((k) => k.section)).toEqual(['other']);
  });
});
