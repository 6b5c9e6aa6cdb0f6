/** Result records for the baseline and budget tests (shared with the concurrent-writer script). */
import type { EnvironmentInfo, Outcome, RecordCommon, ResultRecord } from '../../src/runner/record.ts';
import { RECORD_SCHEMA } from '../../src/runner/record.ts';

export const ENV_A: EnvironmentInfo = {
  os: 'Debian GNU/Linux 12 (linux 6.1, x64)',
  cpu: 'AMD EPYC 7B13',
  cores: 16,
  memoryBytes: 64 * 2 ** 30,
  node: 'v20.20.2',
  packages: { 'onnxruntime-node': '1.30.0' },
  fingerprint: 'aaaaaaaaaaaaaaaa',
};

export const ENV_B: EnvironmentInfo = {
  ...ENV_A,
  cpu: 'Intel Xeon Platinum 8480C',
  cores: 8,
  memoryBytes: 32 * 2 ** 30,
  fingerprint: 'bbbbbbbbbbbbbbbb',
};

/** A finished record of `key` with the given train samples (and fixed build+init / infer samples). */
export function makeRecord(
  key: string,
  train: number[],
  over: Partial<RecordCommon> & (Outcome | { status?: 'passed' }) = {},
): ResultRecord {
  return {
    schema: RECORD_SCHEMA,
    runId: 'run-1',
    key,
    experiment: {
      name: key.split(' › ')[0] ?? key,
      file: '/x/exp.experiment.yaml',
      hash: 'h1',
      profile: null,
      arch: 'vgg-small',
      trainExamples: 49_984,
      testExamples: 9_984,
      epochs: 10,
      batchSize: 64,
      repeats: train.length,
    },
    backend: { requested: 'onnxruntime/cpu', session: { backend: 'onnxruntime/cpu', device: 'cpu', versions: {} } },
    status: 'passed',
    env: ENV_A,
    phases: {
      buildInit: { samples: [0.5, 0.52, 0.49] },
      train: { samples: train },
      infer: { samples: [3.1, 3.0, 3.2] },
    },
    memory: {},
    startedAt: '2026-11-25T10:00:00.000Z',
    finishedAt: '2026-11-25T10:05:00.000Z',
    ...over,
  };
}
