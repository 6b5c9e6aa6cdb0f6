/**
 * Bytes → YAML document → plain value, with every problem on the way reported as a located
 * {@link Diagnostic} and every step bounded in time and memory: file size, nesting depth (checked on
 * the concrete syntax tree, before the recursive composer could overflow the stack) and alias
 * expansion (billion laughs) are all capped, and self-referencing aliases are refused.
 */
import { Composer, isMap, isScalar, isSeq, Parser, visit } from 'yaml';
import type { Alias, CST, Document, Node as YamlNode, YAMLError } from 'yaml';
import { SourceText } from './diagnostics.ts';
import type { Diagnostic } from './diagnostics.ts';

/**
 * Largest experiment file read. Real ones are a few KiB; the limit leaves ten times that, and keeps
 * even a pathological file (thousands of keys or list items) well within a second: the YAML
 * document model costs about a kilobyte of heap per node.
 */
export const MAX_FILE_BYTES = 64 * 1024;
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

/** Signatures of binary formats someone might save or name as an experiment file by mistake. */
const MAGIC: Array<[string, number[]]> = [
  ['gzip-compressed data', [0x1f, 0x8b]],
  ['a zip archive', [0x50, 0x4b, 0x03, 0x04]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['an ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
];

/**
 * What binary data the bytes are (a known signature, or mostly control bytes in the first 4 KiB), or
 * undefined for text. A stray control character in a text file is not binary: it is reported where it is.
 */
export function binaryKind(bytes: Uint8Array): string | undefined {
  for (const [what, sig] of MAGIC) if (sig.every((b, i) => bytes[i] === b)) return what;
  // UTF-16 text is full of NULs but is text in the wrong encoding, which decodeUtf8 reports as such.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return undefined;
  const head = bytes.subarray(0, 4096);
  let control = 0;
  for (const b of head) if (b < 0x09 || (b > 0x0d && b < 0x20)) control++;
  return head.length > 0 && control / head.length > 0.05 ? 'binary data' : undefined;
}

/** A diagnostic for a binary file, at its first byte. */
export function binaryFile(bytes: Uint8Array, what: string, file: string): Diagnostic {
  const firstLine = new TextDecoder('utf-8').decode(bytes.subarray(0, 200)).split(/\r\n|\r|\n/)[0] ?? '';
  return new SourceText(file, firstLine).at(0, 1, {
    code: 'YAML_SYNTAX',
    reason: 'binary',
    message: `this is a binary file (${what}), not YAML text`,
    hint: 'an experiment file is YAML text; check that the path names the experiment, not an archive or a data file',
  });
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

/** Characters outside YAML's printable set (tab, line breaks and NEL are allowed). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is this pattern's purpose
const CONTROL_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]/;

/** Hints for the `yaml` package's error codes, in the words of someone editing an experiment. */
const YAML_HINTS: Partial<Record<string, string>> = {
  DUPLICATE_KEY: 'each key may appear once per mapping; delete or rename one of them',
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  BAD_INDENT: 'keys of one mapping must start in the same column; check the indentation of this line and the one above',
  MULTIPLE_DOCS: 'an experiment file holds one YAML document; remove the `---` line or split the file',
  MISSING_CHAR: 'a closing quote or bracket is missing; close it on this line',
  BLOCK_AS_IMPLICIT_KEY: 'a key must fit on one line; check for a missing `:` or a stray indentation',
  MULTILINE_IMPLICIT_KEY: 'a key is followed by `:` and a space (`epochs: 10`); check this line and the one above',
  UNEXPECTED_TOKEN: 'check the YAML syntax here: quotes, brackets, `:` after keys, `- ` before list items',
  BAD_SCALAR_START: 'quote the value (`"..."`) when it starts with a YAML indicator such as `@`, `` ` ``, `%` or `|`',
  NON_STRING_KEY: 'keys must be plain words; quote it or write the key as text',
  TAG_RESOLVE_FAILED: 'experiment files need no YAML tags; remove the `!tag`',
  BAD_ALIAS: 'name the anchor (`&name`) and refer to it as `*name`',
  ALIAS_PROPS: 'an alias (`*name`) cannot carry its own anchor or tag',
  IMPOSSIBLE: 'check the YAML syntax here',
  RESOURCE_EXHAUSTION: `nest mappings and lists at most ${MAX_DEPTH} deep`,
  KEY_OVER_1024_CHARS: 'a key is a short word; this one runs for more than 1024 characters (a missing line break?)',
};

/**
 * Parses YAML text into a document and its plain value. Syntax errors and warnings (unknown tags,
 * for instance) are diagnostics; so are an empty file, a top level that is not a mapping, unresolved
 * or self-referencing aliases, alias bombs and nesting deeper than {@link MAX_DEPTH}.
 */
export function parseYamlSource(text: string, file: string): YamlSource {
  const src = new SourceText(file, text);
  const fail = (diagnostics: Diagnostic[], doc: Document.Parsed | null = null): YamlSource => ({
    src,
    doc,
    value: undefined,
    diagnostics,
  });
  const syntax = (start: number, end: number, reason: string, message: string, hint: string): Diagnostic =>
    src.at(start, end, { code: 'YAML_SYNTAX', reason, message, hint });

  // The concrete syntax tree comes from an iterative parser, but its time grows with the square of
  // the nesting depth; a lexical scan catches cheap deep nesting (`[[[[…`, `- - - …`) first. The
  // tree's exact depth is then checked before the recursive composer could overflow the stack.
  const early = lexicalDepth(text);
  const tokens = early ? [] : Array.from(new Parser().parse(text));
  const deep = early ?? tooDeep(tokens);
  if (deep) {
    return fail([
      syntax(
        deep.offset,
        deep.offset + 1,
        'too-deep',
        `nesting deeper than ${MAX_DEPTH} levels`,
        `an experiment nests a few levels deep; this looks generated or corrupt. Nest at most ${MAX_DEPTH} levels`,
      ),
    ]);
  }

  // A carriage return not followed by a line feed (classic Mac line endings) is not a line break to
  // the parser, which then reports a cascade of unrelated errors; say what the line endings are.
  const loneCr = /\r(?!\n)/.exec(text);
  if (loneCr) {
    const macOnly = !text.includes('\n');
    return fail([
      syntax(
        loneCr.index,
        loneCr.index + 1,
        'line-endings',
        macOnly
          ? 'the file has classic Mac line endings (a carriage return, CR, alone ends each line)'
          : 'this line ends with a lone carriage return (CR); the file mixes line endings',
        'save the file with LF (Unix) or CRLF (Windows) line endings',
      ),
    ]);
  }

  // YAML forbids most control characters; the parser lets them through, so look for them first.
  const control = CONTROL_CHAR.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0);
    return fail([
      syntax(
        control.index,
        control.index + 1,
        'control-char',
        `the file contains the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}, which YAML does not allow`,
        'remove it; a file with such characters is usually binary, or was saved in another encoding',
      ),
    ]);
  }

  // Duplicate keys are found below in linear time; the package's own check is quadratic in the
  // number of keys of a mapping (seconds for 20,000 keys).
  const composer = new Composer({ uniqueKeys: false, stringKeys: true, prettyErrors: false });
  const docs = Array.from(composer.compose(tokens, true, text.length));
  const doc = docs[0];
  if (!doc)
    return fail([
      syntax(0, 0, 'empty', 'the file is empty', 'an experiment needs at least name, dataset, model and backends'),
    ]);
  const diagnostics: Diagnostic[] = [];
  for (const e of [...doc.errors, ...doc.warnings] as YAMLError[]) {
    const message = firstLine(e.message);
    if (e.code === 'MISSING_CHAR' && /quote/.test(message)) {
      // yaml reports an unclosed quote where the text ends; the opening quote is where to look.
      const open = openQuoteBefore(doc, e.pos[0]);
      if (open !== undefined) {
        diagnostics.push(
          syntax(
            open,
            open + 1,
            e.code,
            'this quoted string is never closed',
            'add the closing quote at the end of the value',
          ),
        );
        continue;
      }
    }
    const unclosed = /^Flow (sequence|map) .*end with a [\]}]/.exec(message);
    if (unclosed) {
      // Reported where the next key starts; the opening bracket is where to look.
      const isSeqError = unclosed[1] === 'sequence';
      const open = openFlowBefore(doc, e.pos[0], isSeqError);
      const closer = isSeqError ? ']' : '}';
      diagnostics.push(
        syntax(
          open ?? e.pos[0],
          (open ?? e.pos[0]) + 1,
          e.code,
          `this ${isSeqError ? 'list' : 'mapping'} is never closed with \`${closer}\``,
          `add \`${closer}\` after its last entry, on the same line (or indent continuation lines)`,
        ),
      );
      continue;
    }
    diagnostics.push(
      syntax(e.pos[0], e.pos[1], e.code, message, YAML_HINTS[e.code] ?? 'check the YAML syntax at this point'),
    );
  }
  diagnostics.push(...duplicateKeys(doc, src, syntax));
  const second = docs[1];
  if (second) {
    diagnostics.push(
      syntax(
        second.range[0],
        second.range[0] + 3,
        'MULTIPLE_DOCS',
        'the file contains more than one YAML document',
        YAML_HINTS.MULTIPLE_DOCS!,
      ),
    );
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
        syntax(
          start,
          end,
          'alias',
          `alias *${a.source} refers to no anchor`,
          `define &${a.source} on a value before this line, or remove the alias`,
        ),
      );
    } else if (target.range && start >= target.range[0] && start < target.range[2]) {
      diagnostics.push(
        syntax(
          start,
          end,
          'alias',
          `alias *${a.source} refers to the value that contains it, which would be infinite`,
          'an alias may only repeat a value defined completely before it',
        ),
      );
    }
  }
  if (diagnostics.length > 0) return fail(diagnostics, doc);

  // A document marker with nothing after it (`---` alone) is as empty as an empty file.
  const bare = doc.contents !== null && isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source;
  if (doc.contents === null || bare) {
    return fail(
      [
        syntax(
          0,
          0,
          'empty',
          'the file has no content (only comments, blank lines or a `---` marker)',
          'an experiment needs at least name, dataset, model and backends',
        ),
      ],
      doc,
    );
  }
  if (!isMap(doc.contents)) {
    const found = isSeq(doc.contents)
      ? 'a list'
      : isScalar(doc.contents)
        ? `the single value ${JSON.stringify(truncate(String(doc.contents.value), 40))}`
        : 'something else';
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
    const bomb =
      aliases.find((a) => {
        const t = a.resolve(doc) as YamlNode | undefined;
        return (
          t !== undefined &&
          aliases.some((b) => b !== a && b.range && t.range && b.range[0] >= t.range[0] && b.range[0] < t.range[2])
        );
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

/** Every key that repeats an earlier key of the same mapping, with a Set per mapping. */
function duplicateKeys(
  doc: Document.Parsed,
  src: SourceText,
  syntax: (start: number, end: number, reason: string, message: string, hint: string) => Diagnostic,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const k = pair.key;
        if (!isScalar(k) || !k.range) continue;
        const name = String(k.value);
        const first = seen.get(name);
        if (first === undefined) {
          seen.set(name, k.range[0]);
          continue;
        }
        out.push(
          syntax(
            k.range[0],
            k.range[1],
            'DUPLICATE_KEY',
            `duplicate key "${name.length > 60 ? `${name.slice(0, 60)}…` : name}" (already set on line ${src.position(first).line})`,
            YAML_HINTS.DUPLICATE_KEY!,
          ),
        );
      }
    },
  });
  return out;
}

/** Start of the quoted scalar that runs up to `offset` (an unclosed quote), if any. */
function openQuoteBefore(doc: Document.Parsed, offset: number): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Scalar(_key, node) {
      const r = node.range;
      if (r && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && r[0] < offset && offset <= r[2]) {
        found = r[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Start of the innermost flow list (or mapping) that runs up to `offset` (unclosed), if any. */
function openFlowBefore(doc: Document.Parsed, offset: number, seq: boolean): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Collection(_key, node) {
      const r = node.range;
      if (
        r &&
        node.flow &&
        isSeq(node) === seq &&
        r[2] === offset &&
        r[0] < offset &&
        (found === undefined || r[0] > found)
      )
        found = r[0];
    },
  });
  return found;
}

/**
 * A lower bound of the nesting depth from the characters alone: flow brackets that open a node, and
 * compact block sequences (`- - - x`) on one line. Quoted strings, comments and block scalars are
 * skipped. Returns the offset of the first opener beyond {@link MAX_DEPTH}.
 */
export function lexicalDepth(text: string): { offset: number } | undefined {
  let flow = 0;
  let compact = 0;
  let atNodeStart = true;
  let lineIndent = 0;
  let atLineStart = true;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (c === '\n' || c === '\r') {
      atLineStart = true;
      atNodeStart = true;
      compact = 0;
      lineIndent = 0;
      continue;
    }
    if (atLineStart) {
      if (c === ' ') {
        lineIndent++;
        continue;
      }
      atLineStart = false;
    }
    if (c === ' ' || c === '\t') continue;
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i + 1 < n && text[i + 1] !== '\n' && text[i + 1] !== '\r') i++;
      continue;
    }
    if (atNodeStart && (c === '"' || c === "'")) {
      // Skip the quoted scalar ('' escapes a single quote, \" a double one).
      for (i++; i < n; i++) {
        const q = text[i];
        if (c === '"' && q === '\\') i++;
        else if (q === c) {
          if (c === "'" && text[i + 1] === "'") i++;
          else break;
        }
      }
      atNodeStart = false;
      continue;
    }
    if (atNodeStart && flow === 0 && (c === '|' || c === '>')) {
      // A block scalar: skip the lines indented deeper than this one (and blank lines).
      let j = text.indexOf('\n', i);
      while (j >= 0 && j + 1 < n) {
        let k = j + 1;
        while (k < n && text[k] === ' ') k++;
        const blank = k >= n || text[k] === '\n' || text[k] === '\r';
        if (!blank && k - (j + 1) <= lineIndent) break;
        j = text.indexOf('\n', k);
      }
      if (j < 0 || j + 1 >= n) return undefined;
      i = j - 1;
      continue;
    }
    if (atNodeStart && (c === '[' || c === '{')) {
      flow++;
      if (flow + compact > MAX_DEPTH) return { offset: i };
      continue;
    }
    if (flow > 0 && (c === ']' || c === '}')) {
      flow--;
      atNodeStart = false;
      continue;
    }
    if (flow > 0 && (c === ',' || c === ':')) {
      atNodeStart = true;
      continue;
    }
    const next = text[i + 1];
    const spaceAfter = next === undefined || next === ' ' || next === '\t' || next === '\n' || next === '\r';
    if (flow === 0 && atNodeStart && (c === '-' || c === '?') && spaceAfter) {
      compact++;
      if (flow + compact > MAX_DEPTH) return { offset: i };
      continue;
    }
    if (flow === 0 && c === ':' && spaceAfter) {
      atNodeStart = true;
      continue;
    }
    atNodeStart = false;
  }
  return undefined;
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
