import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.ts';
import { initWeights } from '../../src/models/init.ts';
import { GRAPH_INPUT } from '../../src/models/ir.ts';
import type { NodeDef } from '../../src/models/ir.ts';
import { channelsLastPlan } from '../../src/models/layout.ts';
import { referenceForward } from '../../src/models/reference.ts';
import { resolveGraph, resolveLayers } from '../../src/models/resolve.ts';

function thrown(fn: () => unknown): ModelError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error('expected a ModelError');
}

/** A residual block and a two-branch concat: every graph feature in one small net. */
const DAG: NodeDef[] = [
  { name: 'stem', spec: { kind: 'conv', filters: 4, bias: false } },
  { name: 'stem.bn', spec: { kind: 'batchnorm' } },
  { name: 'stem.relu', spec: { kind: 'relu' } },
  { name: 'a', spec: { kind: 'conv', filters: 4 }, inputs: ['stem.relu'] },
  { name: 'a.relu', spec: { kind: 'relu6' } },
  { name: 'sum', spec: { kind: 'add' }, inputs: ['a.relu', 'stem.relu'] },
  { name: 'b', spec: { kind: 'conv', filters: 2, kernel: 1 }, inputs: ['stem.relu'] },
  { name: 'cat', spec: { kind: 'concat' }, inputs: ['sum', 'b'] },
  { name: 'pool', spec: { kind: 'globalavgpool' } },
  { name: 'flat', spec: { kind: 'flatten' } },
  { name: 'fc', spec: { kind: 'dense', units: 3 } },
];

describe('graph IR', () => {
  it('resolves a DAG: named edges, fan-out, two-input nodes, shapes and parameters', () => {
    const m = resolveGraph('dag', DAG, [2, 5, 5], 3);
    expect(m.nodes.map((n) => `${n.name}<${n.inputs.join(',')}>${n.outShape.join('x')}`)).toEqual([
      `stem<${GRAPH_INPUT}>4x5x5`,
      'stem.bn<stem>4x5x5',
      'stem.relu<stem.bn>4x5x5',
      'a<stem.relu>4x5x5',
      'a.relu<a>4x5x5',
      'sum<a.relu,stem.relu>4x5x5',
      'b<stem.relu>2x5x5',
      'cat<sum,b>6x5x5',
      'pool<cat>6x1x1',
      'flat<pool>6',
      'fc<flat>3',
    ]);
    expect(m.params.map((p) => `${p.name}:${p.shape.join('x')}:${p.init}`)).toEqual([
      'stem.weight:4x2x3x3:he',
      'stem.bn.gamma:4:ones',
      'stem.bn.beta:4:zeros',
      'stem.bn.mean:4:zeros',
      'stem.bn.var:4:ones',
      'a.weight:4x4x3x3:he',
      'a.bias:4:zeros',
      // reaches no ReLU, only the concat, pooling and the classifier
      'b.weight:2x4x1x1:glorot',
      'b.bias:2:zeros',
      'fc.weight:6x3:glorot',
      'fc.bias:3:zeros',
    ]);
    // No spatial flatten of more than one pixel: nothing permuted for channels-last backends.
    expect([...channelsLastPlan(m).values()].filter((c) => c.kind === 'flatten-rows')).toEqual([]);
  });

  it('a straight list is the special case: each node reads the one before, names as before', () => {
    const m = resolveLayers(
      'custom',
      [{ kind: 'conv', filters: 2 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', units: 2 }],
      [1, 3, 3],
      2,
    );
    expect(m.nodes.map((n) => [n.name, n.inputs])).toEqual([
      ['conv1', [GRAPH_INPUT]],
      ['relu1', ['conv1']],
      ['flatten1', ['relu1']],
      ['fc1', ['flatten1']],
    ]);
  });

  it('the float64 reference evaluates add and concat from the shared branch', () => {
    const m = resolveGraph('dag', DAG, [2, 5, 5], 3);
    const w = initWeights(m, 3);
    const x = Array.from({ length: 2 * 50 }, (_, i) => Math.sin(i * 0.7));
    const cut = (k: number) => referenceForward({ ...m, nodes: m.nodes.slice(0, k) }, w, x, 2);
    const shared = cut(3);
    const a = cut(5);
    const sum = cut(6);
    for (let i = 0; i < sum.length; i++) expect(sum[i]).toBeCloseTo(a[i]! + shared[i]!, 12);
    expect(a.every((v) => v >= 0 && v <= 6)).toBe(true);
    const b = cut(7);
    const cat = cut(8);
    // Per example: the 4 channels of sum, then the 2 of b.
    for (let n = 0; n < 2; n++) {
      expect(Array.from(cat.subarray(n * 150, n * 150 + 100))).toEqual(
        Array.from(sum.subarray(n * 100, n * 100 + 100)),
      );
      expect(Array.from(cat.subarray(n * 150 + 100, n * 150 + 150))).toEqual(
        Array.from(b.subarray(n * 50, n * 50 + 50)),
      );
    }
    const pooled = cut(9);
    expect(pooled[7]).toBeCloseTo(cat.subarray(175, 200).reduce((s, v) => s + v, 0) / 25, 12);
  });

  it('locates bad edges: unknown or later inputs, wrong arity, shape mismatch, dead nodes, taken names', () => {
    const with_ = (k: number, over: Partial<NodeDef>) => DAG.map((d, i) => (i === k ? { ...d, ...over } : d));
    const r = (defs: NodeDef[]) => thrown(() => resolveGraph('dag', defs, [2, 5, 5], 3));
    expect(r(with_(5, { inputs: ['a.relu', 'nope'] })).message).toMatch(
      /layer 5 \(sum, add\): reads "nope", which no node is/,
    );
    expect(r(with_(3, { inputs: ['cat'] })).message).toMatch(/reads "cat", which comes at or after it.*no cycles/);
    expect(r(with_(5, { inputs: ['a.relu'] })).message).toMatch(/reads 1 input\(s\) but a add joins two or more/);
    expect(r(with_(3, { inputs: ['stem', 'stem.bn'] })).message).toMatch(/reads 2 inputs but a conv reads exactly one/);
    expect(r(with_(5, { inputs: ['a.relu', GRAPH_INPUT] })).message).toMatch(
      /adds a\.relu 4×5×5 and input 2×5×5, which differ/,
    );
    expect(r(with_(7, { inputs: ['sum', 'stem.relu'] })).message).toMatch(/layer 6 \(b, .*\): feeds no node/);
    expect(r(with_(1, { name: 'stem' })).message).toMatch(/already taken by an earlier node/);
    expect(r(with_(0, { name: GRAPH_INPUT })).message).toMatch(/already taken by the image input/);
  });
});
