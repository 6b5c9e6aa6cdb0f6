/**
 * Bring-your-own model: an ONNX file (as `torch.onnx.export` or tf2onnx write it, opset 13 and later)
 * in, the model IR and its weights out. `decode.ts` reads the file, `convert.ts` maps the graph.
 */
import { importOnnxModel } from './convert.ts';
import type { ImportedModel, ImportOptions } from './convert.ts';
import { readOnnxFile } from './decode.ts';

export { importOnnxModel, MIN_OPSET, SUPPORTED_OPS } from './convert.ts';
export type { ImportedModel, ImportOptions } from './convert.ts';
export { decodeOnnx, readOnnxFile } from './decode.ts';
export type { OnnxModelData } from './decode.ts';
export { OnnxImportError } from './errors.ts';
export { declaredOnnxGeometry, ONNX_ARCH, onnxModelFor } from './model.ts';
export type { OnnxImportReason, OnnxNodeRef } from './errors.ts';

/** Reads `file` and maps it onto the IR. @throws OnnxImportError */
export function importOnnxFile(file: string, opts: ImportOptions = {}): ImportedModel {
  return importOnnxModel(readOnnxFile(file), opts);
}
