/**
 * The layering of `src/`: docs/architecture.md's "Layers" table says which module may import which;
 * this test reads that table and checks every import in `src/` against it, so the document and the
 * code cannot drift apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const DOC = 'docs/architecture.md';

interface Rule {
  /** Path under `src/`: a folder (`backends/tfjs`) or a file (`errors.ts`). */
  module: string;
  /** Paths under `src/` this module may import besides its own folder. */
  allowed: string[];
  /** "nothing": not even a package. */
  nothing: boolean;
  /** Line of the rule in the document, for messages. */
  line: number;
}

interface SourceFile {
  /** Path relative to the repository root, `/`-separated (`src/data/index.ts`). */
  path: string;
  text: string;
}

/** The rows of the "Layers" table: `` | `src/<module>` | `a`, `b/c.ts` | `` or `| ... | nothing ... |`. */
function parseLayerTable(markdown: string): Rule[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Layers');
  if (start === -1) throw new Error(`${DOC}: no "## Layers" section`);
  const rules: Rule[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) {
    const m = /^\|\s*`src\/([^`]+)`\s*\|(.*)\|\s*$/.exec(lines[i]!);
    if (!m) continue;
    const cell = m[2]!.trim();
    const nothing = cell.startsWith('nothing');
    const allowed = nothing ? [] : [...cell.matchAll(/`([^`]+)`/g)].map((a) => a[1]!);
    if (!nothing && allowed.length === 0) throw new Error(`${DOC}:${i + 1}: row for src/${m[1]} lists no module`);
    rules.push({ module: m[1]!, allowed, nothing, line: i + 1 });
  }
  if (rules.length === 0) throw new Error(`${DOC}: the "## Layers" section has no table rows`);
  return rules;
}

/** `a` covers `a` itself and, for a folder, everything under `a/`. */
function covers(module: string, path: string): boolean {
  return path === module || path.startsWith(`${module}/`);
}

/** The most specific rule for a path under `src/`. */
function ruleFor(rules: readonly Rule[], path: string): Rule | undefined {
  return rules.filter((r) => covers(r.module, path)).sort((a, b) => b.module.length - a.module.length)[0];
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos).split('\n');
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

/** Every import of `files` that the rules forbid, as `file:line:col` messages naming the rule. */
function checkLayering(rules: readonly Rule[], files: readonly SourceFile[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const own = file.path.replace(/^src\//, '');
    const rule = ruleFor(rules, own);
    if (!rule) {
      problems.push(`${file.path}: no row of ${DOC}'s Layers table covers this file (add one)`);
      continue;
    }
    const allowedText = rule.nothing ? 'nothing' : rule.allowed.join(', ');
    for (const ref of ts.preProcessFile(file.text, true, true).importedFiles) {
      const where = `${file.path}:${lineCol(file.text, ref.pos)}`;
      const because = `src/${rule.module} may import only its own folder and ${allowedText} (${DOC}:${rule.line})`;
      if (!ref.fileName.startsWith('.')) {
        if (rule.nothing) problems.push(`${where} imports package "${ref.fileName}": ${because}`);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file.path), ref.fileName));
      if (!target.startsWith('src/')) {
        problems.push(`${where} imports ${ref.fileName}, outside src/`);
        continue;
      }
      const to = target.slice('src/'.length);
      const ownFolder = rule.module.endsWith('.ts') ? undefined : rule.module;
      const ok = (ownFolder !== undefined && covers(ownFolder, to)) || rule.allowed.some((a) => covers(a, to));
      if (!ok) problems.push(`${where} imports ${ref.fileName} (${target}): ${because}`);
    }
  }
  return problems;
}

function sourceFiles(dir: string): SourceFile[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => {
      const abs = join(e.parentPath, e.name);
      return { path: relative(ROOT, abs).split('\\').join('/'), text: readFileSync(abs, 'utf8') };
    });
}

const rules = parseLayerTable(readFileSync(join(ROOT, DOC), 'utf8'));

describe('layering of src/ (docs/architecture.md, Layers)', () => {
  test('every import in src/ runs downward as the table says', () => {
    const files = sourceFiles('src');
    expect(files.length).toBeGreaterThan(50);
    expect(checkLayering(rules, files)).toEqual([]);
  });

  test('every row names a module that exists, and allows only modules that exist', () => {
    const exists = (p: string) => sourceFiles('src').some((f) => covers(`src/${p}`, f.path));
    const missing = rules.flatMap((r) =>
      [r.module, ...r.allowed].filter((p) => !exists(p)).map((p) => `${DOC}:${r.line}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  test('an upward import is reported with its file, line, column and rule', () => {
    const problems = checkLayering(rules, [
      {
        path: 'src/data/index.ts',
        text: "import { DataError } from '../errors.ts';\n\nimport type { DatasetConfig } from '../config/types.ts';\n",
      },
      {
        path: 'src/reporters/view.ts',
        text: "export async function f() {\n  return import('../backends/registry.ts');\n}\n",
      },
      { path: 'src/reporters/x.ts', text: "import { runCase } from '../runner/case.ts';\n" },
      { path: 'src/backends/tfjs/model.ts', text: "import { OrtSession } from '../onnxruntime/session.ts';\n" },
    ]);
    const rowOf = (m: string) => rules.find((r) => r.module === m)!.line;
    expect(problems).toEqual([
      `src/data/index.ts:3:36 imports ../config/types.ts (src/config/types.ts): src/data may import only its own folder and vocab, errors.ts, shape (${DOC}:${rowOf('data')})`,
      `src/reporters/view.ts:2:17 imports ../backends/registry.ts (src/backends/registry.ts): src/reporters may import only its own folder and vocab, errors.ts, stats, config, runner/record.ts, runner/metric-values.ts (${DOC}:${rowOf('reporters')})`,
      `src/reporters/x.ts:1:25 imports ../runner/case.ts (src/runner/case.ts): src/reporters may import only its own folder and vocab, errors.ts, stats, config, runner/record.ts, runner/metric-values.ts (${DOC}:${rowOf('reporters')})`,
      expect.stringMatching(
        /^src\/backends\/tfjs\/model\.ts:1:28 imports \.\.\/onnxruntime\/session\.ts .*src\/backends\/tfjs may/,
      ),
    ]);
  });

  test('a module allowed "nothing" may not import a package either, and a file outside every row is reported', () => {
    const problems = checkLayering(rules, [
      { path: 'src/vocab/x.ts', text: "import { z } from 'zod';\nimport type { E } from '../errors.ts';\n" },
      { path: 'src/newfolder/y.ts', text: '' },
    ]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(
      /^src\/vocab\/x\.ts:1:19 imports package "zod": src\/vocab may import only its own folder and nothing/,
    );
    expect(problems[1]).toMatch(/^src\/vocab\/x\.ts:2:24 imports \.\.\/errors\.ts/);
    expect(problems[2]).toMatch(/^src\/newfolder\/y\.ts: no row/);
  });

  test('the table is found and read from the document', () => {
    expect(rules.map((r) => r.module)).toContain('vocab');
    expect(() => parseLayerTable('# nothing here\n')).toThrow(/no "## Layers" section/);
    expect(() => parseLayerTable('## Layers\n| `src/a` | some words |\n')).toThrow(/row for src\/a lists no module/);
  });
});
