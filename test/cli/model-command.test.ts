import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadOrt } from '../../src/backends/onnxruntime/runtime.ts';
import { runModelCommand } from '../../src/cli/model-command.ts';
import { uniformStream } from '../../src/models/init.ts';
import type { GraphNode } from '../../src/models/ir.ts';
import { importOnnxFile } from '../../src/models/onnx-import/index.ts';
import { resolveGraph } from '../../src/models/resolve.ts';
import { nodeMultiplyAdds } from '../../src/models/cost.ts';

const tmp = mkdtempSync(join(tmpdir(), 'expbench-model-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIXTURE = join(import.meta.dirname, '../fixtures/onnx/resnetish-torchscript-opset13.onnx');

function capture() {
  const lines: string[] = [];
  return {
    lines,
    io: {
      out: (s: string) => void lines.push(s),
      err: (s: string) => void lines.push(s),
    },
  };
}

describe('expbench model', () => {
  test('multiply-adds: conv O·H′·W′·(I/g)·k², depthwise and dense; element-wise nodes none', () => {
    const m = resolveGraph(
      'm',
      [
        { spec: { kind: 'conv', filters: 4, stride: 2 } },
        { spec: { kind: 'conv', filters: 4, groups: 4 } },
        { spec: { kind: 'relu' } },
        { spec: { kind: 'flatten' } },
        { spec: { kind: 'dense', units: 3 } },
      ],
      [2, 8, 8],
      3,
    );
    expect(m.nodes.map((n: GraphNode) => nodeMultiplyAdds(n))).toEqual([4 * 16 * 2 * 9, 4 * 16 * 9, 0, 0, 64 * 3]);
  });

  test('prints the table with totals, and --onnx writes a model ONNX Runtime runs like the source file', async () => {
    copyFileSync(FIXTURE, join(tmp, 'net.onnx'));
    const exp = join(tmp, 'byo.experiment.yaml');
    writeFileSync(
      exp,
      'name: byo\ndataset: { kind: synthetic, train: 64, test: 16 }\nmodel: { onnx: net.onnx }\nbackends: [onnxruntime/cpu]\n',
    );
    const { lines, io } = capture();
    const out = join(tmp, 'out.onnx');
    expect(await runModelCommand({ file: exp, profile: '', onnx: out }, io)).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/^onnx: input 3×16×16, 10 classes/);
    expect(text).toMatch(/add1 +add +b1c2, relu1 +8×16×16/);
    expect(text).toMatch(/b2proj +conv 1×1\/2 +relu3 +16×8×8 +144 +8,192/);
    expect(text).toMatch(/5,194 trainable parameters, 579,744 multiply-adds per example/);
    // The written file re-imports to the same graph and weights, and ONNX Runtime gives the same logits.
    const a = importOnnxFile(FIXTURE);
    const b = importOnnxFile(out);
    expect(b.model.nodes.map((n) => [n.name, n.spec.kind, n.inputs])).toEqual(
      a.model.nodes.map((n) => [n.name, n.spec.kind, n.inputs]),
    );
    for (const [k, t] of Object.entries(a.weights))
      expect(Array.from(b.weights[k]!.data), k).toEqual(Array.from(t.data));
    const ort = await loadOrt();
    const u = uniformStream(2);
    const x = Float32Array.from({ length: 2 * 3 * 16 * 16 }, () => u() - 0.5);
    const run = async (path: string) => {
      const s = await ort.InferenceSession.create(path);
      const y = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [2, 3, 16, 16]) }))[s.outputNames[0]!]!;
      await s.release();
      return Array.from(y.data as Float32Array);
    };
    const [ya, yb] = [await run(FIXTURE), await run(out)];
    for (const [i, v] of yb.entries()) expect(Math.abs(v - ya[i]!)).toBeLessThan(1e-5);
  });
});
