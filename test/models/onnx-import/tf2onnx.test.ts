/**
 * What tf2onnx writes for Keras models, and how expbench maps it: an NHWC input transposed to NCHW
 * before the first Conv, a Transpose back to NHWC before a Keras Flatten (the next dense layer's rows
 * reordered into the IR's C-major flatten), and a batch norm left as Conv → Mul → Add (folded into the
 * Conv). Two files exported by bench/onnx-import-check-tf.py (test/fixtures/onnx) are checked against
 * ONNX Runtime on the untouched file, the patterns one at a time on graphs written here, and the
 * refusals of what stays outside them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxGraph } from '../../../src/backends/onnxruntime/graph.ts';
import { loadOrt } from '../../../src/backends/onnxruntime/runtime.ts';
import { uniformStream } from '../../../src/models/init.ts';
import { nchwToNhwc } from '../../../src/models/layout.ts';
import {
  declaredOnnxGeometry,
  decodeOnnx,
  importOnnxFile,
  importOnnxModel,
} from '../../../src/models/onnx-import/index.ts';
import { referenceForward } from '../../../src/models/reference.ts';
import { maxError } from '../../tfjs/helpers.ts';
import { importError } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/onnx');

function images(n: number, shape: number[]): Float32Array {
  const u = uniformStream(7);
  return Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => 2 * u() - 1);
}

async function ortLogits(model: string | Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const ort = await loadOrt();
  const s =
    typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const argmax = (y: Float32Array, classes: number) =>
  Array.from({ length: y.length / classes }, (_, i) => {
    const row = Array.from(y.subarray(i * classes, (i + 1) * classes));
    return row.indexOf(Math.max(...row));
  });

describe('ONNX files exported by tf2onnx from Keras (test/fixtures/onnx, made by bench/onnx-import-check-tf.py)', () => {
  const files: Array<[string, 'NCHW' | 'NHWC', string[]]> = [
    // NHWC input, Concat of two branches, pooling, Keras Flatten (Transpose to NHWC + Reshape), MatMul + Add.
    ['inceptionish-tf2onnx-nhwc-opset13.onnx', 'NHWC', ['concat', 'maxpool', 'avgpool', 'flatten', 'dense']],
    // inputs_as_nchw, ReLU6 as Clip, depthwise Conv whose batch norm is Mul + Add, GlobalAveragePool + Squeeze.
    ['mobilenetish-tf2onnx-nchw-opset17.onnx', 'NCHW', ['conv', 'relu6', 'add', 'globalavgpool', 'flatten', 'dense']],
  ];
  for (const [file, layout, kinds] of files) {
    it(`${file}: imports, and infers what ONNX Runtime infers on the untouched file`, async () => {
      const path = join(FIXTURES, file);
      const imp = importOnnxFile(path);
      expect(imp.declared.layout).toBe(layout);
      expect(imp.declared.input).toEqual([3, 16, 16]);
      expect(declaredOnnxGeometry(path)).toEqual({ input: [3, 16, 16], classes: 10 });
      const present = new Set(imp.model.nodes.map((n) => n.spec.kind));
      for (const k of kinds) expect(present, k).toContain(k);
      expect(present.has('batchnorm')).toBe(false);
      const n = 8;
      const x = images(n, [3, 16, 16]);
      const y =
        layout === 'NHWC'
          ? await ortLogits(path, nchwToNhwc(x, [n, 3, 16, 16]), [n, 16, 16, 3])
          : await ortLogits(path, x, [n, 3, 16, 16]);
      const ref = referenceForward(imp.model, imp.weights, x, n);
      expect(maxError(ref, y).maxAbs).toBeLessThan(1e-4);
      expect(argmax(Float32Array.from(ref), 10)).toEqual(argmax(y, 10));
    });
  }
});

describe('tf2onnx patterns written by hand', () => {
  const u = uniformStream(13);
  const rand = (n: number) => Array.from({ length: n }, () => u() - 0.5);

  it('NHWC input → Transpose → Conv → Mul, Add per channel → Relu → Transpose → Reshape → MatMul + Add', async () => {
    const g = new OnnxGraph('keras', 13);
    g.input('img', 'float32', ['N', 5, 4, 2]); // H 5, W 4, C 2: every axis tells
    const x = g.op('Transpose', ['img'], { perm: [0, 3, 1, 2] });
    const c = g.op('Conv', [x, g.floats(rand(3 * 2 * 9), [3, 2, 3, 3]), g.floats([0.1, 0.2, 0.3], [3])], {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
    });
    const s = g.op('Mul', [c, g.floats([1.5, -0.5, 2], [3, 1, 1])]);
    const b = g.op('Add', [g.floats([0.2, -0.1, 0.4], [1, 3, 1, 1]), s]);
    const t = g.op('Transpose', [g.op('Relu', [b])], { perm: [0, 2, 3, 1] });
    const f = g.op('Reshape', [t, g.ints([-1, 60])]);
    const d = g.op('MatMul', [f, g.floats(rand(60 * 4), [60, 4])]);
    g.output(g.op('Add', [d, g.floats([0.1, 0.2, 0.3, 0.4], [4])]), 'float32', ['N', 4]);
    const bytes = g.toModelBytes();
    const imp = importOnnxModel(decodeOnnx(bytes, 'keras.onnx'));
    expect(imp.declared).toMatchObject({ input: [2, 5, 4], layout: 'NHWC' });
    expect(imp.model.nodes.map((n) => n.spec.kind)).toEqual(['conv', 'relu', 'flatten', 'dense']);
    const x0 = images(3, [2, 5, 4]);
    const y = await ortLogits(bytes, nchwToNhwc(x0, [3, 2, 5, 4]), [3, 5, 4, 2]);
    expect(maxError(referenceForward(imp.model, imp.weights, x0, 3), y).maxAbs).toBeLessThan(1e-5);
  });

  it('what stays outside: a scale of a Conv output read elsewhere, other permutations, NHWC activations into an operator', () => {
    const conv = (g: OnnxGraph, x: string) =>
      g.op('Conv', [x, g.floats(rand(2 * 2 * 9), [2, 2, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const head = (g: OnnxGraph, y: string) => {
      g.output(g.op('Gemm', [g.op('Flatten', [y]), g.floats(rand(2 * 16 * 3), [32, 3])]), 'float32', ['N', 3]);
      return decodeOnnx(g.toModelBytes(), 'tf.onnx');
    };
    // The Conv's output is also added to the scaled one: folding the scale would change both.
    let g = new OnnxGraph('shared', 13);
    g.input('x', 'float32', ['N', 2, 4, 4]);
    let c = conv(g, 'x');
    let e = importError(() =>
      importOnnxModel(head(g, g.op('Add', [g.op('Mul', [c, g.floats([2, 3], [2, 1, 1])]), c]))),
    );
    expect(e.message).toMatch(/\(Mul\): a Mul is only supported as a per-channel \(or scalar\) scale of a Conv output/);
    // A [C] constant broadcasts along the width, not the channels.
    g = new OnnxGraph('width', 13);
    g.input('x', 'float32', ['N', 2, 4, 4]);
    e = importError(() => importOnnxModel(head(g, g.op('Mul', [conv(g, 'x'), g.floats([1, 2, 3, 4], [4])]))));
    expect(e.node?.opType).toBe('Mul');
    // A Transpose that is not one of the layout changes.
    g = new OnnxGraph('perm', 13);
    g.input('x', 'float32', ['N', 2, 4, 4]);
    e = importError(() => importOnnxModel(head(g, g.op('Transpose', [conv(g, 'x')], { perm: [0, 1, 3, 2] }))));
    expect(e.message).toMatch(/\(Transpose\): Transpose with perm \[0, 1, 3, 2\] of NCHW activations is not supported/);
    // NHWC activations into a Conv (no Transpose back to NCHW).
    g = new OnnxGraph('nhwc', 13);
    g.input('x', 'float32', ['N', 2, 4, 4]);
    c = g.op('Transpose', [conv(g, 'x')], { perm: [0, 2, 3, 1] });
    e = importError(() => importOnnxModel(head(g, conv(g, c))));
    expect(e.message).toMatch(/\(Conv\): its input \(\S+\) is in channels-last order \(transposed to NHWC\)/);
    expect(e.hint).toMatch(/a Transpose back to NCHW, a Flatten or Reshape, then a dense layer/);
  });
});
