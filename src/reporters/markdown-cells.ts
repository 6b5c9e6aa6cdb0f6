/**
 * What the sections of `comparison.md` share: the reporter's options, footnotes, and the cells — a
 * phase's time, a memory figure with its source, why a figure is missing, the ratio and reference
 * columns and the notes under a table.
 */
import type { PhaseName } from '../config/types.ts';
import type { MemoryFigure, ResultRecord } from '../runner/record.ts';
import { bytes, count, seconds, sig, times } from './format.ts';
import type { SampleSummary } from '../stats/summary.ts';
import type { ReasonLetters, TableReasons } from './reasons.ts';
import { newestBy } from './newest.ts';
import { failedMark } from './checks-view.ts';
import { referenceDifferences } from './conditions.ts';
import {
  fallbackOf,
  memoryFigure,
  metricLabel,
  phaseSummary,
  summaryOf,
  unplacedLeaves,
  type MemoryPhase,
  type RatioPair,
  type StudyReference,
} from './view.ts';
import { DEVICE_METHOD_WORDS } from '../vocab/metrics.ts';

export interface MarkdownOptions {
  /**
   * Name of the document, relative to the output folder.
   * @default 'comparison.md'
   */
  file?: string;
  /**
   * Folder of the SVG figures, relative to the document (where the SVG reporter writes them).
   * @default 'figures'
   */
  figuresDir?: string;
  /**
   * Link the declared figures (the study's Fig. 2 and Fig. 3 among them) into the document where there is data for them.
   * @default true
   */
  embedFigures?: boolean;
  /**
   * The document's first heading.
   * @default 'TensorFlow.js vs ONNX Runtime: comparison'
   */
  title?: string;
}

export const SUPERSCRIPT = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
export function superscript(n: number): string {
  return [...String(n)].map((d) => SUPERSCRIPT[Number(d)]).join('');
}

/** Footnotes of a table, numbered in order of first use. */
export class Footnotes {
  private readonly notes = new Map<string, number>();
  mark(text: string): string {
    let n = this.notes.get(text);
    if (n === undefined) {
      n = this.notes.size + 1;
      this.notes.set(text, n);
    }
    return superscript(n);
  }
  render(): string {
    return [...this.notes.entries()].map(([text, n]) => `${superscript(n)} ${text}`).join('  \n');
  }
  get size(): number {
    return this.notes.size;
  }
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function profileName(p: string | null): string {
  return p === null ? 'base (no profile)' : p;
}

// ---------------------------------------------------------------------------------------------
// Cells.

/** What the sections share while one document renders: the letters of the skip / failure notes. */
export interface Ctx {
  letters: ReasonLetters;
}

export function backendHeader(b: string): string {
  return `\`${b}\``;
}

export function ratioHeader(p: RatioPair): string {
  return `${p.a} : ${p.b}`;
}

export function summaryText(s: SampleSummary, fmt: (x: number) => string, spread: (x: number) => string): string {
  return s.n === 1 ? `${fmt(s.median)} (n=1)` : `${fmt(s.median)} ± ${spread(s.mad)} (n=${s.n})`;
}

export function timeText(s: SampleSummary): string {
  return summaryText(s, seconds, (x) => sig(x, 2));
}

/** What a measured cell adds about where it ran: another backend than requested, or a software adapter. */
export function fallbackSuffix(r: ResultRecord): string {
  const f = fallbackOf(r);
  return (f === undefined ? '' : ` (ran on ${f})`) + softwareSuffix(r);
}

/** The mark of a figure measured on a software (CPU) WebGPU adapter: not a GPU result. */
export const SOFTWARE_MARK = ' (software adapter: not a GPU result)';

/** {@link SOFTWARE_MARK} where the record's session ran on a software adapter, else nothing. */
export function softwareSuffix(r: ResultRecord): string {
  return r.backend.session?.adapter?.software ? SOFTWARE_MARK : '';
}

/** The adapter a GPU session ran on, for the cases table: its name, and a mark where it is software. */
export function adapterText(r: ResultRecord): string {
  const a = r.backend.session?.adapter;
  return a ? `, adapter ${a.name}${softwareSuffix(r)}` : '';
}

/**
 * What a record shows where a value is missing: why (briefly, with a letter for the full reason
 * under the table) when it was skipped or failed in this phase, else a dash.
 */
export function missingText(r: ResultRecord | undefined, reasons: TableReasons, phase?: string): string {
  if (!r) return '—';
  if (r.status === 'skipped') return reasons.cell(r);
  if ((r.status === 'failed' || r.status === 'crashed') && (r.error?.phase === undefined || r.error.phase === phase)) {
    return reasons.cell(r);
  }
  return '—';
}

/** A record's median time of a phase, where it measured one. */
export function measuredTime(
  r: ResultRecord | undefined,
  phase: PhaseName,
): { value: number; record: ResultRecord } | undefined {
  const s = r && r.status !== 'skipped' ? phaseSummary(r, phase) : undefined;
  return r && s ? { value: s.median, record: r } : undefined;
}

/** A record's memory figure of a phase and metric, where it has one. */
export function measuredMemory(
  r: ResultRecord | undefined,
  phase: MemoryPhase,
  metric: string,
): { value: number; record: ResultRecord } | undefined {
  const f = r && r.status !== 'skipped' ? memoryFigure(r, phase, metric) : undefined;
  return r && f ? { value: f.bytes, record: r } : undefined;
}

export function timeCell(r: ResultRecord | undefined, phase: PhaseName, reasons: TableReasons): string {
  const s = r && r.status !== 'skipped' ? phaseSummary(r, phase) : undefined;
  return r && s ? timeText(s) + fallbackSuffix(r) + failedMark(r, 'time', phase) : missingText(r, reasons, phase);
}

export function throughputCell(r: ResultRecord | undefined, reasons: TableReasons): string {
  const s = r && r.status !== 'skipped' ? summaryOf(r.phases.train?.imagesPerSecond) : undefined;
  return r && s
    ? summaryText(
        s,
        (x) => `${sig(x)} img/s`,
        (x) => sig(x, 2),
      ) + softwareSuffix(r)
    : missingText(r, reasons, 'train');
}

/**
 * A memory figure: bytes, the footnote of its source (the method only, so every repeat and shard of a
 * case cites the same note) and, when it merges several runs of the phase, how many it is the worst of.
 */
export function memoryText(f: MemoryFigure, notes: Footnotes): string {
  const method = f.method ? `, ${DEVICE_METHOD_WORDS[f.method]}` : '';
  const text = `${metricLabel(f.metric)}: ${f.source}${method}; ${f.reliable ? 'reliable' : 'not reliable'}${f.note ? ` (${f.note})` : ''}.`;
  const n = f.measurements ?? 1;
  return `${bytes(f.bytes)} ${notes.mark(text)}${n > 1 ? ` (worst of ${n})` : ''}`;
}

export function memoryCell(
  r: ResultRecord | undefined,
  phase: MemoryPhase,
  metric: string,
  notes: Footnotes,
  reasons: TableReasons,
): string {
  const f = r && r.status !== 'skipped' ? memoryFigure(r, phase, metric) : undefined;
  return r && f
    ? memoryText(f, notes) + fallbackSuffix(r) + failedMark(r, phase, f.metric)
    : missingText(r, reasons, phase === 'dataset' ? 'load-data' : phase);
}

/** A study figure as the experiment file wrote it, with its unit. */
export function studyText(x: number | undefined, unit: string): string {
  return x === undefined ? '' : `${x} ${unit}`;
}

export function studyHeaders(ref: StudyReference): string[] {
  const { tensorflow: tf, caffe2: c2 } = ref.names;
  return [`${ref.label} ${tf}`, `${ref.label} ${c2}`, `${ref.label} ${c2} : ${tf}`];
}

export function studyCells(ref: StudyReference, key: string): string[] {
  const tf = ref.tensorflow[key];
  const c2 = ref.caffe2[key];
  const r = tf !== undefined && c2 !== undefined && tf !== 0 ? c2 / tf : undefined;
  return [studyText(tf, ref.unit), studyText(c2, ref.unit), tf === undefined && c2 === undefined ? '' : times(r)];
}

export function unplacedText(ref: StudyReference, used: Set<string>): string | undefined {
  const rest = unplacedLeaves(ref, used);
  if (rest.length === 0) return undefined;
  return `Other figures in the experiment file's \`reference\` (${ref.label}, as published): ${rest
    .map(([path, v]) => `\`${path}\` = ${studyText(v, ref.unit)}`)
    .join(', ')}.`;
}

/** Says why an experiment file's reference is not beside the figures: its unit measures something else. */
export function mismatchText(ref: StudyReference | undefined, what: 'times' | 'memory'): string | undefined {
  if (ref === undefined) return undefined;
  return `The experiment file's \`reference\` (${ref.label}) is in ${ref.unit}, which is not a unit of ${what}, so its figures are not shown beside these.`;
}

export const CELLS_NOTE =
  'Cells: median ± MAD (median absolute deviation) of the repeats, n = number of samples, warm-up excluded.';

/** How to read the ratio columns, when the table has any. */
export function ratioNote(pairs: readonly RatioPair[], lower: string): string {
  if (pairs.length === 0) return '';
  const how = pairs.some((p) => p.cls === undefined)
    ? 'the pairs the experiment file declares (`compare`)'
    : 'by default each framework’s backends on the same class of device';
  return ` A ratio column \`a : b\` divides a’s figure by b’s (${how}); below 1: a ${lower}.`;
}

export function studyNote(ref: StudyReference | undefined, what: string): string {
  return ref
    ? ` ${ref.label}: ${what} as published${ref.note ? ` (${ref.note})` : ''}, quoted from the experiment file.`
    : '';
}

/** The line beside a table that shows a reference's figures: what differs between them and the records. */
export function differences(records: readonly ResultRecord[], ref: StudyReference | undefined): string | undefined {
  return ref ? referenceDifferences(ref.label, ref.conditions, records) : undefined;
}

/** Whether a reference places at least one figure under one of `keys`. */
export function places(ref: StudyReference | undefined, keys: readonly string[]): ref is StudyReference {
  return ref !== undefined && keys.some((k) => ref.tensorflow[k] !== undefined || ref.caffe2[k] !== undefined);
}

export function byBackend(records: readonly ResultRecord[]): Map<string, ResultRecord> {
  return newestBy(records, (r) => r.backend.requested);
}

export function join(parts: readonly (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined && p !== '').join('\n\n');
}
