import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExpbenchError } from '../../src/errors.ts';
import { firstJsonErrorOffset, lineCol, readJson, readJsonIfExists, writeJsonAtomic } from '../../src/runner/atomic.ts';

const opts = { code: 'RECORD' as const, what: 'result record', hint: 'rerun the case to write it again' };

describe('atomic JSON files', () => {
  it('writes pretty JSON with a trailing newline, creating folders, leaving no temporary files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'expbench-atomic-'));
    const file = join(dir, 'a', 'b', 'r.json');
    await writeJsonAtomic(file, { x: [1, 2] });
    expect(readFileSync(file, 'utf8')).toBe('{\n  "x": [\n    1,\n    2\n  ]\n}\n');
    await writeJsonAtomic(file, { x: 3 });
    expect(await readJson(file, opts)).toEqual({ x: 3 });
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['r.json']);
  });

  it('a missing file is undefined for readJsonIfExists and an error naming it for readJson', async () => {
    const file = join(tmpdir(), 'expbench-missing-file.json');
    expect(await readJsonIfExists(file, opts)).toBeUndefined();
    await expect(readJson(file, opts)).rejects.toThrow(
      /expbench-missing-file\.json: result record does not exist; rerun/,
    );
  });

  it('a syntax error is reported with file:line:col, the line, a caret and the hint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'expbench-atomic-'));
    const file = join(dir, 'bad.json');
    const text = '{\n  "a": 1,\n  "b": [1, 2,,]\n}\n';
    writeFileSync(file, text);
    const err = await readJson(file, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpbenchError);
    const e = err as ExpbenchError;
    expect(e.code).toBe('RECORD');
    expect(e.location).toEqual({ file, line: 3, col: 14 });
    expect(e.message).toContain(`${file}:3:14: result record is not valid JSON`);
    expect(e.message).toContain('  "b": [1, 2,,]\n               ^');
    expect(e.message.endsWith('rerun the case to write it again')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('lineCol counts from 1', () => {
    expect(lineCol('ab\ncd', 0)).toEqual({ line: 1, col: 1 });
    expect(lineCol('ab\ncd', 4)).toEqual({ line: 2, col: 2 });
  });
});

describe('firstJsonErrorOffset', () => {
  it.each([
    ['{"a": 1,}', 8],
    ['[1, 2,,]', 6],
    ['{"a": tru}', 6],
    ['{"a" 1}', 5],
    ['"abc', 4],
    ['[1] x', 4],
    ['', 0],
  ])('%j fails at %i', (text, at) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(firstJsonErrorOffset(text)).toBe(at);
  });
});
