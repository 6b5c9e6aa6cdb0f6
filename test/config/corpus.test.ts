/**
 * The bad-file corpus: every file in test/fixtures/bad-experiments/ (expectations in its
 * manifest.json) plus generated ones too large to commit. Each must give a ConfigError (anything
 * else is a crash) located at a line and column inside the file, quickly and without the heap
 * blowing up; the last test prints the tally.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, loadExperiment } from '../../src/config/index.ts';

const DIR = resolve(import.meta.dirname, '../fixtures/bad-experiments');
const EXAMPLE = resolve(import.meta.dirname, 'fixtures/example.experiment.yaml');

interface Expectation {
  code: string;
  reason: string;
  line: number;
  col: number;
  profile?: string;
  /** Text some diagnostic's message contains: the message the case now gives. */
  message?: string;
  /** Text that diagnostic's hint contains. */
  hint?: string;
  /** Text no hint may contain (test-only backends offered to users, say). */
  notInHint?: string;
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Record<string, Expectation | string>;
const committed = Object.entries(manifest).filter((e): e is [string, Expectation] => !e[0].startsWith('$'));

const BASE = `name: corpus-case
dataset:
  kind: synthetic
  train: 256
  test: 64
model:
  arch: vgg-small
training:
  epochs: 1
  batchSize: 32
`;

/** Cases generated here: too large (or too silly) to commit. Lines count from 1 in the text. */
const generated: Array<[string, string, Expectation]> = [
  [
    'gen-deep-flow-lists.yaml',
    `${BASE}backends: [tfjs/cpu]\nreference: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`,
    { code: 'YAML_SYNTAX', reason: 'too-deep', line: 12, col: 76 },
  ],
  [
    'gen-deep-flow-maps.yaml',
    `${BASE}backends: [tfjs/cpu]\nreference: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`,
    { code: 'YAML_SYNTAX', reason: 'too-deep', line: 12, col: 268 },
  ],
  [
    'gen-deep-block-lists.yaml',
    `${BASE}backends: [tfjs/cpu]\nreference:\n  ${'- '.repeat(10_000)}x\n`,
    { code: 'YAML_SYNTAX', reason: 'too-deep', line: 13, col: 131 },
  ],
  [
    // 200 levels of indentation (20 KiB): below the lexical bound, caught on the syntax tree.
    'gen-deep-indented-maps.yaml',
    `${BASE}backends: [tfjs/cpu]\nreference:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`,
    { code: 'YAML_SYNTAX', reason: 'too-deep', line: 76, col: 65 },
  ],
  [
    'gen-huge-file.yaml',
    `${BASE}backends: [tfjs/cpu]\ndescription: "${'x'.repeat(3_000_000)}"\n`,
    { code: 'SCHEMA', reason: 'too-large', line: 1, col: 1 },
  ],
  // The rest stay just under the 64 KiB size limit, as large as a file that gets parsed can be.
  [
    'gen-huge-string.yaml',
    `${BASE}backends: [tfjs/cpu]\ndescription: ${'lorem ipsum '.repeat(5_000)}\n`,
    { code: 'SCHEMA', reason: 'maxLength', line: 12, col: 14 },
  ],
  [
    'gen-huge-name.yaml',
    `${BASE.replace('name: corpus-case', `name: ${'n'.repeat(60_000)}`)}backends: [tfjs/cpu]\n`,
    { code: 'SCHEMA', reason: 'pattern', line: 1, col: 7 },
  ],
  [
    'gen-huge-key.yaml',
    `${BASE}backends: [tfjs/cpu]\n${'k'.repeat(60_000)}: 1\n`,
    { code: 'YAML_SYNTAX', reason: 'KEY_OVER_1024_CHARS', line: 12, col: 1 },
  ],
  [
    'gen-many-backends.yaml',
    `${BASE}backends: [${Array.from({ length: 6_000 }, (_, i) => `x/y${i}`).join(', ')}]\n`,
    { code: 'SCHEMA', reason: 'maxItems', line: 11, col: 11 },
  ],
  [
    'gen-many-keys.yaml',
    `${BASE}backends: [tfjs/cpu]\n${Array.from({ length: 5_000 }, (_, i) => `k${i}: ${i}`).join('\n')}\n`,
    { code: 'SCHEMA', reason: 'additionalProperties', line: 12, col: 1 },
  ],
  [
    'gen-nul-byte.yaml',
    `${BASE}backends: [tfjs/cpu]\ndescription: a\u0000b\n`,
    { code: 'YAML_SYNTAX', reason: 'control-char', line: 12, col: 15 },
  ],
  [
    // Under the size limit, with as many keys as fit: duplicate detection must stay linear.
    'gen-many-duplicate-keys.yaml',
    `${BASE}backends: [tfjs/cpu]\nreference:\n${Array.from({ length: 5_000 }, (_, i) => `  k${i % 2_500}: 1`).join('\n')}\n`,
    { code: 'YAML_SYNTAX', reason: 'DUPLICATE_KEY', line: 2_513, col: 3 },
  ],
];

let gc: () => void = () => {};
const tmp = mkdtempSync(join(tmpdir(), 'expbench-corpus-'));
const outcomes: Array<{ name: string; ok: boolean; crashed: boolean; ms: number }> = [];

beforeAll(() => {
  // A forced collection before and after the corpus shows what the cases retained (a leak); the
  // flag is settable at run time, and the function then lives in a new context.
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
  for (const [name, text] of generated) writeFileSync(join(tmp, name), text);
  // Warm up once (module loading, schema compilation) so the per-case time is the case's own.
  loadExperiment(EXAMPLE, { profile: null });
  gc();
  heapAtStart = process.memoryUsage().heapUsed;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * CPU time (this process's user + system) a case may take. CPU time rather than wall time: the bound is
 * about the work a file costs (duplicate detection and the parse must stay linear), and a neighbour on a
 * shared core stretches wall time without adding any.
 */
const MAX_MS = 1000;
/** Heap a case may allocate while it runs, and what the whole corpus may keep afterwards. */
const MAX_GROWTH = 256 * 1024 * 1024;
const MAX_RETAINED = 32 * 1024 * 1024;
let heapAtStart = 0;

function lines(bytes: Buffer): string[] {
  return new TextDecoder('utf-8').decode(bytes).split(/\r\n|\r|\n/);
}

function check(name: string, file: string, exp: Expectation): void {
  const bytes = readFileSync(file);
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = process.cpuUsage();
  let error: unknown;
  try {
    loadExperiment(file, { profile: exp.profile ?? null });
  } catch (e) {
    error = e;
  }
  const cpu = process.cpuUsage(t0);
  const ms = (cpu.user + cpu.system) / 1000;
  // Without a collection in between this over-counts (garbage included), so it bounds what a case
  // allocates; an alias bomb or runaway recursion would show here as hundreds of MiB.
  const grown = process.memoryUsage().heapUsed - heapBefore;
  const crashed = !(error instanceof ConfigError);
  outcomes.push({ name, ok: false, crashed, ms });

  expect(error, `${name} must fail with a ConfigError`).toBeInstanceOf(ConfigError);
  const e = error as ConfigError;
  const first = e.diagnostics[0]!;
  expect({ code: first.code, reason: first.reason, line: first.line, col: first.col }).toEqual({
    code: exp.code,
    reason: exp.reason,
    line: exp.line,
    col: exp.col,
  });
  if (exp.message !== undefined) {
    const d = e.diagnostics.find((x) => x.message.includes(exp.message!));
    expect(d, `${name}: no message contains ${JSON.stringify(exp.message)}:\n${e.message}`).toBeDefined();
    if (exp.hint !== undefined) expect(d!.hint).toContain(exp.hint);
  }
  if (exp.notInHint !== undefined) for (const d of e.diagnostics) expect(d.hint).not.toContain(exp.notInHint);
  // What reaches the terminal holds no raw control characters (a binary file's bytes, a NUL).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters that must not appear
  expect(e.message).not.toMatch(/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/);
  const text = lines(bytes);
  for (const d of e.diagnostics) {
    // Inside the file: a real line, and a column on it (or just past its end).
    expect(d.line, `${name}: ${d.message}`).toBeGreaterThanOrEqual(1);
    expect(d.line).toBeLessThanOrEqual(text.length);
    expect(d.col).toBeGreaterThanOrEqual(1);
    expect(d.col).toBeLessThanOrEqual(text[d.line - 1]!.length + 1);
    expect(d.hint.length).toBeGreaterThan(0);
  }
  expect(e.message.startsWith(`${file}:${first.line}:${first.col}: ${first.message}\n`)).toBe(true);
  expect(e.message.split('\n')[2]).toMatch(/^ {2}[\s]*\^+$/);
  expect(e.message.split('\n')[3]).toMatch(/^ {2}hint: \S/);
  expect(ms, `${name} took ${ms.toFixed(0)} ms of CPU time`).toBeLessThan(MAX_MS);
  expect(grown, `${name} grew the heap by ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(MAX_GROWTH);
  outcomes[outcomes.length - 1]!.ok = true;
}

describe('bad experiment corpus', () => {
  test('the manifest lists every committed file, and only those', () => {
    const files = readdirSync(DIR)
      .filter((f) => f !== 'manifest.json')
      .sort();
    expect(committed.map(([f]) => f).sort()).toEqual(files);
    expect(committed.length + generated.length).toBeGreaterThanOrEqual(45);
  });

  test.each(committed)('%s', (name, exp) => check(name, join(DIR, name), exp));
  test.each(generated)('%s (generated)', (name, _text, exp) => check(name, join(tmp, name), exp));

  test('summary', () => {
    const total = committed.length + generated.length;
    const located = outcomes.filter((o) => o.ok).length;
    const crashes = outcomes.filter((o) => o.crashed).length;
    const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a), { name: '-', ms: 0 } as {
      name: string;
      ms: number;
    });
    gc();
    const retained = process.memoryUsage().heapUsed - heapAtStart;
    console.log(
      `corpus: ${total} files, ${located} located errors, ${crashes} crashes, slowest ${slowest.ms.toFixed(0)} ms of CPU time (${slowest.name}), heap retained ${(retained / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(retained).toBeLessThan(MAX_RETAINED);
    expect(outcomes).toHaveLength(total);
    expect(crashes).toBe(0);
    expect(located).toBe(total);
  });
});
