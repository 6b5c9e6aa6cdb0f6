/**
 * Errors as data: every error expbench raises on purpose is an {@link ExpbenchError} with a stable
 * `code`. Messages that concern a file start with `file:line:col`, show the offending line with a
 * caret and end with a hint, so a person can act on them without reading a stack trace.
 */

/** Stable error codes. Add new ones here; never rename one (tests and users match on them). */
export type ErrorCode =
  | 'YAML_SYNTAX'
  | 'SCHEMA'
  | 'CONFIG'
  | 'UNKNOWN_BACKEND'
  | 'MODEL_SHAPE'
  | 'MODEL_IMPORT'
  | 'DATA'
  | 'DATA_MISSING'
  | 'DOWNLOAD'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND'
  | 'PARITY'
  | 'NUMERIC'
  | 'BUDGET'
  | 'BASELINE'
  | 'RECORD'
  | 'HISTORY'
  | 'WORKER_CRASH'
  | 'WORKER_TIMEOUT'
  | 'INTERRUPTED'
  | 'USAGE';

/** A position in a source file, 1-based line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export class ExpbenchError extends Error {
  readonly code: ErrorCode;
  readonly location?: SourceLocation;
  readonly hint?: string;
  constructor(
    code: ErrorCode,
    message: string,
    opts: { location?: SourceLocation; hint?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ExpbenchError';
    this.code = code;
    this.location = opts.location;
    this.hint = opts.hint;
  }
}

/** Thrown when data is missing, corrupt or of the wrong shape. The message names the file. */
export class DataError extends ExpbenchError {
  constructor(
    message: string,
    opts: { hint?: string; cause?: unknown; code?: 'DATA' | 'DATA_MISSING' | 'DOWNLOAD' } = {},
  ) {
    super(opts.code ?? 'DATA', message, opts);
    this.name = 'DataError';
  }
}

/** Thrown when a model description cannot be built (impossible shapes, unknown layer). */
export class ModelError extends ExpbenchError {
  constructor(message: string, opts: { hint?: string; location?: SourceLocation } = {}) {
    super('MODEL_SHAPE', message, opts);
    this.name = 'ModelError';
  }
}

/** Thrown by a backend whose runtime cannot be loaded or fails while running. */
export class BackendError extends ExpbenchError {
  constructor(
    message: string,
    opts: { hint?: string; cause?: unknown; code?: 'BACKEND' | 'BACKEND_UNAVAILABLE' } = {},
  ) {
    super(opts.code ?? 'BACKEND', message, opts);
    this.name = 'BackendError';
  }
}

/** Thrown when training produces NaN/Inf or diverges. */
export class NumericError extends ExpbenchError {
  readonly step: number;
  readonly epoch: number;
  constructor(message: string, step: number, epoch: number) {
    super('NUMERIC', message);
    this.name = 'NumericError';
    this.step = step;
    this.epoch = epoch;
  }
}
