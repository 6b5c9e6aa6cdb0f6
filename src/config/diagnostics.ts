/**
 * Located problems in an experiment file, and the one error that carries them all.
 *
 * Positions are kept as offsets into the decoded text until a diagnostic is made (as the `yaml`
 * package does), then turned into 1-based line and column together with the offending line, so a
 * message can show where the problem is without the reader opening the file.
 */
import { ExpbenchError } from '../errors.ts';

/**
 * The class of a problem. `YAML_SYNTAX`: the text is not readable YAML (or not UTF-8); `SCHEMA`: the
 * YAML is fine but a key or value is not an experiment's; `UNKNOWN_BACKEND`: a backend id the
 * registry does not know; `MODEL_SHAPE`: the network cannot be built for the dataset's images;
 * `MODEL_IMPORT`: the ONNX file of `model.onnx` cannot be read or mapped onto the IR;
 * `CONFIG`: the file cannot be read, or the selected profile is not in it.
 */
export type DiagnosticCode = 'YAML_SYNTAX' | 'SCHEMA' | 'UNKNOWN_BACKEND' | 'MODEL_SHAPE' | 'MODEL_IMPORT' | 'CONFIG';

/** One problem at one place. */
export interface Diagnostic {
  code: DiagnosticCode;
  /**
   * Finer, stable reason: the `yaml` package's error code for syntax problems (`DUPLICATE_KEY`,
   * `TAB_AS_INDENT`, `BAD_INDENT`, ...), the JSON Schema keyword for schema problems (`required`,
   * `additionalProperties`, `type`, `maximum`, ...), or one of `encoding`, `empty`, `too-large`,
   * `too-deep`, `alias`, `unit`, `profile`, `layers`, `batch`, `model`, `read`.
   */
  reason: string;
  /** What is wrong, without position (that is in `file`, `line`, `col`). */
  message: string;
  file: string;
  /** 1-based line; 0 when the problem concerns the whole file (it could not be read). */
  line: number;
  /** 1-based column (UTF-16 units, as editors count); 0 with `line` 0. */
  col: number;
  /** Width of the underline, at least 1. */
  length: number;
  /** The offending line's text ('' when `line` is 0). */
  sourceLine: string;
  /** How to fix it. */
  hint: string;
  /** JSON Pointer of the offending value in the experiment (e.g. `/training/epochs`), where there is one. */
  path?: string;
}

/** Longest excerpt of a source line shown; longer lines are cut around the column. */
const MAX_SHOWN = 120;

/**
 * Formats a diagnostic as people and editors read it:
 *
 *     experiments/a.experiment.yaml:7:5: unknown key "epoch" in training
 *       epoch: 10
 *       ^^^^^
 *       hint: did you mean "epochs"?
 */
export function formatDiagnostic(d: Diagnostic): string {
  if (d.line === 0) return `${d.file}: ${d.message}\n  hint: ${d.hint}`;
  const { shown: raw, caretAt } = excerpt(d.sourceLine, d.col - 1);
  const shown = visible(raw);
  // The caret line copies tabs from the source so it lines up under tab-indented text too.
  const pad = Array.from(shown.slice(0, caretAt), (ch) => (ch === '\t' ? '\t' : ' ')).join('');
  const width = Math.max(1, Math.min(d.length, shown.length - caretAt));
  return `${d.file}:${d.line}:${d.col}: ${d.message}\n  ${shown}\n  ${pad}${'^'.repeat(width)}\n  hint: ${d.hint}`;
}

/**
 * The line as it may be printed: control characters (a binary file's bytes, a NUL) become their
 * one-character Unicode pictures (␀, ␍, ␡) or U+FFFD, so nothing raw reaches the terminal and the
 * caret below still lines up. Tabs stay.
 */
export function visible(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to replace
  return line.replace(/[\x00-\x08\x0A-\x1F\x7F-\x9F]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '\u2421' : '\uFFFD';
  });
}

function excerpt(line: string, index: number): { shown: string; caretAt: number } {
  if (line.length <= MAX_SHOWN) return { shown: line, caretAt: Math.min(index, line.length) };
  const start = Math.max(0, Math.min(index - 40, line.length - MAX_SHOWN));
  const end = Math.min(line.length, start + MAX_SHOWN);
  const prefix = start > 0 ? '…' : '';
  const suffix = end < line.length ? '…' : '';
  return { shown: prefix + line.slice(start, end) + suffix, caretAt: prefix.length + Math.max(0, index - start) };
}

/** At most this many diagnostics are kept; the rest are counted in the last message. */
export const MAX_DIAGNOSTICS = 100;

/**
 * Everything wrong with one experiment file. `code` is `YAML_SYNTAX` when the first diagnostic is a
 * syntax problem, `CONFIG` when the file could not be read or the selected profile is missing, and
 * `SCHEMA` otherwise (finer classes are on each diagnostic); `message` lists every
 * diagnostic, formatted by {@link formatDiagnostic}; `location` and `hint` are the first one's.
 */
export class ConfigError extends ExpbenchError {
  readonly diagnostics: Diagnostic[];
  /** The file as it was named to the loader. */
  readonly file: string;
  /** Problems found but not turned into diagnostics (beyond {@link MAX_DIAGNOSTICS}). */
  readonly omitted: number;
  constructor(file: string, diagnostics: Diagnostic[], omitted = 0) {
    if (diagnostics.length === 0) throw new Error('ConfigError needs at least one diagnostic');
    const first = diagnostics[0]!;
    const shown = diagnostics.slice(0, MAX_DIAGNOSTICS);
    let message = shown.map(formatDiagnostic).join('\n\n');
    const more = diagnostics.length - shown.length + omitted;
    if (more > 0) message += `\n\n… and ${more} more problem${more === 1 ? '' : 's'} in ${file}`;
    super(first.code === 'YAML_SYNTAX' || first.code === 'CONFIG' ? first.code : 'SCHEMA', message, {
      location: first.line > 0 ? { file: first.file, line: first.line, col: first.col } : undefined,
      hint: first.hint,
    });
    this.name = 'ConfigError';
    this.file = file;
    this.diagnostics = diagnostics;
    this.omitted = omitted;
  }
}

/**
 * The decoded text of a file with fast offset → line/column lookup. Line starts are found once;
 * `\r\n`, `\r` and `\n` all end a line, as in YAML.
 */
export class SourceText {
  readonly text: string;
  readonly file: string;
  private readonly starts: number[];
  constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    this.starts = starts;
  }

  /** 1-based line and column of an offset (clamped into the text). */
  position(offset: number): { line: number; col: number } {
    const off = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: off - this.starts[lo]! + 1 };
  }

  /** Text of a 1-based line without its line break. */
  lineText(line: number): string {
    const start = this.starts[line - 1];
    if (start === undefined) return '';
    const next = this.starts[line];
    let end = next === undefined ? this.text.length : next;
    while (end > start && (this.text.charCodeAt(end - 1) === 10 || this.text.charCodeAt(end - 1) === 13)) end--;
    return this.text.slice(start, end);
  }

  /** Number of lines (a final line break does not start a new line). */
  get lineCount(): number {
    const n = this.starts.length;
    return n > 1 && this.starts[n - 1] === this.text.length ? n - 1 : n;
  }

  /** A diagnostic spanning `[start, end)`; the underline stops at the end of the first line. */
  at(
    start: number,
    end: number,
    d: { code: DiagnosticCode; reason: string; message: string; hint: string; path?: string },
  ): Diagnostic {
    // A position at the very end (an unclosed bracket) is shown after the last character, so it stays in the file.
    const off = Math.max(0, Math.min(start, this.text.length - 1));
    const { line, col } = this.position(off);
    const sourceLine = this.lineText(line);
    const room = Math.max(1, sourceLine.length - (col - 1));
    const length = Math.max(1, Math.min(end - off, room));
    const out: Diagnostic = {
      code: d.code,
      reason: d.reason,
      message: d.message,
      file: this.file,
      line,
      col,
      length,
      sourceLine,
      hint: d.hint,
    };
    if (d.path !== undefined) out.path = d.path;
    return out;
  }
}
