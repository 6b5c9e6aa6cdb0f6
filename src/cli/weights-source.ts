/**
 * `expbench model --weights <path>`: which kept weights file a path stands for. A `.weights.onnx` (or
 * any ONNX) file is itself; a record (`.json`) names its kept weights; a run's record folder holds one
 * record of the experiment that kept weights, or the choice is the user's.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ExpbenchError } from '../errors.ts';
import { loadRecords } from '../reporters/records.ts';
import type { ResultRecord } from '../runner/record.ts';

const HINT =
  "give a run's record folder (.expbench/results/<run id>), a case's record (.json) or its .weights.onnx file, from a run with training.keepWeights: true";

async function kind(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** The kept weights file `path` stands for, for the experiment named `experiment`. */
export async function keptWeightsFile(path: string, experiment: string): Promise<string> {
  const k = await kind(path);
  if (!k) throw new ExpbenchError('USAGE', `--weights ${path}: no such file or folder. Hint: ${HINT}`, { hint: HINT });
  if (k === 'file' && !path.endsWith('.json')) return path;
  const { records } = await loadRecords([path], {
    onInvalid: k === 'file' ? 'throw' : 'warn',
    keep: (r) => r.experiment.name === experiment,
  });
  const folder = k === 'file' ? dirname(path) : path;
  const kept = records.filter((r): r is ResultRecord & { weights: NonNullable<ResultRecord['weights']> } =>
    Boolean(r.weights),
  );
  if (kept.length !== 1) {
    const why =
      kept.length === 0
        ? `${records.length === 0 ? 'holds no record' : `none of its ${records.length} records keeps weights`} of experiment ${experiment}`
        : `holds ${kept.length} records of experiment ${experiment} with weights (${kept.map((r) => `${r.weights.file}: ${r.backend.requested}`).join(', ')})`;
    const hint = kept.length === 0 ? HINT : 'pass the .weights.onnx file of the case you mean';
    throw new ExpbenchError('USAGE', `--weights ${path}: ${why}. Hint: ${hint}`, { hint });
  }
  const file = join(folder, basename(kept[0]!.weights.file));
  if ((await kind(file)) !== 'file') {
    throw new ExpbenchError(
      'USAGE',
      `--weights ${path}: the record of ${kept[0]!.key} names ${kept[0]!.weights.file}, which is not in ${folder}. Hint: keep the .weights.onnx file beside its record`,
      { hint: 'keep the .weights.onnx file beside its record' },
    );
  }
  return file;
}
