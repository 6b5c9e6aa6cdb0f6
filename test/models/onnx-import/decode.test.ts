import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxGraph } from '../../../src/backends/onnxruntime/graph.ts';
import { decodeOnnx, readOnnxFile } from '../../../src/models/onnx-import/decode.ts';
import { importError } from './helpers.ts';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'expbench-onnx-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A two-node model written by expbench's own ONNX writer. */
function smallModel(): Uint8Array {
  const g = new OnnxGraph('small', 13);
  g.input('x', 'float32', ['N', 2]);
  g.constant('w', { type: 'float32', dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
  const shape = g.ints([-1, 3]);
  const y = g.op('MatMul', ['x', 'w']);
  g.op('Reshape', [y, shape], {}, 'y');
  g.node('Clip', ['y'], ['z'], { min: { float: 0 }, max: { float: 6.5 } });
  g.output('z', 'float32', ['N', 3]);
  return g.toModelBytes();
}

describe('decodeOnnx', () => {
  it('reads nodes, attributes, inputs, outputs and initializers', () => {
    const m = decodeOnnx(smallModel(), 'small.onnx');
    expect(m.opsets).toEqual({ '': 13 });
    expect(m.irVersion).toBeGreaterThan(0);
    expect(m.inputs).toEqual([{ name: 'x', elemType: 'float32', dims: ['N', 2] }]);
    expect(m.outputs).toEqual([{ name: 'z', elemType: 'float32', dims: ['N', 3] }]);
    expect(m.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Reshape', 'Clip']);
    expect(m.nodes[2]!.attrs.max).toEqual({ type: 'float', value: 6.5 });
    const w = m.initializers.get('w')!;
    expect(w.kind).toBe('float');
    expect(w.dims).toEqual([2, 3]);
    expect(Array.from(w.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const shape = [...m.initializers.values()].find((t) => t.kind === 'int')!;
    expect(shape.data).toEqual([-1, 3]);
  });

  it('reads weights stored as external data beside the file, and says when that file is short', () => {
    const floats = Float32Array.from([0.5, -1, 2]);
    const data = new Uint8Array(8 + floats.byteLength);
    data.set(new Uint8Array(floats.buffer), 8);
    writeFileSync(join(dir, 'ext.onnx.data'), data);
    const tensor = (length: number) =>
      onnx.TensorProto.create({
        name: 'w',
        dims: [3],
        dataType: onnx.TensorProto.DataType.FLOAT,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: 'ext.onnx.data' },
          { key: 'offset', value: '8' },
          { key: 'length', value: String(length) },
        ],
      });
    const model = (length: number) =>
      onnx.ModelProto.encode(
        onnx.ModelProto.create({
          irVersion: 8,
          opsetImport: [{ domain: '', version: 17 }],
          graph: { name: 'g', initializer: [tensor(length)] },
        }),
      ).finish();
    writeFileSync(join(dir, 'ext.onnx'), model(12));
    expect(Array.from(readOnnxFile(join(dir, 'ext.onnx')).initializers.get('w')!.data)).toEqual([0.5, -1, 2]);
    writeFileSync(join(dir, 'ext-short.onnx'), model(16));
    const e = importError(() => readOnnxFile(join(dir, 'ext-short.onnx')));
    expect(e.reason).toBe('truncated');
    expect(e.message).toMatch(/ext\.onnx\.data.*bytes 8–24.*20 bytes/);
    rmSync(join(dir, 'ext.onnx.data'));
    const missing = importError(() => readOnnxFile(join(dir, 'ext.onnx')));
    expect(missing.reason).toBe('read');
    expect(missing.message).toMatch(/ext\.onnx\.data, which cannot be read/);
  });

  it('a file cut short anywhere is a "truncated" error naming the file, never a crash', () => {
    const bytes = smallModel();
    const cuts = [3, 10, 40, Math.floor(bytes.length / 2), bytes.length - 20, bytes.length - 1];
    for (const cut of cuts) {
      const e = importError(() => decodeOnnx(bytes.subarray(0, cut), 'cut.onnx'));
      expect(e.reason, `cut at ${cut} of ${bytes.length}`).toBe('truncated');
      expect(e.code).toBe('MODEL_IMPORT');
      expect(e.message).toMatch(/^cut\.onnx: .*Hint: .*cut short/);
    }
  });

  it('a file that is not ONNX says so', () => {
    for (const text of ['name: table2\nmodel: { arch: vgg11 }\n', '{"irVersion": 8}', '\u0000\u0001garbage']) {
      const e = importError(() => decodeOnnx(new TextEncoder().encode(text), 'x.onnx'));
      expect(e.reason).toBe('not-onnx');
      expect(e.message).toMatch(/not an ONNX model.*Hint: give the path of a model saved by torch\.onnx\.export/);
    }
    expect(importError(() => decodeOnnx(new Uint8Array(), 'empty.onnx')).message).toMatch(/empty/);
  });

  it('a missing file is a "read" error', () => {
    const e = importError(() => readOnnxFile(join(dir, 'nope.onnx')));
    expect(e.reason).toBe('read');
    expect(e.message).toMatch(/no such file/);
  });
});
