/**
 * expbench's statistics: descriptive statistics over sorted samples, rank tests for comparing two runs,
 * the distributions they need, and the number formats every message uses.
 */
export * from './summary.ts';
export * from './mann-whitney.ts';
export * from './distributions.ts';
export * from './format.ts';
export * from './changepoints.ts';
