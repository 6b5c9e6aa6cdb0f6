/**
 * The view of a set of records that the markdown and SVG reporters share: which records belong to
 * which of the study's artefacts, the order of backends and architectures, one summary per case
 * and phase, the ONNX Runtime : TensorFlow.js ratios, and the study's reference figures as read from
 * the experiment files. Pure functions of the records.
 */
import type { MemoryFigure, ResultRecord } from '../runner/record.ts';
import { summarize, type SampleSummary } from '../stats/summary.ts';
import { newestFirst } from './newest.ts';
import { BACKEND_IDS, type DeviceClass, deviceClass } from '../vocab/backends.ts';
import { MEMORY_METRICS, type MemoryMetric } from '../vocab/metrics.ts';
import { MEMORY_PHASES, type MemoryPhase, type PhaseName, TIMED_PHASES } from '../vocab/phases.ts';
import { type ReferenceConditions, referenceConditions } from './conditions.ts';

export { MEMORY_PHASES, type MemoryPhase, TIMED_PHASES };

/** The artefacts of the study the reports mirror, in document order. */
export const ARTEFACTS = ['table2', 'table3', 'fig2', 'fig3', 'argmax'] as const;
export type Artefact = (typeof ARTEFACTS)[number];

export const PHASE_LABELS: Record<PhaseName, string> = {
  buildInit: 'graph construction and initialisation',
  train: 'training',
  infer: 'inference',
  warmup: 'warm-up (reported apart, not in the above)',
};

export const MEMORY_PHASE_LABELS: Record<MemoryPhase, string> = {
  train: 'training',
  infer: 'inference',
  dataset: 'dataset loaded',
};

/** Known memory metrics, in the order tables list them. */
const METRIC_ORDER: readonly string[] = MEMORY_METRICS;
export const METRIC_LABELS: Record<string, string> = {
  'peak-rss': 'peak RSS',
  device: 'device memory',
  'device-total': 'device memory (whole GPU)',
  backend: 'backend-reported',
  'heap-used': 'JS heap used',
  'array-buffers': 'array buffers',
  external: 'external (native objects held by JS)',
  dataset: 'images and labels',
} satisfies Record<MemoryMetric, string>;

/**
 * The memory measures the study's comparison rests on, shown in the main tables: the process's peak
 * resident set and, where a GPU reports it, device memory. The others go to a "more memory figures"
 * table.
 */
export const MAIN_MEMORY_METRICS: readonly string[] = ['peak-rss', 'device', 'device-total'];

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

/**
 * The summary of each sample list, computed once: a report reads the same samples for a cell, a
 * ratio and a figure. Keyed by the list itself; reporters never change a record they were given.
 */
const summaries = new WeakMap<readonly number[], SampleSummary>();

/** Summary of samples, or undefined when there are none (a phase that did not run). */
export function summaryOf(samples: readonly number[] | undefined): SampleSummary | undefined {
  if (samples === undefined || samples.length === 0) return undefined;
  let s = summaries.get(samples);
  if (s === undefined) {
    s = Object.freeze(summarize(samples));
    summaries.set(samples, s);
  }
  return s;
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
 * Records grouped by experiment and architecture (a sweep's architectures are separate groups, so a
 * table never shows one architecture's figure under another's name), sorted by name, then depth.
 */
export function byExperimentAndArch(
  records: readonly ResultRecord[],
): { name: string; arch: string; records: ResultRecord[] }[] {
  const out: { name: string; arch: string; records: ResultRecord[] }[] = [];
  for (const [name, rs] of byExperiment(records)) {
    for (const arch of orderArchs(rs.map((r) => r.experiment.arch))) {
      out.push({ name, arch, records: rs.filter((r) => r.experiment.arch === arch) });
    }
  }
  return out;
}

/** The class of device a comparison pairs (defined with the backend ids). */
export { type DeviceClass, deviceClass };

/**
 * The device class a record measured on, or undefined when it is unknown or the case fell back to
 * another backend than requested (its figures then belong to neither column's device).
 */
export function recordClass(r: ResultRecord): DeviceClass | undefined {
  if (fallbackOf(r) !== undefined) return undefined;
  return deviceClass(r.backend.requested, r.backend.session?.device);
}

/**
 * One ratio column, `a : b`: backend a's figure over backend b's. A default pair (no experiment
 * declared its comparisons) holds a device class, and divides only figures measured on it; a pair an
 * experiment declares (`compare:`) divides what it names, across devices if so declared.
 */
export interface RatioPair {
  a: string;
  b: string;
  cls?: DeviceClass;
}

/** A measured value of one table row for a backend, with the record it came from. */
export type RowValues = (backend: string) => { value: number; record: ResultRecord } | undefined;

/**
 * TF.js CPU backends in the order a CPU comparison prefers them: the ones that train natively first
 * (TensorFlow's C library, then XNNPACK in WebAssembly), the plain-JavaScript kernels last.
 */
export const CPU_TFJS_PREFERENCE = ['tfjs/tensorflow', 'tfjs/wasm', 'tfjs/cpu'] as const;

/** The default GPU pairs: WebGPU against WebGPU, ONNX Runtime's CUDA EP against TensorFlow's CUDA build. */
export const GPU_PAIRS = [
  { a: 'onnxruntime/webgpu', b: 'tfjs/webgpu' },
  { a: 'onnxruntime/cuda', b: 'tfjs/tensorflow' },
] as const;

/** The comparisons the records' experiment declares (`compare:`, the newest record's), if any. */
export function declaredPairs(records: readonly ResultRecord[]): RatioPair[] | undefined {
  const withCompare = records
    .filter((r) => (r.experiment.compare?.length ?? 0) > 0)
    .sort((x, y) => Date.parse(y.finishedAt) - Date.parse(x.finishedAt));
  return withCompare[0]?.experiment.compare?.map(([a, b]) => ({ a: a!, b: b! }));
}

/**
 * The ratio columns of a table with these rows: the `declared` pairs where an experiment declares
 * them; otherwise each framework's same-device pair — CPU: `onnxruntime/cpu` over the first TF.js CPU
 * backend of {@link CPU_TFJS_PREFERENCE} that some row measured alongside it; GPU: each of
 * {@link GPU_PAIRS}. A pair is a column only when at least one row has both sides measured, so a
 * table never carries a column of dashes.
 */
export function ratioPairs(rows: readonly RowValues[], declared?: readonly RatioPair[]): RatioPair[] {
  const measured = (p: RatioPair) => rows.some((row) => pairRatio(p, row) !== undefined);
  if (declared !== undefined && declared.length > 0) return declared.filter(measured);
  const pairs: RatioPair[] = [];
  const cpu = CPU_TFJS_PREFERENCE.map((b): RatioPair => ({ cls: 'cpu', a: 'onnxruntime/cpu', b })).find(measured);
  if (cpu) pairs.push(cpu);
  for (const p of GPU_PAIRS) {
    const pair: RatioPair = { cls: 'gpu', ...p };
    if (measured(pair)) pairs.push(pair);
  }
  return pairs;
}

/**
 * a's value over b's in one row, each only where it ran on the backend requested (never a fallback)
 * and, for a default pair, on the pair's device class.
 */
export function pairRatio(pair: RatioPair, row: RowValues): number | undefined {
  const side = (id: string) => {
    const m = row(id);
    if (m === undefined || !Number.isFinite(m.value) || fallbackOf(m.record) !== undefined) return undefined;
    return pair.cls === undefined || recordClass(m.record) === pair.cls ? m.value : undefined;
  };
  return ratio(side(pair.a), side(pair.b));
}

// ---------------------------------------------------------------------------------------------
// The study's reference figures.

/**
 * The study's figures as an experiment file's `reference` carries them. Expected shape (every part
 * optional, unknown keys tolerated):
 *
 * ```yaml
 * reference:
 *   label: study (K80)        # column label, default "reference"
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
  /** The unit of the numbers: as written, else `s`, or `GB` for a memory artefact (`table3`, `fig3`). */
  unit: string;
  tensorflow: Record<string, number>;
  caffe2: Record<string, number>;
  /** Every numeric leaf, dotted path → value, for listing what a table did not place. */
  leaves: [string, number][];
  /** Column names of the two sides (`reference.names`), by default their keys. */
  names: { tensorflow: string; caffe2: string };
  /** What the figures are (`reference.note`), e.g. who measured them on what. */
  note?: string;
  /** The conditions the figures were measured under (`reference.conditions`), to say what differs. */
  conditions?: ReferenceConditions;
}

export const DEFAULT_STUDY_LABEL = 'reference';

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

/** `reference.names`: labels of the two sides' columns, each defaulting to its key. */
function namesOf(v: unknown): StudyReference['names'] {
  const o = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  const name = (k: 'tensorflow' | 'caffe2') => (typeof o[k] === 'string' ? (o[k] as string) : k);
  return { tensorflow: name('tensorflow'), caffe2: name('caffe2') };
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

/** Artefacts whose reference figures are memory, so an unlabelled number there is in GB. */
export const MEMORY_ARTEFACTS: readonly string[] = ['table3', 'fig3'];

/** What a unit measures: `time` (s, ms, min, h), `memory` (B, KB, MB, GB, KiB, …), or undefined. */
export function unitKind(unit: string): 'time' | 'memory' | undefined {
  const u = unit.trim().toLowerCase();
  if (['s', 'sec', 'secs', 'second', 'seconds', 'ms', 'min', 'h'].includes(u)) return 'time';
  if (/^(b|bytes?|[kmgt]i?b)$/.test(u)) return 'memory';
  return undefined;
}

/**
 * Reads a `reference` block; undefined when there is none or it holds no number at all.
 * `defaultUnit` applies when the block names none.
 */
export function studyReference(ref: unknown, defaultUnit = 's'): StudyReference | undefined {
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
    unit: typeof o.unit === 'string' && o.unit.trim() !== '' ? o.unit.trim() : defaultUnit,
    tensorflow: numericSide(pick('tensorflow', 'tf')),
    caffe2: numericSide(pick('caffe2')),
    leaves,
    names: namesOf(o.names),
    ...(typeof o.note === 'string' ? { note: o.note } : {}),
    ...(referenceConditions(o) ? { conditions: referenceConditions(o) } : {}),
  };
}

/**
 * The reference of a group of records: the newest record's that has one. Its unit defaults by the
 * artefact of the record that carries it (GB for `table3` / `fig3`, seconds otherwise), not by the
 * table that shows it, so Table 3 drawn from Table 2 runs does not read their seconds as GB.
 */
export function groupReference(records: readonly ResultRecord[]): StudyReference | undefined {
  const withRef = newestFirst(records.filter((r) => r.experiment.reference !== undefined));
  for (const r of withRef) {
    const memory = MEMORY_ARTEFACTS.includes(r.experiment.artefact ?? '');
    const ref = studyReference(r.experiment.reference, memory ? 'GB' : 's');
    if (ref) return ref;
  }
  return undefined;
}

/**
 * The reference a table may show: the group's, only when its unit measures what the table does
 * (`time` or `memory`). `mismatch` is the group's reference when its unit does not (or is unknown).
 */
export function referenceFor(
  records: readonly ResultRecord[],
  kind: 'time' | 'memory',
): { ref: StudyReference | undefined; mismatch: StudyReference | undefined } {
  const ref = groupReference(records);
  if (ref === undefined) return { ref: undefined, mismatch: undefined };
  return unitKind(ref.unit) === kind ? { ref, mismatch: undefined } : { ref: undefined, mismatch: ref };
}

/** Numeric leaves of a reference under `tensorflow.` / `caffe2.` whose key is not in `used`. */
export function unplacedLeaves(ref: StudyReference, used: ReadonlySet<string>): [string, number][] {
  return ref.leaves.filter(([path]) => {
    const [side, key, ...rest] = path.split('.');
    // The conditions the figures were measured under are shown as such, not as figures.
    if (side === 'conditions') return false;
    if (side === undefined || key === undefined || rest.length > 0) return path !== 'label' && path !== 'unit';
    const s = side.toLowerCase();
    if (s !== 'tensorflow' && s !== 'tf' && s !== 'caffe2') return true;
    return !used.has(normaliseKey(key));
  });
}
