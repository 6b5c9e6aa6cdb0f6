/**
 * The experiment file's `metrics:` block and the metric bounds of `expect:` (`latency.p99: { max: 5ms }`):
 * their schema fragments (laid into the format by `schema.ts`), their typed form, and the checks the
 * schema cannot express — a bound on an unknown metric (with a did-you-mean), on a metric the file does
 * not declare, or written in the wrong unit. Metric names, units and groups come from the registry
 * (`src/vocab/metric-registry.ts`).
 */
import { DECLARED_GROUPS, type DeclaredGroup, metricDef, metricNames, topK } from '../vocab/metric-registry.ts';
import { checkBytes, checkDuration } from './units.ts';
import { didYouMean } from './suggest.ts';

/** What `metrics:` declares, defaults filled. */
export interface MetricsConfig {
  /** Per-call inference latency at the inference batch size; absent when not declared. */
  latency?: LatencyConfig;
  /** k of each top-k accuracy measured besides top-1 (empty: none). */
  topk: number[];
  /** Mean softmax cross-entropy on the test set. */
  loss: boolean;
  /** Per-class accuracy (and `perClass.min`). */
  perClass: boolean;
  /** Confusion matrix of the test set. */
  confusion: boolean;
  /** Multiply-adds per example and achieved GFLOP/s. */
  flops: boolean;
}

export interface LatencyConfig {
  /** Timed calls at least. */
  calls: number;
  /** Seconds the timed calls last at least (0: no minimum). */
  minDuration: number;
  /** Untimed calls before the timed ones. */
  warmup: number;
}

/** One `expect:` bound on a metric: the median (or the latency statistic) must stay within. */
export interface MetricBound {
  metric: string;
  min?: number;
  max?: number;
}

/** Keys of `expect:` that are budgets rather than metric names. */
export const BUDGET_KEYS = ['accuracy', 'time', 'memory', 'regression', 'timeToAccuracy'] as const;

/** A problem found here, placed by the loader at the first path it can locate. */
export interface MetricProblem {
  paths: Array<Array<string | number>>;
  target: 'value' | 'key';
  reason: string;
  message: string;
  hint: string;
}

/** Typed `metrics:` (defaults filled by the loader from the schema). */
export function metricsFromYaml(raw: unknown): MetricsConfig {
  const m = (raw ?? {}) as Record<string, unknown>;
  const out: MetricsConfig = {
    topk: [...((m.topk as number[] | undefined) ?? [])].sort((a, b) => a - b),
    loss: m.loss === true,
    perClass: m.perClass === true,
    confusion: m.confusion === true,
    flops: m.flops === true,
  };
  if (m.latency !== undefined) {
    const l = m.latency as Record<string, unknown>;
    const minDuration = l.minDuration === undefined ? { ok: true as const, value: 0 } : checkDuration(l.minDuration);
    out.latency = {
      calls: l.calls as number,
      minDuration: minDuration.ok ? minDuration.value : Number.NaN,
      warmup: l.warmup as number,
    };
  }
  return out;
}

/** Whether metric `name` is measured: a default metric, or one of a group `metrics` declares. */
export function declaresMetric(metrics: MetricsConfig, name: string): boolean {
  const def = metricDef(name);
  return def !== undefined && declared(metrics, def.group, name);
}

/** Whether the metrics group a metric belongs to is measured under `metrics`. */
function declared(metrics: MetricsConfig, group: string, name: string): boolean {
  if (!(DECLARED_GROUPS as readonly string[]).includes(group)) return true;
  switch (group as DeclaredGroup) {
    case 'latency':
      return metrics.latency !== undefined;
    case 'topk':
      return metrics.topk.includes(topK(name)!);
    default:
      return metrics[group as Exclude<DeclaredGroup, 'latency' | 'topk'>];
  }
}

/** Whether an `expect:` key is neither a budget nor a metric name. */
export function isUnknownMetric(key: string): boolean {
  return !(BUDGET_KEYS as readonly string[]).includes(key) && metricDef(key) === undefined;
}

/** The message and hint for an `expect:` key that names no metric (also used for schema errors there). */
export function unknownMetric(key: string): { message: string; hint: string } {
  const candidates = [...BUDGET_KEYS, ...metricNames(), 'top5'];
  const guess = didYouMean(key, candidates);
  return {
    message: `unknown metric "${key}" in expect`,
    hint: `${guess ? `did you mean "${guess}"? ` : ''}metrics: ${metricNames().join(', ')}, top<k>; budgets: ${BUDGET_KEYS.join(', ')}`,
  };
}

/**
 * The metric bounds of an `expect:` mapping (its keys other than the budgets), with every problem:
 * an unknown metric, a metric not declared under `metrics:`, a value in the wrong unit, min above max.
 */
export function metricBoundsFromYaml(
  expect: Record<string, unknown>,
  metrics: MetricsConfig,
  classes: number | undefined,
): { bounds: MetricBound[]; problems: MetricProblem[] } {
  const bounds: MetricBound[] = [];
  const problems: MetricProblem[] = [];
  for (const [key, raw] of Object.entries(expect)) {
    if ((BUDGET_KEYS as readonly string[]).includes(key)) continue;
    const at = ['expect', key];
    const def = metricDef(key);
    if (!def) {
      problems.push({ paths: [at], target: 'key', reason: 'metric', ...unknownMetric(key) });
      continue;
    }
    if (!declared(metrics, def.group, key)) {
      const k = topK(key);
      problems.push({
        paths: [at],
        target: 'key',
        reason: 'undeclared-metric',
        message: `expect names ${key}, but the experiment does not measure it`,
        hint:
          def.group === 'topk'
            ? `declare it: \`metrics: { topk: [${k}] }\``
            : def.group === 'latency'
              ? 'declare it: `metrics: { latency: { calls: 200, warmup: 20 } }`'
              : `declare it: \`metrics: { ${def.group}: true }\``,
      });
      continue;
    }
    const k = topK(key);
    if (k !== undefined && classes !== undefined && k > classes) {
      problems.push({
        paths: [at],
        target: 'key',
        reason: 'metric',
        message: `${key} needs at least ${k} classes; the dataset has ${classes}`,
        hint: `use top-k with k below ${classes}`,
      });
      continue;
    }
    const b: MetricBound = { metric: key };
    let ok = true;
    for (const side of ['min', 'max'] as const) {
      const v = (raw as Record<string, unknown>)[side];
      if (v === undefined) continue;
      const r = valueIn(def.unit, v);
      if (!r.ok) {
        ok = false;
        problems.push({
          paths: [[...at, side]],
          target: 'value',
          reason: 'unit',
          message: `expect.${key}.${side}: ${r.message}`,
          hint: r.hint,
        });
      } else b[side] = r.value;
    }
    if (ok && b.min !== undefined && b.max !== undefined && b.min > b.max) {
      problems.push({
        paths: [at],
        target: 'key',
        reason: 'range',
        message: `expect.${key}: min ${b.min} is above max ${b.max}, so no value can pass`,
        hint: 'swap them, or keep one side',
      });
      ok = false;
    }
    if (ok) bounds.push(b);
  }
  return { bounds, problems };
}

/** Expectations about training in an experiment that does not train. */
export function trainingOnlyProblems(expect: Record<string, unknown>): MetricProblem[] {
  const paths: Array<Array<string>> = [];
  for (const budget of ['time', 'memory'] as const) {
    const b = expect[budget];
    if (b && typeof b === 'object' && 'train' in b) paths.push(['expect', budget, 'train']);
  }
  for (const key of Object.keys(expect)) if (metricDef(key) && key.endsWith('.train')) paths.push(['expect', key]);
  return paths.map((path) => ({
    paths: [path],
    target: 'key' as const,
    reason: 'no-training',
    message: `${path.slice(1).join('.')} is about training, but the experiment has no training:`,
    hint: 'remove it, or add a `training:` block',
  }));
}

/** Problems of a `metrics:` block the schema cannot see (top-k above the class count). */
export function metricsProblems(metrics: MetricsConfig, classes: number | undefined): MetricProblem[] {
  const out: MetricProblem[] = [];
  metrics.topk.forEach((k) => {
    if (classes !== undefined && k > classes)
      out.push({
        paths: [['metrics', 'topk']],
        target: 'value',
        reason: 'metric',
        message: `metrics.topk asks for top-${k}, but the dataset has ${classes} classes`,
        hint: `use k below ${classes}`,
      });
  });
  if (metrics.latency && Number.isNaN(metrics.latency.minDuration)) {
    out.push({
      paths: [['metrics', 'latency', 'minDuration']],
      target: 'value',
      reason: 'unit',
      message: 'metrics.latency.minDuration is not a duration',
      hint: "write e.g. '2s' or '500ms'",
    });
  }
  return out;
}

/** A bound's value in the metric's unit: durations for seconds, sizes for bytes, numbers otherwise. */
function valueIn(unit: string, v: unknown): { ok: true; value: number } | { ok: false; message: string; hint: string } {
  if (unit === 's') return checkDuration(v);
  if (unit === 'bytes') return checkBytes(v);
  if (typeof v === 'number' && Number.isFinite(v)) return { ok: true, value: v };
  return {
    ok: false,
    message: `${JSON.stringify(v)} is not a number (the metric is in ${unit})`,
    hint: unit === 'fraction' ? 'write a fraction between 0 and 1, e.g. 0.9' : `write a plain number of ${unit}`,
  };
}
