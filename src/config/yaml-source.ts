/**
 * Bytes → YAML document → plain value, with every problem on the way reported as a located
 * {@link Diagnostic} and every step bounded in time and memory: file size, nesting depth (checked on
 * the concrete syntax tree, before the recursive composer could overflow the stack) and alias
 * expansion (billion laughs) are all capped, and self-referencing aliases are refused.
 */
import { Composer, isAlias, isMap, isScalar, isSeq, Parser, visit } from 'yaml';
import type { Alias, CST, Document, Node as YamlNode, YAMLError } from 'yaml';
import { SourceText } from './diagnostics.ts';
import type { Diagnostic } from './diagnostics.ts';

/** Largest experiment file read: far above any real one, small enough to parse in milliseconds. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024;
/** Deepest nesting of mappings and lists accepted (a real experiment nests about 6 deep). */
export const MAX_DEPTH = 64;
/** Alias expansions allowed while building the value (the `yaml` package's resource guard). */
export const MAX_ALIAS_COUNT = 100;

/** A parsed document, or the reasons there is none. */
export interface YamlSource {
  src: SourceText;
  /** The document when the text is valid YAML (even if it is not a valid experiment). */
  doc: Document.Parsed | null;
  /** The plain value of a mapping at the top level; undefined when there are diagnostics. */
  value: Record<string, unknown> | undefined;
  diagnostics: Diagnostic[];
}

/**
 * Decodes UTF-8 strictly. A byte sequence that is not UTF-8 is reported at its line and column (the
 * column counts the characters decoded before it on that line).
 */
export function decodeUtf8(bytes: Uint8Array, file: string): { text: string } | { diagnostic: Diagnostic } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    let lineStart = 0;
    let line = 1;
    for (let i = 0; i < bad; i++) {
      if (bytes[i] === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    let lineEnd = bytes.indexOf(10, bad);
    if (lineEnd < 0) lineEnd = bytes.length;
    const lenient = new TextDecoder('utf-8');
    const before = lenient.decode(bytes.subarray(lineStart, bad));
    const sourceLine = lenient.decode(bytes.subarray(lineStart, lineEnd)).replace(/\r$/, '');
    const byte = bytes[bad] ?? 0;
    return {
      diagnostic: {
        code: 'YAML_SYNTAX',
        reason: 'encoding',
        message: `the file is not valid UTF-8: byte 0x${byte.toString(16).padStart(2, '0')} at offset ${bad} does not start or continue a UTF-8 character`,
        file,
        line,
        col: before.length + 1,
        length: 1,
        sourceLine,
        hint: 'save the file as UTF-8 (it is probably Latin-1 or UTF-16); YAML files must be Unicode text',
      },
    };
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[k];
    return x !== undefined && x >= lo && x <= hi;
  };
  while (i < b.length) {
    const x = b[i]!;
    if (x < 0x80) i += 1;
    else if (x >= 0xc2 && x <= 0xdf && cont(i + 1)) i += 2;
    else if (x === 0xe0 && cont(i + 1, 0xa0) && cont(i + 2)) i += 3;
    else if (((x >= 0xe1 && x <= 0xec) || x === 0xee || x === 0xef) && cont(i + 1) && cont(i + 2)) i += 3;
    else if (x === 0xed && cont(i + 1, 0x80, 0x9f) && cont(i + 2)) i += 3;
    else if (x === 0xf0 && cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3)) i += 4;
    else if (x >= 0xf1 && x <= 0xf3 && cont(i + 1) && cont(i + 2) && cont(i + 3)) i += 4;
    else if (x === 0xf4 && cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3)) i += 4;
    else return i;
  }
  return b.length;
}

/** Hints for the `yaml` package's error codes, in the words of someone editing an experiment. */
const YAML_HINTS: Partial<Record<string, string>> = {
  DUPLICATE_KEY: 'each key may appear once per mapping; delete or rename one of them',
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  BAD_INDENT: 'keys of one mapping must start in the same column; check the indentation of this line and the one above',
  MULTIPLE_DOCS: 'an experiment file holds one YAML document; remove the `---` line or split the file',
  MISSING_CHAR: 'a closing quote or bracket is missing; close it on this line',
  BLOCK_AS_IMPLICIT_KEY: 'a key must fit on one line; check for a missing `:` or a stray indentation',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line; check for a missing `:` on the line above',
  UNEXPECTED_TOKEN: 'check the YAML syntax here: quotes, brackets, `:` after keys, `- ` before list items',
  BAD_SCALAR_START: 'quote the value (`"..."`) when it starts with a YAML indicator such as `@`, `` ` ``, `%` or `|`',
  NON_STRING_KEY: 'keys must be plain words; quote it or write the key as text',
  TAG_RESOLVE_FAILED: 'experiment files need no YAML tags; remove the `!tag`',
  BAD_ALIAS: 'name the anchor (`&name`) and refer to it as `*name`',
  ALIAS_PROPS: 'an alias (`*name`) cannot carry its own anchor or tag',
  IMPOSSIBLE: 'check the YAML syntax here',
  RESOURCE_EXHAUSTION: `nest mappings and lists at most ${MAX_DEPTH} deep`,
};

/**
 * Parses YAML text into a document and its plain value. Syntax errors and warnings (unknown tags,
 * for instance) are diagnostics; so are an empty file, a top level that is not a mapping, unresolved
 * or self-referencing aliases, alias bombs and nesting deeper than {@link MAX_DEPTH}.
 */
export function parseYamlSource(text: string, file: string): YamlSource {
  const src = new SourceText(file, text);
  const fail = (diagnostics: Diagnostic[], doc: Document.Parsed | null = null): YamlSource => ({ src, doc, value: undefined, diagnostics });
  const syntax = (start: number, end: number, reason: string, message: string, hint: string): Diagnostic =>
    src.at(start, end, { code: 'YAML_SYNTAX', reason, message, hint });

  // The concrete syntax tree comes from an iterative parser; measure its depth before composing.
  const tokens = Array.from(new Parser().parse(text));
  const deep = tooDeep(tokens);
  if (deep) {
    return fail([
      syntax(deep.offset, deep.offset + 1, 'too-deep', `nesting deeper than ${MAX_DEPTH} levels`, `an experiment nests a few levels deep; this looks generated or corrupt. Nest at most ${MAX_DEPTH} levels`),
    ]);
  }

  const composer = new Composer({ uniqueKeys: true, stringKeys: true, prettyErrors: false });
  const docs = Array.from(composer.compose(tokens, true, text.length));
  const doc = docs[0];
  if (!doc) return fail([syntax(0, 0, 'empty', 'the file is empty', 'an experiment needs at least name, dataset, model and backends')]);
  const diagnostics: Diagnostic[] = [];
  for (const e of [...doc.errors, ...doc.warnings] as YAMLError[]) {
    diagnostics.push(syntax(e.pos[0], e.pos[1], e.code, firstLine(e.message), YAML_HINTS[e.code] ?? 'check the YAML syntax at this point'));
  }
  const second = docs[1];
  if (second) {
    diagnostics.push(syntax(second.range[0], second.range[0] + 3, 'MULTIPLE_DOCS', 'the file contains more than one YAML document', YAML_HINTS.MULTIPLE_DOCS!));
  }
  if (diagnostics.length > 0) return fail(diagnostics, doc);

  // Aliases: each must name an earlier anchor and must not sit inside what it refers to.
  const aliases: Alias[] = [];
  visit(doc, {
    Alias(_key, node) {
      aliases.push(node);
    },
  });
  for (const a of aliases) {
    const [start, end] = a.range ?? [0, 0];
    const target = a.resolve(doc) as YamlNode | undefined;
    if (!target) {
      diagnostics.push(
        syntax(start, end, 'alias', `alias *${a.source} refers to no anchor`, `define &${a.source} on a value before this line, or remove the alias`),
      );
    } else if (target.range && start >= target.range[0] && start < target.range[2]) {
      diagnostics.push(
        syntax(start, end, 'alias', `alias *${a.source} refers to the value that contains it, which would be infinite`, 'an alias may only repeat a value defined completely before it'),
      );
    }
  }
  if (diagnostics.length > 0) return fail(diagnostics, doc);

  if (doc.contents === null) {
    return fail([syntax(0, 0, 'empty', 'the file has no content (only comments or blank lines)', 'an experiment needs at least name, dataset, model and backends')], doc);
  }
  if (!isMap(doc.contents)) {
    const found = isSeq(doc.contents) ? 'a list' : isScalar(doc.contents) ? `the single value ${JSON.stringify(truncate(String(doc.contents.value), 40))}` : 'something else';
    const [s, e] = doc.contents.range;
    return fail(
      [
        src.at(s, e, {
          code: 'SCHEMA',
          reason: 'type',
          message: `the top level of an experiment must be a mapping of keys (name:, dataset:, model:, ...), but it is ${found}`,
          hint: 'start the file with `name: my-experiment` on the first line, without a leading `- `',
        }),
      ],
      doc,
    );
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // Only the alias guard throws here (resolved aliases and bounded depth were checked above).
    const bomb = aliases.find((a) => {
      const t = a.resolve(doc) as YamlNode | undefined;
      return t !== undefined && aliases.some((b) => b !== a && b.range && t.range && b.range[0] >= t.range[0] && b.range[0] < t.range[2]);
    }) ?? aliases[0];
    const [s, end] = bomb?.range ?? [0, 0];
    return fail(
      [
        syntax(
          s,
          end,
          'alias',
          `aliases expand to too many values (${firstLine((e as Error).message)}; limit ${MAX_ALIAS_COUNT} expansions)`,
          'aliases that repeat lists of aliases grow exponentially; write the values out, or use a profile for variants',
        ),
      ],
      doc,
    );
  }
  return { src, doc, value: value as Record<string, unknown>, diagnostics: [] };
}

/** The first token nested deeper than {@link MAX_DEPTH}, found without recursion. */
function tooDeep(tokens: CST.Token[]): { offset: number } | undefined {
  const stack: Array<[CST.Token, number]> = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, depth] = stack.pop()!;
    const push = (child: CST.Token | null | undefined, d: number): void => {
      if (child) stack.push([child, d]);
    };
    switch (t.type) {
      case 'document':
        push(t.value, depth);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const d = depth + 1;
        if (d > MAX_DEPTH) return { offset: t.offset };
        for (const item of t.items) {
          push(item.key as CST.Token | null | undefined, d);
          push(item.value, d);
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
