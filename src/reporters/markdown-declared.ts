/**
 * The declared figures in `comparison.md` (`figures:` of an experiment file, the study's Fig. 2 and
 * Fig. 3 among them): each linked, with a table of its cases — one row per x value, one column per
 * series — that says what the figure cannot: each cell's spread (median ± MAD, n) and where it ran,
 * memory figures with their source and method as footnotes and the phase's other main memory
 * measures (device memory) as rows, the reason of a case without a value (a letter of "What did not
 * run"), ratio columns `a : b` between backends, and the experiment file's `reference` figures.
 */
import { formatMetric, memoryFiguresOf } from '../runner/metric-values.ts';
import type { MemoryFigure, ResultRecord } from '../runner/record.ts';
import { metricDef } from '../vocab/metric-registry.ts';
import { checkName, failed, failedMark } from './checks-view.ts';
import { describeConditions } from './conditions.ts';
import { type DeclaredFigure, declaredFigures, figureReference, seriesOrder, xOrder } from './declared-figures.ts';
import { times } from './format.ts';
import {
  backendHeader,
  CELLS_NOTE,
  type Ctx,
  differences,
  Footnotes,
  fallbackSuffix,
  join,
  type MarkdownOptions,
  memoryText,
  ratioHeader,
  ratioNote,
  studyCells,
  studyHeaders,
  studyNote,
  unplacedText,
} from './markdown-cells.ts';
import { BYTES_NOTE, metricsOf, moreMemory, WORST_NOTE } from './markdown-memory.ts';
import { table } from './markdown-table.ts';
import { TableReasons } from './reasons.ts';
import {
  declaredPairs,
  MEMORY_PHASE_LABELS,
  type MemoryPhase,
  memoryFigure,
  metricLabel,
  pairRatio,
  ratioPairs,
  type RowValues,
} from './view.ts';

/** One table row: an x value and, for a memory metric, one memory measure of its phase. */
interface Row {
  x: string | number;
  /** The memory measure of the row (`peak-rss`, `device`, …); the plotted metric's row has `plotted`. */
  measure?: string;
  plotted: boolean;
}

/** The phase a `memory.train` / `memory.infer` figure reads, whose other main measures become rows. */
function memoryPhase(y: string): MemoryPhase | undefined {
  return y === 'memory.train' ? 'train' : y === 'memory.infer' ? 'infer' : undefined;
}

/** The memory figure behind a memory metric's value: the worst of those it is computed from. */
function plottedMemory(r: ResultRecord, y: string): MemoryFigure | undefined {
  return memoryFiguresOf(r, y).reduce<MemoryFigure | undefined>((a, b) => (a && a.bytes >= b.bytes ? a : b), undefined);
}

/**
 * ` ✗ …` for the failed checks that judged a cell's figure: a phase's time budget or regression gate, a
 * memory budget of the measure, and on the plotted row a bound on the metric (`expect: { <y>: … }`).
 */
function failedMarkOf(r: ResultRecord, y: string, row: Row): string {
  const [group, phase] = y.split('.') as [string, string | undefined];
  const own =
    group === 'time' && phase !== undefined
      ? failedMark(r, phase)
      : row.measure !== undefined
        ? failedMark(r, phase === 'device' ? 'train' : (phase as string), row.measure)
        : '';
  const bounds = row.plotted ? failed(r).filter((c) => c.kind === 'metric' && c.metric === y) : [];
  return own + (bounds.length > 0 ? ` ✗ ${bounds.map(checkName).join(', ')}` : '');
}

/** A cell without a figure: why (with the letter of its full reason) where the case did not pass. */
function missingCell(r: ResultRecord | undefined, reasons: TableReasons): string {
  if (r === undefined) return '—';
  return r.status === 'passed' ? 'not measured' : reasons.cell(r);
}

/** The label of an x value in a row: architectures in code type, as every table names them. */
function xLabel(f: DeclaredFigure, x: string | number): string {
  return f.spec.x === 'arch' || f.spec.x === 'model.arch' ? `\`${x}\`` : String(x);
}

/** The markdown of one declared figure: link, what it shows and under which conditions, table, notes. */
function figureMarkdown(f: DeclaredFigure, opts: Required<MarkdownOptions>, ctx: Ctx): string {
  const def = metricDef(f.spec.y)!;
  const phase = memoryPhase(f.spec.y);
  const isMemory = def.unit === 'bytes';
  const xs = xOrder(f);
  const series = seriesOrder(f);
  const recordAt = (x: string | number, s: string) => f.cases.find((c) => c.x === x && c.series === s)?.record;
  // A memory figure's phase keeps its other main measures (device memory) as rows under the plotted one.
  const extra = phase ? metricsOf(f.records, phase, true).filter((m) => m !== 'peak-rss') : [];
  const rows: Row[] = xs.flatMap((x) => [
    { x, plotted: true, ...(isMemory ? { measure: phase ? 'peak-rss' : 'device' } : {}) },
    ...extra.map((measure) => ({ x, measure, plotted: false })),
  ]);
  const notes = new Footnotes();
  const reasons = new TableReasons(ctx.letters);
  const figureOf = (r: ResultRecord, row: Row) =>
    row.plotted ? plottedMemory(r, f.spec.y) : memoryFigure(r, phase as MemoryPhase, row.measure as string);
  const values =
    (row: Row): RowValues =>
    (s) => {
      const record = recordAt(row.x, s);
      if (record === undefined || record.status === 'skipped') return undefined;
      const value = isMemory
        ? figureOf(record, row)?.bytes
        : f.points.find((p) => p.x === row.x && p.series === s)?.value;
      return value === undefined ? undefined : { value, record };
    };
  // Ratios divide backends; a figure whose lines are something else has none.
  const pairs = f.spec.series === 'backend' ? ratioPairs(rows.map(values), declaredPairs(f.records)) : [];
  const fr = figureReference(f);
  const ref = fr && xs.some((x) => fr.keyOf(x) !== undefined) ? fr : undefined;
  const cell = (row: Row, s: string): string => {
    const r = recordAt(row.x, s);
    if (r === undefined || r.status === 'skipped') return missingCell(r, reasons);
    if (isMemory) {
      const fig = figureOf(r, row);
      return fig
        ? memoryText(fig, notes) + fallbackSuffix(r) + failedMarkOf(r, f.spec.y, row)
        : missingCell(r, reasons);
    }
    const p = f.points.find((q) => q.x === row.x && q.series === s);
    if (!p) return missingCell(r, reasons);
    const spread = !p.spread
      ? ''
      : p.spread.n === 1
        ? ' (n=1)'
        : ` ± ${formatMetric(p.spread.mad, def.unit)} (n=${p.spread.n})`;
    return `${formatMetric(p.value, def.unit)}${spread}${fallbackSuffix(r)}${failedMarkOf(r, f.spec.y, row)}`;
  };
  const header = [
    phase ? `${f.spec.x} · measure (${MEMORY_PHASE_LABELS[phase]})` : f.spec.x,
    ...series.map((s) => (f.spec.series === 'backend' ? backendHeader(s) : s)),
    ...pairs.map(ratioHeader),
    ...(ref ? studyHeaders(ref.ref) : []),
  ];
  const body = rows.map((row) => {
    const key = ref?.keyOf(row.x);
    return [
      row.measure && phase ? `${xLabel(f, row.x)} · ${metricLabel(row.measure)}` : xLabel(f, row.x),
      ...series.map((s) => cell(row, s)),
      ...pairs.map((p) => times(pairRatio(p, values(row)))),
      // The reference's figure sits beside the plotted measure of its x.
      ...(ref ? (row.plotted && key !== undefined ? studyCells(ref.ref, key) : ['', '', '']) : []),
    ];
  });
  const spread = f.points.some((p) => p.spread);
  const lower = def.unit === 's' ? 'is faster' : isMemory ? 'needs less' : `has the lower ${f.spec.y}`;
  const how = [
    isMemory ? `${BYTES_NOTE} ${WORST_NOTE}` : undefined,
    spread ? CELLS_NOTE : undefined,
    phase ? `The figure plots ${metricLabel('peak-rss')} during ${MEMORY_PHASE_LABELS[phase]}.` : undefined,
  ]
    .filter((x) => x !== undefined)
    .join(' ');
  const used = new Set(xs.map((x) => ref?.keyOf(x)).filter((k): k is string => k !== undefined));
  const more =
    phase && f.spec.series === 'backend'
      ? moreMemory(
          xs.map((x) => ({
            label: `${xLabel(f, x)} · `,
            cases: new Map(f.cases.filter((c) => c.x === x).map((c) => [c.series, c.record])),
          })),
          () => [phase],
        )
      : undefined;
  const dir = opts.figuresDir.replace(/\/+$/, '');
  return join([
    `### ${f.title}`,
    opts.embedFigures && f.points.length > 0 ? `![${f.title}](${dir === '' ? '' : `${dir}/`}${f.file})` : undefined,
    `${f.spec.y}: ${def.description}${spread ? ' (± median absolute deviation, n repeats)' : ''}.${f.missing > 0 ? ` ${f.missing} case(s) without a value are not drawn.` : ''} ${describeConditions(f.records, f.spec.x !== 'arch' && f.spec.x !== 'model.arch')}`,
    table(header, body),
    ref ? differences(f.records, ref.ref) : undefined,
    reasons.render(),
    notes.size > 0 ? `Sources:  \n${notes.render()}` : undefined,
    (how + ratioNote(pairs, lower) + (ref ? studyNote(ref.ref, isMemory ? 'memory' : 'times') : '')).trim() ||
      undefined,
    ref ? unplacedText(ref.ref, used) : undefined,
    more,
  ]);
}

/** Markdown of the declared figures: each linked where it has points, with the table of its cases. */
export function declaredFiguresSection(
  records: readonly ResultRecord[],
  opts: Required<MarkdownOptions>,
  ctx: Ctx,
): string[] {
  const figs = declaredFigures(records).filter((f) => f.cases.length > 0);
  if (figs.length === 0) return [];
  return ['## Declared figures', ...figs.map((f) => figureMarkdown(f, opts, ctx))];
}
