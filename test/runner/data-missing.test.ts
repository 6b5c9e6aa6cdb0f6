/** A case whose data is missing fails in load-data with the error's hint: the command that fetches it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { runCase } from '../../src/runner/case.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-nodata-'));
const saved = { data: process.env.EXPBENCH_DATA, cache: process.env.XDG_CACHE_HOME };
afterAll(() => {
  for (const [k, v] of [
    ['EXPBENCH_DATA', saved.data],
    ['XDG_CACHE_HOME', saved.cache],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

test('missing CIFAR-10 fails the case in load-data and says how to get it', async () => {
  process.env.EXPBENCH_DATA = join(dir, 'empty');
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
  const exp = parseExperiment(
    'name: nodata\ndataset: { kind: cifar10, train: 64, test: 64 }\nmodel: { arch: vgg-small, width: 0.125 }\nbackends: [fake/ok]\nparity: { enabled: false }\n',
    join(dir, 'nodata.experiment.yaml'),
    { profile: null },
  );
  const r = await runCase(expandCases(exp)[0]!, { runId: 'nodata', resultsDir: dir });
  expect(r.status).toBe('failed');
  expect(r.error).toMatchObject({ code: 'DATA_MISSING', phase: 'load-data' });
  expect(r.error?.message).toMatch(/Hint: .*npx expbench data cifar10/);
}, 60_000);
