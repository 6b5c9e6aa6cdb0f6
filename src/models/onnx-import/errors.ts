/**
 * The one error an ONNX import raises: what is wrong, in which file, at which ONNX node (name, op type,
 * index) where there is one, and a hint. The experiment loader turns it into a located diagnostic at
 * the experiment's `model.onnx` key; the CLI prints it as it is.
 */
import { ExpbenchError } from '../../errors.ts';

/** Why an import failed. */
export type OnnxImportReason =
  /** The file cannot be read (missing, a directory, no permission). */
  | 'read'
  /** The bytes are not an ONNX model, or are cut short. */
  | 'not-onnx'
  | 'truncated'
  /** The model is ONNX but uses something expbench does not map to its IR. */
  | 'unsupported-op'
  | 'unsupported-attribute'
  | 'unsupported-model'
  /** The graph maps to the IR, but the IR cannot be built with it (shapes, classes). */
  | 'shape';

/** The ONNX node a problem is at. */
export interface OnnxNodeRef {
  /** Node name as written in the file ('' when the exporter left it empty). */
  name: string;
  opType: string;
  /** Position in the graph's node list. */
  index: number;
}

export class OnnxImportError extends ExpbenchError {
  readonly reason: OnnxImportReason;
  /** The `.onnx` file. */
  readonly file: string;
  readonly node?: OnnxNodeRef;
  /** What the message says without the file name and hint (for a diagnostic that shows both apart). */
  readonly detail: string;
  constructor(
    reason: OnnxImportReason,
    file: string,
    detail: string,
    opts: { hint: string; node?: OnnxNodeRef; cause?: unknown },
  ) {
    super('MODEL_IMPORT', `${file}: ${detail}. Hint: ${opts.hint}.`, { hint: opts.hint, cause: opts.cause });
    this.name = 'OnnxImportError';
    this.reason = reason;
    this.file = file;
    this.detail = detail;
    if (opts.node) this.node = opts.node;
  }
}

/** `node 12 "/layer1/Conv" (Conv)`: how messages name an ONNX node. */
export function describeNode(n: OnnxNodeRef): string {
  return `ONNX node ${n.index} ${JSON.stringify(n.name || '(unnamed)')} (${n.opType})`;
}
