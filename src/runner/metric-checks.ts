/**
 * The metric bounds of `expect:` (`latency.p99: { max: 5ms }`) checked against a record: each bound
 * either holds or fails with a message naming the metric, the measured value (and how it was
 * summarised) and the limit. A bound with nothing measured fails too, as the budgets do.
 */
import type { MetricBound } from '../config/metrics-config.ts';
import { metricDef } from '../vocab/metric-registry.ts';
import { formatMetric, metricValue } from './metric-values.ts';
import type { CaseCheck, ResultRecord } from './record.ts';

export interface BoundVerdict {
  bound: MetricBound;
  passed: boolean;
  /** The figure compared, or null when the record has none. */
  measured: number | null;
  message: string;
}

export function checkMetricBound(record: ResultRecord, bound: MetricBound): BoundVerdict {
  const def = metricDef(bound.metric);
  const v = metricValue(record, bound.metric);
  const limits = [
    bound.min !== undefined && def ? `min ${formatMetric(bound.min, def.unit)}` : '',
    bound.max !== undefined && def ? `max ${formatMetric(bound.max, def.unit)}` : '',
  ].filter(Boolean);
  if (!v) {
    return {
      bound,
      passed: false,
      measured: null,
      message: `${bound.metric}: ${limits.join(', ')} is set, but ${bound.metric} was not measured (case ${record.status}${record.error ? `: ${record.error.code}` : ''})`,
    };
  }
  const shown = `${formatMetric(v.value, v.def.unit)} (${v.how})`;
  if (bound.min !== undefined && v.value < bound.min)
    return {
      bound,
      passed: false,
      measured: v.value,
      message: `${bound.metric}: ${shown} is below the min ${formatMetric(bound.min, v.def.unit)}`,
    };
  if (bound.max !== undefined && v.value > bound.max)
    return {
      bound,
      passed: false,
      measured: v.value,
      message: `${bound.metric}: ${shown} is above the max ${formatMetric(bound.max, v.def.unit)}`,
    };
  return { bound, passed: true, measured: v.value, message: `${bound.metric}: ${shown} within ${limits.join(', ')}` };
}

/** The bounds as checks of the record (`metric.<name>`), judged with the case's other checks. */
export function metricChecks(record: ResultRecord, bounds: readonly MetricBound[]): CaseCheck[] {
  return bounds.map((bound) => {
    const v = checkMetricBound(record, bound);
    const def = metricDef(bound.metric)!;
    const samples = metricValue(record, bound.metric)?.samples;
    return {
      kind: 'metric',
      id: `metric.${bound.metric}`,
      metric: bound.metric,
      unit: def.unit,
      measured: v.measured,
      // The side that failed, else the tighter one stated (max for a lower-is-better metric).
      limit:
        v.measured !== null && bound.min !== undefined && v.measured < bound.min
          ? bound.min
          : (bound.max ?? bound.min ?? null),
      verdict: v.passed ? 'passed' : 'failed',
      reason: v.message,
      ...(samples && samples.length <= 1000 ? { samples } : {}),
    };
  });
}
