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
import { firstLine, table } from './markdown-table.ts';
import type { SampleSummary } from '../stats/summary.ts';
import type { ReportFile, Reporter } from './types.ts';
import {
  ARTEFACTS,
  byArchAndBackend,
  byExperiment,
  fallbackOf,
  groupReference,
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
  sortMetrics,
  summaryOf,
  TIMED_PHASES,
  unplacedLeaves,
  type MemoryPhase,
  type RatioPair,
  type StudyReference,
} from './view.ts';

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
    if (n === undefined) this.notes.set(text, (n = this.notes.size + 1));
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
    parts.push(environmentSection(records));
    parts.push(...table2Section(records));
    parts.push(...table3Section(records));
    parts.push(...fig2Section(records, this.options));
    parts.push(...fig3Section(records, this.options));
    parts.push(...accuracySection(records));
    parts.push(...argmaxSection(records));
    parts.push(...otherSection(records));
    parts.push(statusSection(records));
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
    'The study compared TensorFlow with Caffe2 on one NVIDIA K80 GPU. Here TensorFlow.js (`tfjs/*` backends) stands in for',
    'TensorFlow and ONNX Runtime (`onnxruntime/*` backends) for Caffe2. Columns labelled "study (K80)" repeat the',
    "study's published figures as the experiment files quote them, for reference; they were not measured here.",
  ].join('\n');
}

function environmentSection(records: readonly ResultRecord[]): string {
  const machines = new Map<string, { env: EnvironmentInfo; records: ResultRecord[] }>();
  for (const r of records) {
    const m = machines.get(r.env.fingerprint);
    // The newest record's description of a machine wins (drivers and packages get updated).
    if (!m) machines.set(r.env.fingerprint, { env: r.env, records: [r] });
    else {
      m.records.push(r);
      if (Date.parse(r.finishedAt) > Math.max(...m.records.slice(0, -1).map((x) => Date.parse(x.finishedAt)))) m.env = r.env;
    }
  }
  const list = [...machines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  const header = ['', ...list.map((m, i) => (list.length === 1 ? 'machine' : `machine ${i + 1}`))];
  const row = (label: string, f: (m: { env: EnvironmentInfo; records: ResultRecord[] }) => string) => [label, ...list.map(f)];
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
  const parts = ['## Environment', table(header, rows, header.map(() => 'left'))];
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

function backendHeader(b: string): string {
  return `\`${b}\``;
}

function ratioHeader(p: RatioPair): string {
  return p.label === 'fastest' ? 'ONNX Runtime : TF.js (fastest of each)' : `ONNX Runtime : TF.js (${p.label})`;
}

function summaryText(s: SampleSummary, fmt: (x: number) => string, spread: (x: number) => string): string {
  return s.n === 1 ? `${fmt(s.median)} (n=1)` : `${fmt(s.median)} ± ${spread(s.mad)} (n=${s.n})`;
}

function timeText(s: SampleSummary): string {
  return summaryText(s, seconds, (x) => sig(x, 2));
}

function skippedText(r: ResultRecord): string {
  return `skipped: ${r.skipReason ?? 'no reason recorded'}`;
}

function failedText(r: ResultRecord): string {
  return `${r.status}: ${r.error?.code ?? 'no error recorded'}`;
}

function fallbackSuffix(r: ResultRecord): string {
  const f = fallbackOf(r);
  return f === undefined ? '' : ` (ran on ${f})`;
}

/** What a record shows where a value is missing: why, or a dash. */
function missingText(r: ResultRecord | undefined, phase?: string): string {
  if (!r) return '—';
  if (r.status === 'skipped') return skippedText(r);
  if ((r.status === 'failed' || r.status === 'crashed') && (r.error?.phase === undefined || r.error.phase === phase)) {
    return failedText(r);
  }
  return '—';
}

function timeCell(r: ResultRecord | undefined, phase: PhaseName): string {
  const s = r && r.status !== 'skipped' ? phaseSummary(r, phase) : undefined;
  return r && s ? timeText(s) + fallbackSuffix(r) : missingText(r, phase);
}

function throughputCell(r: ResultRecord | undefined): string {
  const s = r && r.status !== 'skipped' ? summaryOf(r.phases.train?.imagesPerSecond) : undefined;
  return r && s ? summaryText(s, (x) => `${sig(x)} img/s`, (x) => sig(x, 2)) : missingText(r, 'train');
}

function memoryText(f: MemoryFigure, notes: Footnotes): string {
  const text = `${metricLabel(f.metric)}: ${f.source}; ${f.reliable ? 'reliable' : 'not reliable'}${f.note ? ` (${f.note})` : ''}.`;
  return `${bytes(f.bytes)} ${notes.mark(text)}`;
}

function memoryCell(r: ResultRecord | undefined, phase: MemoryPhase, metric: string, notes: Footnotes): string {
  const f = r && r.status !== 'skipped' ? memoryFigure(r, phase, metric) : undefined;
  return r && f ? memoryText(f, notes) + fallbackSuffix(r) : missingText(r, phase === 'dataset' ? 'load-data' : phase);
}

/** A study figure as the experiment file wrote it, with its unit. */
function studyText(x: number | undefined, unit: string): string {
  if (x === undefined) return '';
  return unit === 's' ? `${x} s` : `${x} ${unit}`;
}

function studyHeaders(ref: StudyReference): string[] {
  return [`${ref.label} TF`, `${ref.label} Caffe2`, `${ref.label} Caffe2 : TF`];
}

function studyCells(ref: StudyReference, key: string, unit: string): string[] {
  const tf = ref.tensorflow[key];
  const c2 = ref.caffe2[key];
  const r = tf !== undefined && c2 !== undefined && tf !== 0 ? c2 / tf : undefined;
  return [studyText(tf, unit), studyText(c2, unit), tf === undefined && c2 === undefined ? '' : times(r)];
}

function unplacedText(ref: StudyReference, used: Set<string>, unit: string): string | undefined {
  const rest = unplacedLeaves(ref, used);
  if (rest.length === 0) return undefined;
  return `Other figures in the experiment file's \`reference\` (${ref.label}, as published): ${rest
    .map(([path, v]) => `\`${path}\` = ${studyText(v, unit)}`)
    .join(', ')}.`;
}

const TIME_NOTE =
  'Cells: median ± MAD (median absolute deviation) of the repeats, n = number of samples, warm-up excluded. ' +
  'ONNX Runtime : TF.js is the ratio of medians (below 1: ONNX Runtime is faster).';

function studyNote(ref: StudyReference | undefined, what: string): string {
  return ref ? ` ${ref.label}: ${what} as published (TensorFlow and Caffe2 on one K80), quoted from the experiment file.` : '';
}

/** The sizes the records ran with, in one line (several when cases differ, e.g. mixed profiles). */
function describeSizes(records: readonly ResultRecord[], withArch = true): string {
  const lines = [
    ...new Set(
      records.map((r) => {
        const e = r.experiment;
        return `${withArch ? `\`${e.arch}\` · ` : ''}${e.epochs} epochs · batch ${e.batchSize} · ${count(e.trainExamples)} training / ${count(e.testExamples)} test images · ${plural(e.repeats, 'repeat')} · profile ${profileName(e.profile)}`;
      }),
    ),
  ].sort();
  return lines.length === 1 ? (lines[0] as string) : `Sizes differ between cases: ${lines.join('; ')}.`;
}

/** Whether a reference places at least one figure under one of `keys`. */
function places(ref: StudyReference | undefined, keys: readonly string[]): ref is StudyReference {
  return ref !== undefined && keys.some((k) => ref.tensorflow[k] !== undefined || ref.caffe2[k] !== undefined);
}

function byBackend(records: readonly ResultRecord[]): Map<string, ResultRecord> {
  const m = new Map<string, ResultRecord>();
  for (const r of records) {
    const prev = m.get(r.backend.requested);
    if (!prev || Date.parse(r.finishedAt) > Date.parse(prev.finishedAt)) m.set(r.backend.requested, r);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Sections.

/** Phases × backends for one experiment, with ratios and the study's figures. */
function phaseTable(records: readonly ResultRecord[], artefactUnit = 's'): string {
  const cases = byBackend(records);
  const backends = orderBackends(cases.keys());
  const pairs = ratioPairs(backends);
  const fullRef = groupReference(records);
  const ref = places(fullRef, TIMED_PHASES) ? fullRef : undefined;
  const unit = fullRef?.unit ?? artefactUnit;
  const header = ['Phase', ...backends.map(backendHeader), ...pairs.map(ratioHeader), ...(ref ? studyHeaders(ref) : [])];
  const has = (phase: PhaseName) => records.some((r) => (r.phases[phase]?.samples.length ?? 0) > 0);
  // A phase no case measured (an experiment timing inference only) gets no row, unless no case
  // measured anything: then every row shows why (skipped, failed).
  const phases: PhaseName[] = TIMED_PHASES.some(has) ? TIMED_PHASES.filter(has) : [...TIMED_PHASES];
  if (has('warmup')) phases.push('warmup');
  const median = (phase: PhaseName) => (b: string) => {
    const r = cases.get(b);
    return r && r.status !== 'skipped' ? phaseSummary(r, phase)?.median : undefined;
  };
  const rows = phases.map((phase) => [
    PHASE_LABELS[phase],
    ...backends.map((b) => timeCell(cases.get(b), phase)),
    ...pairs.map((p) => times(pairRatio(p, median(phase)))),
    ...(ref && phase !== 'warmup' ? studyCells(ref, phase, unit) : ref ? ['', '', ''] : []),
  ]);
  if (records.some((r) => (r.phases.train?.imagesPerSecond?.length ?? 0) > 0)) {
    rows.push([
      'training throughput (higher is better)',
      ...backends.map((b) => throughputCell(cases.get(b))),
      ...pairs.map(() => ''),
      ...(ref ? ['', '', ''] : []),
    ]);
  }
  const notes = [TIME_NOTE + studyNote(ref, 'averages of 10 runs')];
  const other = fullRef ? unplacedText(fullRef, new Set(TIMED_PHASES), unit) : undefined;
  if (other) notes.push(other);
  return [describeSizes(records), table(header, rows), notes.join('\n\n')].join('\n\n');
}

function groupHeading(name: string, records: readonly ResultRecord[]): string {
  const archs = orderArchs(records.map((r) => r.experiment.arch));
  return `### ${name} · ${archs.join(', ')}`;
}

function table2Section(records: readonly ResultRecord[]): string[] {
  const groups = byExperiment(recordsOf(records, 'table2'));
  if (groups.length === 0) return [];
  return [
    '## Table 2: graph construction, training and inference time',
    ...groups.map(([name, rs]) => `${groupHeading(name, rs)}\n\n${phaseTable(rs)}`),
  ];
}

function memoryTable(records: readonly ResultRecord[]): string {
  const cases = byBackend(records);
  const backends = orderBackends(cases.keys());
  const pairs = ratioPairs(backends);
  const fullRef = groupReference(records);
  const ref = places(fullRef, ['train', 'infer']) ? fullRef : undefined;
  const unit = fullRef?.unit ?? 'GB';
  const notes = new Footnotes();
  const header = ['Measure', ...backends.map(backendHeader), ...pairs.map(ratioHeader), ...(ref ? studyHeaders(ref) : [])];
  const rows: string[][] = [];
  for (const phase of MEMORY_PHASES) {
    const metrics = sortMetrics(records.flatMap((r) => (r.memory[phase] ?? []).map((f) => f.metric)));
    metrics.forEach((metric, i) => {
      rows.push([
        `${MEMORY_PHASE_LABELS[phase]} · ${metricLabel(metric)}`,
        ...backends.map((b) => memoryCell(cases.get(b), phase, metric, notes)),
        ...pairs.map((p) =>
          times(
            pairRatio(p, (b) => {
              const r = cases.get(b);
              return r && r.status !== 'skipped' ? memoryFigure(r, phase, metric)?.bytes : undefined;
            }),
          ),
        ),
        // The study's figure sits beside the phase's first (primary) measure.
        ...(ref ? (i === 0 && phase !== 'dataset' ? studyCells(ref, phase, unit) : ['', '', '']) : []),
      ]);
    });
  }
  if (rows.length === 0) {
    const why = backends.map((b) => `\`${b}\`: ${missingText(cases.get(b)) === '—' ? 'no memory figures recorded' : missingText(cases.get(b))}`);
    return `No memory figures in these records (${why.join('; ')}).`;
  }
  const parts = [
    table(header, rows),
    `Sources:  \n${notes.render()}`,
    'Bytes in binary units (1 GiB = 2³⁰ bytes). Peak RSS is the resident set of the case’s own process; device memory ' +
      'comes from a backend counter or driver query where one exists.' +
      studyNote(ref, 'GPU memory'),
  ];
  const other = fullRef ? unplacedText(fullRef, new Set(['train', 'infer']), unit) : undefined;
  if (other) parts.push(other);
  return parts.join('\n\n');
}

function table3Section(records: readonly ResultRecord[]): string[] {
  let own = recordsOf(records, 'table3');
  let lede = '';
  if (own.length === 0) {
    own = recordsOf(records, 'table2');
    if (own.length === 0) return [];
    lede = 'Measured in the Table 2 runs (no `table3` experiment among the records).\n\n';
  }
  return [
    '## Table 3: memory',
    ...byExperiment(own).map(([name, rs]) => `${groupHeading(name, rs)}\n\n${lede}${memoryTable(rs)}`),
  ];
}

function figureLink(opts: Required<MarkdownOptions>, file: string, alt: string, show: boolean): string[] {
  if (!opts.embedFigures || !show) return [];
  const dir = opts.figuresDir.replace(/\/+$/, '');
  return [`![${alt}](${dir === '' ? '' : `${dir}/`}${file})`];
}

function fig2Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>): string[] {
  const rs = fig2Records(records);
  if (rs.length === 0) return [];
  const grid = byArchAndBackend(rs);
  const archs = orderArchs(grid.keys());
  const backends = orderBackends(rs.map((r) => r.backend.requested));
  const pairs = ratioPairs(backends);
  const refs = new Map(
    archs.map((a) => {
      const ref = groupReference([...(grid.get(a)?.values() ?? [])]);
      return [a, places(ref, ['train', a]) ? ref : undefined] as const;
    }),
  );
  const anyRef = [...refs.values()].find((r) => r !== undefined);
  const header = ['Architecture', ...backends.map(backendHeader), ...pairs.map(ratioHeader), ...(anyRef ? studyHeaders(anyRef) : [])];
  const rows = archs.map((arch) => {
    const row = grid.get(arch) as Map<string, ResultRecord>;
    const ref = refs.get(arch);
    const key = ref && (ref.tensorflow.train !== undefined || ref.caffe2.train !== undefined) ? 'train' : arch;
    return [
      `\`${arch}\``,
      ...backends.map((b) => timeCell(row.get(b), 'train')),
      ...pairs.map((p) =>
        times(
          pairRatio(p, (b) => {
            const r = row.get(b);
            return r && r.status !== 'skipped' ? phaseSummary(r, 'train')?.median : undefined;
          }),
        ),
      ),
      ...(anyRef ? (ref ? studyCells(ref, key, ref.unit ?? 's') : ['', '', '']) : []),
    ];
  });
  return [
    '## Fig. 2: training time against depth',
    ...figureLink(opts, FIGURE_FILES.fig2, 'Fig. 2: training time against depth', fig2Points(records).length > 0),
    describeSizes(rs, false),
    table(header, rows),
    TIME_NOTE + studyNote(anyRef, 'training times'),
  ];
}

function fig3Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>): string[] {
  const { records: rs, fromFig2 } = fig3Records(records);
  if (rs.length === 0) return [];
  const grid = byArchAndBackend(rs);
  const archs = orderArchs(grid.keys());
  const backends = orderBackends(rs.map((r) => r.backend.requested));
  const pairs = ratioPairs(backends);
  const metrics = sortMetrics(rs.flatMap((r) => (r.memory.train ?? []).map((f) => f.metric)));
  const notes = new Footnotes();
  const header = ['Architecture · measure (training)', ...backends.map(backendHeader), ...pairs.map(ratioHeader)];
  const rows: string[][] = [];
  for (const arch of archs) {
    const row = grid.get(arch) as Map<string, ResultRecord>;
    for (const metric of metrics.length > 0 ? metrics : ['peak-rss']) {
      rows.push([
        `\`${arch}\` · ${metricLabel(metric)}`,
        ...backends.map((b) => memoryCell(row.get(b), 'train', metric, notes)),
        ...pairs.map((p) =>
          times(
            pairRatio(p, (b) => {
              const r = row.get(b);
              return r && r.status !== 'skipped' ? memoryFigure(r, 'train', metric)?.bytes : undefined;
            }),
          ),
        ),
      ]);
    }
  }
  const parts = [
    '## Fig. 3: memory against architecture',
    ...figureLink(opts, FIGURE_FILES.fig3, 'Fig. 3: peak memory against architecture', fig3Points(records).length > 0),
  ];
  if (fromFig2) parts.push('Measured in the Fig. 2 runs (no `fig3` experiment among the records).');
  parts.push(describeSizes(rs, false), table(header, rows));
  if (notes.size > 0) parts.push(`Sources:  \n${notes.render()}`);
  parts.push('Bytes in binary units (1 GiB = 2³⁰ bytes). The figure plots peak RSS during training.');
  return parts;
}

function accuracySection(records: readonly ResultRecord[]): string[] {
  const groups = byExperiment(records).filter(([, rs]) => rs.some((r) => (r.accuracy?.samples.length ?? 0) > 0));
  if (groups.length === 0) return [];
  const backends = orderBackends(groups.flatMap(([, rs]) => rs.map((r) => r.backend.requested)));
  const header = ['Experiment', ...backends.map(backendHeader)];
  const rows = groups.map(([name, rs]) => {
    const cases = byBackend(rs);
    return [
      `${name} (\`${orderArchs(rs.map((r) => r.experiment.arch)).join(', ')}\`)`,
      ...backends.map((b) => {
        const r = cases.get(b);
        const s = r && r.status !== 'skipped' ? summaryOf(r.accuracy?.samples) : undefined;
        return r && s ? summaryText(s, percent, (x) => `${(x * 100).toFixed(1)} pp`) : missingText(r, 'evaluate');
      }),
    ];
  });
  return [
    '## Accuracy',
    table(header, rows),
    'Test accuracy after training: median ± MAD over the repeats (pp = percentage points).',
  ];
}

function argmaxSection(records: readonly ResultRecord[]): string[] {
  const groups = byExperiment(recordsOf(records, 'argmax'));
  if (groups.length === 0) return [];
  return [
    '## Argmax overhead',
    'The inference phase includes the argmax from logits to class ids, as in the study, which timed `tf.argmax` against `numpy.argmax`.',
    ...groups.map(([name, rs]) => `${groupHeading(name, rs)}\n\n${phaseTable(rs)}`),
  ];
}

function otherSection(records: readonly ResultRecord[]): string[] {
  const known: readonly string[] = ARTEFACTS;
  const rest = records.filter((r) => r.experiment.artefact === undefined || !known.includes(r.experiment.artefact));
  const groups = byExperiment(rest);
  if (groups.length === 0) return [];
  return ['## Other experiments', ...groups.map(([name, rs]) => `${groupHeading(name, rs)}\n\n${phaseTable(rs)}`)];
}

function statusDetail(r: ResultRecord): string {
  if (r.status === 'skipped') return skippedText(r);
  const e = r.error;
  if (!e) return r.status === 'passed' ? '' : r.status;
  const where = [e.phase ? `in ${e.phase}` : '', e.signal ? `signal ${e.signal}` : '', e.exitCode != null ? `exit ${e.exitCode}` : '']
    .filter((x) => x !== '')
    .join(', ');
  return `${e.code}: ${firstLine(e.message)}${where ? ` (${where})` : ''}`;
}

function parityText(r: ResultRecord): string {
  const p = r.parity;
  if (!p) return '';
  const rel = p.maxRel.toExponential(1);
  return `${p.passed ? 'ok' : 'FAILED'}: ${rel} ${p.passed ? '≤' : '>'} ${p.tolerance.toExponential(0)} vs \`${p.reference}\``;
}

function statusSection(records: readonly ResultRecord[]): string {
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const counts = new Map<string, number>();
  for (const r of sorted) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const summary = ['passed', 'partial', 'failed', 'crashed', 'skipped']
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(', ');
  const header = ['Case', 'Artefact', 'Ran on', 'Status', 'Detail', 'Parity'];
  const rows = sorted.map((r) => [
    r.key,
    r.experiment.artefact ?? '—',
    r.backend.session ? `\`${r.backend.session.backend}\` (${r.backend.session.device})` : '—',
    r.status,
    statusDetail(r),
    parityText(r),
  ]);
  return ['## Cases', `${summary}.`, table(header, rows, header.map(() => 'left'))].join('\n\n');
}
