/**
 * The checks of a case, judged once, when its record is complete, and stored in the record: the
 * accuracy floor, every time and memory budget ({@link evaluateBudgets}), the regression gate on each
 * timed phase against the stored baseline ({@link gateRecord}) and parity. A failed check makes the
 * case `failed` with error code {@link CHECK_FAILED}, naming the checks. The Vitest tests assert on
 * these checks and the reporters render them, so a test run and its reports cannot disagree.
 */
import type { Expectations } from '../config/types.ts';
import { describeOpGrowth } from '../vocab/op-profile.ts';
import { BASELINE_SCHEMA, type BaselineFile, gateRecord, mergeRecords, type PhaseVerdict } from './baseline.ts';
import { evaluateBudgets } from './budgets.ts';
import { DEFAULT_GATE, type GateOptions } from './gate.ts';
import { metricChecks } from './metric-checks.ts';
import {
  type CaseCheck,
  CHECK_FAILED,
  type GateDetail,
  type GateOutcome,
  type ResultRecord,
  withOutcome,
} from './record.ts';

export { CHECK_FAILED };

/** What the checks read of an experiment's `expect` (the gate's settings may be left to the defaults). */
export type CheckedExpectations = Pick<Expectations, 'accuracy' | 'time' | 'memory' | 'metrics'> & {
  regression?: Expectations['regression'];
};

/** The regression gate's settings for a case: the experiment's `expect.regression` over the defaults. */
export function gateOptions(expect: CheckedExpectations): GateOptions {
  return { ...DEFAULT_GATE, ...expect.regression };
}

/** What the regression checks compare with: a baseline file read (or missing), or why none could be read. */
export type BaselineSource =
  | { kind: 'file'; path: string; file: BaselineFile | undefined }
  | { kind: 'unreadable'; path: string; error: string };

/** The gate's status in pull-request words (see {@link GateOutcome}). */
export function gateOutcome(v: PhaseVerdict): GateOutcome {
  switch (v.status) {
    case 'regression':
      return 'slower';
    case 'improvement':
      return 'faster';
    case 'pass':
      return 'same';
    case 'no-baseline':
      return 'no-baseline';
    case 'incomparable':
      return v.noisy ? 'too-noisy' : 'not-comparable';
  }
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** A regression check per gated phase of `verdicts` (one phase each). */
export function regressionChecks(verdicts: readonly PhaseVerdict[], gate: GateOptions): CaseCheck[] {
  return verdicts.map((v) => {
    const outcome = gateOutcome(v);
    const detail: GateDetail = {
      outcome,
      ratio: finite(v.ratio),
      medianRatio: finite(v.medianRatio),
      pValue: finite(v.pValue),
      current: { n: v.current.n, median: finite(v.current.median) },
      baseline: { n: v.baseline.n, median: finite(v.baseline.median) },
      threshold: gate.threshold,
      alpha: gate.alpha,
    };
    const compared = outcome === 'slower' || outcome === 'faster' || outcome === 'same';
    // A slower phase points at the operators whose time grew, when both runs were profiled.
    const ops = outcome === 'slower' && v.ops && v.ops.length > 0 ? v.ops : undefined;
    return {
      kind: 'regression',
      id: `regression.${v.phase}`,
      phase: v.phase,
      metric: `regression of ${phaseWords(v.phase)} time`,
      unit: 'ratio',
      measured: compared ? finite(v.ratio) : null,
      limit: 1 + gate.threshold,
      verdict: outcome === 'slower' ? 'failed' : compared ? 'passed' : 'skipped',
      reason: ops ? `${v.message}; operators whose time grew (per step): ${describeOpGrowth(ops)}` : v.message,
      gate: detail,
      ...(ops ? { ops } : {}),
    } satisfies CaseCheck;
  });
}

function phaseWords(phase: string): string {
  return phase === 'buildInit' ? 'build+init' : phase === 'warmup' ? 'warm-up' : phase;
}

/** Every check of `record` (a skipped case has none). Pure. */
export function evaluateChecks(
  record: ResultRecord,
  expect: CheckedExpectations,
  baseline: BaselineSource,
): CaseCheck[] {
  if (record.status === 'skipped') return [];
  const checks: CaseCheck[] = evaluateBudgets(record, expect).map((b) => ({
    kind: b.kind,
    id: b.kind === 'accuracy' ? 'accuracy' : `${b.kind}.${b.phase ?? 'device'}`,
    ...(b.phase ? { phase: b.phase } : {}),
    metric: b.metric,
    unit: b.unit,
    measured: b.measured,
    limit: b.limit,
    verdict: b.verdict,
    reason: b.message,
    samples: b.samples,
  }));

  checks.push(...metricChecks(record, expect.metrics ?? []));

  if (record.parity) {
    const p = record.parity;
    checks.push({
      kind: 'parity',
      id: 'parity',
      metric: `logits against ${p.reference}`,
      unit: 'relative-error',
      measured: p.maxRel,
      limit: p.tolerance,
      verdict: p.passed ? 'passed' : 'failed',
      reason: p.passed
        ? `logits agree with ${p.reference} on the same weights and ${p.examples} examples: max rel error ${p.maxRel.toExponential(3)} ≤ tolerance ${p.tolerance}`
        : `logits differ from ${p.reference} on the same weights and ${p.examples} examples: max abs error ${p.maxAbs.toExponential(3)}, max rel error ${p.maxRel.toExponential(3)} > tolerance ${p.tolerance}`,
    });
  } else if (record.paritySkipped !== undefined) {
    checks.push({
      kind: 'parity',
      id: 'parity',
      metric: 'logits against the reference',
      unit: 'relative-error',
      measured: null,
      limit: null,
      verdict: 'skipped',
      reason: record.paritySkipped,
    });
  }

  // The gate judges finished measurements only: a crashed or interrupted case's samples are not a run.
  if (record.status === 'passed') {
    const gate = gateOptions(expect);
    if (baseline.kind === 'unreadable') {
      checks.push({
        kind: 'regression',
        id: 'regression',
        metric: 'regression against the baseline',
        unit: 'ratio',
        measured: null,
        limit: 1 + gate.threshold,
        verdict: 'failed',
        reason: `the baseline ${baseline.path} cannot be read: ${baseline.error}`,
      });
    } else if (baseline.file === undefined) {
      checks.push({
        kind: 'regression',
        id: 'regression',
        metric: 'regression against the baseline',
        unit: 'ratio',
        measured: null,
        limit: 1 + gate.threshold,
        verdict: 'skipped',
        reason: `no baseline file at ${baseline.path} (run \`expbench baseline update\`)`,
      });
    } else {
      checks.push(...regressionChecks(gateRecord(record, baseline.file, gate), gate));
    }
  }
  return checks;
}

/** The checks of a record that failed. */
export function failedChecks(record: ResultRecord): CaseCheck[] {
  return (record.checks ?? []).filter((c) => c.verdict === 'failed');
}

/**
 * Stores `checks` in `record` and, when one failed on a case whose measurements completed, marks the
 * case failed with {@link CHECK_FAILED}, naming each failed check. A case that crashed or was
 * interrupted keeps its own status and error; its checks are stored beside them.
 */
export function applyChecks(record: ResultRecord, checks: CaseCheck[]): ResultRecord {
  record.checks = checks;
  const failed = checks.filter((c) => c.verdict === 'failed');
  if (failed.length === 0 || record.status !== 'passed') return record;
  return withOutcome(record, {
    status: 'failed',
    error: {
      code: CHECK_FAILED,
      message: `${failed.length === 1 ? 'a check failed' : `${failed.length} checks failed`}: ${failed.map((c) => c.reason).join('; ')}`,
    },
  });
}

/** Whether a record failed only its checks (its measurements are complete). */
export function failedByChecks(record: ResultRecord): boolean {
  return record.status === 'failed' && record.error?.code === CHECK_FAILED;
}

/** The gate options a record ran under: those of its stored regression checks, else the defaults. */
function recordedGate(r: ResultRecord): GateOptions {
  const g = r.checks?.find((c) => c.gate)?.gate;
  return g ? { ...DEFAULT_GATE, threshold: g.threshold, alpha: g.alpha } : { ...DEFAULT_GATE };
}

/**
 * Other runs' records as an in-memory baseline, so a run can be gated against them (e.g. the merge
 * base's) with the same matching rules (machine, workload, backend) as against the stored baseline.
 */
export function baselineOfRecords(records: readonly ResultRecord[]): BaselineFile {
  const file: BaselineFile = { schema: BASELINE_SCHEMA, machines: {} };
  mergeRecords(file, records);
  return file;
}

/**
 * Each record's regression checks against `file` (by case key), under the gate options the record
 * was judged with; cases that did not finish their measurements get none.
 */
export function regressionsAgainst(
  records: readonly ResultRecord[],
  file: BaselineFile | undefined,
): Map<string, CaseCheck[]> {
  const out = new Map<string, CaseCheck[]>();
  for (const r of records) {
    if (r.status !== 'passed' && !failedByChecks(r)) {
      out.set(r.key, []);
      continue;
    }
    const gate = recordedGate(r);
    out.set(r.key, regressionChecks(gateRecord(r, file, gate), gate));
  }
  return out;
}
