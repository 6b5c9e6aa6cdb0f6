import { expect } from 'vitest';
import { OnnxImportError } from '../../../src/models/onnx-import/errors.ts';

/** The OnnxImportError `f` throws (the test fails if it throws anything else, or nothing). */
export function importError(f: () => unknown): OnnxImportError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OnnxImportError);
    return e as OnnxImportError;
  }
  throw new Error('expected an OnnxImportError');
}
