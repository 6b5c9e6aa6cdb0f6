import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxError } from '../../tfjs/helpers.ts';
import { importError } from './helpers.ts';
import { forwardModelBytes } from '../../../src/backends/onnxruntime/forward.ts';
import { OnnxGraph } from '../../../src/backends/onnxruntime/graph.ts';
import { loadOrt } from '../../../src/backends/onnxruntime/runtime.ts';
import { argmaxRows } from '../../../src/backends/onnxruntime/session.ts';
import { uniformStream, initWeights } from '../../../src/models/init.ts';
import type { ModelGraph, NodeDef, Weights } from '../../../src/models/ir.ts';
import { decodeOnnx, importOnnxFile, importOnnxModel } from '../../../src/models/onnx-import/index.ts';
import type { ImportedModel } from '../../../src/models/onnx-import/index.ts';
import { buildModelGraph } from '../../../src/models/index.ts';
import { referenceForward } from '../../../src/models/reference.ts';
import { convPads, resolveGraph, resolveLayers } from '../../../src/models/resolve.ts';

const resnet20 = { arch: 'resnet20', width: 0.25, batchNorm: false, classifier: [], dropout: 0 };
const cifar = { channels: 3, height: 32, width: 32 };
const FIXTURES = join(import.meta.dirname, '../../fixtures/onnx');

/** Inputs in a fixed pseudo-random pattern. */
function images(n: number, shape: number[]): Float32Array {
  const u = uniformStream(7);
  return Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => 2 * u() - 1);
}

/** Seeded weights with batch-norm statistics that are not the identity, so a misplaced one shows. */
function weightsFor(model: ModelGraph): Weights {
  const w = initWeights(model, 3);
  const u = uniformStream(11);
  for (const p of model.params) {
    const d = w[p.name]!.data;
    if (/\.(mean|beta|bias)$/.test(p.name)) for (let i = 0; i < d.length; i++) d[i] = 0.4 * u() - 0.2;
    if (/\.(var|gamma)$/.test(p.name)) for (let i = 0; i < d.length; i++) d[i] = 0.5 + u();
  }
  return w;
}

async function ortLogits(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(bytes);
  try {
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  return maxError(a, b).maxAbs;
}

/** Class id of each row of `logits` (`[rows, classes]`), by the onnxruntime session's own argmax. */
function classIds(logits: ArrayLike<number>, classes: number): number[] {
  const rows = logits.length / classes;
  const out = new Int32Array(rows);
  argmaxRows(logits, rows, classes, out);
  return Array.from(out);
}

/** A node as the round trip must keep it: name, inputs, shape, and the spec with padding as explicit pads. */
function shapeOf(model: ModelGraph) {
  return model.nodes.map((n) => {
    const spec = n.spec.kind === 'conv' ? { ...n.spec, padding: convPads(n) } : n.spec;
    return { name: n.name, inputs: n.inputs, outShape: n.outShape, spec };
  });
}

/** Every IR operator in one graph: residual add, concat, depthwise and dilated conv, both pools, relu6. */
const EVERY_OP: NodeDef[] = [
  { name: 'stem', spec: { kind: 'conv', filters: 6, bias: false, stride: 2 } },
  { name: 'stem.bn', spec: { kind: 'batchnorm' } },
  { name: 'stem.relu', spec: { kind: 'relu6' } },
  { name: 'dw', spec: { kind: 'conv', filters: 6, groups: 6 } },
  { name: 'dw.relu', spec: { kind: 'relu' } },
  { name: 'dil', spec: { kind: 'conv', filters: 6, dilation: 2, padding: 2 } },
  { name: 'sum', spec: { kind: 'add' }, inputs: ['dil', 'stem.relu'] },
  { name: 'side', spec: { kind: 'conv', filters: 2, kernel: 1 }, inputs: ['stem.relu'] },
  { name: 'cat', spec: { kind: 'concat' }, inputs: ['sum', 'side'] },
  { name: 'avg', spec: { kind: 'avgpool', size: 3, stride: 1, padding: 1 } },
  { name: 'max', spec: { kind: 'maxpool', size: 2 } },
  { name: 'gap', spec: { kind: 'globalavgpool' } },
  { name: 'flat', spec: { kind: 'flatten' } },
  { name: 'fc1', spec: { kind: 'dense', units: 5 } },
  { name: 'fc1.bn', spec: { kind: 'batchnorm' } },
  { name: 'fc1.relu', spec: { kind: 'relu' } },
  { name: 'logits', spec: { kind: 'dense', units: 4, bias: false } },
];

describe('ONNX round trip: export → import', () => {
  const cases: Array<[string, ModelGraph]> = [
    ['every operator (DAG)', resolveGraph('every-op', EVERY_OP, [3, 12, 12], 4)],
    [
      'a VGG-style layer list',
      resolveLayers(
        'vgg-like',
        [
          { kind: 'conv', filters: 4 },
          { kind: 'relu' },
          { kind: 'maxpool' },
          { kind: 'conv', filters: 8, stride: 2 },
          { kind: 'batchnorm' },
          { kind: 'relu' },
          { kind: 'flatten' },
          { kind: 'dense', units: 6 },
          { kind: 'relu' },
          { kind: 'dense', units: 3 },
        ],
        [3, 8, 8],
        3,
      ),
    ],
    ['resnet20 (option-A shortcuts: 1×1 strided AveragePool and channel Pad)', buildModelGraph(resnet20, cifar, 10)],
  ];
  for (const [what, model] of cases) {
    it(`${what}: the same graph and weights, and the same logits`, async () => {
      const weights = weightsFor(model);
      const bytes = forwardModelBytes(model, weights);
      const imp = importOnnxModel(decodeOnnx(bytes, `${model.name}.onnx`), { name: model.name });
      expect(shapeOf(imp.model)).toEqual(shapeOf(model));
      expect(imp.model.params).toEqual(model.params);
      expect(imp.model.paramCount).toBe(model.paramCount);
      expect(Object.keys(imp.weights).sort()).toEqual(Object.keys(weights).sort());
      for (const [k, t] of Object.entries(weights)) {
        expect(imp.weights[k]!.shape, k).toEqual(t.shape);
        expect(Buffer.from(imp.weights[k]!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
      }
      const n = 3;
      const x = images(n, model.input);
      // Same IR and weights: the float64 forward passes agree exactly; ONNX Runtime on the file to float32.
      const before = referenceForward(model, weights, x, n);
      const after = referenceForward(imp.model, imp.weights, x, n);
      expect(maxAbsDiff(after, before)).toBe(0);
      const ort = await ortLogits(bytes, x, [n, ...model.input]);
      expect(maxAbsDiff(ort, after)).toBeLessThan(1e-4);
    });
  }
});

describe('ONNX files exported by PyTorch (test/fixtures/onnx, made by bench/onnx-import-check.py)', () => {
  const files: Array<[string, string[]]> = [
    // TorchScript exporter, batch norm folded into Conv, x.view(x.size(0), -1) after GlobalAveragePool.
    ['resnetish-torchscript-opset13.onnx', ['conv', 'add', 'globalavgpool', 'flatten', 'dense']],
    // BatchNormalization kept, ReLU6 as Clip with constant bounds, depthwise Conv, x.mean([2, 3]).
    ['mobilenetish-torchscript-keepbn-opset13.onnx', ['batchnorm', 'relu6', 'add', 'globalavgpool', 'flatten']],
    // Dynamo exporter, opset 18, weights in an external .onnx.data file, Concat, AveragePool, Reshape.
    ['inceptionish-dynamo-opset18.onnx', ['concat', 'maxpool', 'avgpool', 'flatten', 'dense']],
  ];
  for (const [file, kinds] of files) {
    it(`${file}: imports, and infers what ONNX Runtime infers on the untouched file`, async () => {
      const path = join(FIXTURES, file);
      const imp: ImportedModel = importOnnxFile(path);
      const present = new Set(imp.model.nodes.map((n) => n.spec.kind));
      for (const k of kinds) expect(present, k).toContain(k);
      expect(imp.declared.input).toEqual([3, 16, 16]);
      expect(imp.model.numClasses).toBe(10);
      const n = 8;
      const x = images(n, imp.model.input);
      // ONNX Runtime reads the file itself (and its external data) from disk, untouched.
      const ort = await loadOrt();
      const session = await ort.InferenceSession.create(path);
      const out = await session.run({ [imp.declared.inputName]: new ort.Tensor('float32', x, [n, 3, 16, 16]) });
      const y = out[session.outputNames[0]!]!.data as Float32Array;
      await session.release();
      const ref = referenceForward(imp.model, imp.weights, x, n);
      expect(maxAbsDiff(ref, y)).toBeLessThan(1e-4);
      expect(classIds(ref, 10)).toEqual(classIds(y, 10));
    });
  }
});

describe('exporter patterns written by hand', () => {
  /** A graph with a conv stem; `tail` adds the rest and returns the output value. */
  function model(opset: number, tail: (g: OnnxGraph, x: string) => string): Uint8Array {
    const g = new OnnxGraph('patterns', opset);
    g.input('img', 'float32', ['N', 2, 6, 6]);
    const u = uniformStream(5);
    const w = g.floats(
      Array.from({ length: 4 * 2 * 9 }, () => u() - 0.5),
      [4, 2, 3, 3],
      'w',
    );
    const c = g.op('Conv', ['img', w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    g.output(tail(g, c), 'float32', ['N', 3]);
    return g.toModelBytes();
  }
  const dense = (g: OnnxGraph, x: string, fin: number, transB: 0 | 1) => {
    const u = uniformStream(9);
    const w = g.floats(
      Array.from({ length: fin * 3 }, () => u() - 0.5),
      transB ? [3, fin] : [fin, 3],
      'fc.weight',
    );
    return g.op('Gemm', [x, w, g.floats([0.1, -0.2, 0.3], [3], 'fc.bias')], { transB });
  };
  const patterns: Array<[string, number, (g: OnnxGraph, x: string) => string, string[]]> = [
    [
      'x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape, then Gemm transB = 1',
      13,
      (g, x) => {
        const r = g.op('Relu', [x]);
        const shape = g.op('Shape', [r]);
        const n = g.op('Gather', [shape, g.constant('zero', { type: 'int64', dims: [], data: BigInt64Array.of(0n) })], {
          axis: 0,
        });
        const n1 = g.op('Unsqueeze', [n, g.ints([0])]);
        const target = g.op('Concat', [n1, g.ints([-1])], { axis: 0 });
        return dense(g, g.op('Reshape', [r, target]), 4 * 36, 1);
      },
      ['conv', 'relu', 'flatten', 'dense'],
    ],
    [
      'ReLU6 as Clip(0, 6) from Constant nodes, ReduceMean with axes as an input (opset 18), MatMul + Add',
      18,
      (g, x) => {
        const lo = g.op('Constant', [], { value: { type: 'float32', dims: [], data: Float32Array.of(0) } });
        const hi = g.op('Constant', [], { value: { type: 'float32', dims: [], data: Float32Array.of(6) } });
        const r = g.op('Clip', [x, lo, hi]);
        const m = g.op('ReduceMean', [r, g.ints([-1, -2])], { keepdims: 0 });
        const u = uniformStream(4);
        const mm = g.op('MatMul', [
          g.op('Identity', [m]),
          g.constant('h.weight', {
            type: 'float32',
            dims: [4, 3],
            data: Float32Array.from({ length: 12 }, () => u() - 0.5),
          }),
        ]);
        return g.op('Add', [mm, g.constant('h.bias', { type: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) })]);
      },
      ['conv', 'relu6', 'globalavgpool', 'flatten', 'dense'],
    ],
    [
      'GlobalAveragePool → Squeeze, Dropout in inference, Flatten on flat activations, Reshape to [-1, K]',
      13,
      (g, x) => {
        const p = g.op('Squeeze', [g.op('GlobalAveragePool', [x]), g.ints([2, 3])]);
        const d = g.node('Dropout', [p, g.floats([0.3], [], 'ratio')], 1)[0]!;
        const f = g.op('Reshape', [g.op('Flatten', [d], { axis: 1 }), g.ints([-1, 4])]);
        return dense(g, f, 4, 0);
      },
      ['conv', 'globalavgpool', 'flatten', 'dropout', 'dense'],
    ],
  ];
  for (const [what, opset, tail, kinds] of patterns) {
    it(`${what}: imported, same logits as ONNX Runtime`, async () => {
      const bytes = model(opset, tail);
      const imp = importOnnxModel(decodeOnnx(bytes, 'p.onnx'));
      expect(imp.model.nodes.map((n) => n.spec.kind)).toEqual(kinds);
      const x = images(2, [2, 6, 6]);
      const ort = await ortLogits(bytes, x, [2, 2, 6, 6]);
      expect(maxAbsDiff(referenceForward(imp.model, imp.weights, x, 2), ort)).toBeLessThan(1e-5);
      if (what.startsWith('ReLU6')) expect(imp.model.nodes.at(-1)!.name).toBe('h');
    });
  }

  it('a Reshape whose size does not match the activations is a located error naming the node', () => {
    const bytes = model(13, (g, x) => dense(g, g.op('Reshape', [x, g.ints([-1, 100])]), 100, 0));
    const e = importError(() => importOnnxModel(decodeOnnx(bytes, 'p.onnx')));
    expect(e.reason).toBe('shape');
    expect(e.node?.opType).toBe('Reshape');
    expect(e.message).toMatch(/reshapes to \[N, 100\] but the activations have 144 features/);
  });
});

describe('what the importer refuses, and how it says so', () => {
  const withNode = (op: string, attrs: Record<string, number | number[]> = {}, opset = 13): Uint8Array => {
    const g = new OnnxGraph('bad', opset);
    g.input('x', 'float32', ['N', 1, 4, 4]);
    const w = g.floats(new Float32Array(2 * 1 * 3 * 3).fill(0.1), [2, 1, 3, 3], 'c.weight');
    const c = g.op('Conv', ['x', w], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
    const y = g.node(op, [c], ['odd'], attrs)[0]!;
    const f = g.op('Flatten', [y]);
    g.output(g.op('Gemm', [f, g.floats(new Float32Array(32 * 2).fill(0.1), [32, 2])]), 'float32', ['N', 2]);
    return g.toModelBytes();
  };

  it('an unsupported operator: the ONNX node, its op type and the supported set', () => {
    const e = importError(() => importOnnxModel(decodeOnnx(withNode('Sigmoid'), 'model.onnx')));
    expect(e.reason).toBe('unsupported-op');
    expect(e.code).toBe('MODEL_IMPORT');
    expect(e.node).toMatchObject({ opType: 'Sigmoid', index: 1 });
    expect(e.message).toMatch(
      /^model\.onnx: ONNX node 1 "n_Sigmoid__\d+" \(Sigmoid\): operator Sigmoid is not supported/,
    );
    expect(e.hint).toMatch(/Conv, BatchNormalization, Relu, Clip, MaxPool/);
  });

  it('an unsupported attribute: names it and says what is supported', () => {
    const e = importError(() =>
      importOnnxModel(decodeOnnx(withNode('MaxPool', { kernel_shape: [2, 3], strides: [1, 1] }), 'model.onnx')),
    );
    expect(e.reason).toBe('unsupported-attribute');
    expect(e.message).toMatch(/\(MaxPool\): kernel_shape \[2, 3\] is not the same along height and width/);
    const clip = importError(() => {
      const g = new OnnxGraph('clip', 13);
      g.input('x', 'float32', ['N', 4]);
      const y = g.op('Clip', ['x', g.floats([-1], []), g.floats([1], [])]);
      g.output(g.op('Gemm', [y, g.floats(new Float32Array(8), [4, 2])]), 'float32', ['N', 2]);
      return importOnnxModel(decodeOnnx(g.toModelBytes(), 'clip.onnx'));
    });
    expect(clip.message).toMatch(/input x is float32 \[N, 4\]/);
  });

  it('an opset older than 13 is refused with the opset to export at', () => {
    const e = importError(() => importOnnxModel(decodeOnnx(withNode('Relu', {}, 11), 'old.onnx')));
    expect(e.reason).toBe('unsupported-model');
    expect(e.message).toMatch(/operator set 11.*opset_version=13/);
  });
});
