/**
 * Budgets: the absolute limits an experiment's `expect:` block sets — an accuracy floor, time budgets
 * per phase, memory budgets per phase. Each is checked against a robust figure (the MEDIAN of the
 * repeats for accuracy and time, the peak resident set for memory), and each failure says what was
 * measured, with its unit, against which limit, and from which samples — enough to act on without
 * opening the record.
 *
 * A budget that is set but has nothing to check (the phase never produced samples) fails too: a limit
 * that silently passes because nothing was measured would hide exactly the runs that went wrong.
 * The device-memory budget likewise fails on a case with no device figure, with the reasons the
 * memory sources gave; only a CPU backend, which holds nothing on a device, has it skipped.
 */
import type { Expectations, PhaseName } from '../config/types.ts';
import { PHASE_SHORT_LABELS as PHASE_LABEL } from '../vocab/phases.ts';
import { formatBytes, formatSampleList, formatSeconds } from '../stats/format.ts';
import { median, sortSamples } from '../stats/summary.ts';
import { deviceClass } from '../vocab/backends.ts';
import { DEVICE_METHOD_WORDS } from '../vocab/metrics.ts';
import type { MemoryFigure, ResultRecord } from './record.ts';

export type BudgetKind = 'accuracy' | 'time' | 'memory';

/** One budget checked: what was measured against which limit, and the verdict. */
export interface BudgetOutcome {
  kind: BudgetKind;
  /** Phase the budget belongs to (time and memory budgets; none for the device budget). */
  phase?: PhaseName;
  /** What was checked, e.g. `accuracy`, `train time`, `train peak RSS`. */
  metric: string;
  /** The figure compared with the limit; null when nothing was measured. */
  measured: number | null;
  limit: number;
  unit: 'fraction' | 's' | 'bytes';
  /** The samples the figure came from. */
  samples: number[];
  /** `skipped`: nothing to check, and rightly so (no device memory on a CPU backend). */
  verdict: 'passed' | 'failed' | 'skipped';
  message: string;
}

/** A budget exceeded (or set but with nothing measured). */
export type BudgetFailure = BudgetOutcome & { verdict: 'failed' };

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/**
 * Checks `record` against the budgets in `expect`; returns one failure per budget exceeded (empty when
 * all hold). Pure. Skipped records have nothing to check and yield no failures.
 */
export function checkBudgets(
  record: ResultRecord,
  expect: Pick<Expectations, 'accuracy' | 'time' | 'memory'>,
): BudgetFailure[] {
  return evaluateBudgets(record, expect).filter((o): o is BudgetFailure => o.verdict === 'failed');
}

/**
 * Every budget in `expect` judged against `record`, held or not, in a fixed order (accuracy, time
 * budgets, device memory, phase memory). Pure. A skipped record has nothing to judge: empty.
 */
export function evaluateBudgets(
  record: ResultRecord,
  expect: Pick<Expectations, 'accuracy' | 'time' | 'memory'>,
): BudgetOutcome[] {
  if (record.status === 'skipped') return [];
  const out: BudgetOutcome[] = [];

  if (expect.accuracy !== undefined) {
    const floor = expect.accuracy;
    const samples = record.accuracy?.samples ?? [];
    const base = { kind: 'accuracy', metric: 'accuracy', limit: floor, unit: 'fraction', samples } as const;
    if (samples.length === 0) {
      out.push({
        ...base,
        measured: null,
        verdict: 'failed',
        message: `accuracy: floor ${pct(floor)} is set, but no accuracy was measured (case ${record.status}${record.error ? `: ${record.error.code}` : ''})`,
      });
    } else {
      const m = median(sortSamples(samples));
      const over = `over ${count(samples.length, 'repeat')}`;
      out.push(
        m < floor
          ? {
              ...base,
              measured: m,
              verdict: 'failed',
              message: `accuracy: median ${pct(m)} ${over} is below the floor ${pct(floor)} (samples ${formatSampleList(samples, pct)})`,
            }
          : {
              ...base,
              measured: m,
              verdict: 'passed',
              message: `accuracy: median ${pct(m)} ${over} reaches the floor ${pct(floor)}`,
            },
      );
    }
  }

  for (const [phase, limit] of Object.entries(expect.time ?? {}) as [PhaseName, number | undefined][]) {
    if (limit === undefined) continue;
    const metric = `${PHASE_LABEL[phase]} time`;
    const samples = record.phases[phase]?.samples ?? [];
    const base = { kind: 'time', phase, metric, limit, unit: 's', samples } as const;
    if (samples.length === 0) {
      out.push({
        ...base,
        measured: null,
        verdict: 'failed',
        message: `${metric}: budget ${formatSeconds(limit)} is set, but the phase produced no samples (case ${record.status})`,
      });
      continue;
    }
    const m = median(sortSamples(samples));
    const over = `over ${count(samples.length, 'sample')}`;
    out.push(
      m > limit
        ? {
            ...base,
            measured: m,
            verdict: 'failed',
            message: `${metric}: median ${formatSeconds(m)} ${over} exceeds the budget ${formatSeconds(limit)} (samples ${formatSampleList(samples, formatSeconds)})`,
          }
        : {
            ...base,
            measured: m,
            verdict: 'passed',
            message: `${metric}: median ${formatSeconds(m)} ${over} is within the budget ${formatSeconds(limit)}`,
          },
    );
  }

  const { device: deviceLimit, ...phaseLimits } = expect.memory ?? {};
  if (deviceLimit !== undefined) {
    const figures = [...(record.memory.train ?? []), ...(record.memory.infer ?? [])].filter(
      (f) => f.metric === 'device',
    );
    const worst = figures.reduce<MemoryFigure | undefined>((a, b) => (!a || b.bytes > a.bytes ? b : a), undefined);
    const base = {
      kind: 'memory',
      metric: 'device memory',
      limit: deviceLimit,
      unit: 'bytes',
      samples: figures.map((f) => f.bytes),
    } as const;
    if (!worst) {
      const onCpu = deviceClass(record.backend.requested, record.backend.session?.device) === 'cpu';
      out.push({
        ...base,
        measured: null,
        // A CPU backend holds nothing on a device; anywhere else a missing figure is a budget unchecked.
        verdict: onCpu ? 'skipped' : 'failed',
        message: onCpu
          ? `device memory: budget ${formatBytes(deviceLimit)} is set, but ${record.backend.requested} runs on the CPU: nothing on a device`
          : `device memory: budget ${formatBytes(deviceLimit)} is set, but no device memory figure was recorded: ${deviceAbsence(record)}`,
      });
    } else {
      const over = worst.bytes > deviceLimit;
      out.push({
        ...base,
        measured: worst.bytes,
        verdict: over ? 'failed' : 'passed',
        message: `device memory: ${formatBytes(worst.bytes)} ${over ? 'exceeds' : 'is within'} the budget ${formatBytes(deviceLimit)} (${worst.method ? `${DEVICE_METHOD_WORDS[worst.method]}, ` : ''}from ${worst.source})${reliability(worst)}`,
      });
    }
  }
  for (const [phase, limit] of Object.entries(phaseLimits) as ['train' | 'infer', number | undefined][]) {
    if (limit === undefined) continue;
    const metric = `${PHASE_LABEL[phase]} peak RSS`;
    const figures = (record.memory[phase] ?? []).filter((f) => f.metric === 'peak-rss');
    const samples = figures.map((f) => f.bytes);
    const base = { kind: 'memory', phase, metric, limit, unit: 'bytes', samples } as const;
    if (figures.length === 0) {
      out.push({
        ...base,
        measured: null,
        verdict: 'failed',
        message: `${metric}: budget ${formatBytes(limit)} is set, but no peak resident set was measured for the phase (case ${record.status})`,
      });
      continue;
    }
    // Several figures (one per repeat): the budget holds for the worst.
    const worst = figures.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const over = worst.bytes > limit;
    out.push({
      ...base,
      measured: worst.bytes,
      verdict: over ? 'failed' : 'passed',
      message:
        `${metric}: ${formatBytes(worst.bytes)} ${over ? 'exceeds' : 'is within'} the budget ${formatBytes(limit)} ` +
        `(from ${worst.source}${figures.length > 1 ? `; figures ${formatSampleList(samples, formatBytes)}` : ''})${reliability(worst)}`,
    });
  }
  return out;
}

/** Why a record has no device figure, from the reasons its memory sources gave (or that none gave one). */
function deviceAbsence(record: ResultRecord): string {
  const reasons = new Set<string>();
  for (const list of Object.values(record.memoryAbsent ?? {})) {
    for (const a of list ?? []) if (a.metric === 'device') reasons.add(a.reason);
  }
  const total = [...(record.memory.train ?? []), ...(record.memory.infer ?? [])].find(
    (f) => f.metric === 'device-total',
  );
  const card = total ? `; only the whole card's use (every process) is known, which does not judge one case` : '';
  if (reasons.size === 0) return `no memory source gave a reason (case ${record.status})${card}`;
  return `${[...reasons].join('; ')}${card}`;
}

function reliability(f: MemoryFigure): string {
  return f.reliable ? '' : `; this figure is not reliable${f.note ? `: ${f.note}` : ''}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
