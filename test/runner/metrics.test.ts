import { describe, expect, test } from 'vitest';
import { createFakeBackend } from '../../src/backends/fake.ts';
import type { FiguresRequest, ModelSession } from '../../src/backends/types.ts';
import { loadDataset } from '../../src/data/index.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights } from '../../src/models/init.ts';
import { evaluateDeclared, measureLatency, timeCalls } from '../../src/runner/measure.ts';
import { applyChecks, CHECK_FAILED } from '../../src/runner/checks.ts';
import { checkMetricBound, metricChecks } from '../../src/runner/metric-checks.ts';
import { mergeMetrics } from '../../src/runner/metric-record.ts';
import { metricValue } from '../../src/runner/metric-values.ts';
import { makeRecord } from './baseline-fixtures.ts';

describe('the latency loop', () => {
  test('untimed warm-up calls, then one sample per timed call from clock reading to clock reading', async () => {
    let clock = 0;
    let calls = 0;
    const durations = [5, 1, 2, 3, 4, 10];
    const call = async () => {
      clock += durations[calls++]!;
    };
    const s = await timeCalls(call, { calls: 5, minDuration: 0, warmup: 1 }, () => clock);
    expect(calls).toBe(6);
    expect(s).toEqual([0.001, 0.002, 0.003, 0.004, 0.01]);
  });

  test('a minimum duration keeps calling past the call count', async () => {
    let clock = 0;
    const s = await timeCalls(
      async () => {
        clock += 100;
      },
      { calls: 2, minDuration: 1, warmup: 0 },
      () => clock,
    );
    expect(s.length).toBe(10);
  });
});

describe('declared metrics measured on a real (fake-backend) session', async () => {
  const data = await loadDataset(
    { kind: 'synthetic', train: 64, test: 40, imageSize: 4, channels: 1, classes: 5, seed: 1, noise: 200 },
    { baseDir: '.' },
  );
  const model = buildModelGraph(
    { arch: 'custom', width: 1, batchNorm: false, classifier: [], dropout: 0, layers: [{ kind: 'flatten' }] },
    { channels: 1, height: 4, width: 4 },
    5,
  );
  const session = await createFakeBackend('ok').load(model, initWeights(model, 1), {
    optimizer: { kind: 'sgd', lr: 0.01, momentum: 0, weightDecay: 0 },
    trainBatchSize: 8,
    inferBatchSize: 8,
    seed: 1,
    dataset: data,
  });
  await session.train({
    split: data.train,
    epochs: 1,
    batchSize: 8,
    lossEvery: 1,
    order: () => Uint32Array.from({ length: data.train.n }, (_, i) => i),
  });
  const preds = await session.infer({ split: data.test, batchSize: 8 });

  test('top-k grows with k up to 1, top-1 from logits equals the accuracy of the predictions', async () => {
    const m = await evaluateDeclared(
      session,
      data,
      preds,
      { topk: [1, 2, 5], loss: true, perClass: true, confusion: true, flops: false },
      8,
    );
    let correct = 0;
    for (let i = 0; i < data.test.n; i++) if (preds[i] === data.test.labels[i]) correct++;
    expect(m.topk!['1']![0]).toBeCloseTo(correct / data.test.n, 12);
    expect(m.topk!['2']![0]).toBeGreaterThanOrEqual(m.topk!['1']![0]!);
    expect(m.topk!['5']![0]).toBe(1);
    expect(m.testLoss![0]).toBeGreaterThan(0);
    const confusion = m.confusion!;
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(data.test.n);
    expect(confusion.reduce((a, row, c) => a + row[c]!, 0)).toBe(correct);
    expect(m.perClass![0]!.length).toBe(5);
  });

  test('takes top-k hits and the summed loss from the backend where it computes them, never reading logits', async () => {
    const asked: unknown[] = [];
    const own = {
      testFigures: async (req: FiguresRequest) => {
        asked.push({ n: req.split.n, batchSize: req.batchSize, topk: req.topk, loss: req.loss });
        return { topkHits: req.topk.map((k) => k), lossSum: 7 };
      },
      logits: async () => {
        throw new Error('logits read');
      },
    } as unknown as ModelSession;
    const n = data.test.n;
    const m = await evaluateDeclared(
      own,
      data,
      preds,
      { topk: [1, 3], loss: true, perClass: false, confusion: false, flops: false },
      8,
    );
    expect(asked).toEqual([{ n, batchSize: 8, topk: [1, 3], loss: true }]);
    expect(m.topk).toEqual({ 1: [1 / n], 3: [3 / n] });
    expect(m.testLoss).toEqual([7 / n]);
  });

  test('latency: the declared number of calls at the inference batch size, each a positive time', async () => {
    const l = await measureLatency(session, data, 8, { calls: 7, minDuration: 0, warmup: 2 });
    expect(l.batchSize).toBe(8);
    expect(l.warmupCalls).toBe(2);
    expect(l.samples.length).toBe(7);
    for (const s of l.samples) expect(s).toBeGreaterThan(0);
  });
});

describe('metric values and bounds on a record', () => {
  const rec = makeRecord('lat › onnxruntime/cpu', [10, 12, 11], {
    accuracy: { samples: [0.5, 0.6, 0.7] },
    metrics: {
      latency: { batchSize: 8, warmupCalls: 5, samples: Array.from({ length: 100 }, (_, i) => (i + 1) / 1000) },
      topk: { '5': [0.8, 0.9, 0.85] },
      testLoss: [1.2, 1.0, 1.1],
      perClass: [
        [0.9, 0.2, null],
        [0.8, 0.4, null],
      ],
      macs: 1e6,
      flopsPerExample: { train: 6e6, infer: 2e6 },
    },
  });
  rec.phases.train!.imagesPerSecond = [1000, 900, 1100];

  test('each metric summarised as the registry says', () => {
    expect(metricValue(rec, 'time.train')!.value).toBe(11);
    expect(metricValue(rec, 'top1')!.value).toBe(0.6);
    expect(metricValue(rec, 'top5')!.value).toBe(0.85);
    expect(metricValue(rec, 'loss')!.value).toBe(1.1);
    expect(metricValue(rec, 'perClass.min')!.value).toBeCloseTo(0.3, 12);
    expect(metricValue(rec, 'latency.p50')!.value).toBeCloseTo(0.0505, 12);
    expect(metricValue(rec, 'latency.p99')!.value).toBeCloseTo(0.09901, 12);
    expect(metricValue(rec, 'latency.max')!.value).toBe(0.1);
    expect(metricValue(rec, 'latency.calls')!.value).toBe(100);
    expect(metricValue(rec, 'throughput.train')!.value).toBe(1000);
    expect(metricValue(rec, 'throughput.infer')!.value).toBeCloseTo(9984 / 3.1, 9);
    expect(metricValue(rec, 'gflops.train')!.value).toBeCloseTo((1000 * 6e6) / 1e9, 12);
    expect(metricValue(rec, 'gflops.infer')!.value).toBeCloseTo(((9984 / 3.1) * 2e6) / 1e9, 9);
    expect(metricValue(rec, 'memory.train')).toBeUndefined();
  });

  test('a failed bound names the metric, the measured value with how it was summarised, and the limit', () => {
    expect(checkMetricBound(rec, { metric: 'latency.p99', max: 0.005 }).message).toBe(
      'latency.p99: 99.0 ms (p99 of 100 calls at batch 8) is above the max 5.00 ms',
    );
    expect(checkMetricBound(rec, { metric: 'top5', min: 0.9 }).message).toBe(
      'top5: 85.0% (median of 3 repeats) is below the min 90.0%',
    );
    expect(checkMetricBound(rec, { metric: 'throughput.train', min: 800 }).passed).toBe(true);
    const missing = checkMetricBound(rec, { metric: 'memory.infer', max: 1e9 });
    expect(missing.passed).toBe(false);
    expect(missing.message).toMatch(/memory\.infer was not measured/);
  });

  test('bounds become checks of the record; a failed one fails the case, naming it', () => {
    const checks = metricChecks(rec, [
      { metric: 'latency.p99', max: 0.005 },
      { metric: 'top5', min: 0.5 },
    ]);
    expect(checks.map((c) => [c.id, c.kind, c.unit, c.verdict, c.limit])).toEqual([
      ['metric.latency.p99', 'metric', 's', 'failed', 0.005],
      ['metric.top5', 'metric', 'fraction', 'passed', 0.5],
    ]);
    expect(checks[0]!.measured).toBeCloseTo(0.09901, 12);
    const judged = applyChecks(structuredClone(rec), checks);
    expect(judged.status).toBe('failed');
    expect(judged.error?.code).toBe(CHECK_FAILED);
    expect(judged.error?.message).toMatch(
      /latency\.p99: 99\.0 ms \(p99 of 100 calls at batch 8\) is above the max 5\.00 ms/,
    );
  });

  test("merging a case's processes pools latency calls and appends per-repeat samples", () => {
    const a = { latency: { batchSize: 8, warmupCalls: 1, samples: [1, 2] }, testLoss: [1], topk: { '5': [0.5] } };
    const b = { latency: { batchSize: 8, warmupCalls: 1, samples: [3] }, testLoss: [2], topk: { '5': [0.7] } };
    expect(mergeMetrics(a, b)).toEqual({
      latency: { batchSize: 8, warmupCalls: 1, samples: [1, 2, 3] },
      testLoss: [1, 2],
      topk: { '5': [0.5, 0.7] },
    });
    expect(a.latency.samples).toEqual([1, 2]);
  });
});
