/**
 * `training.keepWeights`: a case trains a tiny network (batch norm included, so running statistics
 * travel too) on onnxruntime/cpu and on tfjs/cpu and keeps its trained weights beside its record;
 * `expbench model --onnx --weights` writes the model with them. The exported file, run by ONNX Runtime,
 * predicts the test split exactly as the trained session did in the case's process (the record's
 * accuracy), gives the logits the backend itself gives on the kept weights, and differs from the seeded
 * model, so a file holding anything but the trained weights fails.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import { loadOrt } from '../../src/backends/onnxruntime/runtime.ts';
import type { BackendId } from '../../src/backends/types.ts';
import { runModelCommand } from '../../src/cli/model-command.ts';
import { expandCases, loadExperiment } from '../../src/config/load.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import { loadDataset } from '../../src/data/index.ts';
import { buildModel } from '../../src/models/index.ts';
import { readKeptWeights } from '../../src/models/kept-weights.ts';
import { recordFileName, runCase, weightsFileName } from '../../src/runner/case.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const tmp = mkdtempSync(join(tmpdir(), 'expbench-keep-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = { out: () => {}, err: () => {} };

function experimentFile(backend: BackendId): string {
  const file = join(tmp, `keep-${backend.replace('/', '-')}.experiment.yaml`);
  writeFileSync(
    file,
    `name: keep
dataset: { kind: synthetic, train: 64, test: 32, imageSize: 8, classes: 4 }
model: { arch: custom, batchNorm: true, classifier: [], layers: [{ conv: 4 }, relu, { maxpool: 2 }] }
training: { epochs: 2, batchSize: 16, optimizer: { kind: sgd, lr: 0.1, momentum: 0.9 }, seed: 3, keepWeights: true }
backends: [${backend}]
parity: { enabled: false }
`,
  );
  return file;
}

/** Logits of an ONNX file for `x` (NCHW, `n` examples) by ONNX Runtime, untouched by expbench. */
async function ortLogits(file: string, x: Float32Array, n: number, shape: number[]): Promise<Float32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(file);
  try {
    const y = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [n, ...shape]) });
    return Float32Array.from(y[s.outputNames[0]!]!.data as Float32Array);
  } finally {
    await s.release();
  }
}

const argmax = (logits: Float32Array, classes: number, i: number) => {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
  return best;
};

describe('trained weights kept and exported as ONNX', () => {
  for (const backend of ['onnxruntime/cpu', 'tfjs/cpu'] as const) {
    test(`${backend}: kept beside the record, exported, same predictions and logits, not the seeded model`, async () => {
      const file = experimentFile(backend);
      const exp = loadExperiment(file, { profile: null });
      const [c] = expandCases(exp);
      const resultsDir = join(tmp, `run-${backend.replace('/', '-')}`);
      const r = await runCase(c!, { runId: 'keep', resultsDir });
      expect(r.status, JSON.stringify(r.error)).toBe('passed');
      const stored = JSON.parse(readFileSync(join(resultsDir, recordFileName(c!.key)), 'utf8')) as ResultRecord;
      const kept = join(resultsDir, weightsFileName(c!.key));
      expect(stored.weights).toEqual({
        file: weightsFileName(c!.key),
        format: 'onnx',
        seed: 3,
        params: r.experiment.paramCount,
        bytes: statSync(kept).size,
      });

      // The model with the trained weights, from the run's record folder, and with the seeded ones.
      const trainedOnnx = join(tmp, `${backend.replace('/', '-')}-trained.onnx`);
      const seededOnnx = join(tmp, `${backend.replace('/', '-')}-seeded.onnx`);
      expect(await runModelCommand({ file, onnx: trainedOnnx, weights: resultsDir }, quiet)).toBe(0);
      expect(await runModelCommand({ file, onnx: seededOnnx }, quiet)).toBe(0);
      // The case's record and the kept file itself stand for the same weights as the folder.
      for (const weights of [join(resultsDir, recordFileName(c!.key)), kept]) {
        const again = join(tmp, 'again.onnx');
        expect(await runModelCommand({ file, onnx: again, weights }, quiet)).toBe(0);
        expect(readFileSync(again).equals(readFileSync(trainedOnnx)), weights).toBe(true);
      }

      const data = await loadDataset(exp.dataset, { baseDir: tmp });
      const n = data.test.n;
      const shape = [data.channels, data.height, data.width];
      const x = new Float32Array(n * data.channels * data.height * data.width);
      fillBatch(data.test, data, data.normalization, identityOrder(n), 0, n, 'NCHW', x);
      const classes = data.numClasses;
      const trained = await ortLogits(trainedOnnx, x, n, shape);
      const seeded = await ortLogits(seededOnnx, x, n, shape);

      // The trained session's own predictions in the case's process gave the record's accuracy.
      let correct = 0;
      for (let i = 0; i < n; i++) if (argmax(trained, classes, i) === data.test.labels[i]) correct++;
      expect(correct / n).toBe(r.accuracy!.samples[0]);

      // The backend's own inference on the kept weights gives the exported file's logits.
      const { model } = buildModel(exp.model, { channels: 3, height: 8, width: 8 }, classes, exp.training.seed);
      const weights = readKeptWeights(kept, model);
      const b = await getBackend(backend);
      const session = await b.load(model, weights, {
        optimizer: exp.training.optimizer,
        labelSmoothing: 0,
        trainBatchSize: n,
        inferBatchSize: n,
        seed: 3,
        dataset: data,
        training: false,
      });
      const own = await session.logits(x, n);
      await session.dispose();
      let maxDiff = 0;
      let moved = 0;
      for (let i = 0; i < trained.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(trained[i]! - own[i]!));
        moved = Math.max(moved, Math.abs(trained[i]! - seeded[i]!));
      }
      expect(maxDiff).toBeLessThan(1e-4);
      expect(moved).toBeGreaterThan(1e-2);
    });
  }
});

describe('--weights errors', () => {
  test('a missing path, a folder without kept weights, weights of another model: each says what and where', async () => {
    const file = experimentFile('onnxruntime/cpu');
    const out = join(tmp, 'err.onnx');
    await expect(runModelCommand({ file, onnx: out, weights: join(tmp, 'nope') }, quiet)).rejects.toThrow(
      /--weights .*nope: no such file or folder\. Hint: give a run's record folder/,
    );
    const empty = join(tmp, 'empty-run');
    mkdirSync(empty);
    await expect(runModelCommand({ file, onnx: out, weights: empty }, quiet)).rejects.toThrow(
      /empty-run: holds no record of experiment keep/,
    );
    await expect(runModelCommand({ file, weights: empty }, quiet)).rejects.toThrow(/--weights goes with --onnx/);
    // Two cases of the experiment kept weights in one run: the user picks one.
    const two = join(tmp, 'two.experiment.yaml');
    writeFileSync(two, readFileSync(file, 'utf8').replace('[onnxruntime/cpu]', '[fake/ok, fake/paced]'));
    const twoExp = loadExperiment(two, { profile: null });
    const twoRun = join(tmp, 'two-run');
    for (const c of expandCases(twoExp))
      expect((await runCase(c, { runId: 'two', resultsDir: twoRun })).status).toBe('passed');
    await expect(runModelCommand({ file: two, onnx: out, weights: twoRun }, quiet)).rejects.toThrow(
      /two-run: holds 2 records of experiment keep with weights \(.*fake-ok\.weights\.onnx: fake\/ok, .*fake-paced\.weights\.onnx: fake\/paced\)\. Hint: pass the \.weights\.onnx file/,
    );
    // A model file of another network: the first parameter the experiment's model needs is named.
    const other = join(tmp, 'other.experiment.yaml');
    writeFileSync(other, readFileSync(file, 'utf8').replace('{ conv: 4 }', '{ conv: 5 }'));
    const otherOnnx = join(tmp, 'other.onnx');
    expect(await runModelCommand({ file: other, onnx: otherOnnx }, quiet)).toBe(0);
    await expect(runModelCommand({ file, onnx: out, weights: otherOnnx }, quiet)).rejects.toThrow(
      /other\.onnx: parameter 1 of \d+, "conv1\.weight" is 5×3×3×3 in the file; the experiment's model needs 4×3×3×3 float32/,
    );
    const noBn = join(tmp, 'nobn.experiment.yaml');
    writeFileSync(noBn, readFileSync(file, 'utf8').replace('batchNorm: true', 'batchNorm: false'));
    const noBnOnnx = join(tmp, 'nobn.onnx');
    expect(await runModelCommand({ file: noBn, onnx: noBnOnnx }, quiet)).toBe(0);
    await expect(runModelCommand({ file, onnx: out, weights: noBnOnnx }, quiet)).rejects.toThrow(
      /nobn\.onnx: has no weights for parameter \d+ of \d+, "[^"]+\.(gamma|beta|mean|var)"/,
    );
  });
});
