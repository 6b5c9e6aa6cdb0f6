/**
 * Realistic result records for the reporter tests, built in code so every figure in a snapshot can be
 * traced to a line here.
 */
import type { FigureSpec } from '../../src/config/figures.ts';
import type { BackendId } from '../../src/backends/types.ts';
import {
  type CaseError,
  type EnvironmentInfo,
  type MemoryFigure,
  type Outcome,
  RECORD_SCHEMA,
  type ResultRecord,
} from '../../src/runner/record.ts';

export const ENV: EnvironmentInfo = {
  os: 'Linux 6.8.0 x64',
  cpu: 'AMD EPYC 7B13',
  cores: 2,
  memoryBytes: 24 * 2 ** 30,
  node: 'v20.20.0',
  packages: {
    '@tensorflow/tfjs-core': '4.22.0',
    '@tensorflow/tfjs-backend-wasm': '4.22.0',
    'onnxruntime-node': '1.30.0',
  },
  fingerprint: '3f9c2a1d7e04b6c8',
};

export interface MakeRecordOptions {
  backend: BackendId;
  experiment?: string;
  artefact?: string;
  arch?: string;
  runId?: string;
  profile?: string | null;
  finishedAt?: string;
  status?: ResultRecord['status'];
  skipReason?: string;
  error?: CaseError;
  buildInit?: number[];
  train?: number[];
  infer?: number[];
  warmup?: number[];
  accuracy?: number[];
  memory?: ResultRecord['memory'];
  reference?: Record<string, unknown>;
  /** The case's matrix point (`{ 'model.arch': 'vgg16' }` for a sweep); its label joins the key. */
  point?: Record<string, string | number | boolean>;
  /** The figures the experiment declares. */
  figures?: FigureSpec[];
  env?: Partial<EnvironmentInfo>;
  parity?: ResultRecord['parity'];
  /** Ran on another backend than requested (a fallback). */
  ranOn?: BackendId;
  /** The session's device description (default: the backend's device name). */
  device?: string;
}

/** A point's label as a case key writes it: the bare architecture of a sweep, else `key=value`. */
function pointLabel(point: Record<string, string | number | boolean>): string {
  return Object.entries(point)
    .map(([k, v]) => (k === 'model.arch' ? String(v) : `${k}=${String(v)}`))
    .join(', ');
}

/** The study's Fig. 2 and Fig. 3 as experiments/paper/fig2 and fig3 declare them. */
export const FIG2: FigureSpec = {
  x: 'model.arch',
  y: 'time.train',
  series: 'backend',
  title: 'Fig. 2: training time against depth',
};
export const FIG3: FigureSpec = {
  x: 'model.arch',
  y: 'memory.train',
  series: 'backend',
  title: 'Fig. 3: memory against architecture',
};

/** The status part of a record: a skipped record needs its reason, a failed one its error. */
function outcome(o: MakeRecordOptions): Outcome {
  const status = o.status ?? 'passed';
  if (status === 'passed') return { status };
  if (status === 'skipped') {
    if (o.skipReason === undefined) throw new Error('makeRecord: a skipped record needs skipReason');
    return { status, skipReason: o.skipReason };
  }
  if (o.error === undefined) throw new Error(`makeRecord: a ${status} record needs error`);
  return { status, error: o.error };
}

/** A result record with sensible defaults (the study's Table 2 sizes) and the given parts. */
export function makeRecord(o: MakeRecordOptions): ResultRecord {
  const experiment = o.experiment ?? 'paper-table2';
  const skipped = o.status === 'skipped';
  const phases: ResultRecord['phases'] = {};
  if (!skipped) {
    if (o.buildInit) phases.buildInit = { samples: o.buildInit };
    if (o.train) phases.train = { samples: o.train, imagesPerSecond: o.train.map((s) => 49_984 / s) };
    if (o.infer) phases.infer = { samples: o.infer };
    if (o.warmup) phases.warmup = { samples: o.warmup };
  }
  const record: ResultRecord = {
    schema: RECORD_SCHEMA,
    runId: o.runId ?? 'run-2025-05-01T10-00-00Z',
    key: `${experiment} › ${o.point ? `${pointLabel(o.point)} › ` : ''}${o.backend}`,
    experiment: {
      name: experiment,
      file: `experiments/paper/${experiment}.experiment.yaml`,
      hash: 'sha256:0b1c2d3e',
      profile: o.profile === undefined ? 'full' : o.profile,
      arch: o.arch ?? 'vgg-small',
      width: 1,
      batchNorm: false,
      seed: 42,
      dataset: {
        kind: 'cifar10',
        source: 'cifar10 binary folder data/cifar-10-batches-bin',
        image: { height: 32, width: 32, channels: 3 },
      },
      trainExamples: 49_984,
      testExamples: 9_984,
      epochs: 10,
      batchSize: 64,
      repeats: 5,
    },
    backend: {
      requested: o.backend,
      ...(skipped
        ? {}
        : {
            session: {
              backend: o.ranOn ?? o.backend,
              device:
                o.device ??
                ((o.ranOn ?? o.backend).endsWith('/cpu') ? 'cpu' : ((o.ranOn ?? o.backend).split('/')[1] ?? '')),
              versions: {},
            },
          }),
    },
    ...outcome(o),
    env: { ...ENV, ...o.env },
    phases,
    memory: skipped ? {} : (o.memory ?? {}),
    startedAt: '2025-05-01T10:00:00.000Z',
    finishedAt: o.finishedAt ?? '2025-05-01T10:30:00.000Z',
  };
  if (o.artefact !== undefined) record.experiment.artefact = o.artefact;
  if (o.reference !== undefined) record.experiment.reference = o.reference;
  if (o.point !== undefined) record.experiment.point = o.point;
  if (o.figures !== undefined) record.experiment.figures = o.figures;
  if (o.accuracy !== undefined && !skipped) record.accuracy = { samples: o.accuracy };
  if (o.parity !== undefined) record.parity = o.parity;
  return record;
}

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

export function rss(bytes: number): MemoryFigure {
  return { metric: 'peak-rss', bytes, source: '/proc/self/status VmHWM', reliable: true };
}

export function tfMemory(bytes: number): MemoryFigure {
  return { metric: 'backend', bytes, source: 'tf.memory()', reliable: false, note: 'tensors only' };
}

/** Five samples whose median is `m` and whose MAD is `d`. */
export function samples(m: number, d: number): number[] {
  return [m + 2 * d, m - d, m, m + d, m - 2 * d];
}

/** What the study's figures were measured under, as the shipped experiment files declare it. */
export const STUDY_CONDITIONS = {
  device: 'one NVIDIA K80 GPU',
  data: 'cifar10',
  width: 1,
  imageSize: 32,
  train: 49_984,
  test: 9_984,
  epochs: 10,
  batchSize: 64,
};

export const TABLE2_REFERENCE = {
  label: 'study (K80)',
  names: { tensorflow: 'TF', caffe2: 'Caffe2' },
  note: 'TensorFlow and Caffe2 on one K80, averages of 10 runs',
  conditions: STUDY_CONDITIONS,
  tensorflow: { buildInit: 4.71, train: 89.43, infer: 3.96 },
  caffe2: { buildInit: 1.89, train: 55.71, infer: 0.4 },
};

export const TABLE3_REFERENCE = {
  label: 'study (K80)',
  names: { tensorflow: 'TF', caffe2: 'Caffe2' },
  unit: 'GB',
  note: 'TensorFlow and Caffe2 on one K80',
  conditions: STUDY_CONDITIONS,
  tensorflow: { train: 3.96, infer: 3.405 },
  caffe2: { train: 2.424, infer: 1.854 },
};

/** A skip reason as the tfjs WebGPU backend writes it: a short clause, then the detail a person needs. */
export const NO_WEBGPU =
  "no WebGPU adapter: Dawn's requestAdapter() returned null (libvulkan.so.1 (the Vulkan loader Dawn uses on Linux) is not installed)";

/** The ONNX Runtime CUDA probe's reason: ~300 characters, the one that made tables unreadable. */
export const NO_CUDA =
  'the CUDA execution provider binaries are not installed (onnxruntime-node does not bundle them; looked in ' +
  '/work/main/node_modules/onnxruntime-node/bin/napi-v6/linux/x64); install them with ' +
  '`npm install onnxruntime-node --onnxruntime-node-install=cuda12` (or `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild ' +
  'onnxruntime-node`); CUDA 12 and cuDNN 9 libraries must be on the library path';

/** The study's artefacts as a CPU-only machine produces them: WebGPU backends skipped, one failure. */
export function paperRecords(runId = 'run-2025-05-01T10-00-00Z'): ResultRecord[] {
  const common = { runId };
  const t2 = { ...common, experiment: 'paper-table2', artefact: 'table2', reference: TABLE2_REFERENCE };
  const t3 = { ...common, experiment: 'paper-table3', artefact: 'table3', reference: TABLE3_REFERENCE };
  const out: ResultRecord[] = [
    makeRecord({
      ...t2,
      backend: 'tfjs/cpu',
      buildInit: samples(0.8, 0.02),
      train: samples(11, 1),
      infer: samples(1.2, 0.05),
      warmup: [0.9],
      accuracy: samples(0.72, 0.01),
      memory: { train: [rss(1.5 * GiB), tfMemory(300 * MiB)], infer: [rss(1.1 * GiB)] },
      parity: {
        reference: 'onnxruntime/cpu',
        maxAbs: 2e-6,
        maxRel: 1.5e-6,
        tolerance: 1e-4,
        passed: true,
        examples: 8,
      },
    }),
    makeRecord({
      ...t2,
      backend: 'tfjs/wasm',
      buildInit: samples(0.5, 0.01),
      train: samples(8, 0.5),
      infer: samples(0.9, 0.03),
      accuracy: samples(0.715, 0.01),
      memory: { train: [rss(1.2 * GiB)], infer: [rss(900 * MiB)] },
    }),
    makeRecord({ ...t2, backend: 'tfjs/webgpu', status: 'skipped', skipReason: NO_WEBGPU }),
    makeRecord({
      ...t2,
      backend: 'onnxruntime/cpu',
      buildInit: samples(0.2, 0.01),
      train: samples(5.5, 0.25),
      infer: samples(0.3, 0.01),
      accuracy: samples(0.718, 0.005),
      memory: { train: [rss(0.75 * GiB)], infer: [rss(600 * MiB)] },
    }),
    makeRecord({ ...t2, backend: 'onnxruntime/webgpu', status: 'skipped', skipReason: NO_WEBGPU }),
    makeRecord({ ...t2, backend: 'onnxruntime/cuda', status: 'skipped', skipReason: NO_CUDA }),
    makeRecord({
      ...t3,
      backend: 'tfjs/cpu',
      train: samples(11, 1),
      infer: samples(1.2, 0.05),
      memory: { train: [rss(1.5 * GiB), tfMemory(300 * MiB)], infer: [rss(1.1 * GiB)], dataset: [rss(700 * MiB)] },
    }),
    makeRecord({
      ...t3,
      backend: 'onnxruntime/cpu',
      train: samples(5.5, 0.25),
      infer: samples(0.3, 0.01),
      memory: { train: [rss(0.75 * GiB)], infer: [rss(600 * MiB)], dataset: [rss(700 * MiB)] },
    }),
    makeRecord({ ...t3, backend: 'onnxruntime/webgpu', status: 'skipped', skipReason: NO_WEBGPU }),
  ];
  const depth: Record<string, number> = { vgg7: 0.5, vgg11: 1, vgg13: 1.3, vgg16: 1.7, vgg19: 2.1 };
  for (const arch of ['vgg11', 'vgg13', 'vgg16', 'vgg19']) {
    const d = depth[arch] as number;
    out.push(
      makeRecord({
        ...common,
        experiment: 'paper-fig2',
        artefact: 'fig2',
        arch,
        point: { 'model.arch': arch },
        figures: [FIG2],
        backend: 'tfjs/cpu',
        train: samples(40 * d, 2 * d),
      }),
      arch === 'vgg19'
        ? makeRecord({
            ...common,
            experiment: 'paper-fig2',
            artefact: 'fig2',
            arch,
            point: { 'model.arch': arch },
            figures: [FIG2],
            backend: 'onnxruntime/cpu',
            status: 'failed',
            error: {
              code: 'BACKEND',
              phase: 'train',
              message: 'onnxruntime: failed to allocate 2147483648 bytes\n    at OrtSession.run',
            },
          })
        : makeRecord({
            ...common,
            experiment: 'paper-fig2',
            artefact: 'fig2',
            arch,
            point: { 'model.arch': arch },
            figures: [FIG2],
            backend: 'onnxruntime/cpu',
            train: samples(22 * d, d),
          }),
    );
  }
  for (const arch of ['vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19']) {
    const d = depth[arch] as number;
    out.push(
      makeRecord({
        ...common,
        experiment: 'paper-fig3',
        artefact: 'fig3',
        arch,
        point: { 'model.arch': arch },
        figures: [FIG3],
        backend: 'tfjs/cpu',
        train: [30 * d],
        memory: { train: [rss((0.9 + d) * GiB)] },
      }),
      makeRecord({
        ...common,
        experiment: 'paper-fig3',
        artefact: 'fig3',
        arch,
        point: { 'model.arch': arch },
        figures: [FIG3],
        backend: 'onnxruntime/cpu',
        train: [17 * d],
        memory: { train: [rss((0.5 + 0.6 * d) * GiB)] },
      }),
    );
  }
  out.push(
    makeRecord({
      ...common,
      experiment: 'paper-argmax',
      artefact: 'argmax',
      backend: 'tfjs/cpu',
      infer: samples(1.25, 0.05),
      reference: { tensorflow: { argmax: 0.4066 }, numpy: { argmax: 0.0075 } },
    }),
    makeRecord({
      ...common,
      experiment: 'paper-argmax',
      artefact: 'argmax',
      backend: 'onnxruntime/cpu',
      infer: samples(0.31, 0.01),
      reference: { tensorflow: { argmax: 0.4066 }, numpy: { argmax: 0.0075 } },
    }),
  );
  return out;
}
