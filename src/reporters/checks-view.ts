/**
 * The checks of records (src/runner/checks.ts) as the reports show them: each figure in its unit,
 * the verdict in words, a case's failed checks by name, and the "Checks" section of the comparison
 * document. Shared by the markdown reporter and the pull-request diff, so both name a check alike.
 */
import { type CaseCheck, CHECK_FAILED, type GateOutcome, type ResultRecord } from '../runner/record.ts';
import { formatMetric } from '../runner/metric-values.ts';
import { bytes, percent, sig } from './format.ts';
import { firstLine, table } from './markdown-table.ts';
import { MIGRATION_LIMITS } from './migrate.ts';

/** A check's figure (measured or limit) in its unit; `—` where there is none. */
export function checkValue(unit: CaseCheck['unit'], x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  switch (unit) {
    case 'fraction':
      return percent(x);
    case 's':
      return `${sig(x)} s`;
    case 'bytes':
      return bytes(x);
    case 'ratio':
      return `${sig(x)}×`;
    case 'relative-error':
      return x.toExponential(1);
    default:
      return formatMetric(x, unit);
  }
}

/** The name of a check in a table: `train time budget`, `accuracy floor`, `regression of train time`. */
export function checkName(c: CaseCheck): string {
  switch (c.kind) {
    case 'accuracy':
      return 'accuracy floor';
    case 'time':
    case 'memory':
      return `${c.metric} budget`;
    case 'regression':
    case 'parity':
      return c.kind === 'parity' ? 'parity' : c.metric;
    case 'metric':
      return `${c.metric} bound`;
  }
}

/** The gate's outcome in a pull request's words. */
export const OUTCOME_WORDS: Record<GateOutcome, string> = {
  slower: 'slower',
  faster: 'faster',
  same: 'same',
  'too-noisy': 'too noisy to tell',
  'not-comparable': 'not comparable',
  'no-baseline': 'no baseline',
};

/** The failed checks of a record. */
export function failed(r: ResultRecord): CaseCheck[] {
  return (r.checks ?? []).filter((c) => c.verdict === 'failed');
}

/** A short cell for a record that failed its checks: `failed: train time budget, accuracy floor`. */
export function failedChecksText(r: ResultRecord): string | undefined {
  if (r.status !== 'failed' || r.error?.code !== CHECK_FAILED) return undefined;
  const names = failed(r).map(checkName);
  return `failed: ${names.length > 0 ? names.join(', ') : CHECK_FAILED}`;
}

/**
 * A mark for a figure a failed check judged: ` ✗ train time budget` beside a phase's time (budget or
 * regression gate), ` ✗ train peak RSS budget` beside its peak RSS, ` ✗ device memory budget` beside
 * training's device memory; empty when no such check failed.
 */
export function failedMark(r: ResultRecord, phase: string, memoryMetric?: string): string {
  const hit = failed(r).filter((c) => {
    if (memoryMetric === undefined) return (c.kind === 'time' || c.kind === 'regression') && c.phase === phase;
    if (c.kind !== 'memory') return false;
    return memoryMetric === 'device' ? c.phase === undefined && phase === 'train' : c.phase === phase;
  });
  return hit.length === 0 ? '' : ` ✗ ${hit.map(checkName).join(', ')}`;
}

/** Records written in an older schema, with what they cannot show; undefined when there are none. */
export function migrationNote(records: readonly ResultRecord[]): string | undefined {
  const bySchema = new Map<string, number>();
  for (const r of records) if (r.migratedFrom) bySchema.set(r.migratedFrom, (bySchema.get(r.migratedFrom) ?? 0) + 1);
  if (bySchema.size === 0) return undefined;
  return [...bySchema]
    .map(
      ([schema, n]) =>
        `${n} of these records ${n === 1 ? 'was' : 'were'} written as \`${schema}\` by an older expbench: ${MIGRATION_LIMITS[schema] ?? 'what it cannot show is unknown'}. Re-run those cases for verdicts.`,
    )
    .join(' ');
}

/**
 * The "Checks" section: how many checks each verdict got, then every failed check with its measured
 * value, limit and reason. Empty when no record carries checks.
 */
export function checksSection(records: readonly ResultRecord[]): string[] {
  const withChecks = records.filter((r) => r.checks !== undefined);
  if (withChecks.length === 0) return [];
  const all = withChecks.flatMap((r) => (r.checks ?? []).map((c) => ({ r, c })));
  const n = (v: CaseCheck['verdict']) => all.filter((x) => x.c.verdict === v).length;
  const lede =
    `${n('passed')} passed, ${n('failed')} failed, ${n('skipped')} not judged, over ${withChecks.length} case${withChecks.length === 1 ? '' : 's'}. ` +
    'Every check of a case (accuracy floor, time and memory budgets, the regression gate per phase, parity) is stored in its record when the case finishes; the test run asserts on the same checks.';
  const bad = all
    .filter((x) => x.c.verdict === 'failed')
    .sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : 0));
  const parts = ['## Checks', lede];
  if (bad.length > 0) {
    parts.push(
      table(
        ['Case', 'Check', 'Measured', 'Limit', 'Why'],
        bad.map(({ r, c }) => [
          r.key,
          checkName(c),
          checkValue(c.unit, c.measured),
          checkValue(c.unit, c.limit),
          firstLine(c.reason, 300),
        ]),
        ['left', 'left', 'right', 'right', 'left'],
      ),
    );
  }
  return [parts.join('\n\n')];
}
