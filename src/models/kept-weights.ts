/**
 * Weights read back from an ONNX file whose initializers are named by the IR's parameters in
 * canonical layout: what a case keeps after training (`training.keepWeights`) and what
 * `expbench model --onnx` writes. Every parameter of the model must be there with its shape; the first
 * one that is not is an error naming it, the file, what the file holds and what the model needs.
 */
import { ExpbenchError } from '../errors.ts';
import type { ModelGraph, Weights } from './ir.ts';
import type { OnnxModelData } from './onnx-import/decode.ts';
import { readOnnxFile } from './onnx-import/decode.ts';

const dims = (shape: readonly number[]) => (shape.length ? shape.join('×') : 'a scalar');

/**
 * The weights of `model` from the initializers of `data` (other initializers, such as the constants
 * of Clip or Pad, are ignored).
 * @throws ExpbenchError `MODEL_SHAPE` at the first parameter the file lacks or holds in another shape or type.
 */
export function weightsFromOnnx(data: OnnxModelData, model: ModelGraph): Weights {
  const hint = `the weights must come from a run of this experiment's model (${model.name}, ${model.params.length} parameters); check --profile and the model's settings`;
  const out: Weights = {};
  for (const [i, p] of model.params.entries()) {
    const where = `parameter ${i + 1} of ${model.params.length}, ${JSON.stringify(p.name)}`;
    const t = data.initializers.get(p.name);
    if (!t) {
      const names = [...data.initializers.keys()];
      const shown = names.slice(0, 5).map((n) => JSON.stringify(n));
      throw new ExpbenchError(
        'MODEL_SHAPE',
        `${data.file}: has no weights for ${where} (${dims(p.shape)}); its initializers are ${shown.join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}. Hint: ${hint}`,
        { hint },
      );
    }
    if (t.kind !== 'float' || t.dims.join('x') !== p.shape.join('x')) {
      const what = t.kind === 'float' ? dims(t.dims) : `${dims(t.dims)} integers`;
      throw new ExpbenchError(
        'MODEL_SHAPE',
        `${data.file}: ${where} is ${what} in the file; the experiment's model needs ${dims(p.shape)} float32. Hint: ${hint}`,
        { hint },
      );
    }
    out[p.name] = { shape: [...p.shape], data: t.data };
  }
  return out;
}

/** {@link weightsFromOnnx} of an ONNX file. @throws OnnxImportError for a file that is not ONNX or is cut short. */
export function readKeptWeights(file: string, model: ModelGraph): Weights {
  return weightsFromOnnx(readOnnxFile(file), model);
}
