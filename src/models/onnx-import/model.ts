/**
 * An experiment's `model: { onnx: file }`: the imported graph for the dataset's geometry, and the file's
 * weights as the starting weights. Imports are cached by file, size, modification time and geometry,
 * since the config check and the case both ask for the same model.
 */
import { statSync } from 'node:fs';
import type { ModelConfig } from '../config.ts';
import { importOnnxModel } from './convert.ts';
import type { ImportedModel } from './convert.ts';
import { readOnnxFile } from './decode.ts';
import type { OnnxModelData } from './decode.ts';
import { OnnxImportError } from './errors.ts';
import { declaredImageShape } from './nhwc.ts';

/** Name of the architecture an ONNX model stands for in records and case keys. */
export const ONNX_ARCH = 'onnx';

const decoded = new Map<string, OnnxModelData>();

function decodedFile(file: string): OnnxModelData {
  let key = file;
  try {
    const st = statSync(file);
    key = `${file}|${st.size}|${st.mtimeMs}`;
  } catch {
    // readOnnxFile reports an unreadable file with its reason.
  }
  let data = decoded.get(key);
  if (!data) {
    data = readOnnxFile(file);
    decoded.clear();
    decoded.set(key, data);
  }
  return data;
}

/** What the file declares, without building the IR: input `[C, H, W]` (null where symbolic) and classes. */
export function declaredOnnxGeometry(file: string): { input: Array<number | null>; classes: number | null } {
  const data = decodedFile(file);
  const input = declaredImageShape(data);
  const out = data.outputs[0]?.dims;
  const classes = out && out.length === 2 && typeof out[1] === 'number' && out[1] > 0 ? out[1] : null;
  return { input, classes };
}

/**
 * The ONNX model of `cfg` built for images of `input` (`[C, H, W]`), with the file's weights.
 * @throws OnnxImportError when the file cannot be read or mapped, or has another class count.
 */
export function onnxModelFor(cfg: ModelConfig, input: number[], numClasses: number): ImportedModel {
  const file = cfg.onnx;
  if (!file) throw new RangeError('onnxModelFor: the model config names no ONNX file');
  const imported = importOnnxModel(decodedFile(file), { name: ONNX_ARCH, input });
  if (imported.model.numClasses !== numClasses) {
    throw new OnnxImportError(
      'shape',
      file,
      `the model has ${imported.model.numClasses} classes but the dataset has ${numClasses}`,
      {
        hint: `use a dataset with ${imported.model.numClasses} classes (a synthetic dataset takes the model's count when it sets no classes)`,
      },
    );
  }
  return imported;
}
