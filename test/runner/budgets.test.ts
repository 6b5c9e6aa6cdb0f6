import { describe, expect, it } from 'vitest';
import { checkBudgets, evaluateBudgets } from '../../src/runner/budgets.ts';
import { withOutcome } from '../../src/runner/record.ts';
import { makeRecord } from './baseline-fixtures.ts';

const MiB = 2 ** 20;

describe('checkBudgets', () => {
  const rec = makeRecord('table2 › tfjs/cpu', [130.4, 128.9, 131.7], {
    accuracy: { samples: [0.652, 0.641, 0.66] },
    memory: {
      train: [
        {
          metric: 'peak-rss',
          bytes: 1300 * MiB,
          source: '/proc/self/status VmHWM (reset via clear_refs at phase start)',
          reliable: true,
        },
        { metric: 'heap-used', bytes: 200 * MiB, source: 'process.memoryUsage()', reliable: false },
      ],
      infer: [
        {
          metric: 'peak-rss',
          bytes: 700 * MiB,
          source: 'VmRSS sampled every 50 ms (12 samples)',
          reliable: false,
          note: 'max of samples',
        },
      ],
    },
  });

  it('all budgets hold: no failures', () => {
    expect(
      checkBudgets(rec, {
        accuracy: 0.6,
        time: { train: 140, infer: 4 },
        memory: { train: 2000 * MiB, infer: 1024 * MiB },
      }),
    ).toEqual([]);
  });

  it('accuracy floor vs the median accuracy', () => {
    const [f, ...rest] = checkBudgets(rec, { accuracy: 0.7 });
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      kind: 'accuracy',
      measured: 0.652,
      limit: 0.7,
      unit: 'fraction',
      samples: [0.652, 0.641, 0.66],
    });
    expect(f!.message).toBe(
      'accuracy: median 65.2% over 3 repeats is below the floor 70.0% (samples [65.2%, 64.1%, 66.0%])',
    );
  });

  it('time budget vs the median of the samples, not the mean or the worst', () => {
    // Median 130.4 s: a budget of 131 s holds even though one sample (131.7 s) is above it.
    expect(checkBudgets(rec, { time: { train: 131 } })).toEqual([]);
    const [f] = checkBudgets(rec, { time: { train: 120, infer: 3.2 } });
    expect(f).toMatchObject({ kind: 'time', phase: 'train', measured: 130.4, limit: 120, unit: 's' });
    expect(f!.message).toBe(
      'train time: median 2 min 10 s over 3 samples exceeds the budget 2 min 0 s (samples [2 min 10 s, 2 min 9 s, 2 min 12 s])',
    );
    const [g] = checkBudgets(rec, { time: { buildInit: 0.4 } });
    expect(g!.message).toBe(
      'build+init time: median 500 ms over 3 samples exceeds the budget 400 ms (samples [500 ms, 520 ms, 490 ms])',
    );
  });

  it('memory budget vs the peak resident set, naming the source and flagging an unreliable figure', () => {
    const fails = checkBudgets(rec, { memory: { train: 1024 * MiB, infer: 512 * MiB } });
    expect(fails.map((f) => f.metric)).toEqual(['train peak RSS', 'infer peak RSS']);
    expect(fails[0]).toMatchObject({
      kind: 'memory',
      phase: 'train',
      measured: 1300 * MiB,
      limit: 1024 * MiB,
      unit: 'bytes',
      samples: [1300 * MiB],
    });
    expect(fails[0]!.message).toBe(
      'train peak RSS: 1.27 GiB exceeds the budget 1.00 GiB (from /proc/self/status VmHWM (reset via clear_refs at phase start))',
    );
    expect(fails[1]!.message).toBe(
      'infer peak RSS: 700 MiB exceeds the budget 512 MiB (from VmRSS sampled every 50 ms (12 samples)); this figure is not reliable: max of samples',
    );
  });

  it('a budget with nothing measured fails and says so; a skipped case has nothing to check', () => {
    const crashed = makeRecord('x › onnxruntime/cpu', [], {
      status: 'crashed',
      error: { code: 'CRASHED', message: 'killed by SIGSEGV' },
      phases: {},
      memory: {},
    });
    const fails = checkBudgets(crashed, { accuracy: 0.5, time: { train: 10 }, memory: { infer: 10 * MiB } });
    expect(fails.map((f) => [f.kind, f.measured])).toEqual([
      ['accuracy', null],
      ['time', null],
      ['memory', null],
    ]);
    expect(fails[1]!.message).toBe(
      'train time: budget 10.0 s is set, but the phase produced no samples (case crashed)',
    );
    expect(checkBudgets(withOutcome(crashed, { status: 'skipped', skipReason: 'no GPU' }), { accuracy: 0.5 })).toEqual(
      [],
    );
  });

  it('long sample lists are summarised in the message', () => {
    const many = makeRecord(
      'y › tfjs/wasm',
      Array.from({ length: 20 }, (_, i) => 10 + i / 10),
    );
    const [f] = checkBudgets(many, { time: { train: 5 } });
    expect(f!.message).toMatch(
      /median 10\.9 s over 20 samples exceeds the budget 5\.00 s \(samples \[20 samples, 10\.0 s … 11\.9 s\]\)/,
    );
    expect(f!.samples).toHaveLength(20);
  });
});

describe('the device-memory budget', () => {
  const GiB = 2 ** 30;
  const gpu = (over: Parameters<typeof makeRecord>[2]) =>
    makeRecord('d › onnxruntime/webgpu', [1, 1], {
      backend: {
        requested: 'onnxruntime/webgpu',
        session: { backend: 'onnxruntime/webgpu', device: 'webgpu', versions: {} },
      },
      ...over,
    });

  it("fails with the sampler's reason when a GPU case has no device figure", () => {
    const r = gpu({
      memory: { train: [] },
      memoryAbsent: {
        train: [{ metric: 'device', reason: 'nvidia-smi not found' }],
        infer: [{ metric: 'device', reason: 'nvidia-smi not found' }],
      },
    });
    const [f] = checkBudgets(r, { memory: { device: GiB } });
    expect(f).toMatchObject({ kind: 'memory', measured: null, verdict: 'failed' });
    expect(f!.message).toBe(
      'device memory: budget 1.00 GiB is set, but no device memory figure was recorded: nvidia-smi not found',
    );
  });

  it('fails, saying so, when no source gave a reason', () => {
    const [f] = checkBudgets(gpu({}), { memory: { device: GiB } });
    expect(f!.message).toMatch(/no device memory figure was recorded: no memory source gave a reason \(case passed\)/);
  });

  it('is skipped on a CPU backend: nothing is on a device', () => {
    const r = makeRecord('d › onnxruntime/cpu', [1, 1]);
    const [o] = evaluateBudgets(r, { memory: { device: GiB } });
    expect(o).toMatchObject({ verdict: 'skipped', measured: null });
    expect(o!.message).toMatch(/onnxruntime\/cpu runs on the CPU: nothing on a device/);
  });

  it('judges a backend counter, naming its method', () => {
    const r = gpu({
      memory: {
        train: [
          {
            metric: 'device',
            bytes: 2 * GiB,
            source: 'tf.memory().numBytesAllocatedInGPU',
            reliable: false,
            method: 'backend-counter',
          },
        ],
      },
    });
    const [f] = checkBudgets(r, { memory: { device: GiB } });
    expect(f!.measured).toBe(2 * GiB);
    expect(f!.message).toMatch(
      /^device memory: 2\.00 GiB exceeds the budget 1\.00 GiB \(the backend's own count of its device buffers, from tf\.memory\(\)\.numBytesAllocatedInGPU\); this figure is not reliable/,
    );
  });
});
