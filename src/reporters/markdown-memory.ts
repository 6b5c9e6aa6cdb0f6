/** Table 3 of `comparison.md`: memory per phase, and the "more memory figures" block a declared memory figure shares. */
import type { ResultRecord } from '../runner/record.ts';
import { times } from './format.ts';
import { table } from './markdown-table.ts';
import { TableReasons } from './reasons.ts';
import { describeConditions } from './conditions.ts';
import {
  byExperimentAndArch,
  declaredPairs,
  MAIN_MEMORY_METRICS,
  MEMORY_PHASE_LABELS,
  MEMORY_PHASES,
  memoryFigure,
  metricLabel,
  orderBackends,
  pairRatio,
  ratioPairs,
  recordsOf,
  referenceFor,
  sortMetrics,
  type MemoryPhase,
  type RowValues,
} from './view.ts';
import {
  Footnotes,
  type Ctx,
  backendHeader,
  ratioHeader,
  fallbackSuffix,
  missingText,
  measuredMemory,
  memoryText,
  memoryCell,
  studyHeaders,
  studyCells,
  unplacedText,
  mismatchText,
  ratioNote,
  studyNote,
  differences,
  places,
  byBackend,
  join,
} from './markdown-cells.ts';
import { groupHeading } from './markdown-sections.ts';

/** Metrics of `phase` in `records`, those of the main tables or the others. */
export function metricsOf(records: readonly ResultRecord[], phase: MemoryPhase, main: boolean): string[] {
  return sortMetrics(records.flatMap((r) => (r.memory[phase] ?? []).map((f) => f.metric))).filter(
    (m) => MAIN_MEMORY_METRICS.includes(m) === main,
  );
}

/** Whether a figure of `phase` is left to "more memory figures": main tables show training and inference only. */
export function isDetail(phase: MemoryPhase, metric: string): boolean {
  return phase === 'dataset' || !MAIN_MEMORY_METRICS.includes(metric);
}

/** Metrics of `phase` that "more memory figures" lists. */
export function detailMetrics(records: readonly ResultRecord[], phase: MemoryPhase): string[] {
  return sortMetrics(records.flatMap((r) => (r.memory[phase] ?? []).map((f) => f.metric))).filter((m) =>
    isDetail(phase, m),
  );
}

/**
 * The memory figures a main table leaves out (JS heap, array buffers, external, backend-reported,
 * the dataset's bytes), one row per grid row and metric, in a collapsed block: they explain a peak
 * but are not what the study compared.
 */
export function moreMemory(
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
          // One phase only (a declared memory figure: its phase): the caption says which, the rows need not.
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

export const BYTES_NOTE = 'Bytes in binary units (1 GiB = 2³⁰ bytes).';
export const WORST_NOTE =
  'A case’s figure is the worst over every run of the phase (repeats and warm-up rounds), as the memory budgets judge it; “worst of n” counts them.';

export function memoryTable(records: readonly ResultRecord[], ctx: Ctx, fallback: boolean): string {
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

export function table3Section(records: readonly ResultRecord[], ctx: Ctx): string[] {
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
