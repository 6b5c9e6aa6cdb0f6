import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportCommand, type ReportCommandIo } from '../../src/cli/report-command.ts';
import { builtinReporters, writeReport, type BuiltinReporterName, type Reporter } from '../../src/reporters/index.ts';
import { paperRecords } from './fixtures.ts';

let root: string;
let results: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'expbench-report-'));
  results = join(root, 'results');
  await mkdir(results);
  await Promise.all(paperRecords().map((r, i) => writeFile(join(results, `${i}.json`), JSON.stringify(r))));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function captured(): ReportCommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('expbench report', () => {
  it('merges the records and writes the markdown, the figures and the JSON', async () => {
    const out = join(root, 'docs');
    const io = captured();
    expect(await runReportCommand({ inputs: [results], out }, io)).toBe(0);
    expect(io.stderr).toEqual([]);
    expect(io.stdout[0]).toBe(`merged 29 result records from 1 run (24 passed, 1 failed, 4 skipped) from ${results}`);
    expect(io.stdout.slice(1).map((l) => l.replace(/^wrote /, '').replace(/.*docs\//, ''))).toEqual([
      'comparison.md',
      'figures/paper-fig2-time.train-by-model.arch.svg',
      'figures/paper-fig3-memory.train-by-model.arch.svg',
      'results.json',
    ]);
    // Atomic writes leave no temporary files behind.
    expect(await listFiles(out)).toEqual([
      'comparison.md',
      'figures/paper-fig2-time.train-by-model.arch.svg',
      'figures/paper-fig3-memory.train-by-model.arch.svg',
      'results.json',
    ]);
    const md = await readFile(join(out, 'comparison.md'), 'utf8');
    expect(md).toContain('## Table 2');
    expect(md).toContain('](figures/paper-fig2-time.train-by-model.arch.svg)');
  });

  it('runs only the reporters asked for', async () => {
    const out = join(root, 'only-json');
    const io = captured();
    expect(await runReportCommand({ inputs: [results], out, reporters: ['json'] }, io)).toBe(0);
    expect(await listFiles(out)).toEqual(['results.json']);
  });

  it('fails on an unknown reporter name and suggests the closest', async () => {
    const io = captured();
    expect(await runReportCommand({ inputs: [results], out: join(root, 'x'), reporters: ['markdwn'] }, io)).toBe(1);
    expect(io.stderr[0]).toContain('unknown reporter "markdwn"; did you mean "markdown"?');
  });

  it('fails on rejected input, naming the file, and writes nothing', async () => {
    const dir = join(root, 'bad');
    await mkdir(dir);
    const bad = join(dir, 'old.json');
    await writeFile(bad, JSON.stringify({ ...paperRecords()[0], schema: 'expbench/result@0' }));
    const out = join(root, 'bad-out');
    const io = captured();
    expect(await runReportCommand({ inputs: [results, dir], out }, io)).toBe(1);
    expect(io.stderr.join('\n')).toContain(`${bad}: schema "expbench/result@0" is not supported`);
    await expect(readdir(out)).rejects.toThrow('ENOENT');
  });

  it('fails when there is no record to report', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    const io = captured();
    expect(await runReportCommand({ inputs: [empty], out: join(root, 'e') }, io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('no result records found');
  });
});

describe('writeReport', () => {
  it('names the built-in reporters', () => {
    const names: BuiltinReporterName[] = ['markdown', 'svg', 'json', 'curves'];
    expect(Object.keys(builtinReporters)).toEqual(names);
  });

  it('refuses a reporter that writes outside the output folder', async () => {
    const evil: Reporter = { name: 'evil', render: () => [{ path: '../escape.md', content: 'x' }] };
    await expect(writeReport([], join(root, 'guarded'), { reporters: [evil] })).rejects.toThrow(
      'outside the output folder',
    );
  });

  it('refuses two reporters writing the same file', async () => {
    const a: Reporter = { name: 'a', render: () => [{ path: 'same.md', content: 'a' }] };
    const b: Reporter = { name: 'b', render: async () => [{ path: 'same.md', content: 'b' }] };
    await expect(writeReport([], join(root, 'clash'), { reporters: [a, b] })).rejects.toThrow(
      'reporters "a" and "b" both write same.md',
    );
  });
});
