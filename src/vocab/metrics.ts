/**
 * Memory metric names: what a record's memory figures measure. The runner produces them, budgets
 * check some, the reporters label and order them. Pure data.
 */

/** Every memory metric, in the order tables list them. */
export const MEMORY_METRICS = [
  /** Peak resident set of the case's process in the phase. */
  'peak-rss',
  /** GPU memory the driver attributes to the case's process. */
  'device',
  /** GPU memory in use on the whole device. */
  'device-total',
  /** Bytes the runtime says it holds. */
  'backend',
  'heap-used',
  'array-buffers',
  'external',
  /** Bytes of the loaded images and labels. */
  'dataset',
] as const;
export type MemoryMetric = (typeof MEMORY_METRICS)[number];
