/**
 * Interruption: writers of records, the baseline and reports are killed with SIGKILL at 50 random
 * points, several at once. Afterwards every stored file parses and none is half-written, and the next
 * run starts cleanly (the baseline accepts an update despite any lock a killed writer held).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { readBaseline, updateBaseline } from '../../src/runner/baseline.ts';
import { uniformStream } from '../../src/models/init.ts';
import { makeRecord } from './baseline-fixtures.ts';

const require = createRequire(import.meta.url);
const TSX = pathToFileURL(require.resolve('tsx')).href;
const WRITER = join(import.meta.dirname, 'kill-writer.ts');
const dir = mkdtempSync(join(tmpdir(), 'expbench-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a writer, waits until it writes, lets it run `ms`, then kills it with SIGKILL. */
function killAfter(id: number, ms: number): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, WRITER, dir, String(id)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), ms));
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve(signal) : reject(new Error(`writer ${id} exited ${code}: ${err}`)),
    );
  });
}

function allFiles(root: string): string[] {
  return readdirSync(root).flatMap((e) => {
    const p = join(root, e);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

test('50 kills at random points leave every record, baseline and report whole', async () => {
  mkdirSync(join(dir, 'records'), { recursive: true });
  const rand = uniformStream(20261125);
  const KILLS = 50;
  const WAVE = 10;
  for (let wave = 0; wave < KILLS / WAVE; wave++) {
    await Promise.all(
      Array.from({ length: WAVE }, (_, i) => killAfter(wave * WAVE + i, 100 + Math.floor(rand() * 2400))),
    );
  }
  const files = allFiles(dir).filter((f) => !f.includes('.lock'));
  const json = files.filter((f) => f.endsWith('.json'));
  const md = files.filter((f) => f.endsWith('.md'));
  // Temporary files of interrupted writes may remain; the files readers look at must all be whole.
  for (const f of json) expect(() => JSON.parse(readFileSync(f, 'utf8')), f).not.toThrow();
  for (const f of md) expect(readFileSync(f, 'utf8'), f).toMatch(/\n$/);
  const baseline = await readBaseline(join(dir, 'baseline.json'));
  expect(Object.keys(baseline!.machines).length).toBe(1);
  const keys = Object.keys(Object.values(baseline!.machines)[0]!.cases);
  console.log(
    `kill points: ${KILLS}; ${json.length} JSON and ${md.length} markdown files whole; baseline holds ${keys.length} cases`,
  );
  expect(json.length).toBeGreaterThan(KILLS / 2);

  // The next run starts cleanly: a lock left by a killed writer goes stale and is taken over.
  const summary = await updateBaseline(join(dir, 'baseline.json'), [
    makeRecord('after › onnxruntime/cpu', [1, 1.1, 0.9]),
  ]);
  expect(summary.written.length).toBeGreaterThan(0);
}, 120_000);
