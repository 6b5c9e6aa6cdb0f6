/**
 * The metric registry: every scalar figure an experiment can declare, expect and report, with its
 * stable name, unit, direction (which way is better) and the `metrics:` group that makes it measured.
 * One definition, read by the config loader (names, did-you-mean, units of bounds), the runner (what to
 * measure and check) and the reporters (labels, figure axes). It imports nothing of expbench's.
 *
 * Groups in {@link DEFAULT_GROUPS} are always measured (they are what experiment files meant before
 * `metrics:` existed: phase times, training throughput, top-1 accuracy, peak memory, parameters); the
 * others cost time or memory and are measured only when the file declares them under `metrics:`.
 */

/** How a metric's value is written: seconds, images per second, a 0–1 fraction, bytes, a plain count. */
export type MetricUnit = 's' | 'img/s' | 'fraction' | 'bytes' | 'count' | 'GFLOP/s' | 'nats';

/** Which way is better: a `lower` latency, a `higher` accuracy. */
export type MetricDirection = 'lower' | 'higher';

/** The `metrics:` keys of an experiment file, plus the groups that are always on. */
export type MetricGroup =
  | 'phases'
  | 'throughput'
  | 'accuracy'
  | 'memory'
  | 'model'
  | 'latency'
  | 'topk'
  | 'loss'
  | 'perClass'
  | 'confusion'
  | 'flops';

export interface MetricDef {
  /** Stable name used in `expect:`, reports and figures, e.g. `latency.p99`. */
  name: string;
  unit: MetricUnit;
  direction: MetricDirection;
  group: MetricGroup;
  /** One line for reports and hints. */
  description: string;
}

/** Groups measured whatever the file declares. */
export const DEFAULT_GROUPS: readonly MetricGroup[] = ['phases', 'throughput', 'accuracy', 'memory', 'model'];

/** Groups a file declares under `metrics:` (each a key there). */
export const DECLARED_GROUPS = ['latency', 'topk', 'loss', 'perClass', 'confusion', 'flops'] as const;
export type DeclaredGroup = (typeof DECLARED_GROUPS)[number];

/** Latency statistics over the timed calls (each a quantile of type 7, see src/stats/summary.ts). */
export const LATENCY_STATS = ['p50', 'p90', 'p99', 'max'] as const;
export type LatencyStat = (typeof LATENCY_STATS)[number];

const def = (
  name: string,
  unit: MetricUnit,
  direction: MetricDirection,
  group: MetricGroup,
  description: string,
): MetricDef => ({ name, unit, direction, group, description });

/** Every metric with a fixed name; `top<k>` metrics are made by {@link metricDef}. */
export const METRICS: readonly MetricDef[] = [
  def('time.warmup', 's', 'lower', 'phases', 'warm-up round (build+init, train, infer), median of warm-up rounds'),
  def('time.buildInit', 's', 'lower', 'phases', 'graph construction and initialisation, median of repeats'),
  def('time.train', 's', 'lower', 'phases', 'training (all epochs), median of repeats'),
  def('time.infer', 's', 'lower', 'phases', 'inference over the test set, median of repeats'),
  def('throughput.train', 'img/s', 'higher', 'throughput', 'training images per second, median of repeats'),
  def('throughput.infer', 'img/s', 'higher', 'throughput', 'inference images per second, median of repeats'),
  def('top1', 'fraction', 'higher', 'accuracy', 'top-1 test accuracy, median of repeats'),
  def('memory.train', 'bytes', 'lower', 'memory', 'peak resident set while training, worst repeat'),
  def('memory.infer', 'bytes', 'lower', 'memory', 'peak resident set while inferring, worst repeat'),
  def('memory.device', 'bytes', 'lower', 'memory', 'device (GPU) memory the driver attributes to the case'),
  def('params', 'count', 'lower', 'model', 'trainable parameters'),
  ...LATENCY_STATS.map((s) =>
    def(`latency.${s}`, 's', 'lower', 'latency', `${s} of the per-call inference latency at the inference batch size`),
  ),
  def('latency.calls', 'count', 'higher', 'latency', 'timed inference calls behind the latency figures'),
  def('loss', 'nats', 'lower', 'loss', 'mean softmax cross-entropy on the test set, median of repeats'),
  def('perClass.min', 'fraction', 'higher', 'perClass', 'accuracy of the worst class, median of repeats'),
  def('macs', 'count', 'lower', 'flops', 'multiply-adds of one forward pass of one example'),
  def(
    'gflops.train',
    'GFLOP/s',
    'higher',
    'flops',
    'achieved GFLOP/s while training (FLOPs per image as src/models/cost.ts counts them)',
  ),
  def(
    'gflops.infer',
    'GFLOP/s',
    'higher',
    'flops',
    'achieved GFLOP/s while inferring (FLOPs per image as src/models/cost.ts counts them)',
  ),
];

const BY_NAME = new Map(METRICS.map((m) => [m.name, m]));

/** `top5` → 5; undefined for any other name. `top1` is the default accuracy metric, not a top-k one. */
export function topK(name: string): number | undefined {
  const m = /^top([1-9]\d{0,3})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The definition of a metric name, `top<k>` included; undefined for an unknown name. */
export function metricDef(name: string): MetricDef | undefined {
  const fixed = BY_NAME.get(name);
  if (fixed) return fixed;
  const k = topK(name);
  if (k === undefined) return undefined;
  return def(name, 'fraction', 'higher', 'topk', `top-${k} test accuracy, median of repeats`);
}

/** Non-scalar results a group records (shown in reports, not usable in `expect:`). */
export const TABLE_RESULTS = {
  perClass: 'per-class test accuracy',
  confusion: 'confusion matrix of the test set (rows: true class, columns: predicted class)',
} as const;

/** Every fixed metric name, for did-you-mean and hints (`top<k>` is described, not listed). */
export function metricNames(): string[] {
  return METRICS.map((m) => m.name);
}
