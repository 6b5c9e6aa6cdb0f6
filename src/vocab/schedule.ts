/** The learning-rate schedules an experiment configures and the runner evaluates (`runner/schedule.ts`). Pure data. */

export type ScheduleConfig =
  | { kind: 'constant'; warmup: number }
  | { kind: 'step'; every: number; gamma: number; warmup: number }
  | { kind: 'multistep'; milestones: number[]; gamma: number; warmup: number }
  | { kind: 'cosine'; minLr: number; warmup: number }
  | { kind: 'one-cycle'; pctStart: number; divFactor: number; finalDivFactor: number };

export const SCHEDULE_KINDS = ['constant', 'step', 'multistep', 'cosine', 'one-cycle'] as const;
