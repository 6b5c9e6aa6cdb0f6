/**
 * The optimizer update as graph nodes, so gradients never leave the session.
 *
 * SGD with momentum and weight decay in PyTorch's convention (`torch.optim.SGD`, dampening 0, not
 * Nesterov), which the tfjs backend follows too:
 *
 *     g' = g + wd · w          (decay on the gradient, every trainable parameter)
 *     v' = momentum · v + g'   (velocity starts at zero, so the first step sets v' = g')
 *     w' = w − lr · v'
 *
 * `lr` is a scalar graph input, so a schedule changes it per step without rebuilding the session;
 * momentum and weight decay are constants of the graph.
 */
import type { OptimizerConfig } from '../types.ts';
import type { OnnxGraph } from './graph.ts';

/** The values one parameter's update reads and the names its results are written to. */
export interface SgdParamValues {
  param: string;
  grad: string;
  velocity: string;
  /** Name to give the updated parameter. */
  paramOut: string;
  /** Name to give the updated velocity. */
  velocityOut: string;
}

/** Shared scalar constants of one optimizer, so a graph with many parameters holds them once. */
export interface SgdConstants {
  momentum: string | undefined;
  weightDecay: string | undefined;
}

/** Adds the optimizer's scalar constants to `graph` (none for a zero momentum or decay). */
export function sgdConstants(graph: OnnxGraph, cfg: OptimizerConfig): SgdConstants {
  return {
    momentum: cfg.momentum !== 0 ? graph.floats([cfg.momentum], [], 'sgd_momentum') : undefined,
    weightDecay: cfg.weightDecay !== 0 ? graph.floats([cfg.weightDecay], [], 'sgd_weight_decay') : undefined,
  };
}

/**
 * Appends the update of one parameter: `velocityOut = momentum·velocity + grad + wd·param` and
 * `paramOut = param − lr·velocityOut`. With zero momentum the velocity input is ignored and the
 * output velocity is the decayed gradient (so the state layout does not depend on the config).
 */
export function appendSgdMomentum(graph: OnnxGraph, consts: SgdConstants, lr: string, v: SgdParamValues): void {
  const decayed = consts.weightDecay
    ? graph.op('Add', [v.grad, graph.op('Mul', [v.param, consts.weightDecay])])
    : v.grad;
  if (consts.momentum) graph.node('Add', [graph.op('Mul', [v.velocity, consts.momentum]), decayed], [v.velocityOut]);
  else graph.node('Identity', [decayed], [v.velocityOut]);
  graph.node('Sub', [v.param, graph.op('Mul', [v.velocityOut, lr])], [v.paramOut]);
}

/** The same update in plain float64 arithmetic, for tests and for checking a backend's step. */
export function sgdMomentumReference(
  cfg: OptimizerConfig,
  lr: number,
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  v: ArrayLike<number>,
): { w: Float64Array; v: Float64Array } {
  const n = w.length;
  const w2 = new Float64Array(n);
  const v2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    v2[i] = cfg.momentum * v[i]! + g[i]! + cfg.weightDecay * w[i]!;
    w2[i] = w[i]! - lr * v2[i]!;
  }
  return { w: w2, v: v2 };
}
