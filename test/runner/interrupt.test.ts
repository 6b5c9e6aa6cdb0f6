/**
 * Ctrl-C or a kill of the runner mid-case: the case's process goes too (no orphan keeps training), and
 * the case's record is whole and marked partial; the next run starts cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/runner/record.ts';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const RUNNER = join(import.meta.dirname, 'interrupt-runner.ts');
const dir = mkdtempSync(join(tmpdir(), 'expbench-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of live processes whose environment carries `mark`. */
function processesMarked(mark: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/environ`, 'latin1').includes(mark)) pids.push(Number(p));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} mid-training leaves a whole record marked partial and no orphan`, async () => {
    const file = join(dir, `hang-${signal}.experiment.yaml`);
    writeFileSync(
      file,
      `name: hang-${signal}
dataset: { kind: synthetic, train: 128, test: 32, imageSize: 8, classes: 4 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16, lossEvery: 1 }
backends: [fake/hang]
repeats: 2
parity: { enabled: false }
timeout: 5m
`,
    );
    const results = join(dir, signal);
    const mark = `EXPBENCH_INTERRUPT_MARK=${signal}-${process.pid}-${Date.now()}`;
    const [k, v] = mark.split('=') as [string, string];
    const child = spawn(process.execPath, ['--import', TSX, RUNNER, file, results], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [k]: v },
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(processesMarked(mark).length).toBeGreaterThanOrEqual(2); // the runner and its case process
    child.kill(signal);
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    expect(exit).toBe(signal);
    // The case process must not outlive the runner.
    const deadline = Date.now() + 5000;
    while (processesMarked(mark).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(processesMarked(mark)).toEqual([]);

    const files = readdirSync(results);
    expect(files).toEqual([`hang-${signal}__fake-hang.json`]);
    const rec = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as ResultRecord;
    expect(rec.status).toBe('partial');
    expect(rec.error).toMatchObject({ code: 'INTERRUPTED', signal, phase: 'train' });
    expect(rec.error?.message).toMatch(/during repeat 1 of 2 .* 0 repeat\(s\) finished/);
  }, 60_000);
}
