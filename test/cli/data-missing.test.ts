/**
 * A case whose dataset is missing fails all six of its tests; the DATA_MISSING message (what was
 * looked for, how to get it) is shown once per case, and the other tests refer to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expbenchCli } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-nodata-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the missing-data message appears once per case', () => {
  writeFileSync(
    join(dir, 'nodata.experiment.yaml'),
    'name: nodata\ndataset: { kind: cifar10, train: 64, test: 64 }\nmodel: { arch: vgg-small, width: 0.125 }\ntraining: { epochs: 1, batchSize: 32 }\nbackends: [fake/ok]\nparity: { enabled: false }\n',
  );
  const r = expbenchCli(['run', 'nodata.experiment.yaml', '--results', 'res'], {
    cwd: dir,
    env: { EXPBENCH_DATA: join(dir, 'empty'), XDG_CACHE_HOME: join(dir, 'cache') },
  });
  expect(r.status).toBe(1);
  expect(r.out.match(/CIFAR-10 not found/g)).toHaveLength(1);
  expect(r.out).toContain('nodata › fake/ok: failed [DATA_MISSING], shown in full under "build+init"');
  expect(r.out.match(/shown in full under "build\+init"/g)).toHaveLength(5);
}, 150_000);
