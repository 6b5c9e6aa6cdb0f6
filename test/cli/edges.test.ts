/**
 * Messages of the command line for inputs that used to mislead: a symlink loop read "no such file",
 * and a corrupt baseline's hint named a `--update-baseline` option that exists nowhere, printed twice.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigError, loadExperiment } from '../../src/config/index.ts';
import { makeRecord } from '../reporters/fixtures.ts';
import { expbenchCli } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a symlink loop is named as one, by validate and by the loader', () => {
  symlinkSync(join(dir, 'b.experiment.yaml'), join(dir, 'a.experiment.yaml'));
  symlinkSync(join(dir, 'a.experiment.yaml'), join(dir, 'b.experiment.yaml'));
  const r = expbenchCli(['validate', 'a.experiment.yaml'], { cwd: dir });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(
    'expbench: a.experiment.yaml: a symbolic link that cannot be followed (it leads back to itself, a symlink loop)',
  );
  expect(() => loadExperiment(join(dir, 'a.experiment.yaml'), { profile: null })).toThrow(ConfigError);
  expect(() => loadExperiment(join(dir, 'a.experiment.yaml'), { profile: null })).toThrow(
    /cannot read the experiment file: a symbolic link that leads back to itself \(a symlink loop\)/,
  );
});

test('a corrupt baseline names the real command in its hint, once', () => {
  mkdirSync(join(dir, 'res'));
  writeFileSync(join(dir, 'res/r.json'), JSON.stringify(makeRecord({ backend: 'tfjs/wasm', runId: 'r1' })));
  writeFileSync(join(dir, 'baseline.json'), '{bad');
  const r = expbenchCli(['baseline', 'update', 'res', '--file', 'baseline.json'], { cwd: dir });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('baseline file is not valid JSON');
  expect(r.stderr).not.toContain('--update-baseline');
  expect(r.stderr.match(/record a new baseline with `expbench baseline update`/g)).toHaveLength(1);
});
