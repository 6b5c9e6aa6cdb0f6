/**
 * What `model: { onnx: file }` changes in an experiment: the other model keys do not apply, and a
 * synthetic dataset takes the image geometry and class count the file declares for every key the
 * experiment leaves out (a key it sets overrides the file, e.g. another image size for a fully
 * convolutional net).
 */
import type { DatasetConfig } from '../data/config.ts';
import { declaredOnnxGeometry } from '../models/onnx-import/index.ts';

/** Model keys that describe an architecture, meaningless next to `onnx`. */
const ARCH_KEYS = ['arch', 'width', 'batchNorm', 'classifier', 'dropout', 'layers'] as const;

/** The architecture keys the experiment wrote next to `onnx` (from the model mapping as written). */
export function keysBesideOnnx(written: Record<string, unknown>): string[] {
  return ARCH_KEYS.filter((k) => k in written);
}

/**
 * `dataset` with the file's geometry where the experiment wrote none (`written` is the dataset mapping
 * as written, before defaults). Only synthetic data can follow the model; other datasets are what
 * they are, and a mismatch shows when the model is built for them.
 * @throws OnnxImportError when the file cannot be read.
 */
export function datasetForOnnx(dataset: DatasetConfig, written: Record<string, unknown>, file: string): DatasetConfig {
  if (dataset.kind !== 'synthetic') return dataset;
  const { input, classes } = declaredOnnxGeometry(file);
  const [c, h, w] = input;
  const out = { ...dataset };
  if (!('channels' in written) && typeof c === 'number') out.channels = c;
  if (!('imageSize' in written) && typeof h === 'number' && h === w) out.imageSize = h;
  if (!('classes' in written) && classes !== null) out.classes = classes;
  return out;
}
