/**
 * Budgets: the absolute limits an experiment's `expect:` block sets — an accuracy floor, time budgets
 * per phase, memory budgets per phase. Each is checked against a robust figure (the MEDIAN of the
 * repeats for accuracy and time, the peak resident set for memory), and each failure says what was
 * measured, with its unit, against which limit, and from which samples — enough to act on without
 * opening the record.
 *
 * A budget that is set but has nothing to check (the phase never produced samples) fails too: a limit
 * that silently passes because nothing was measured would hide exactly the runs that went wrong.
 */
import type { Expectations, PhaseName } from '../config/types.ts';
import { PHASE_SHORT_LABELS as PHASE_LABEL } from '../vocab/phases.ts';
import { formatBytes, formatSampleList, formatSeconds } from '../stats/format.ts';
import { median, sortSamples } from '../stats/summary.ts';
import type { MemoryFigure, ResultRecord } from './record.ts';

export type BudgetKind = 'accuracy' | 'time' | 'memory';

export interface BudgetFailure {
  kind: BudgetKind;
  /** Phase the budget belongs to (time and memory budgets). */
  phase?: PhaseName;
  /** What was checked, e.g. `accuracy`, `train time`, `train peak RSS`. */
  metric: string;
  /** The figure compared with the limit; null when nothing was measured. */
  measured: number | null;
  limit: number;
  unit: 'fraction' | 's' | 'bytes';
  /** The samples the figure came from. */
  samples: number[];
  message: string;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/**
 * Checks `record` against the budgets in `expect`; returns one failure per budget exceeded (empty when
 * all hold). Pure. Skipped records have nothing to check and yield no failures.
 */
export function checkBudgets(
  record: ResultRecord,
  expect: Pick<Expectations, 'accuracy' | 'time' | 'memory'>,
): BudgetFailure[] {
  if (record.status === 'skipped') return [];
  const failures: BudgetFailure[] = [];

  if (expect.accuracy !== undefined) {
    const floor = expect.accuracy;
    const samples = record.accuracy?.samples ?? [];
    if (samples.length === 0) {
      failures.push({
        kind: 'accuracy',
        metric: 'accuracy',
        measured: null,
        limit: floor,
        unit: 'fraction',
        samples,
        message: `accuracy: floor ${pct(floor)} is set, but no accuracy was measured (case ${record.status}${record.error ? `: ${record.error.code}` : ''})`,
      });
    } else {
      const m = median(sortSamples(samples));
      if (m < floor) {
        failures.push({
          kind: 'accuracy',
          metric: 'accuracy',
          measured: m,
          limit: floor,
          unit: 'fraction',
          samples,
          message: `accuracy: median ${pct(m)} over ${count(samples.length, 'repeat')} is below the floor ${pct(floor)} (samples ${formatSampleList(samples, pct)})`,
        });
      }
    }
  }

  for (const [phase, limit] of Object.entries(expect.time ?? {}) as [PhaseName, number | undefined][]) {
    if (limit === undefined) continue;
    const metric = `${PHASE_LABEL[phase]} time`;
    const samples = record.phases[phase]?.samples ?? [];
    if (samples.length === 0) {
      failures.push({
        kind: 'time',
        phase,
        metric,
        measured: null,
        limit,
        unit: 's',
        samples,
        message: `${metric}: budget ${formatSeconds(limit)} is set, but the phase produced no samples (case ${record.status})`,
      });
      continue;
    }
    const m = median(sortSamples(samples));
    if (m > limit) {
      failures.push({
        kind: 'time',
        phase,
        metric,
        measured: m,
        limit,
        unit: 's',
        samples,
        message: `${metric}: median ${formatSeconds(m)} over ${count(samples.length, 'sample')} exceeds the budget ${formatSeconds(limit)} (samples ${formatSampleList(samples, formatSeconds)})`,
      });
    }
  }

  const { device: deviceLimit, ...phaseLimits } = expect.memory ?? {};
  if (deviceLimit !== undefined) {
    const figures = [...(record.memory.train ?? []), ...(record.memory.infer ?? [])].filter(
      (f) => f.metric === 'device',
    );
    const worst = figures.reduce<MemoryFigure | undefined>((a, b) => (!a || b.bytes > a.bytes ? b : a), undefined);
    if (worst && worst.bytes > deviceLimit) {
      failures.push({
        kind: 'memory',
        metric: 'device memory',
        measured: worst.bytes,
        limit: deviceLimit,
        unit: 'bytes',
        samples: figures.map((f) => f.bytes),
        message: `device memory: ${formatBytes(worst.bytes)} exceeds the budget ${formatBytes(deviceLimit)} (from ${worst.source})${reliability(worst)}`,
      });
    }
    // No device figure (a CPU backend, or no driver query here) is not a failure: there is nothing on a device.
  }
  for (const [phase, limit] of Object.entries(phaseLimits) as ['train' | 'infer', number | undefined][]) {
    if (limit === undefined) continue;
    const metric = `${PHASE_LABEL[phase]} peak RSS`;
    const figures = (record.memory[phase] ?? []).filter((f) => f.metric === 'peak-rss');
    const samples = figures.map((f) => f.bytes);
    if (figures.length === 0) {
      failures.push({
        kind: 'memory',
        phase,
        metric,
        measured: null,
        limit,
        unit: 'bytes',
        samples,
        message: `${metric}: budget ${formatBytes(limit)} is set, but no peak resident set was measured for the phase (case ${record.status})`,
      });
      continue;
    }
    // Several figures (one per repeat): the budget holds for the worst.
    const worst = figures.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    if (worst.bytes > limit) {
      failures.push({
        kind: 'memory',
        phase,
        metric,
        measured: worst.bytes,
        limit,
        unit: 'bytes',
        samples,
        message:
          `${metric}: ${formatBytes(worst.bytes)} exceeds the budget ${formatBytes(limit)} ` +
          `(from ${worst.source}${figures.length > 1 ? `; figures ${formatSampleList(samples, formatBytes)}` : ''})${reliability(worst)}`,
      });
    }
  }
  return failures;
}

function reliability(f: MemoryFigure): string {
  return f.reliable ? '' : `; this figure is not reliable${f.note ? `: ${f.note}` : ''}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
