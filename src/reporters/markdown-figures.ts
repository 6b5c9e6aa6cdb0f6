/** Fig. 2 and Fig. 3 of `comparison.md`: training time and memory per architecture, with the figures linked. */
import type { ResultRecord } from '../runner/record.ts';
import { fig2Records, fig3Records, fig2Points, fig3Points, FIGURE_FILES } from './figures-data.ts';
import { times } from './format.ts';
import { table } from './markdown-table.ts';
import { TableReasons } from './reasons.ts';
import { describeConditions } from './conditions.ts';
import {
  byArchAndBackend,
  declaredPairs,
  metricLabel,
  orderArchs,
  orderBackends,
  pairRatio,
  ratioPairs,
  referenceFor,
  type RowValues,
  type StudyReference,
} from './view.ts';
import {
  type MarkdownOptions,
  Footnotes,
  type Ctx,
  backendHeader,
  ratioHeader,
  measuredTime,
  measuredMemory,
  timeCell,
  memoryCell,
  studyHeaders,
  studyCells,
  CELLS_NOTE,
  ratioNote,
  studyNote,
  differences,
  places,
  join,
} from './markdown-cells.ts';
import { metricsOf, moreMemory, BYTES_NOTE, WORST_NOTE } from './markdown-memory.ts';

export function figureLink(opts: Required<MarkdownOptions>, file: string, alt: string, show: boolean): string[] {
  if (!opts.embedFigures || !show) return [];
  const dir = opts.figuresDir.replace(/\/+$/, '');
  return [`![${alt}](${dir === '' ? '' : `${dir}/`}${file})`];
}

/** Per architecture, the reference in `kind` that places a figure under `train` or the architecture. */
export function archReferences(
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

export function archKey(ref: StudyReference, arch: string): string {
  return ref.tensorflow.train !== undefined || ref.caffe2.train !== undefined ? 'train' : arch;
}

export function fig2Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>, ctx: Ctx): string[] {
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

export function fig3Section(records: readonly ResultRecord[], opts: Required<MarkdownOptions>, ctx: Ctx): string[] {
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
