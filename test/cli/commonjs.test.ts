/**
 * A user's project in a folder without `"type": "module"`: its Vitest config imports the plugin and
 * the reporter, a tsx script imports the data layer. Neither may load the charting stack (vega has a
 * top-level await, which CommonJS cannot require), so figures load it only when they are drawn.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { vitestEntry } from '../../src/cli/main.ts';
import { TINY_EXPERIMENT } from './helpers.ts';

const REPO = join(import.meta.dirname, '../..');
const project = mkdtempSync(join(tmpdir(), 'expbench-cjs-'));
const src = (p: string): string => JSON.stringify(join(REPO, 'src', p));

beforeAll(() => {
  writeFileSync(join(project, 'package.json'), '{ "name": "user-project", "private": true }\n');
  symlinkSync(join(REPO, 'node_modules'), join(project, 'node_modules'), 'dir');
  writeFileSync(
    join(project, 'vitest.config.ts'),
    `import { defineConfig } from 'vitest/config';
import { ExpbenchReporter } from ${src('index.ts')};
import { expbench } from ${src('plugin/index.ts')};
export default defineConfig({
  plugins: [expbench()],
  test: { include: ['*.experiment.yaml'], reporters: ['default', new ExpbenchReporter()] },
});
`,
  );
  writeFileSync(join(project, 'tiny.experiment.yaml'), TINY_EXPERIMENT);
  writeFileSync(
    join(project, 'load-data.ts'),
    `import { ExpbenchReporter } from ${src('index.ts')};
import { loadDataset } from ${src('data/index.ts')};
console.log(\`loaded: \${typeof loadDataset} \${typeof ExpbenchReporter}\`);
`,
  );
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

const env = {
  ...process.env,
  EXPBENCH_RESULTS_DIR: join(project, 'results'),
  EXPBENCH_REPORT_DIR: join(project, 'report'),
  EXPBENCH_RUN_ID: 'cjs',
  CI: 'true',
  NO_COLOR: '1',
};

test('a Vitest config in a CommonJS folder loads the plugin and the reporter, and runs', () => {
  const r = spawnSync(process.execPath, [vitestEntry(), 'run', '--root', project], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(out).not.toMatch(/ERR_REQUIRE_ASYNC_MODULE/);
  expect(r.status, out).toBe(0);
  expect(out).toMatch(/tiny\.experiment\.yaml/);
}, 150_000);

test('a tsx script in a CommonJS folder imports src/data and the public API', () => {
  const tsx = join(REPO, 'node_modules/tsx/dist/cli.mjs');
  const r = spawnSync(process.execPath, [tsx, 'load-data.ts'], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(`${r.stdout}${r.stderr}`).toMatch(/^loaded: function function$/m);
  expect(r.status).toBe(0);
}, 90_000);
