/**
 * The comparison document, `comparison.md`: the environment the records were measured in, then
 * tables mirroring the study (Table 2 times, Table 3 memory, the data of Fig. 2 and Fig. 3 with the
 * figures linked, accuracy, the argmax overhead) and a status line for every case, so a backend that
 * could not run shows why instead of disappearing. Output depends only on the records: no clock, no
 * locale, no machine state, so regenerated docs diff cleanly.
 */
import type { PhaseName } from '../config/types.ts';
import type { EnvironmentInfo, MemoryFigure, ResultRecord } from '../runner/record.ts';
import { fig2Records, fig3Records, fig2Points, fig3Points, FIGURE_FILES } from './figures-data.ts';
import { bytes, count, percent, seconds, sig, times } from './format.ts';
import { table } from './markdown-table.ts';
import type { SampleSummary } from '../stats/summary.ts';
import type { ReportFile, Reporter } from './types.ts';
import { ReasonLetters, REASONS_HEADING, TableReasons } from './reasons.ts';
import { newestBy } from './newest.ts';
import { checksSection, failedMark, migrationNote } from './checks-view.ts';
import { installSection } from './install-section.ts';
import { describeConditions, modelText, referenceDifferences } from './conditions.ts';
import {
  ARTEFACTS,
  byArchAndBackend,
  byExperimentAndArch,
  declaredPairs,
  fallbackOf,
  MAIN_MEMORY_METRICS,
  MEMORY_PHASE_LABELS,
  MEMORY_PHASES,
  memoryFigure,
  metricLabel,
  orderArchs,
  orderBackends,
  pairRatio,
  PHASE_LABELS,
  phaseSummary,
  ratioPairs,
  recordsOf,
  referenceFor,
  sortMetrics,
  summaryOf,
  TIMED_PHASES,
  unplacedLeaves,
  type MemoryPhase,
  type RatioPair,
  type RowValues,
  type StudyReference,
} from './view.ts';
import { opProfileSection } from './op-profile.ts';

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
   * Link Fig. 2 and Fig. 3 into the document where there is data for them.
   * @default true
   */
  embedFigures?: boolean;
  /**
   * The document's first heading.
   * @default 'TensorFlow.js vs ONNX Runtime: comparison'
   */
  title?: string;
}

const SUPERSCRIPT = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
function superscript(n: number): string {
  return [...String(n)].map((d) => SUPERSCRIPT[Number(d)]).join('');
}

/** Footnotes of a table, numbered in order of first use. */
class Footnotes {
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

/** Renders `comparison.md`. */
export class MarkdownReporter implements Reporter {
  readonly name = 'markdown';
  private readonly options: Required<MarkdownOptions>;

  constructor(options: MarkdownOptions = {}) {
    this.options = {
      file: options.file ?? 'comparison.md',
      figuresDir: options.figuresDir ?? 'figures',
      embedFigures: options.embedFigures ?? true,
      title: options.title ?? 'TensorFlow.js vs ONNX Runtime: comparison',
    };
  }

  render(records: readonly ResultRecord[]): ReportFile[] {
    return [{ path: this.options.file, content: this.document(records) }];
  }

  /** The whole document as text. */
  document(records: readonly ResultRecord[]): string {
    const parts: string[] = [`# ${this.options.title}`, intro(records)];
    if (records.length === 0) {
      parts.push('No result records were given, so there is nothing to compare yet.');
      return `${parts.join('\n\n')}\n`;
    }
    // One set of letters for the whole document, assigned in document order: a letter means the same
    // reason in every table.
    const ctx: Ctx = { letters: new ReasonLetters() };
    parts.push(environmentSection(records));
    const body: string[] = [];
    body.push(...table2Section(records, ctx));
    body.push(...table3Section(records, ctx));
    body.push(...fig2Section(records, this.options, ctx));
    body.push(...fig3Section(records, this.options, ctx));
    body.push(...accuracySection(records, ctx));
    body.push(...argmaxSection(records, ctx));
    body.push(...otherSection(records, ctx));
    body.push(...opProfileSection(records));
    body.push(...installSection(records));
    body.push(...checksSection(records));
    body.push(statusSection(records, ctx));
    // Rendered after the tables (they assign the letters) but placed before them: what could not run
    // on these machines is the first thing to know when reading the figures.
    const reasons = ctx.letters.render();
    if (reasons !== undefined) {
      parts.push(
        `## ${REASONS_HEADING}\n\nCases that were skipped or failed, with the full reason; the tables show each as \`skipped: …\` or \`failed: CODE\` with its letter.\n\n${reasons}`,
      );
    }
    parts.push(...body);
    return `${parts.join('\n\n')}\n`;
  }
}

// ---------------------------------------------------------------------------------------------
// Header and environment.

function utc(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function period(records: readonly ResultRecord[]): string {
  const times = records.map((r) => Date.parse(r.finishedAt)).filter((t) => !Number.isNaN(t));
  if (times.length === 0) return 'at an unknown time';
  const from = utc(new Date(Math.min(...times)).toISOString());
  const to = utc(new Date(Math.max(...times)).toISOString());
  return from === to ? `on ${from}` : `between ${from} and ${to}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

function profileName(p: string | null): string {
  return p === null ? 'base (no profile)' : p;
}

function intro(records: readonly ResultRecord[]): string {
  const runs = new Set(records.map((r) => r.runId)).size;
  const exps = new Set(records.map((r) => r.experiment.name)).size;
  return [
    '<!-- Generated by `expbench report` from result records; edits are lost when it is regenerated. -->',
    '',
    `Rendered from ${plural(records.length, 'result record')} (${plural(runs, 'run')}, ${plural(exps, 'experiment')}), finished ${period(records)}.`,
    '',
    'Columns named after a `reference` label repeat the figures an experiment file quotes in its `reference` block',
    '(what they are is said under each table, with what differs from the runs here); they were not measured here.',
    'Ratio columns `a : b` divide backend a’s figure by b’s.',
    '',
    'Each `framework/device` column is one backend. A cell without a figure says why in short (`skipped: …`,',
    '`failed: CODE`) with a letter; "What did not run" lists the full reason for each letter once.',
    ...(migrationNote(records) ? ['', migrationNote(records) as string] : []),
  ].join('\n');
}

function environmentSection(records: readonly ResultRecord[]): string {
  const machines = new Map<string, { env: EnvironmentInfo; records: ResultRecord[] }>();
  // The newest record's description of a machine wins (drivers and packages get updated).
  for (const [fingerprint, newest] of newestBy(records, (r) => r.env.fingerprint))
    machines.set(fingerprint, { env: newest.env, records: records.filter((r) => r.env.fingerprint === fingerprint) });
  const list = [...machines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  const header = ['', ...list.map((_, i) => (list.length === 1 ? 'machine' : `machine ${i + 1}`))];
  const row = (label: string, f: (m: { env: EnvironmentInfo; records: ResultRecord[] }) => string) => [
    label,
    ...list.map(f),
  ];
  const rows = [
    row('CPU', (m) => m.env.cpu),
    row('Cores', (m) => String(m.env.cores)),
    row('Memory', (m) => bytes(m.env.memoryBytes)),
    row('GPU', (m) => m.env.gpu ?? 'none reported'),
    row('Driver', (m) => m.env.driver ?? '—'),
    row('OS', (m) => m.env.os),
    row('Node.js', (m) => m.env.node),
    row('Profile', (m) => [...new Set(m.records.map((r) => profileName(r.experiment.profile)))].sort().join(', ')),
    row('Runs', (m) => [...new Set(m.records.map((r) => `\`${r.runId}\``))].sort().join(', ')),
    row('Finished', (m) => period(m.records).replace(/^on |^between /, '')),
    row('Fingerprint', (m) => `\`${m.env.fingerprint}\``),
  ];
  const names = [...new Set(list.flatMap((m) => Object.keys(m.env.packages)))].sort();
  const parts = [
    '## Environment',
    table(
      header,
      rows,
      header.map(() => 'left'),
    ),
  ];
  if (names.length > 0) {
    const pkgHeader = ['Package', ...header.slice(1)];
    parts.push(
      table(
        pkgHeader,
        names.map((n) => [n, ...list.map((m) => m.env.packages[n] ?? '—')]),
        pkgHeader.map(() => 'left'),
      ),
    );
  }
  return parts.join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Cells.

/** What the sections share while one document renders: the letters of the skip / failure notes. */
interface Ctx {
  letters: ReasonLetters;
}

function backendHeader(b: string): string {
  return `\`${b}\``;
}

function ratioHeader(p: RatioPair): string {
  return `${p.a} : ${p.b}`;
}

function summaryText(s: SampleSummary, fmt: (x: number) => string, spread: (x: number) => string): string {
  return s.n === 1 ? `${fmt(s.median)} (n=1)` : `${fmt(s.median)} ± ${spread(s.mad)} (n=${s.n})`;
}

function timeText(s: SampleSummary): string {
  return summaryText(s, seconds, (x) => sig(x, 2));
}

function fallbackSuffix(r: ResultRecord): string {
  const f = fallbackOf(r);
  return f === undefined ? '' : ` (ran on ${f})`;
}

/**
 * What a record shows where a value is missing: why (briefly, with a letter for the full reason
 * under the table) when it was skipped or failed in this phase, else a dash.
 */
function missingText(r: ResultRecord | undefined, reasons: TableReasons, phase?: string): string {
  if (!r) return '—';
  if (r.status === 'skipped') return reasons.cell(r);
  if ((r.status === 'failed' || r.status === 'crashed') && (r.error?.phase === undefined || r.error.phase === phase)) {
    return reasons.cell(r);
  }
  return '—';
}

/** A record's median time of a phase, where it measured one. */
function measuredTime(
  r: ResultRecord | undefined,
  phase: PhaseName,
): { value: number; record: ResultRecord } | undefined {
  const s = r && r.status !== 'skipped' ? phaseSummary(r, phase) : undefined;
  return r && s ? { value: s.median, record: r } : undefined;
}

/** A record's memory figure of a phase and metric, where it has one. */
function measuredMemory(
  r: ResultRecord | undefined,
  phase: MemoryPhase,
  metric: string,
): { value: number; record: ResultRecord } | undefined {
  const f = r && r.status !== 'skipped' ? memoryFigure(r, phase, metric) : undefined;
  return r && f ? { value: f.bytes, record: r } : undefined;
}

function timeCell(r: ResultRecord | undefined, phase: PhaseName, reasons: TableReasons): string {
  const s = r && r.status !== 'skipped' ? phaseSummary(r, phase) : undefined;
  return r && s ? timeText(s) + fallbackSuffix(r) + failedMark(r, 'time', phase) : missingText(r, reasons, phase);
}

function throughputCell(r: ResultRecord | undefined, reasons: TableReasons): string {
  const s = r && r.status !== 'skipped' ? summaryOf(r.phases.train?.imagesPerSecond) : undefined;
  return r && s
    ? summaryText(
        s,
        (x) => `${sig(x)} img/s`,
        (x) => sig(x, 2),
      )
    : missingText(r, reasons, 'train');
}

/**
 * A memory figure: bytes, the footnote of its source (the method only, so every repeat and shard of a
 * case cites the same note) and, when it merges several runs of the phase, how many it is the worst of.
 */
function memoryText(f: MemoryFigure, notes: Footnotes): string {
  const text = `${metricLabel(f.metric)}: ${f.source}; ${f.reliable ? 'reliable' : 'not reliable'}${f.note ? ` (${f.note})` : ''}.`;
  const n = f.measurements ?? 1;
  return `${bytes(f.bytes)} ${notes.mark(text)}${n > 1 ? ` (worst of ${n})` : ''}`;
}

function memoryCell(
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
function studyText(x: number | undefined, unit: string): string {
  return x === undefined ? '' : `${x} ${unit}`;
}

function studyHeaders(ref: StudyReference): string[] {
  const { tensorflow: tf, caffe2: c2 } = ref.names;
  return [`${ref.label} ${tf}`, `${ref.label} ${c2}`, `${ref.label} ${c2} : ${tf}`];
}

function studyCells(ref: StudyReference, key: string): string[] {
  const tf = ref.tensorflow[key];
  const c2 = ref.caffe2[key];
  const r = tf !== undefined && c2 !== undefined && tf !== 0 ? c2 / tf : undefined;
  return [studyText(tf, ref.unit), studyText(c2, ref.unit), tf === undefined && c2 === undefined ? '' : times(r)];
}

function unplacedText(ref: StudyReference, used: Set<string>): string | undefined {
  const rest = unplacedLeaves(ref, used);
  if (rest.length === 0) return undefined;
  return `Other figures in the experiment file's \`reference\` (${ref.label}, as published): ${rest
    .map(([path, v]) => `\`${path}\` = ${studyText(v, ref.unit)}`)
    .join(', ')}.`;
}

/** Says why an experiment file's reference is not beside the figures: its unit measures something else. */
function mismatchText(ref: StudyReference | undefined, what: 'times' | 'memory'): string | undefined {
  if (ref === undefined) return undefined;
  return `The experiment file's \`reference\` (${ref.label}) is in ${ref.unit}, which is not a unit of ${what}, so its figures are not shown beside these.`;
}

const CELLS_NOTE =
  'Cells: median ± MAD (median absolute deviation) of the repeats, n = number of samples, warm-up excluded.';

/** How to read the ratio columns, when the table has any. */
function ratioNote(pairs: readonly RatioPair[], lower: string): string {
  if (pairs.length === 0) return '';
  const how = pairs.some((p) => p.cls === undefined)
    ? 'the pairs the experiment file declares (`compare`)'
    : 'by default each framework’s backends on the same class of device';
  return ` A ratio column \`a : b\` divides a’s figure by b’s (${how}); below 1: a ${lower}.`;
}

function studyNote(ref: StudyReference | undefined, what: string): string {
  return ref
    ? ` ${ref.label}: ${what} as published${ref.note ? ` (${ref.note})` : ''}, quoted from the experiment file.`
    : '';
}

/** The line beside a table that shows a reference's figures: what differs between them and the records. */
function differences(records: readonly ResultRecord[], ref: StudyReference | undefined): string | undefined {
  return ref ? referenceDifferences(ref.label, ref.conditions, records) : undefined;
}

/** Whether a reference places at least one figure under one of `keys`. */
function places(ref: StudyReference | undefined, keys: readonly string[]): ref is StudyReference {
  return ref !== undefined && keys.some((k) => ref.tensorflow[k] !== undefined || ref.caffe2[k] !== undefined);
}

function byBackend(records: readonly ResultRecord[]): Map<string, ResultRecord> {
  return newestBy(records, (r) => r.backend.requested);
}

function join(parts: readonly (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined && p !== '').join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Sections.

/** Phases × backends for one experiment, with ratios and the study's figures. */
function phaseTable(records: readonly ResultRecord[], ctx: Ctx): string {
  const cases = byBackend(records);
  const backends = orderBackends(cases.keys());
  // Only a reference in a unit of time sits beside times (a GB figure beside seconds would mislead).
  const { ref: timeRef, mismatch } = referenceFor(records, 'time');
  const ref = places(timeRef, TIMED_PHASES) ? timeRef : undefined;
  const has = (phase: PhaseName) => records.some((r) => (r.phases[phase]?.samples.length ?? 0) > 0);
  // A phase no case measured (an experiment timing inference only) gets no row, unless no case
  // measured anything: then every row shows why (skipped, failed).
  const phases: PhaseName[] = TIMED_PHASES.some(has) ? TIMED_PHASES.filter(has) : [...TIMED_PHASES];
  if (has('warmup')) phases.push('warmup');
  const values =
    (phase: PhaseName): RowValues =>
    (b) =>
      measuredTime(cases.get(b), phase);
  const pairs = ratioPairs(phases.map(values), declaredPairs(records));
  const reasons = new TableReasons(ctx.letters);
  const header = [
    'Phase',
    ...backends.map(backendHeader),
    ...pairs.map(ratioHeader),
    ...(ref ? studyHeaders(ref) : []),
  ];
  const rows = phases.map((phase) => [
    PHASE_LABELS[phase],
    ...backends.map((b) => timeCell(cases.get(b), phase, reasons)),
    ...pairs.map((p) => times(pairRatio(p, values(phase)))),
    ...(ref && phase !== 'warmup' ? studyCells(ref, phase) : ref ? ['', '', ''] : []),
  ]);
  if (records.some((r) => (r.phases.train?.imagesPerSecond?.length ?? 0) > 0)) {
    rows.push([
      'training throughput (higher is better)',
      ...backends.map((b) => throughputCell(cases.get(b), reasons)),
      ...pairs.map(() => ''),
      ...(ref ? ['', '', ''] : []),
    ]);
  }
  return join([
    describeConditions(records),
    table(header, rows),
    differences(records, ref),
    reasons.render(),
    CELLS_NOTE + ratioNote(pairs, 'is faster') + studyNote(ref, 'timings'),
    timeRef ? unplacedText(timeRef, new Set(TIMED_PHASES)) : undefined,
    mismatchText(mismatch, 'times'),
  ]);
}

function groupHeading(name: string, arch: string): string {
  return `### Experiment \`${name}\` · model \`${arch}\``;
}

function table2Section(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const groups = byExperimentAndArch(recordsOf(records, 'table2'));
  if (groups.length === 0) return [];
  return [
    '## Table 2: graph construction, training and inference time',
    ...groups.map((g) => `${groupHeading(g.name, g.arch)}\n\n${phaseTable(g.records, ctx)}`),
  ];
}

/** Metrics of `phase` in `records`, those of the main tables or the others. */
function metricsOf(records: readonly ResultRecord[], phase: MemoryPhase, main: boolean): string[] {
  return sortMetrics(records.flatMap((r) => (r.memory[phase] ?? []).map((f) => f.metric))).filter(
    (m) => MAIN_MEMORY_METRICS.includes(m) === main,
  );
}

/** Whether a figure of `phase` is left to "more memory figures": main tables show training and inference only. */
function isDetail(phase: MemoryPhase, metric: string): boolean {
  return phase === 'dataset' || !MAIN_MEMORY_METRICS.includes(metric);
}

/** Metrics of `phase` that "more memory figures" lists. */
function detailMetrics(records: readonly ResultRecord[], phase: MemoryPhase): string[] {
  return sortMetrics(records.flatMap((r) => (r.memory[phase] ?? []).map((f) => f.metric))).filter((m) =>
    isDetail(phase, m),
  );
}

/**
 * The memory figures a main table leaves out (JS heap, array buffers, external, backend-reported,
 * the dataset's bytes), one row per grid row and metric, in a collapsed block: they explain a peak
 * but are not what the study compared.
 */
function moreMemory(
  rows: readonly { label: string; cases: Map<string, ResultRecord> }[],
  phasesOf: (label: string) => readonly MemoryPhase[],
): string | undefined {
  const notes = new Footnotes();
  const all = rows.flatMap((row) => [...row.cases.values()]);
  const backends = orderBackends(
    all
      .filter(
        (r) =>
          r.status !== 'skipped' &&
          MEMORY_PHASES.some((ph) => (r.memory[ph] ?? []).some((f) => isDetail(ph, f.metric))),
      )
      .map((r) => r.backend.requested),
  );
  const out: string[][] = [];
  const metricNames = new Set<string>();
  for (const row of rows) {
    const rs = [...row.cases.values()];
    const phases = phasesOf(row.label);
    for (const phase of phases) {
      for (const metric of detailMetrics(rs, phase)) {
        metricNames.add(
          phase === 'dataset' ? `${MEMORY_PHASE_LABELS.dataset} · ${metricLabel(metric)}` : metricLabel(metric),
        );
        out.push([
          // One phase only (Fig. 3: training): the caption says which, the rows need not.
          `${row.label}${phases.length > 1 ? `${MEMORY_PHASE_LABELS[phase]} · ` : ''}${metricLabel(metric)}`,
          ...backends.map((b) => {
            const r = row.cases.get(b);
            const f = r && r.status !== 'skipped' ? memoryFigure(r, phase, metric) : undefined;
            return r && f ? memoryText(f, notes) + fallbackSuffix(r) : '—';
          }),
        ]);
      }
    }
  }
  if (out.length === 0) return undefined;
  const names = [...metricNames];
  return join([
    `<details>\n<summary>More memory figures${phasesOf('').length === 1 ? ` while ${MEMORY_PHASE_LABELS[phasesOf('')[0] as MemoryPhase]}` : ''} (${names.join(', ')})</summary>`,
    table(['Measure', ...backends.map(backendHeader)], out),
    notes.size > 0 ? `Sources:  \n${notes.render()}` : undefined,
    '</details>',
  ]);
}

const BYTES_NOTE = 'Bytes in binary units (1 GiB = 2³⁰ bytes).';
const WORST_NOTE =
  'A case’s figure is the worst over every run of the phase (repeats and warm-up rounds), as the memory budgets judge it; “worst of n” counts them.';

function memoryTable(records: readonly ResultRecord[], ctx: Ctx, fallback: boolean): string {
  const cases = byBackend(records);
  const backends = orderBackends(cases.keys());
  // Only a reference in a unit of memory sits beside memory; Table 2's seconds never do.
  const { ref: memRef, mismatch } = referenceFor(records, 'memory');
  const ref = places(memRef, ['train', 'infer']) ? memRef : undefined;
  const notes = new Footnotes();
  const reasons = new TableReasons(ctx.letters);
  const grid: { phase: 'train' | 'infer'; metric: string }[] = [];
  for (const phase of ['train', 'infer'] as const) {
    const any = records.some((r) => (r.memory[phase]?.length ?? 0) > 0);
    if (!any) continue;
    const main = metricsOf(records, phase, true);
    for (const metric of main.length > 0 ? main : ['peak-rss']) grid.push({ phase, metric });
  }
  const more = moreMemory([{ label: '', cases }], () => MEMORY_PHASES);
  if (grid.length === 0 && more === undefined) {
    const why = backends.map((b) => {
      const m = missingText(cases.get(b), reasons);
      return `\`${b}\`: ${m === '—' ? 'no memory figures recorded' : m}`;
    });
    return join([`No memory figures in these records (${why.join('; ')}).`, reasons.render()]);
  }
  const values =
    (g: (typeof grid)[number]): RowValues =>
    (b) =>
      measuredMemory(cases.get(b), g.phase, g.metric);
  const pairs = ratioPairs(grid.map(values), declaredPairs(records));
  const header = [
    'Measure',
    ...backends.map(backendHeader),
    ...pairs.map(ratioHeader),
    ...(ref ? studyHeaders(ref) : []),
  ];
  const rows = grid.map((g, i) => [
    `${MEMORY_PHASE_LABELS[g.phase]} · ${metricLabel(g.metric)}`,
    ...backends.map((b) => memoryCell(cases.get(b), g.phase, g.metric, notes, reasons)),
    ...pairs.map((p) => times(pairRatio(p, values(g)))),
    // The study's figure sits beside the phase's first (primary) measure.
    ...(ref ? (grid.findIndex((x) => x.phase === g.phase) === i ? studyCells(ref, g.phase) : ['', '', '']) : []),
  ]);
  return join([
    grid.length > 0 ? table(header, rows) : undefined,
    differences(records, ref),
    reasons.render(),
    notes.size > 0 ? `Sources:  \n${notes.render()}` : undefined,
    `${BYTES_NOTE} ${WORST_NOTE} Peak RSS is the resident set of the case’s own process; device memory comes from a backend counter or driver query where one exists.` +
      ratioNote(pairs, 'needs less') +
      studyNote(ref, 'memory'),
    memRef ? unplacedText(memRef, new Set(['train', 'infer'])) : undefined,
    // Table 2's reference under Table 3 is expected (it is in seconds and shown in Table 2).
    fallback ? undefined : mismatchText(mismatch, 'memory'),
    more,
  ]);
}

function table3Section(records: readonly ResultRecord[], ctx: Ctx): string[] {
  let own = recordsOf(records, 'table3');
  let lede = '';
  const fallback = own.length === 0;
  if (fallback) {
    own = recordsOf(records, 'table2');
    if (own.length === 0) return [];
    lede = 'Measured in the Table 2 runs (no `table3` experiment among the records).\n\n';
  }
  return [
    '## Table 3: memory',
    ...byExperimentAndArch(own).map(
      (g) =>
        `${groupHeading(g.name, g.arch)}\n\n${lede}${describeConditions(g.records)}\n\n${memoryTable(g.records, ctx, fallback)}`,
    ),
  ];
}

function figureLink(opts: Required<MarkdownOptions>, file: string, alt: string, show: boolean): string[] {
  if (!opts.embedFigures || !show) return [];
  const dir = opts.figuresDir.replace(/\/+$/, '');
  return [`![${alt}](${dir === '' ? '' : `${dir}/`}${file})`];
}

/** Per architecture, the reference in `kind` that places a figure under `train` or the architecture. */
function archReferences(
  grid: Map<string, Map<string, ResultRecord>>,
  archs: readonly string[],
  kind: 'time' | 'memory',
): Map<string, StudyReference | undefined> {
  return new Map(
    archs.map((a) => {
      const { ref } = referenceFor([...(grid.get(a)?.values() ?? [])], kind);
      return [a, places(ref, ['train', a]) ? ref : undefined] as const;
    }),
  );
}

function archKey(ref: StudyReference, arch: string): string {
  return ref.tensorflow.train !== undefined || ref.caffe2.train !== undefined ? 'train' : arch;
}

function fig2Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>, ctx: Ctx): string[] {
  const rs = fig2Records(records);
  if (rs.length === 0) return [];
  const grid = byArchAndBackend(rs);
  const archs = orderArchs(grid.keys());
  const backends = orderBackends(rs.map((r) => r.backend.requested));
  const values =
    (arch: string): RowValues =>
    (b) =>
      measuredTime(grid.get(arch)?.get(b), 'train');
  const pairs = ratioPairs(archs.map(values), declaredPairs(rs));
  const refs = archReferences(grid, archs, 'time');
  const anyRef = [...refs.values()].find((r) => r !== undefined);
  const reasons = new TableReasons(ctx.letters);
  const header = [
    'Architecture',
    ...backends.map(backendHeader),
    ...pairs.map(ratioHeader),
    ...(anyRef ? studyHeaders(anyRef) : []),
  ];
  const rows = archs.map((arch) => {
    const row = grid.get(arch) as Map<string, ResultRecord>;
    const ref = refs.get(arch);
    return [
      `\`${arch}\``,
      ...backends.map((b) => timeCell(row.get(b), 'train', reasons)),
      ...pairs.map((p) => times(pairRatio(p, values(arch)))),
      ...(anyRef ? (ref ? studyCells(ref, archKey(ref, arch)) : ['', '', '']) : []),
    ];
  });
  return [
    '## Fig. 2: training time against depth',
    ...figureLink(opts, FIGURE_FILES.fig2, 'Fig. 2: training time against depth', fig2Points(records).length > 0),
    join([
      `Training time per architecture (the phase of Table 2's training row). ${describeConditions(rs, false)}`,
      table(header, rows),
      differences(rs, anyRef),
      reasons.render(),
      CELLS_NOTE + ratioNote(pairs, 'is faster') + studyNote(anyRef, 'training times'),
    ]),
  ];
}

function fig3Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>, ctx: Ctx): string[] {
  const { records: rs, fromFig2 } = fig3Records(records);
  if (rs.length === 0) return [];
  const grid = byArchAndBackend(rs);
  const archs = orderArchs(grid.keys());
  const backends = orderBackends(rs.map((r) => r.backend.requested));
  const main = metricsOf(rs, 'train', true);
  const metrics = main.length > 0 ? main : ['peak-rss'];
  const cells = archs.flatMap((arch) => metrics.map((metric) => ({ arch, metric })));
  const values =
    (c: (typeof cells)[number]): RowValues =>
    (b) =>
      measuredMemory(grid.get(c.arch)?.get(b), 'train', c.metric);
  const pairs = ratioPairs(cells.map(values), declaredPairs(rs));
  // Fig. 2's runs carry no memory reference of their own; a fallback never borrows their seconds.
  const refs = archReferences(grid, archs, 'memory');
  const anyRef = [...refs.values()].find((r) => r !== undefined);
  const notes = new Footnotes();
  const reasons = new TableReasons(ctx.letters);
  const header = [
    'Architecture · measure (training)',
    ...backends.map(backendHeader),
    ...pairs.map(ratioHeader),
    ...(anyRef ? studyHeaders(anyRef) : []),
  ];
  const rows = cells.map((c) => {
    const row = grid.get(c.arch) as Map<string, ResultRecord>;
    const ref = refs.get(c.arch);
    const first = metrics[0] === c.metric;
    return [
      `\`${c.arch}\` · ${metricLabel(c.metric)}`,
      ...backends.map((b) => memoryCell(row.get(b), 'train', c.metric, notes, reasons)),
      ...pairs.map((p) => times(pairRatio(p, values(c)))),
      ...(anyRef ? (ref && first ? studyCells(ref, archKey(ref, c.arch)) : ['', '', '']) : []),
    ];
  });
  const more = moreMemory(
    archs.map((arch) => ({ label: `\`${arch}\` · `, cases: grid.get(arch) as Map<string, ResultRecord> })),
    () => ['train'],
  );
  const parts = [
    '## Fig. 3: memory against architecture',
    ...figureLink(opts, FIGURE_FILES.fig3, 'Fig. 3: peak memory against architecture', fig3Points(records).length > 0),
  ];
  parts.push(
    join([
      fromFig2 ? 'Measured in the Fig. 2 runs (no `fig3` experiment among the records).' : undefined,
      `Memory while training, per architecture. ${describeConditions(rs, false)}`,
      table(header, rows),
      differences(rs, anyRef),
      reasons.render(),
      notes.size > 0 ? `Sources:  \n${notes.render()}` : undefined,
      `${BYTES_NOTE} ${WORST_NOTE} The figure plots peak RSS during training.` +
        ratioNote(pairs, 'needs less') +
        studyNote(anyRef, 'memory'),
      more,
    ]),
  );
  return parts;
}

function accuracySection(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const groups = byExperimentAndArch(records).filter((g) =>
    g.records.some((r) => (r.accuracy?.samples.length ?? 0) > 0),
  );
  if (groups.length === 0) return [];
  const backends = orderBackends(groups.flatMap((g) => g.records.map((r) => r.backend.requested)));
  const reasons = new TableReasons(ctx.letters);
  const header = ['Experiment · model', 'Width · data', 'Trained on → tested on', ...backends.map(backendHeader)];
  const rows = groups.map((g) => {
    const cases = byBackend(g.records);
    const sizes = [
      ...new Set(
        g.records.map((r) => {
          const e = r.experiment;
          return `${plural(e.epochs, 'epoch')} × ${count(e.trainExamples)} images → ${count(e.testExamples)} test images`;
        }),
      ),
    ].sort();
    const setup = [
      ...new Set(
        g.records.map((r) => {
          const d = r.experiment.dataset;
          const img = d?.image ? ` ${d.image.height}×${d.image.width}` : '';
          return `${modelText(r.experiment, false)} · ${d ? `${d.kind}${img}` : 'data unknown'}`;
        }),
      ),
    ].sort();
    return [
      `${g.name} · \`${g.arch}\``,
      setup.join('; '),
      sizes.join('; '),
      ...backends.map((b) => {
        const r = cases.get(b);
        const s = r && r.status !== 'skipped' ? summaryOf(r.accuracy?.samples) : undefined;
        return r && s
          ? summaryText(s, percent, (x) => `${(x * 100).toFixed(1)} pp`)
          : missingText(r, reasons, 'evaluate');
      }),
    ];
  });
  return [
    '## Accuracy on the test split',
    join([
      table(
        header,
        rows,
        header.map((_, i) => (i < 3 ? 'left' : 'right')),
      ),
      reasons.render(),
      'Share of the test split (images never trained on) classified correctly after training: median ± MAD over the repeats ' +
        '(pp = percentage points); every repeat trains from the same initial weights. Runs with few images or epochs check that ' +
        'training works and that both frameworks learn alike; they are not expected to reach the accuracy of a full run.',
    ]),
  ];
}

function argmaxSection(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const groups = byExperimentAndArch(recordsOf(records, 'argmax'));
  if (groups.length === 0) return [];
  return [
    '## Argmax overhead',
    'The inference phase includes the argmax from logits to class ids, as in the study, which timed `tf.argmax` against `numpy.argmax`.',
    ...groups.map((g) => `${groupHeading(g.name, g.arch)}\n\n${phaseTable(g.records, ctx)}`),
  ];
}

function otherSection(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const known: readonly string[] = ARTEFACTS;
  const rest = records.filter((r) => r.experiment.artefact === undefined || !known.includes(r.experiment.artefact));
  const groups = byExperimentAndArch(rest);
  if (groups.length === 0) return [];
  return [
    '## Other experiments',
    'Experiments that mirror none of the study’s tables or figures (for example a smoke run), each with its own phase table.',
    ...groups.map((g) => `${groupHeading(g.name, g.arch)}\n\n${phaseTable(g.records, ctx)}`),
  ];
}

function parityText(r: ResultRecord): string {
  const p = r.parity;
  if (!p) return '';
  const rel = p.maxRel.toExponential(1);
  return `${p.passed ? 'ok' : 'FAILED'}: ${rel} ${p.passed ? '≤' : '>'} ${p.tolerance.toExponential(0)} vs \`${p.reference}\``;
}

function statusSection(records: readonly ResultRecord[], ctx: Ctx): string {
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const counts = new Map<string, number>();
  for (const r of sorted) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const summary = ['passed', 'partial', 'failed', 'crashed', 'skipped']
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(', ');
  const reasons = new TableReasons(ctx.letters);
  const header = ['Case', 'Artefact', 'Ran on', 'Status', 'Detail', 'Parity'];
  const rows = sorted.map((r) => [
    r.key,
    r.experiment.artefact ?? '—',
    r.backend.session ? `\`${r.backend.session.backend}\` (${r.backend.session.device})` : '—',
    r.status,
    r.status === 'passed' ? '' : reasons.cell(r),
    parityText(r),
  ]);
  return join([
    '## Cases',
    `${summary}. Parity: the largest relative difference of this backend's logits from the reference's (another backend, or \`reference/float64\`, a float64 forward pass) on the same weights and test images before training, against the tolerance.`,
    table(
      header,
      rows,
      header.map(() => 'left'),
    ),
    reasons.render(),
  ]);
}
