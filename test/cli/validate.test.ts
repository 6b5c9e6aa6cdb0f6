/**
 * `expbench validate` as CI uses it: nothing to validate (an empty folder, a folder named like an
 * experiment file) is an error, not "0 valid, 0 invalid"; and EXPBENCH_PROFILE applies as under
 * `vitest run`, so a file that validates does not then fail under the same environment.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expbenchCli } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-validate-'));
beforeAll(() => {
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, 'x.experiment.yaml'));
  writeFileSync(
    join(dir, 'profiled.experiment.yaml'),
    'name: profiled\ndataset: { kind: synthetic, train: 64, test: 32 }\nmodel: { arch: vgg-small }\nbackends: [fake/ok]\nprofiles:\n  small: { training: { batchSize: 16 } }\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nothing to validate is an error', () => {
  test('an empty folder', () => {
    const r = expbenchCli(['validate', 'empty'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('expbench: nothing to validate: no *.experiment.yaml file in empty');
    expect(r.stdout).not.toContain('0 valid');
  });

  test('a folder named like an experiment file', () => {
    const r = expbenchCli(['validate', 'x.experiment.yaml'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('hint: x.experiment.yaml is a folder, not a file;');
  });
});

test('EXPBENCH_PROFILE is read when --profile is not given', () => {
  const ok = expbenchCli(['validate', 'profiled.experiment.yaml'], { cwd: dir, env: { EXPBENCH_PROFILE: 'small' } });
  expect(ok.status, ok.out).toBe(0);
  const bad = expbenchCli(['validate', 'profiled.experiment.yaml'], { cwd: dir, env: { EXPBENCH_PROFILE: 'smal' } });
  expect(bad.status).toBe(1);
  expect(bad.stdout).toContain('profile "smal" (selected by EXPBENCH_PROFILE=smal) is not defined in this file');
  expect(bad.stdout).toContain('did you mean "small"?');
});
