/**
 * The record carries the model's size and cost: trainable parameters and multiply-adds per example,
 * from the same graph the backends build (here a graph-shaped ResNet on the fake backend).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { multiplyAdds } from '../../src/models/cost.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { recordFileName, runCase } from '../../src/runner/case.ts';
import type { ResultRecord } from '../../src/runner/record.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-cost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a ResNet case records its parameter count and multiply-adds per example', async () => {
  const exp = parseExperiment(
    `name: cost
dataset: { kind: synthetic, train: 32, test: 16, imageSize: 8, classes: 4 }
model: { arch: resnet20, width: 0.25 }
training: { epochs: 1, batchSize: 16 }
backends: [fake/ok]
parity: { enabled: false }
`,
    join(dir, 'cost.experiment.yaml'),
    { profile: null },
  );
  const [c] = expandCases(exp);
  const r = await runCase(c!, { runId: 'cost', resultsDir: dir });
  expect(r.status).toBe('passed');
  const stored = JSON.parse(readFileSync(join(dir, recordFileName(c!.key)), 'utf8')) as ResultRecord;
  const graph = buildModelGraph(exp.model, { channels: 3, height: 8, width: 8 }, 4);
  expect(stored.experiment.paramCount).toBe(graph.paramCount);
  expect(stored.experiment.multiplyAddsPerExample).toBe(multiplyAdds(graph));
  expect(stored.experiment.multiplyAddsPerExample).toBeGreaterThan(graph.paramCount);
});
