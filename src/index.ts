/**
 * expbench's public API. Most users need only the Vite/Vitest plugin (`expbench/plugin`) and the
 * `expbench` command; these exports are for tools built on top: loading experiments, running a case,
 * reading records and rendering reports.
 */
export { expbench, type ExpbenchPluginOptions } from './plugin/index.ts';
export { ExpbenchReporter, type ExpbenchReporterOptions } from './plugin/reporter.ts';
export { ConfigError, expandCases, loadExperiment, parseExperiment, validateFiles } from './config/index.ts';
export type { Case, DatasetConfig, Expectations, Experiment, ModelConfig } from './config/index.ts';
export { getBackend, probeBackend } from './backends/registry.ts';
export { BACKEND_IDS } from './vocab/backends.ts';
export type { Backend, BackendId, ModelSession } from './backends/types.ts';
export { runCase, type RunCaseOptions } from './runner/case.ts';
export { RECORD_SCHEMA, type ResultRecord } from './runner/record.ts';
export { builtinReporters, loadRecords, writeReport } from './reporters/index.ts';
export { ExpbenchError, type ErrorCode } from './errors.ts';
