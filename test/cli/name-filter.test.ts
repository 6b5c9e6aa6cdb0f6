/**
 * `-t` filters: the README's examples select the cases they name (checked against the names Vitest
 * matches, `<experiment> [<arch>] <backend> <test>` joined by spaces), a filter that matches nothing
 * fails the run with the names it could have matched, and such a run, holding only skipped records,
 * is not the run `expbench baseline update` picks.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { newestRun } from '../../src/cli/baseline-command.ts';
import { vitestEntry } from '../../src/cli/main.ts';
import { expandCases, loadExperiment } from '../../src/config/index.ts';

const REPO = join(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'expbench-filter-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every experiment file of the repository, by experiment name. */
function experimentsByName(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.experiment.yaml')) {
        const file = join(dir, e.name);
        out.set(loadExperiment(file, { profile: null }).name, file);
      }
    }
  };
  walk(join(REPO, 'experiments'));
  return out;
}

describe('the README examples of -t', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const filters = [...readme.matchAll(/-t "([^"]+)"/g)].map((m) => m[1]!);

  test('there are some, and each selects a case of the experiment it names', () => {
    expect(filters.length).toBeGreaterThan(0);
    const files = experimentsByName();
    for (const f of filters) {
      const name = f.split(' ')[0]!;
      const file = files.get(name);
      expect(file, `README: -t "${f}" names no experiment`).toBeDefined();
      const testNames = expandCases(loadExperiment(file!, { profile: null })).map(
        (c) => `${c.key.replaceAll(' › ', ' ')} train`,
      );
      expect(
        testNames.some((n) => new RegExp(f).test(n)),
        `README: -t "${f}" matches none of ${testNames.join('; ')}`,
      ).toBe(true);
    }
  });
});

describe('a filter that matches nothing', () => {
  test('fails the run, naming the filter and showing real test names', () => {
    const results = join(tmp, 'results');
    const r = spawnSync(
      process.execPath,
      [
        vitestEntry(),
        'run',
        '--root',
        join(REPO, 'test/fixtures/plugin'),
        'good.experiment.yaml',
        '-t',
        'good › fake/ok',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, EXPBENCH_RESULTS_DIR: results, EXPBENCH_RUN_ID: 'filter', CI: 'true', NO_COLOR: '1' },
        timeout: 120_000,
      },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(1);
    expect(out).toContain('expbench: the test name filter -t "good › fake/ok" matched no test, so nothing ran');
    expect(out).toContain('"good fake/ok build+init"');
  }, 150_000);

  test('leaves a run of skipped records that baseline update passes over for the run before it', () => {
    const root = join(tmp, 'runs');
    const record = (run: string, status: string, age: number): void => {
      mkdirSync(join(root, run), { recursive: true });
      writeFileSync(join(root, run, 'x.json'), JSON.stringify({ status }));
      const t = Date.now() / 1000 - age;
      utimesSync(join(root, run), t, t);
    };
    record('older', 'passed', 100);
    record('filtered', 'skipped', 10);
    expect(newestRun(root)).toBe(join(root, 'older'));
    record('newest', 'failed', 1);
    expect(newestRun(root)).toBe(join(root, 'newest'));
  });
});
