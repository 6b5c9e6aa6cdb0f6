/**
 * Keeping a case's trained weights (`training.keepWeights`): after the timed round, off every clock,
 * the weights come off the backend through the session's own export (`ModelSession.getWeights`, the
 * read-back the parity checks use) and are written beside the record as the model in ONNX with them as
 * initializers, named by the IR's parameters in canonical layout. The file opens in Netron and ONNX
 * Runtime as it is, and `expbench model --weights` reads it back (`src/models/kept-weights.ts`).
 *
 * The write is atomic (temporary file, fsync, rename) and happens in the case's process before the
 * record exists: a crash while writing leaves at most a stray temporary file, never a half file, and the
 * record, written by the runner afterwards, names the weights only when they were written whole.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { exportOnnx } from '../backends/onnxruntime/forward.ts';
import type { ModelSession } from '../backends/types.ts';
import type { ModelGraph } from '../models/ir.ts';
import type { KeptWeights } from './record.ts';

/** Reads `session`'s current weights and writes them to `file` as an ONNX model of `model`. */
export async function keepTrainedWeights(
  session: ModelSession,
  model: ModelGraph,
  file: string,
  seed: number,
): Promise<KeptWeights> {
  const weights = await session.getWeights();
  await exportOnnx(model, weights, file);
  return { file: basename(file), format: 'onnx', seed, params: model.paramCount, bytes: (await stat(file)).size };
}
