/**
 * Measurement of the declared metrics inside a case's process (called from worker.ts after the infer
 * phase of each round): the inference latency loop, and the test-set figures that need logits (top-k,
 * test loss) or the predictions (per-class accuracy, confusion matrix). Nothing here runs for a metric
 * the experiment did not declare.
 */
import { performance } from 'node:perf_hooks';
import type { ModelSession, TestFigures } from '../backends/types.ts';
import type { LatencyConfig, MetricsConfig } from '../config/metrics-config.ts';
import type { Experiment } from '../config/types.ts';
import { fillBatch } from '../data/batch.ts';
import type { Dataset } from '../data/types.ts';
import type { ModelGraph } from '../models/ir.ts';
import { flopsPerExample, multiplyAdds } from '../models/cost.ts';
import { confusionMatrix, crossEntropySum, perClassAccuracy, topKHits } from '../stats/classification.ts';
import { type MetricsRecord, mergeMetrics } from './metric-record.ts';

/** Most timed calls one latency loop makes, whatever `minDuration` asks (bounds the record's size). */
export const MAX_LATENCY_CALLS = 1_000_000;

/**
 * The latency loop: `warmup` untimed calls, then timed calls until there are `calls` of them and they
 * have lasted `minDuration`. One clock reading per call: each sample is the time from the end of the
 * previous call to the end of this one, so nothing between calls goes untimed and the loop adds only a
 * clock read and an array push to what it times.
 */
export async function timeCalls(
  call: () => Promise<unknown>,
  cfg: LatencyConfig,
  now: () => number = performance.now.bind(performance),
): Promise<number[]> {
  for (let i = 0; i < cfg.warmup; i++) await call();
  const samples: number[] = [];
  const minMs = cfg.minDuration * 1000;
  const start = now();
  let last = start;
  while ((samples.length < cfg.calls || last - start < minMs) && samples.length < MAX_LATENCY_CALLS) {
    await call();
    const t = now();
    samples.push((t - last) / 1000);
    last = t;
  }
  return samples;
}

/** The first `n` test examples (cycled when the test set is smaller), normalised, NCHW. */
function testBatch(data: Dataset, n: number): Float32Array {
  const x = new Float32Array(n * data.channels * data.height * data.width);
  const order = Uint32Array.from({ length: n }, (_, i) => i % data.test.n);
  fillBatch(data.test, data, data.normalization, order, 0, n, 'NCHW', x);
  return x;
}

/** Per-call latency of `session` at `batchSize` examples per call. */
export async function measureLatency(
  session: ModelSession,
  data: Dataset,
  batchSize: number,
  cfg: LatencyConfig,
): Promise<NonNullable<MetricsRecord['latency']>> {
  const x = testBatch(data, batchSize);
  const prepared = session.inferenceCall ? await session.inferenceCall(x, batchSize) : undefined;
  try {
    const call = prepared ? () => prepared.run() : () => session.logits(x, batchSize);
    return { batchSize, warmupCalls: cfg.warmup, samples: await timeCalls(call, cfg) };
  } finally {
    prepared?.dispose();
  }
}

/** Logits of the whole test set, `batchSize` examples per call. */
async function testLogits(session: ModelSession, data: Dataset, batchSize: number): Promise<Float32Array> {
  const n = data.test.n;
  const per = data.channels * data.height * data.width;
  const out = new Float32Array(n * data.numClasses);
  const x = new Float32Array(batchSize * per);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    fillBatch(data.test, data, data.normalization, order, start, count, 'NCHW', x);
    out.set((await session.logits(x, count)).subarray(0, count * data.numClasses), start * data.numClasses);
  }
  return out;
}

/**
 * Top-k hits and the summed loss over the test set: the backend's own where it computes them (on the
 * device), else from one pass of logits.
 */
async function testFigures(
  session: ModelSession,
  data: Dataset,
  metrics: MetricsConfig,
  batchSize: number,
): Promise<TestFigures> {
  const own = await session.testFigures?.({ split: data.test, batchSize, topk: metrics.topk, loss: metrics.loss });
  if (own) return own;
  const logits = await testLogits(session, data, batchSize);
  const labels = data.test.labels;
  const K = data.numClasses;
  return {
    topkHits: metrics.topk.map((k) => topKHits(logits, labels, K, k)),
    lossSum: metrics.loss ? crossEntropySum(logits, labels, K) : undefined,
  };
}

/**
 * One round's test-set figures for the declared metrics: top-k and loss from one extra pass over the
 * test set (only when either is declared), per-class accuracy and the confusion matrix from the
 * predictions of the infer phase.
 */
export async function evaluateDeclared(
  session: ModelSession,
  data: Dataset,
  predictions: Int32Array,
  metrics: MetricsConfig,
  batchSize: number,
): Promise<MetricsRecord> {
  const out: MetricsRecord = {};
  const labels = data.test.labels;
  const n = data.test.n;
  const K = data.numClasses;
  if (metrics.topk.length > 0 || metrics.loss) {
    const f = await testFigures(session, data, metrics, batchSize);
    if (metrics.topk.length > 0)
      out.topk = Object.fromEntries(metrics.topk.map((k, i) => [k, [f.topkHits[i]! / Math.max(1, n)]]));
    if (metrics.loss) out.testLoss = [f.lossSum! / Math.max(1, n)];
  }
  if (metrics.perClass || metrics.confusion) {
    const m = confusionMatrix(predictions, labels, K);
    if (metrics.perClass) out.perClass = [perClassAccuracy(m).map((a) => (Number.isNaN(a) ? null : a))];
    if (metrics.confusion) out.confusion = m;
  }
  return out;
}

/** Whether the experiment declares any metric measured here. */
export function declaresAny(m: MetricsConfig): boolean {
  return m.latency !== undefined || m.topk.length > 0 || m.loss || m.perClass || m.confusion || m.flops;
}

/**
 * One timed round's declared metrics, after its infer phase: the test-set figures, then the latency
 * loop (in phase `latency`, announced through `enter`).
 */
export async function measureRound(
  session: ModelSession,
  data: Dataset,
  predictions: Int32Array,
  exp: Experiment,
  enter: (phase: 'latency') => void,
): Promise<MetricsRecord> {
  const out = await evaluateDeclared(session, data, predictions, exp.metrics, exp.inference.batchSize);
  if (exp.metrics.latency) {
    enter('latency');
    out.latency = await measureLatency(session, data, exp.inference.batchSize, exp.metrics.latency);
  }
  return out;
}

/** The case's declared metrics from its rounds, plus the model's multiply-adds; undefined when none declared. */
export function collectMetrics(rounds: MetricsRecord[], model: ModelGraph, exp: Experiment): MetricsRecord | undefined {
  if (!declaresAny(exp.metrics)) return undefined;
  let out: MetricsRecord = {};
  for (const r of rounds) out = mergeMetrics(out, r) ?? out;
  if (exp.metrics.flops) {
    out.macs = multiplyAdds(model);
    out.flopsPerExample = { train: flopsPerExample(model, 'train'), infer: flopsPerExample(model, 'infer') };
  }
  return out;
}
