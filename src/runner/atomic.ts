/**
 * Atomic writes and careful reads of the JSON files expbench keeps (result records, baselines, docs).
 *
 * Writes go through write-file-atomic (temporary file in the same folder, fsync, rename), so a reader —
 * or a crash — never sees half a file. Reads report a broken file by name with line:col of the syntax
 * error and never modify it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { ExpbenchError, type ErrorCode } from '../errors.ts';

/** Writes `text` to `path` atomically (creating the folder), with fsync before the rename. */
export async function writeTextAtomic(path: string, text: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, { fsync: true });
}

/**
 * Writes `value` as pretty-printed JSON with a trailing newline, atomically.
 * @param indent spaces of indentation @default 2
 */
export async function writeJsonAtomic(path: string, value: unknown, indent = 2): Promise<void> {
  await writeTextAtomic(path, `${JSON.stringify(value, null, indent)}\n`);
}

export interface ReadJsonOptions {
  /** Error code of the failure, e.g. `BASELINE` or `RECORD`. */
  code: ErrorCode;
  /** What the file is, for the message, e.g. `baseline file`. */
  what: string;
  /** How to fix a broken file; ends the message. */
  hint: string;
}

/**
 * Reads and parses a JSON file. Returns `undefined` when the file does not exist; throws an
 * {@link ExpbenchError} with `opts.code` for an unreadable or unparsable file, naming the file and the
 * line:col of the syntax error. Never writes.
 */
export async function readJsonIfExists(path: string, opts: ReadJsonOptions): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ExpbenchError(opts.code, `${path}: cannot read ${opts.what}: ${(e as Error).message}; ${opts.hint}`, {
      hint: opts.hint,
      cause: e,
    });
  }
  return parseJsonText(text, path, opts);
}

/** Like {@link readJsonIfExists} but a missing file is an error too. */
export async function readJson(path: string, opts: ReadJsonOptions): Promise<unknown> {
  const v = await readJsonIfExists(path, opts);
  if (v === undefined) {
    throw new ExpbenchError(opts.code, `${path}: ${opts.what} does not exist; ${opts.hint}`, { hint: opts.hint });
  }
  return v;
}

/** Parses JSON text from `file`, turning a syntax error into a located {@link ExpbenchError}. */
export function parseJsonText(text: string, file: string, opts: ReadJsonOptions): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const offset = syntaxErrorOffset((e as Error).message, text);
    const { line, col } = lineCol(text, offset);
    const lineText = text.split('\n')[line - 1] ?? '';
    const shown = lineText.length > 120 ? `${lineText.slice(Math.max(0, col - 60), col + 60)}` : lineText;
    const caretCol = lineText.length > 120 ? Math.min(col - 1, 60) : col - 1;
    throw new ExpbenchError(
      opts.code,
      `${file}:${line}:${col}: ${opts.what} is not valid JSON (${(e as Error).message})\n  ${shown}\n  ${' '.repeat(caretCol)}^\n${opts.hint}`,
      { location: { file, line, col }, hint: opts.hint, cause: e },
    );
  }
}

/**
 * Offset of a JSON.parse failure. V8 names a position for some errors ("at position N") but not for an
 * unexpected token ("Unexpected token ',', …"), so the text is scanned for the first offending character.
 */
function syntaxErrorOffset(message: string, text: string): number {
  const pos = /position (\d+)/.exec(message);
  if (pos) return Number(pos[1]);
  return firstJsonErrorOffset(text);
}

/** Offset of the first character where `text` stops being valid JSON (a small recursive-descent scan). */
export function firstJsonErrorOffset(text: string): number {
  let i = 0;
  class Stop {
    constructor(readonly at: number) {}
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Stop(i);
        string();
        ws();
        if (text[i] !== ':') throw new Stop(i);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        throw new Stop(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        throw new Stop(i);
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const lit = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (lit) {
      i += lit[0].length;
      return;
    }
    throw new Stop(i);
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Stop(i + 1);
        continue;
      }
      if (c.charCodeAt(0) < 0x20) throw new Stop(i);
      i++;
    }
    throw new Stop(i);
  };
  try {
    value();
    ws();
    return Math.min(i, text.length);
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
}

/** 1-based line and column of a character offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, col: end - last };
}
