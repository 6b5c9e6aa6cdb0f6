/** The optimizer an experiment configures and every backend implements. Pure data. */

/**
 * SGD in PyTorch's convention (`torch.optim.SGD`, dampening 0): `v = m·v + g + wd·w`, then
 * `w −= lr·v`, or with Nesterov `w −= lr·(g + wd·w + m·v)`.
 */
export interface SgdConfig {
  kind: 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Nesterov momentum. @default false */
  nesterov?: boolean;
}

/**
 * Adam (`torch.optim.Adam`: weight decay added to the gradient) or AdamW (`torch.optim.AdamW`:
 * decoupled decay, `w −= lr·wd·w` before the Adam step), with bias correction.
 */
export interface AdamConfig {
  kind: 'adam' | 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

/** A short description of the optimizer for graph doc strings, notes and reports. */
export function describeOptimizer(cfg: OptimizerConfig): string {
  if (cfg.kind === 'sgd')
    return `SGD${cfg.nesterov ? ' Nesterov' : ''} momentum ${cfg.momentum}, weight decay ${cfg.weightDecay}`;
  return `${cfg.kind === 'adam' ? 'Adam' : 'AdamW'} β1 ${cfg.beta1}, β2 ${cfg.beta2}, ε ${cfg.epsilon}, weight decay ${cfg.weightDecay}`;
}
