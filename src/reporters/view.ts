/**
 * The view of a set of records that the markdown and SVG reporters share: which records belong to
 * which of the study's artefacts, the order of backends and architectures, one summary per case
 * and phase, the ONNX Runtime : TensorFlow.js ratios, and the study's reference figures as read from
 * the experiment files. Pure functions of the records.
 */
import { BACKEND_IDS } from '../backends/registry.ts';
import type { PhaseName } from '../config/types.ts';
import type { MemoryFigure, ResultRecord } from '../runner/record.ts';
import { summarize, type SampleSummary } from '../stats/summary.ts';

/** The artefacts of the study the reports mirror, in document order. */
export const ARTEFACTS = ['table2', 'table3', 'fig2', 'fig3', 'argmax'] as const;
export type Artefact = (typeof ARTEFACTS)[number];

/** Timed phases in the order the study's Table 2 lists them; warm-up is reported after them. */
export const TIMED_PHASES = ['buildInit', 'train', 'infer'] as const satisfies readonly PhaseName[];

export const PHASE_LABELS: Record<PhaseName, string> = {
  buildInit: 'graph construction and initialisation',
  train: 'training',
  infer: 'inference',
  warmup: 'warm-up (reported apart, not in the above)',
};

export type MemoryPhase = 'train' | 'infer' | 'dataset';
export const MEMORY_PHASES: readonly MemoryPhase[] = ['train', 'infer', 'dataset'];
export const MEMORY_PHASE_LABELS: Record<MemoryPhase, string> = {
  train: 'training',
  infer: 'inference',
  dataset: 'dataset loaded',
};

/** Known memory metrics, in the order tables list them. */
const METRIC_ORDER = ['peak-rss', 'device', 'backend', 'heap-used', 'array-buffers'];
export const METRIC_LABELS: Record<string, string> = {
  'peak-rss': 'peak RSS',
  device: 'device memory',
  backend: 'backend-reported',
  'heap-used': 'JS heap used',
  'array-buffers': 'array buffers',
};

export function metricLabel(metric: string): string {
  return METRIC_LABELS[metric] ?? metric;
}

export function sortMetrics(metrics: Iterable<string>): string[] {
  const rank = (m: string) => {
    const i = METRIC_ORDER.indexOf(m);
    return i === -1 ? METRIC_ORDER.length : i;
  };
  return [...new Set(metrics)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** `tfjs` of `tfjs/webgpu`. */
export function frameworkOf(backend: string): string {
  const i = backend.indexOf('/');
  return i === -1 ? backend : backend.slice(0, i);
}

/** `webgpu` of `tfjs/webgpu`. */
export function deviceOf(backend: string): string {
  const i = backend.indexOf('/');
  return i === -1 ? '' : backend.slice(i + 1);
}

const FRAMEWORK_ORDER = ['tfjs', 'onnxruntime'];

/** Backends grouped by framework (TensorFlow.js, then ONNX Runtime, then others), registry order within. */
export function orderBackends(ids: Iterable<string>): string[] {
  const known: readonly string[] = BACKEND_IDS;
  const fw = (id: string) => {
    const i = FRAMEWORK_ORDER.indexOf(frameworkOf(id));
    return i === -1 ? FRAMEWORK_ORDER.length : i;
  };
  const pos = (id: string) => {
    const i = known.indexOf(id);
    return i === -1 ? known.length : i;
  };
  return [...new Set(ids)].sort((a, b) => fw(a) - fw(b) || pos(a) - pos(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Depth of a VGG-style architecture name (`vgg16` → 16); `vgg-small` and others sort first. */
function archDepth(arch: string): number {
  const m = /(\d+)$/.exec(arch);
  return m ? Number(m[1]) : 0;
}

/** Architectures by depth, then name: vgg-small, vgg7, vgg11, vgg13, vgg16, vgg19. */
export function orderArchs(archs: Iterable<string>): string[] {
  return [...new Set(archs)].sort((a, b) => archDepth(a) - archDepth(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Summary of samples, or undefined when there are none (a phase that did not run). */
export function summaryOf(samples: readonly number[] | undefined): SampleSummary | undefined {
  return samples === undefined || samples.length === 0 ? undefined : summarize(samples);
}

/** Summary of a phase's samples in one record (undefined when the phase has none). */
export function phaseSummary(r: ResultRecord, phase: PhaseName): SampleSummary | undefined {
  return summaryOf(r.phases[phase]?.samples);
}

/** `a / b`, or undefined where either is missing or the quotient is not finite. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  const r = a / b;
  return Number.isFinite(r) ? r : undefined;
}

/** The memory figure of a record for a phase and metric, if the record has one. */
export function memoryFigure(r: ResultRecord, phase: MemoryPhase, metric: string): MemoryFigure | undefined {
  return r.memory[phase]?.find((f) => f.metric === metric);
}

/** The backend a record actually ran on, when it differs from the one requested. */
export function fallbackOf(r: ResultRecord): string | undefined {
  const ran = r.backend.session?.backend;
  return ran !== undefined && ran !== r.backend.requested ? ran : undefined;
}

/** Records of an artefact. */
export function recordsOf(records: readonly ResultRecord[], artefact: string): ResultRecord[] {
  return records.filter((r) => r.experiment.artefact === artefact);
}

/** Records grouped by experiment name, groups sorted by name. */
export function byExperiment(records: readonly ResultRecord[]): [string, ResultRecord[]][] {
  const groups = new Map<string, ResultRecord[]>();
  for (const r of records) {
    const g = groups.get(r.experiment.name);
    if (g) g.push(r);
    else groups.set(r.experiment.name, [r]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * For each architecture and backend, the record to show (the newest when several experiments
 * cover the same pair, e.g. two profiles of a figure).
 */
export function byArchAndBackend(records: readonly ResultRecord[]): Map<string, Map<string, ResultRecord>> {
  const out = new Map<string, Map<string, ResultRecord>>();
  for (const r of records) {
    let row = out.get(r.experiment.arch);
    if (!row) out.set(r.experiment.arch, (row = new Map()));
    const prev = row.get(r.backend.requested);
    if (!prev || Date.parse(r.finishedAt) > Date.parse(prev.finishedAt)) row.set(r.backend.requested, r);
  }
  return out;
}

/** An ONNX Runtime backend set against a TensorFlow.js one for a ratio column. */
export interface RatioPair {
  /** `cpu` for a same-device pair, `fastest` for the best of each framework. */
  label: string;
  onnxruntime: string[];
  tfjs: string[];
}

/**
 * Which ratios a table shows: ONNX Runtime over TensorFlow.js on each device both ran on (as the
 * study compared both frameworks on one GPU); where they share no device, fastest over fastest.
 */
export function ratioPairs(backends: readonly string[]): RatioPair[] {
  const tf = backends.filter((b) => frameworkOf(b) === 'tfjs');
  const ort = backends.filter((b) => frameworkOf(b) === 'onnxruntime');
  const pairs: RatioPair[] = [];
  for (const o of ort) {
    const t = tf.find((b) => deviceOf(b) === deviceOf(o));
    if (t) pairs.push({ label: deviceOf(o), onnxruntime: [o], tfjs: [t] });
  }
  if (pairs.length === 0 && tf.length > 0 && ort.length > 0) pairs.push({ label: 'fastest', onnxruntime: ort, tfjs: tf });
  return pairs;
}

/**
 * The ratio of a pair given each backend's value (lower is better, e.g. seconds or bytes): the
 * smallest ONNX Runtime value over the smallest TensorFlow.js value.
 */
export function pairRatio(pair: RatioPair, value: (backend: string) => number | undefined): number | undefined {
  const best = (ids: string[]) => {
    const vs = ids.map(value).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return vs.length === 0 ? undefined : Math.min(...vs);
  };
  return ratio(best(pair.onnxruntime), best(pair.tfjs));
}

// ---------------------------------------------------------------------------------------------
// The study's reference figures.

/**
 * The study's figures as an experiment file's `reference` carries them. Expected shape (every part
 * optional, unknown keys tolerated):
 *
 * ```yaml
 * reference:
 *   label: study (K80)        # column label, default "study (K80)"
 *   unit: s                   # unit of the numbers: s (default for timings), GB or MB (default GB in table3 / fig3)
 *   tensorflow: { buildInit: 4.71, train: 89.43, infer: 3.96 }
 *   caffe2:     { buildInit: 1.89, train: 55.71, infer: 0.40 }
 * ```
 *
 * Phase keys may also be spelled `build`, `init`, `training`, `inference`; memory figures use
 * `train` / `infer`. For the figures a side may key by architecture (`tensorflow: { vgg11: 123 }`).
 * Numbers the reports do not place in a table are listed under it, so nothing is dropped silently.
 */
export interface StudyReference {
  label: string;
  unit?: string;
  tensorflow: Record<string, number>;
  caffe2: Record<string, number>;
  /** Every numeric leaf, dotted path → value, for listing what a table did not place. */
  leaves: [string, number][];
}

export const DEFAULT_STUDY_LABEL = 'study (K80)';

const ALIASES: Record<string, string> = {
  build: 'buildInit',
  init: 'buildInit',
  buildinit: 'buildInit',
  'build+init': 'buildInit',
  construction: 'buildInit',
  training: 'train',
  inference: 'infer',
};

function normaliseKey(k: string): string {
  return ALIASES[k.toLowerCase()] ?? ALIASES[k] ?? k;
}

/** A number, or a string that is one (YAML authors quote figures such as "0.40" to keep the zero). */
function toNumber(x: unknown): number | undefined {
  const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

function numericSide(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    const n = toNumber(x);
    if (n !== undefined) out[normaliseKey(k)] = n;
  }
  return out;
}

function leavesOf(v: unknown, prefix: string, out: [string, number][]): void {
  const n = typeof v === 'object' ? undefined : toNumber(v);
  if (n !== undefined) out.push([prefix, n]);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) leavesOf(x, prefix === '' ? k : `${prefix}.${k}`, out);
  }
}

/** Reads a `reference` block; undefined when there is none or it holds no number at all. */
export function studyReference(ref: unknown): StudyReference | undefined {
  if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) return undefined;
  const o = ref as Record<string, unknown>;
  const pick = (...names: string[]) => {
    const k = Object.keys(o).find((key) => names.includes(key.toLowerCase()));
    return k === undefined ? undefined : o[k];
  };
  const leaves: [string, number][] = [];
  leavesOf(o, '', leaves);
  if (leaves.length === 0) return undefined;
  return {
    label: typeof o.label === 'string' ? o.label : DEFAULT_STUDY_LABEL,
    unit: typeof o.unit === 'string' ? o.unit : undefined,
    tensorflow: numericSide(pick('tensorflow', 'tf')),
    caffe2: numericSide(pick('caffe2')),
    leaves,
  };
}

/** The reference of a group of records: the newest record's that has one. */
export function groupReference(records: readonly ResultRecord[]): StudyReference | undefined {
  const withRef = records
    .filter((r) => r.experiment.reference !== undefined)
    .sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt));
  for (const r of withRef) {
    const ref = studyReference(r.experiment.reference);
    if (ref) return ref;
  }
  return undefined;
}

/** Numeric leaves of a reference under `tensorflow.` / `caffe2.` whose key is not in `used`. */
export function unplacedLeaves(ref: StudyReference, used: ReadonlySet<string>): [string, number][] {
  return ref.leaves.filter(([path]) => {
    const [side, key, ...rest] = path.split('.');
    if (side === undefined || key === undefined || rest.length > 0) return path !== 'label' && path !== 'unit';
    const s = side.toLowerCase();
    if (s !== 'tensorflow' && s !== 'tf' && s !== 'caffe2') return true;
    return !used.has(normaliseKey(key));
  });
}
