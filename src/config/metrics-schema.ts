/**
 * Schema fragments of the `metrics:` block and of the metric bounds in `expect:`, laid into the format
 * by `schema.ts`; their typed form and checks are in `metrics-config.ts`.
 */
import type { JsonSchema } from './schema.ts';

/** `metrics:` as written in a file (the loader types it as `MetricsConfig`). */
export interface MetricsValue {
  latency?: { calls?: number; minDuration?: number | string; warmup?: number };
  topk?: number[];
  loss?: boolean;
  perClass?: boolean;
  confusion?: boolean;
  flops?: boolean;
}

/** A metric bound as written in a file (values may carry units). */
export interface MetricBoundValue {
  min?: number | string;
  max?: number | string;
}

/** Limits on latency loops: long enough for any real use, small enough to catch a typo. */
export const LATENCY_LIMITS = { calls: 1_000_000, warmup: 100_000 } as const;

/** The `metrics:` mapping of the format. */
export const metricsSchema: JsonSchema = {
  type: 'object',
  description:
    'Metrics measured besides the defaults (phase times, throughput, top-1 accuracy, peak memory, parameters); names usable in `expect:` and `figures:`.',
  additionalProperties: false,
  properties: {
    latency: {
      type: 'object',
      description:
        'Per-call inference latency at inference.batchSize after untimed warm-up calls: latency.p50, p90, p99, max and the call count.',
      additionalProperties: false,
      properties: {
        calls: {
          type: 'integer',
          minimum: 1,
          maximum: LATENCY_LIMITS.calls,
          description: 'Timed calls (at least; with minDuration, calls continue until both hold).',
          default: 100,
        },
        minDuration: {
          $ref: '#/definitions/duration',
          description: 'Keep calling until the timed calls have lasted this long (e.g. 2s).',
        },
        warmup: {
          type: 'integer',
          minimum: 0,
          maximum: LATENCY_LIMITS.warmup,
          description: 'Untimed calls before the timed ones.',
          default: 10,
        },
      },
    },
    topk: {
      type: 'array',
      description: 'Top-k accuracies to measure besides top-1, e.g. [5] for `top5`.',
      items: { type: 'integer', minimum: 2, maximum: 1000 },
      minItems: 1,
      maxItems: 16,
      uniqueItems: true,
    },
    loss: { type: 'boolean', description: 'Mean softmax cross-entropy on the test set (`loss`).' },
    perClass: { type: 'boolean', description: 'Accuracy of every class, and of the worst (`perClass.min`).' },
    confusion: { type: 'boolean', description: 'Confusion matrix of the test set.' },
    flops: {
      type: 'boolean',
      description: 'Multiply-adds per example (`macs`) and achieved GFLOP/s (`gflops.train`, `gflops.infer`).',
    },
  },
};

/** A bound in `expect:` on a metric named by its key. */
export const metricBoundSchema: JsonSchema = {
  type: 'object',
  title: 'Metric bound',
  description:
    "A bound on the metric named by the key, e.g. `latency.p99: { max: 5ms }`, `top5: { min: 0.9 }`, `throughput.train: { min: 800 }`; times take units ('5ms'), memory sizes too ('2GB'). The other keys of expect are the budgets accuracy, time, memory and regression.",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    min: { type: ['number', 'string'], description: 'Smallest accepted value.' },
    max: { type: ['number', 'string'], description: 'Largest accepted value.' },
  },
};
