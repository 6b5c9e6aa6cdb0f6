/** The optimizer an experiment configures and every backend implements. Pure data. */

export interface OptimizerConfig {
  kind: 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
}
