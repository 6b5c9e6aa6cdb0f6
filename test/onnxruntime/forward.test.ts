import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildForwardGraph, exportOnnx } from '../../src/backends/onnxruntime/forward.ts';
import type { ForwardGraph } from '../../src/backends/onnxruntime/forward.ts';
import type { ModelConfig } from '../../src/config/types.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, uniformStream } from '../../src/models/init.ts';
import type { ModelGraph, Weights } from '../../src/models/ir.ts';
import { compareLogits, formatParity } from '../../src/models/parity.ts';
import { referenceForward } from '../../src/models/reference.ts';

const cfg = (arch: string, over: Partial<ModelConfig> = {}): ModelConfig => ({
  arch,
  width: 1,
  batchNorm: false,
  classifier: [256],
  dropout: 0,
  ...over,
});
const CIFAR = { channels: 3, height: 32, width: 32 };
const TOL = 1e-4;
const dir = mkdtempSync(join(tmpdir(), 'expbench-forward-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomInput(n: number, model: ModelGraph, seed: number): Float32Array {
  const u = uniformStream(seed);
  const per = model.input.reduce((a, b) => a * b, 1);
  // Roughly the range of normalised CIFAR pixels.
  return Float32Array.from({ length: n * per }, () => 4 * u() - 2);
}

/** Makes batch-norm statistics and affine parameters non-trivial, so a wrong wiring shows. */
function perturbBatchNorm(model: ModelGraph, w: Weights, seed: number): Weights {
  const u = uniformStream(seed);
  for (const p of model.params) {
    if (!p.name.startsWith('bn')) continue;
    const d = w[p.name]!.data;
    for (let i = 0; i < d.length; i++)
      d[i] = p.name.endsWith('.var') || p.name.endsWith('.gamma') ? 0.5 + u() : u() - 0.5;
  }
  return w;
}

function feeds(fg: ForwardGraph, w: Weights, x: Float32Array, n: number): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = { [fg.input]: new ort.Tensor('float32', x, [n, ...fg.model.input]) };
  for (const [name, value] of Object.entries(fg.paramInputs)) {
    if (fg.graph.inputs.some((i) => i.name === value))
      f[value] = new ort.Tensor('float32', w[name]!.data, w[name]!.shape);
  }
  return f;
}

async function runOrt(fg: ForwardGraph, w: Weights, x: Float32Array, n: number, fetch: string[] = [fg.logits]) {
  const session = await ort.InferenceSession.create(fg.graph.toModelBytes(), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 2,
  });
  try {
    return await session.run(feeds(fg, w, x, n), fetch);
  } finally {
    await session.release();
  }
}

async function checkParity(model: ModelGraph, w: Weights, n: number, seed: number) {
  const fg = buildForwardGraph(model, { weights: 'inputs', batch: 'N', mode: 'inference' });
  const x = randomInput(n, model, seed);
  const out = await runOrt(fg, w, x, n);
  const got = out[fg.logits]!.data as Float32Array;
  expect(out[fg.logits]!.dims).toEqual([n, model.numClasses]);
  const ref = referenceForward(model, w, x, n);
  const c = compareLogits(got, ref, TOL, {
    actual: 'onnxruntime/cpu',
    reference: 'float64 reference',
    numClasses: model.numClasses,
  });
  if (!c.passed) throw new Error(formatParity(c));
  return c;
}

describe('ONNX forward graph vs the float64 reference', () => {
  const rows: string[] = [];
  afterAll(() => console.log(`max rel error vs float64 reference (tolerance ${TOL})\n${rows.join('\n')}`));

  it('vgg-small at full width', async () => {
    const model = buildModelGraph(cfg('vgg-small'), CIFAR, 10);
    const c = await checkParity(model, initWeights(model, 1), 2, 11);
    rows.push(`vgg-small w=1      ${c.maxRel.toExponential(2)}`);
  });

  for (const arch of ['vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19']) {
    it(`${arch} at width 0.125`, async () => {
      const model = buildModelGraph(cfg(arch, { width: 0.125 }), CIFAR, 10);
      const c = await checkParity(model, initWeights(model, 2), 2, 12);
      rows.push(`${arch.padEnd(9)} w=0.125  ${c.maxRel.toExponential(2)}`);
    });
  }

  it('batch norm (running statistics) and dropout (identity) at inference', async () => {
    const model = buildModelGraph(
      cfg('vgg11', { width: 0.125, batchNorm: true, dropout: 0.5, classifier: [32, 16] }),
      CIFAR,
      10,
    );
    const c = await checkParity(model, perturbBatchNorm(model, initWeights(model, 3), 4), 3, 13);
    rows.push(`vgg11 bn+dropout   ${c.maxRel.toExponential(2)}`);
  });

  it('custom geometry: valid padding, even kernel with stride 2 (SAME_UPPER), 3×3/2 pools', async () => {
    const model = buildModelGraph(
      cfg('custom', {
        classifier: [16],
        layers: [
          { kind: 'conv', filters: 6, kernel: 5, padding: 'valid' },
          { kind: 'relu' },
          { kind: 'maxpool', size: 3, stride: 2 },
          { kind: 'conv', filters: 5, kernel: 4, stride: 2 },
          { kind: 'batchnorm' },
          { kind: 'relu' },
          { kind: 'conv', filters: 4, kernel: 3, padding: 2, bias: false },
        ],
      }),
      { channels: 2, height: 19, width: 19 },
      7,
    );
    const c = await checkParity(model, perturbBatchNorm(model, initWeights(model, 5), 6), 2, 14);
    rows.push(`custom             ${c.maxRel.toExponential(2)}`);
  });

  it('training mode: batch statistics and the Dropout mask it reports', async () => {
    const model = buildModelGraph(
      cfg('vgg-small', { width: 0.125, batchNorm: true, dropout: 0.3, classifier: [24] }),
      { channels: 3, height: 8, width: 8 },
      5,
    );
    const w = perturbBatchNorm(model, initWeights(model, 7), 8);
    const fg = buildForwardGraph(model, { weights: 'inputs', batch: 4, mode: 'training', dropoutSeed: 99 });
    expect(fg.batchNormUpdates.map((b) => [b.meanParam, b.newMean])).toEqual([
      ['bn1.mean', 'bn1.mean.next'],
      ['bn2.mean', 'bn2.mean.next'],
      ['bn3.mean', 'bn3.mean.next'],
      ['bn4.mean', 'bn4.mean.next'],
    ]);
    expect(fg.dropouts).toHaveLength(1);
    const mask = fg.dropouts[0]!.mask;
    fg.graph.output(mask, 'bool', [4, 24]);
    const x = randomInput(4, model, 15);
    const out = await runOrt(fg, w, x, 4, [fg.logits, mask]);
    const keep = out[mask]!.data as Uint8Array;
    // Some dropped and some kept, so the mask is really applied.
    expect(new Set(keep).size).toBe(2);
    const scaled = Float64Array.from(keep, (k) => (k ? 1 / (1 - 0.3) : 0));
    const ref = referenceForward(model, w, x, 4, { training: true, dropoutMasks: { drop1: scaled } });
    const c = compareLogits(out[fg.logits]!.data as Float32Array, ref, TOL, { numClasses: 5 });
    if (!c.passed) throw new Error(formatParity(c));
    // Running statistics do not change the training-mode output, unlike at inference.
    const inf = referenceForward(model, w, x, 4);
    expect(compareLogits(out[fg.logits]!.data as Float32Array, inf, TOL).passed).toBe(false);
  });

  it('a corrupted weight fails the parity check with a readable message', async () => {
    const model = buildModelGraph(cfg('vgg-small', { width: 0.125 }), { channels: 3, height: 16, width: 16 }, 10);
    const w = initWeights(model, 9);
    const fg = buildForwardGraph(model, { weights: 'inputs', batch: 'N', mode: 'inference' });
    const x = randomInput(2, model, 16);
    const good = await runOrt(fg, w, x, 2);
    const bad: Weights = {
      ...w,
      'conv3.weight': { shape: w['conv3.weight']!.shape, data: w['conv3.weight']!.data.slice() },
    };
    bad['conv3.weight']!.data[17] = bad['conv3.weight']!.data[17]! * -3;
    const corrupted = await runOrt(fg, bad, x, 2);
    const ref = referenceForward(model, w, x, 2);
    expect(compareLogits(good[fg.logits]!.data as Float32Array, ref, TOL).passed).toBe(true);
    const c = compareLogits(corrupted[fg.logits]!.data as Float32Array, ref, TOL, {
      actual: 'onnxruntime/cpu',
      reference: 'float64 reference',
      numClasses: 10,
    });
    expect(c.passed).toBe(false);
    const msg = formatParity(c);
    expect(msg).toMatch(
      /^logits of onnxruntime\/cpu differ from float64 reference: max rel error [\d.e+-]+ > tolerance 1\.000e-4 \(max abs [\d.e+-]+ at example [01], class \d \(index \d+\): [-\d.e+]+ vs [-\d.e+]+; reference scale [\d.e+-]+; 20 logits compared\)\. Hint: /,
    );
  });
});

describe('exportOnnx', () => {
  it('writes a standalone model that reloads and gives the same logits', async () => {
    const model = buildModelGraph(cfg('vgg-small', { width: 0.25, batchNorm: true }), CIFAR, 10);
    const w = perturbBatchNorm(model, initWeights(model, 10), 11);
    const path = join(dir, 'vgg-small.onnx');
    await exportOnnx(model, w, path);
    const bytes = readFileSync(path);
    const session = await ort.InferenceSession.create(path);
    try {
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['logits']);
      // Opset 17 and weights stored in the file (about 4 bytes per parameter).
      expect(bytes.length).toBeGreaterThan(model.paramCount * 4);
      const x = randomInput(3, model, 17);
      const out = await session.run({ input: new ort.Tensor('float32', x, [3, 3, 32, 32]) });
      const c = compareLogits(out.logits!.data as Float32Array, referenceForward(model, w, x, 3), TOL);
      if (!c.passed) throw new Error(formatParity(c));
    } finally {
      await session.release();
    }
  });

  it('names the file when it cannot write', async () => {
    const model = buildModelGraph(cfg('vgg-small', { width: 0.125 }), CIFAR, 10);
    await expect(exportOnnx(model, initWeights(model, 1), join(dir, 'missing', 'x.onnx'))).rejects.toThrow(
      /missing\/x\.onnx: cannot write the ONNX model.*Hint:/,
    );
  });

  it('rejects weights of the wrong shape', () => {
    const model = buildModelGraph(cfg('vgg-small', { width: 0.125 }), CIFAR, 10);
    const w = initWeights(model, 1);
    w['fc1.weight'] = { shape: [10, 10], data: new Float32Array(100) };
    expect(() =>
      buildForwardGraph(model, { weights: 'initializers', weightsData: w, batch: 1, mode: 'inference' }),
    ).toThrow(/fc1\.weight have shape 10×10.*needs 1024×256/);
  });
});
