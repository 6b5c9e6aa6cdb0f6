/** The phase tables of `comparison.md` (Table 2, argmax, other experiments), accuracy, and the cases. */
import type { PhaseName } from '../config/types.ts';
import type { ResultRecord } from '../runner/record.ts';
import { count, percent, times } from './format.ts';
import { table } from './markdown-table.ts';
import { TableReasons } from './reasons.ts';
import { describeConditions, modelText } from './conditions.ts';
import {
  ARTEFACTS,
  byExperimentAndArch,
  declaredPairs,
  orderBackends,
  pairRatio,
  PHASE_LABELS,
  ratioPairs,
  recordsOf,
  referenceFor,
  summaryOf,
  TIMED_PHASES,
  type RowValues,
} from './view.ts';
import {
  plural,
  type Ctx,
  backendHeader,
  ratioHeader,
  summaryText,
  missingText,
  measuredTime,
  timeCell,
  throughputCell,
  adapterText,
  studyHeaders,
  studyCells,
  unplacedText,
  mismatchText,
  CELLS_NOTE,
  ratioNote,
  studyNote,
  differences,
  places,
  byBackend,
  join,
} from './markdown-cells.ts';

// ---------------------------------------------------------------------------------------------
// Sections.

/** Phases × backends for one experiment, with ratios and the study's figures. */
export function phaseTable(records: readonly ResultRecord[], ctx: Ctx): string {
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

export function groupHeading(name: string, arch: string): string {
  return `### Experiment \`${name}\` · model \`${arch}\``;
}

export function table2Section(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const groups = byExperimentAndArch(recordsOf(records, 'table2'));
  if (groups.length === 0) return [];
  return [
    '## Table 2: graph construction, training and inference time',
    ...groups.map((g) => `${groupHeading(g.name, g.arch)}\n\n${phaseTable(g.records, ctx)}`),
  ];
}

export function accuracySection(records: readonly ResultRecord[], ctx: Ctx): string[] {
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

export function argmaxSection(records: readonly ResultRecord[], ctx: Ctx): string[] {
  const groups = byExperimentAndArch(recordsOf(records, 'argmax'));
  if (groups.length === 0) return [];
  return [
    '## Argmax overhead',
    'The inference phase includes the argmax from logits to class ids, as in the study, which timed `tf.argmax` against `numpy.argmax`.',
    ...groups.map((g) => `${groupHeading(g.name, g.arch)}\n\n${phaseTable(g.records, ctx)}`),
  ];
}

export function otherSection(records: readonly ResultRecord[], ctx: Ctx): string[] {
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

export function parityText(r: ResultRecord): string {
  const p = r.parity;
  if (!p) return '';
  const rel = p.maxRel.toExponential(1);
  return `${p.passed ? 'ok' : 'FAILED'}: ${rel} ${p.passed ? '≤' : '>'} ${p.tolerance.toExponential(0)} vs \`${p.reference}\``;
}

export function statusSection(records: readonly ResultRecord[], ctx: Ctx): string {
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
    r.backend.session ? `\`${r.backend.session.backend}\` (${r.backend.session.device}${adapterText(r)})` : '—',
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
