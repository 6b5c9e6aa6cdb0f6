/**
 * `training.keepWeights` in the runner: the first repeat writes the weights its session reports after
 * training beside the record, as an ONNX model named by the IR's parameters, and the record names the
 * file; a write that fails fails the case in phase `keep-weights` with a whole record that names no
 * weights; without the option nothing is written. (The fake backend reports its load-time weights;
 * test/cli/model-weights.test.ts trains real backends and checks the weights are the trained ones.)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { buildModel } from '../../src/models/index.ts';
import { readKeptWeights } from '../../src/models/kept-weights.ts';
import { recordFileName, runCase, weightsFileName } from '../../src/runner/case.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-keep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const source = (keep: boolean) => `name: keep
dataset: { kind: synthetic, train: 32, test: 16, imageSize: 8, classes: 4 }
model: { arch: custom, batchNorm: true, classifier: [], layers: [{ conv: 4 }, relu, { maxpool: 2 }] }
training: { epochs: 1, batchSize: 16, seed: 5, keepWeights: ${keep} }
backends: [fake/ok]
repeats: 2
parity: { enabled: false }
`;

function caseOf(keep: boolean) {
  const exp = parseExperiment(source(keep), join(dir, 'keep.experiment.yaml'), { profile: null });
  return { exp, c: expandCases(exp)[0]! };
}

test('the first repeat keeps the weights beside the record, which names them', async () => {
  const { exp, c } = caseOf(true);
  const resultsDir = join(dir, 'kept');
  const r = await runCase(c, { runId: 'kept', resultsDir });
  expect(r.status).toBe('passed');
  const stored = JSON.parse(readFileSync(join(resultsDir, recordFileName(c.key)), 'utf8')) as ResultRecord;
  const file = join(resultsDir, weightsFileName(c.key));
  expect(stored.weights).toEqual({
    file: weightsFileName(c.key),
    format: 'onnx',
    seed: 5,
    params: stored.experiment.paramCount,
    bytes: statSync(file).size,
  });
  expect(readdirSync(resultsDir).sort()).toEqual([recordFileName(c.key), weightsFileName(c.key)].sort());
  // The fake backend reports the weights it was loaded with: the seeded ones, every parameter.
  const { model, weights } = buildModel(exp.model, { channels: 3, height: 8, width: 8 }, 4, 5);
  const back = readKeptWeights(file, model);
  expect(Object.keys(back)).toEqual(model.params.map((p) => p.name));
  for (const p of model.params) expect(back[p.name]!.data, p.name).toEqual(weights[p.name]!.data);
});

test('a write that fails fails the case in phase keep-weights; the record is whole and names no weights', async () => {
  const { c } = caseOf(true);
  const resultsDir = join(dir, 'blocked');
  // A folder where the weights file goes: the rename that completes the atomic write cannot replace it.
  mkdirSync(join(resultsDir, weightsFileName(c.key)), { recursive: true });
  const r = await runCase(c, { runId: 'blocked', resultsDir });
  expect(r.status).toBe('failed');
  if (r.status !== 'failed') return;
  expect(r.error.phase).toBe('keep-weights');
  expect(r.error.message).toMatch(/\.weights\.onnx: cannot write the ONNX model/);
  const stored = JSON.parse(readFileSync(join(resultsDir, recordFileName(c.key)), 'utf8')) as ResultRecord;
  expect(stored.status).toBe('failed');
  expect(stored.weights).toBeUndefined();
});

test('without keepWeights no weights are written', async () => {
  const { c } = caseOf(false);
  const resultsDir = join(dir, 'none');
  const r = await runCase(c, { runId: 'none', resultsDir });
  expect(r.status).toBe('passed');
  expect(r.weights).toBeUndefined();
  expect(existsSync(join(resultsDir, weightsFileName(c.key)))).toBe(false);
});
