/**
 * Why a cell has no figure, said briefly in the cell and in full once under its table. A skip reason
 * is written for the person who has to fix the machine (what was looked for, where, what to install),
 * often a few hundred characters; pasted into every cell of every table it buried the figures. Cells
 * now carry `skipped: <short reason>` with a letter, and the table lists each letter's full text once.
 */
import type { ResultRecord } from '../runner/record.ts';
import { failedChecksText } from './checks-view.ts';
import { firstLine } from './markdown-table.ts';
import { orderBackends } from './view.ts';

/** Longest short reason, in characters. */
export const SHORT_REASON_MAX = 40;

/** Long terms of backend messages and their usual abbreviations. */
const ABBREVIATIONS: [RegExp, string][] = [[/\bexecution providers?\b/gi, 'EP']];

/** Removes balanced parenthesised asides, nested ones included; an unclosed `(` ends the text. */
function withoutAsides(text: string): string {
  let out = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  // An unclosed `(`: what follows it was dropped, which is the clause before it.
  return out.replace(/\s+/g, ' ');
}

/** Cuts at a word boundary and marks the cut. */
function truncateWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,.;:]+$/, '')}…`;
}

/**
 * The short form of a reason, at most `max` characters: the first clause (before the first `:` or
 * `;`, parenthesised asides removed), without a leading article, long terms abbreviated; if still too
 * long, `is not` / `are not` become `not`, and then the middle gives way to `…` so the outcome at
 * the end (`not installed`, `failed`) stays.
 *
 * ```text
 * no WebGPU adapter: Dawn's requestAdapter() returned null (…)      → no WebGPU adapter
 * not installed: npm install @tensorflow/tfjs-node(-gpu) on …        → not installed
 * the CUDA execution provider binaries are not installed (…); …     → CUDA EP binaries are not installed
 * ```
 */
export function shortReason(reason: string, max = SHORT_REASON_MAX): string {
  const line = firstLine(reason, Number.MAX_SAFE_INTEGER);
  let s = (withoutAsides(line).split(/[:;]/)[0] ?? '').trim().replace(/[\s,.]+$/, '');
  s = s.replace(/^(the|a|an|this)\s+/i, '');
  for (const [re, short] of ABBREVIATIONS) s = s.replace(re, short);
  // Nothing left (a reason that opens with its detail): the start of the line is the best we have.
  if (s.length < 3) return truncateWords(line, max);
  if (s.length <= max) return s;
  s = s.replace(/\b(is|are) not\b/gi, 'not');
  if (s.length <= max) return s;
  const words = s.split(' ');
  if (words.length >= 4) {
    const tail = words.slice(-2).join(' ');
    let head = '';
    for (const w of words.slice(0, -2)) {
      const next = head === '' ? w : `${head} ${w}`;
      if (`${next} … ${tail}`.length > max) break;
      head = next;
    }
    if (head !== '') return `${head} … ${tail}`;
  }
  return truncateWords(s, max);
}

const SUPERSCRIPT_LETTERS = [...'ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ'];

/** The `n`-th (0-based) letter marker: ᵃ … ᶻ, then ᵃᵃ, ᵃᵇ, … */
export function letterMarker(n: number): string {
  const k = SUPERSCRIPT_LETTERS.length;
  let out = '';
  let i = n;
  do {
    out = (SUPERSCRIPT_LETTERS[i % k] as string) + out;
    i = Math.floor(i / k) - 1;
  } while (i >= 0);
  return out;
}

/** The full text behind a skipped or failed cell: what the note under the table says. */
export function fullReason(r: ResultRecord): string | undefined {
  if (r.status === 'passed') return undefined;
  if (r.status === 'skipped') return `skipped: ${r.skipReason}`;
  const e = r.error;
  const where = [
    e.phase ? `in ${e.phase}` : '',
    e.signal ? `signal ${e.signal}` : '',
    e.exitCode != null ? `exit ${e.exitCode}` : '',
  ]
    .filter((x) => x !== '')
    .join(', ');
  return `${r.status}: ${e.code}: ${firstLine(e.message, 300)}${where ? ` (${where})` : ''}`;
}

/** Title of the section that lists every reason once; tables link to it. */
export const REASONS_HEADING = 'What did not run';
/** The anchor GitHub and most renderers give {@link REASONS_HEADING}. */
export const REASONS_ANCHOR = '#what-did-not-run';

/**
 * The letters of a document: one per distinct full reason, in order of first use, so a letter means
 * the same in every table; each reason's full text is listed once, in {@link ReasonLetters.render}.
 */
export class ReasonLetters {
  private readonly letters = new Map<string, { n: number; backends: Set<string>; cases: Set<string> }>();

  /** The letter of a record's full reason (assigning the next one on first use). */
  letter(text: string, r: ResultRecord): string {
    let entry = this.letters.get(text);
    if (entry === undefined) {
      entry = { n: this.letters.size, backends: new Set(), cases: new Set() };
      this.letters.set(text, entry);
    }
    entry.backends.add(r.backend.requested);
    entry.cases.add(r.key);
    return letterMarker(entry.n);
  }

  get size(): number {
    return this.letters.size;
  }

  /** The 0-based position of a reason's letter (for sorting), or undefined when it has none yet. */
  index(text: string): number | undefined {
    return this.letters.get(text)?.n;
  }

  /** Every reason once, in letter order, with the backends and how many cases it concerns. */
  render(): string | undefined {
    if (this.letters.size === 0) return undefined;
    const lines = [...this.letters.entries()]
      .sort(([, a], [, b]) => a.n - b.n)
      .map(([text, e]) => {
        const who = orderBackends(e.backends)
          .map((b) => `\`${b}\``)
          .join(', ');
        const cases = e.cases.size === 1 ? `case ${[...e.cases][0]}` : `${e.cases.size} cases`;
        // A `|` in prose is harmless, but escaped it can never be read as a table row.
        return `${letterMarker(e.n)} ${who} (${cases}) ${text.replace(/\|/g, '\\|')}`;
      });
    return lines.join('  \n');
  }
}

/** The cells of one table that have no figure, with the letters they use. */
export class TableReasons {
  /** Letter → its position, for listing the letters in order. */
  private readonly used = new Map<string, number>();

  constructor(private readonly letters: ReasonLetters) {}

  /** The cell text for a record that has no figure here: `skipped: <short> ᵃ`, `failed: CODE ᵇ`. */
  cell(r: ResultRecord): string {
    const full = fullReason(r);
    const short =
      r.status === 'passed'
        ? 'passed'
        : r.status === 'skipped'
          ? `skipped: ${shortReason(r.skipReason)}`
          : (failedChecksText(r) ?? `${r.status}: ${r.error.code}`);
    if (full === undefined) return short;
    const letter = this.letters.letter(full, r);
    this.used.set(letter, this.letters.index(full) ?? 0);
    return `${short} ${letter}`;
  }

  get size(): number {
    return this.used.size;
  }

  /** A line pointing from the table's letters to their full text, or undefined when it used none. */
  render(): string | undefined {
    if (this.used.size === 0) return undefined;
    const letters = [...this.used.entries()].sort(([, a], [, b]) => a - b).map(([l]) => l);
    return `${letters.join(' ')}: the full reason for each letter is under [${REASONS_HEADING}](${REASONS_ANCHOR}).`;
  }
}
