/**
 * What ran, said above every table: architecture, width, batch norm, data kind and source, image
 * size, train/test counts, epochs, batch, profile, repeats and seed, machine. A reader of a table
 * must never take a quarter-width network on synthetic data for the study's full runs on CIFAR-10.
 *
 * Beside a reference table (the study's figures), {@link referenceDifferences} says which of these
 * differ from the conditions the reference block declares, so its figures are read as ratios only.
 */
import type { ResultRecord } from '../runner/record.ts';
import { count } from './format.ts';

type Experiment = ResultRecord['experiment'];

function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/**
 * The model: `vgg-small`, width 0.25, batch norm (width unknown in records that predate it); without
 * the architecture where a table's rows name it.
 */
export function modelText(e: Experiment, withArch = true): string {
  const width = e.width === undefined ? 'width not recorded' : `width ${e.width}`;
  const bn = e.batchNorm === undefined ? undefined : e.batchNorm ? 'batch norm' : 'no batch norm';
  return [withArch ? `\`${e.arch}\`` : undefined, width, bn].filter((x) => x !== undefined).join(', ');
}

/** The data: kind, where it came from, image size. */
export function dataText(e: Experiment): string {
  const d = e.dataset;
  if (d === undefined) return 'data not loaded';
  const img = d.image ? `, ${d.image.height}×${d.image.width}×${d.image.channels} images` : '';
  return `${d.kind} data (${d.source})${img}`;
}

function profileText(p: string | null): string {
  return p === null ? 'base (no profile)' : p;
}

/** The machine a record ran on, briefly. */
export function machineText(r: ResultRecord): string {
  const env = r.env;
  return `${env.cpu} (${plural(env.cores, 'core')}${env.gpu ? `, ${env.gpu}` : ', no GPU'})`;
}

/** Every condition of one case, in one line (the architecture left out where rows name it). */
export function conditionsOf(r: ResultRecord, withArch = true): string {
  const e = r.experiment;
  return [
    modelText(e, withArch),
    dataText(e),
    `${count(e.trainExamples)} training / ${count(e.testExamples)} test images`,
    `${plural(e.epochs, 'epoch')} × batch ${e.batchSize}`,
    `${plural(e.repeats, 'repeat')}${e.seed === undefined ? '' : `, seed ${e.seed}`}`,
    `profile ${profileText(e.profile)}`,
    `on ${machineText(r)}`,
  ].join(' · ');
}

/**
 * The conditions of the records of one table: one line, or each distinct line when cases differ.
 * `withArch: false` for tables whose rows are architectures.
 */
export function describeConditions(records: readonly ResultRecord[], withArch = true): string {
  // A case that was skipped loaded no data: its line would only say so. The cases that ran say what ran.
  const ran = records.filter((r) => r.status !== 'skipped');
  const lines = [...new Set((ran.length > 0 ? ran : records).map((r) => conditionsOf(r, withArch)))].sort();
  if (lines.length === 0) return '';
  return lines.length === 1
    ? `**Conditions:** ${lines[0]}.`
    : `**Conditions differ between cases:** ${lines.map((l) => `${l}.`).join(' ')}`;
}

/** The conditions a reference block may declare (`reference.conditions`), all optional. */
export interface ReferenceConditions {
  device?: string;
  data?: string;
  arch?: string;
  width?: number;
  imageSize?: number;
  train?: number;
  test?: number;
  epochs?: number;
  batchSize?: number;
}

/** Reads `reference.conditions` (unknown keys and mistyped values are ignored). */
export function referenceConditions(ref: unknown): ReferenceConditions | undefined {
  if (typeof ref !== 'object' || ref === null) return undefined;
  const c = (ref as Record<string, unknown>).conditions;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return undefined;
  const o = c as Record<string, unknown>;
  const out: ReferenceConditions = {};
  for (const k of ['device', 'data', 'arch'] as const) if (typeof o[k] === 'string') out[k] = o[k] as string;
  for (const k of ['width', 'imageSize', 'train', 'test', 'epochs', 'batchSize'] as const) {
    const v = typeof o[k] === 'string' ? Number(o[k]) : o[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return out;
}

/**
 * The line beside a reference table: which declared conditions of the reference differ from the
 * records' (`one NVIDIA K80 GPU there, tfjs/wasm, onnxruntime/cpu on … here; data cifar10 there, synthetic here; …`),
 * or that the reference declares none, so nothing can be said about how comparable it is.
 */
export function referenceDifferences(
  label: string,
  c: ReferenceConditions | undefined,
  records: readonly ResultRecord[],
): string {
  if (c === undefined || Object.keys(c).length === 0) {
    return `**Beside ${label}:** its block declares no conditions (\`reference.conditions\`), so how its figures were measured is not known here; read them as the study's, not as a target.`;
  }
  // Only the cases that ran say anything about the conditions here.
  const ran = records.filter((r) => r.status !== 'skipped' && r.backend.session !== undefined);
  const here = <T>(f: (r: ResultRecord) => T | undefined): T[] =>
    [...new Set(ran.map(f).filter((x): x is T => x !== undefined))].sort();
  const diffs: string[] = [];
  const cmp = <T>(name: string, theirs: T | undefined, ours: T[], show: (x: T) => string = String): void => {
    if (theirs === undefined || ours.length === 0) return;
    if (ours.length === 1 && ours[0] === theirs) return;
    diffs.push(`${name} ${show(theirs)} there, ${ours.map(show).join(' / ')} here`);
  };
  if (c.device !== undefined && ran.length > 0) {
    const backends = here((r) => r.backend.session?.backend ?? r.backend.requested).join(', ');
    const machines = here(machineText).join('; ');
    diffs.push(`${c.device} there, ${backends} on ${machines} here`);
  }
  cmp(
    'data',
    c.data,
    here((r) => r.experiment.dataset?.kind),
  );
  cmp(
    'architecture',
    c.arch,
    here((r) => r.experiment.arch),
  );
  cmp(
    'width',
    c.width,
    here((r) => r.experiment.width),
  );
  cmp(
    'image size',
    c.imageSize,
    here((r) => r.experiment.dataset?.image?.height),
    (x) => `${x} px`,
  );
  cmp(
    'training images',
    c.train,
    here((r) => r.experiment.trainExamples),
    count,
  );
  cmp(
    'test images',
    c.test,
    here((r) => r.experiment.testExamples),
    count,
  );
  cmp(
    'epochs',
    c.epochs,
    here((r) => r.experiment.epochs),
  );
  cmp(
    'batch',
    c.batchSize,
    here((r) => r.experiment.batchSize),
  );
  const sized = diffs.length > (c.device !== undefined && ran.length > 0 ? 1 : 0);
  if (diffs.length === 0) return `**Beside ${label}:** measured under the conditions its block declares.`;
  return `**What differs from ${label}:** ${diffs.join('; ')}.${sized ? ' Compare ratios, not absolute figures.' : ''}`;
}
