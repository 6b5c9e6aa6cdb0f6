/**
 * Phase names: the parts of a case the runner times, budgets and baselines refer to, and the records
 * and reports carry. Pure data.
 */

/** Every timed phase of a case; warm-up runs are timed but reported apart. */
export const PHASE_NAMES = ['warmup', 'buildInit', 'train', 'infer'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

/** The phases the study compares, in the order its Table 2 lists them (warm-up excluded). */
export const TIMED_PHASES = ['buildInit', 'train', 'infer'] as const satisfies readonly PhaseName[];
export type TimedPhase = (typeof TIMED_PHASES)[number];

/** Short name of each phase in test titles and messages. */
export const PHASE_SHORT_LABELS: Record<PhaseName, string> = {
  warmup: 'warm-up',
  buildInit: 'build+init',
  train: 'train',
  infer: 'infer',
};

/** Phases whose memory is sampled: training, inference, and the loaded dataset. */
export const MEMORY_PHASES = ['train', 'infer', 'dataset'] as const;
export type MemoryPhase = (typeof MEMORY_PHASES)[number];
