/**
 * What the declared metrics (`metrics:`, src/vocab/metric-registry.ts) add to a result record: raw results
 * only — per-call latencies, per-repeat accuracies and losses, the confusion matrix — from which
 * src/runner/metric-values.ts derives every named figure. Optional in the record: absent when the
 * experiment declared none, so records written before `metrics:` existed read the same.
 */

export interface MetricsRecord {
  /** Seconds per timed inference call, every repeat's calls pooled; `batchSize` examples per call. */
  latency?: { batchSize: number; warmupCalls: number; samples: number[] };
  /** Top-k test accuracy per repeat, keyed by k. */
  topk?: Record<string, number[]>;
  /** Mean softmax cross-entropy on the test set, per repeat. */
  testLoss?: number[];
  /** Accuracy of each class per repeat (null for a class without test examples). */
  perClass?: Array<Array<number | null>>;
  /** Confusion matrix of the last repeat, `[true class][predicted class]` counts. */
  confusion?: number[][];
  /** Multiply-adds of one forward pass of one example (src/models/cost.ts). */
  macs?: number;
  /** Floating-point operations of one example in a training and an inference step (src/models/cost.ts). */
  flopsPerExample?: { train: number; infer: number };
}

/** The metrics of a case's processes in one: samples concatenated, the last confusion matrix kept. */
export function mergeMetrics(a: MetricsRecord | undefined, b: MetricsRecord | undefined): MetricsRecord | undefined {
  if (!a || !b) return structuredClone(a ?? b);
  const out = structuredClone(a);
  if (b.latency) {
    out.latency = out.latency ?? { ...b.latency, samples: [] };
    out.latency.samples.push(...b.latency.samples);
  }
  if (b.topk) {
    const topk = out.topk ?? {};
    for (const [k, s] of Object.entries(b.topk)) topk[k] = [...(topk[k] ?? []), ...s];
    out.topk = topk;
  }
  if (b.testLoss) out.testLoss = [...(out.testLoss ?? []), ...b.testLoss];
  if (b.perClass) out.perClass = [...(out.perClass ?? []), ...structuredClone(b.perClass)];
  if (b.confusion) out.confusion = structuredClone(b.confusion);
  if (b.macs !== undefined) out.macs = b.macs;
  if (b.flopsPerExample) out.flopsPerExample = { ...b.flopsPerExample };
  return out;
}
