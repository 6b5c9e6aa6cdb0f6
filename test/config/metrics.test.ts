import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/config/diagnostics.ts';
import { parseExperiment } from '../../src/config/load.ts';

const base = `name: m
dataset: { kind: synthetic, train: 64, test: 32, imageSize: 8, classes: 10 }
model: { arch: vgg-small, width: 0.125 }
backends: [fake/ok]
`;

function parse(extra: string) {
  return parseExperiment(`${base}${extra}`, 'm.experiment.yaml', { profile: null });
}

function firstError(extra: string) {
  try {
    parse(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return { d: (e as ConfigError).diagnostics[0]!, text: (e as ConfigError).message };
  }
  throw new Error('expected a ConfigError');
}

describe('metrics: and metric bounds in expect:', () => {
  test('nothing declared: only the default metrics, no bounds', () => {
    const exp = parse('');
    expect(exp.metrics).toEqual({ topk: [], loss: false, perClass: false, confusion: false, flops: false });
    expect(exp.expect.metrics).toBeUndefined();
  });

  test('declared metrics get their defaults; bounds are read in the metric unit', () => {
    const exp = parse(
      [
        'training: { epochs: 1, batchSize: 8 }',
        'metrics: { latency: { minDuration: 500ms }, topk: [5, 3], loss: true, flops: true }',
        'expect:',
        '  accuracy: 0.2',
        '  latency.p99: { max: 5ms }',
        '  top5: { min: 0.9 }',
        '  throughput.train: { min: 800 }',
        '  memory.infer: { max: 2GB }',
        '',
      ].join('\n'),
    );
    expect(exp.metrics).toEqual({
      latency: { calls: 100, minDuration: 0.5, warmup: 10 },
      topk: [3, 5],
      loss: true,
      perClass: false,
      confusion: false,
      flops: true,
    });
    expect(exp.expect.accuracy).toBe(0.2);
    expect(exp.expect.metrics).toEqual([
      { metric: 'latency.p99', max: 0.005 },
      { metric: 'top5', min: 0.9 },
      { metric: 'throughput.train', min: 800 },
      { metric: 'memory.infer', max: 2e9 },
    ]);
  });

  test('an unknown metric in expect is a located error with a did-you-mean', () => {
    const { d, text } = firstError('metrics: { latency: {} }\nexpect:\n  latency.p999: { max: 5ms }\n');
    expect([d.line, d.col]).toEqual([7, 3]);
    expect(d.message).toBe('unknown metric "latency.p999" in expect');
    expect(d.hint).toMatch(/did you mean "latency\.p99"\?/);
    expect(text).toMatch(/m\.experiment\.yaml:7:3/);
  });

  test('a misspelt budget is an unknown metric too, whatever its value', () => {
    const { d } = firstError('expect:\n  acuracy: 0.5\n');
    expect([d.line, d.col]).toEqual([6, 3]);
    expect(d.message).toBe('unknown metric "acuracy" in expect');
    expect(d.hint).toMatch(/did you mean "accuracy"\?/);
  });

  test('a bound on a metric the file does not declare says how to declare it', () => {
    const { d } = firstError('expect:\n  top5: { min: 0.9 }\n');
    expect([d.line, d.col]).toEqual([6, 3]);
    expect(d.message).toBe('expect names top5, but the experiment does not measure it');
    expect(d.hint).toBe('declare it: `metrics: { topk: [5] }`');
    const lat = firstError('expect:\n  latency.p50: { max: 1ms }\n').d;
    expect(lat.hint).toMatch(/metrics: \{ latency:/);
  });

  test('a bound in the wrong unit, and min above max, are located at their value', () => {
    const unit = firstError('metrics: { latency: {} }\nexpect:\n  latency.p99: { max: 5 parsecs }\n').d;
    expect([unit.line, unit.col]).toEqual([7, 23]);
    expect(unit.message).toMatch(/^expect\.latency\.p99\.max: /);
    const frac = firstError('metrics: { topk: [5] }\nexpect:\n  top5: { min: high }\n').d;
    expect(frac.message).toMatch(/"high" is not a number/);
    const range = firstError('expect:\n  top1: { min: 0.9, max: 0.5 }\n').d;
    expect(range.message).toMatch(/min 0\.9 is above max 0\.5/);
  });

  test('top-k beyond the class count is refused', () => {
    const { d } = firstError('metrics: { topk: [20] }\n');
    expect(d.message).toMatch(/top-20, but the dataset has 10 classes/);
  });
});

describe('an experiment without training', () => {
  test('expectations about training are located errors', () => {
    const { d } = firstError('expect:\n  time: { train: 10s }\n');
    expect([d.line, d.col]).toEqual([6, 11]);
    expect(d.message).toBe('time.train is about training, but the experiment has no training:');
    const m = firstError('expect:\n  throughput.train: { min: 5 }\n').d;
    expect(m.message).toBe('throughput.train is about training, but the experiment has no training:');
  });

  test('its inference expectations are fine', () => {
    const exp = parse(
      'metrics: { latency: {} }\nexpect:\n  throughput.infer: { min: 5 }\n  latency.p50: { max: 1s }\n',
    );
    expect(exp.trains).toBe(false);
    expect(exp.expect.metrics?.map((b) => b.metric)).toEqual(['throughput.infer', 'latency.p50']);
  });
});
