/**
 * Experiment files: YAML in, typed {@link Experiment} out, or one {@link ConfigError} listing every
 * problem with its line, column, the offending line and a hint.
 *
 * The format is defined in `schema/experiment.schema.json` (generated from `schema.ts`); add
 * `# yaml-language-server: $schema=../schema/experiment.schema.json` to a file for editor completion.
 */
export type {
  Case,
  DatasetConfig,
  Expectations,
  Experiment,
  ModelConfig,
  ParityConfig,
  PhaseName,
  TrainingConfig,
} from './types.ts';
export { ConfigError, formatDiagnostic } from './diagnostics.ts';
export type { Diagnostic, DiagnosticCode } from './diagnostics.ts';
export {
  expandCases,
  layerFromYaml,
  loadExperiment,
  mergeProfile,
  parseExperiment,
  PROFILE_ENV,
  validateFiles,
} from './load.ts';
export type { LoadOptions, ValidateResult } from './load.ts';
export { experimentSchema, LIMITS, SCHEMA_ID } from './schema.ts';
export { parseBytes, parseDuration } from './units.ts';
