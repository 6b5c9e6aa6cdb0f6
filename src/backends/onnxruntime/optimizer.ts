/**
 * The optimizer update as graph nodes, so gradients and optimizer state never leave the session.
 *
 * The updates follow PyTorch's optimizers, which the tfjs backend follows too (`tf.train.momentum`,
 * `tf.train.adam`):
 *
 * SGD (`torch.optim.SGD`, dampening 0), velocity starting at zero:
 *
 *     g' = g + wd · w
 *     v' = momentum · v + g'
 *     w' = w − lr · v'                      (Nesterov: w' = w − lr · (g' + momentum · v'))
 *
 * Adam (`torch.optim.Adam`, decay on the gradient) and AdamW (`torch.optim.AdamW`, decoupled decay),
 * moments starting at zero, `β1ᵗ` and `β2ᵗ` kept as two scalar state values that start at one (so
 * bias correction needs only Mul, no Pow):
 *
 *     g' = g + wd · w                        (Adam; AdamW: g' = g and w ← w · (1 − lr · wd) first)
 *     m' = β1 · m + (1 − β1) · g'
 *     v' = β2 · v + (1 − β2) · g'²
 *     w' = w − lr · (m' / (1 − β1ᵗ)) / (√(v' / (1 − β2ᵗ)) + ε)
 *
 * `lr` is a scalar graph value, so a schedule changes it per step without rebuilding the session;
 * the other hyper-parameters are constants of the graph. Every state value comes in as an input and
 * goes out as `<input>.next`, as the weights do, so the trainer keeps it wherever the weights live.
 */
import type { OptimizerConfig } from '../types.ts';
import type { OnnxGraph } from './graph.ts';

/** One trainable parameter as the update sees it. */
export interface OptimizerParam {
  /** Parameter name (the state keys derive from it). */
  name: string;
  /** Graph value of the parameter (an input). */
  value: string;
  /** Graph value of its gradient. */
  grad: string;
  shape: number[];
  /** Name to give the updated parameter. */
  out: string;
}

/** One optimizer state value: a graph input, its updated output and how it starts. */
export interface OptimizerSlot {
  /** Stable key of the value in the trainer's state (`<param>.velocity`, `<param>.adam.m`, `adam.beta1Power`). */
  key: string;
  input: string;
  output: string;
  shape: number[];
  /** Every element's value before the first step. */
  initial: number;
}

/** Key of a parameter's SGD velocity in the trainer's state. */
export function velocityKey(param: string): string {
  return `${param}.velocity`;
}

/**
 * Appends the update of every parameter of `params` to `graph`; returns the optimizer's state slots,
 * which the caller declares as graph outputs (the inputs are declared here).
 */
export function appendOptimizer(
  graph: OnnxGraph,
  cfg: OptimizerConfig,
  lr: string,
  params: OptimizerParam[],
): OptimizerSlot[] {
  const slots: OptimizerSlot[] = [];
  const state = (key: string, inputName: string, shape: number[], initial: number): OptimizerSlot => {
    const slot = { key, input: graph.input(inputName, 'float32', shape), output: `${inputName}.next`, shape, initial };
    slots.push(slot);
    return slot;
  };
  const decay = cfg.weightDecay !== 0 ? graph.floats([cfg.weightDecay], [], 'opt_weight_decay') : undefined;
  if (cfg.kind === 'sgd') {
    const momentum = cfg.momentum !== 0 ? graph.floats([cfg.momentum], [], 'sgd_momentum') : undefined;
    for (const p of params) {
      const v = state(velocityKey(p.name), `${p.value}.velocity`, p.shape, 0);
      const g = decay ? graph.op('Add', [p.grad, graph.op('Mul', [p.value, decay])]) : p.grad;
      // With zero momentum the velocity input is ignored and the output is the decayed gradient, so the
      // state layout does not depend on the hyper-parameters.
      if (momentum) graph.node('Add', [graph.op('Mul', [v.input, momentum]), g], [v.output]);
      else graph.node('Identity', [g], [v.output]);
      const direction =
        cfg.nesterov && momentum ? graph.op('Add', [g, graph.op('Mul', [v.output, momentum])]) : v.output;
      graph.node('Sub', [p.value, graph.op('Mul', [direction, lr])], [p.out]);
    }
    return slots;
  }
  const f = (x: number, name: string): string => graph.floats([x], [], name);
  const b1 = f(cfg.beta1, 'adam_beta1');
  const b2 = f(cfg.beta2, 'adam_beta2');
  const one = f(1, 'adam_one');
  const p1 = state('adam.beta1Power', 'adam.beta1Power', [], 1);
  const p2 = state('adam.beta2Power', 'adam.beta2Power', [], 1);
  graph.node('Mul', [p1.input, b1], [p1.output]);
  graph.node('Mul', [p2.input, b2], [p2.output]);
  // lr / (1 − β1ᵗ) and √(1 − β2ᵗ), once per step for every parameter.
  const stepSize = graph.op('Div', [lr, graph.op('Sub', [one, p1.output])]);
  const sqrtBc2 = graph.op('Sqrt', [graph.op('Sub', [one, p2.output])]);
  const c1 = f(1 - cfg.beta1, 'adam_one_minus_beta1');
  const c2 = f(1 - cfg.beta2, 'adam_one_minus_beta2');
  const eps = f(cfg.epsilon, 'adam_epsilon');
  const decoupled = cfg.kind === 'adamw' && decay ? graph.op('Sub', [one, graph.op('Mul', [lr, decay])]) : undefined;
  for (const p of params) {
    const m = state(`${p.name}.adam.m`, `${p.value}.adam.m`, p.shape, 0);
    const v = state(`${p.name}.adam.v`, `${p.value}.adam.v`, p.shape, 0);
    const g = cfg.kind === 'adam' && decay ? graph.op('Add', [p.grad, graph.op('Mul', [p.value, decay])]) : p.grad;
    graph.node('Add', [graph.op('Mul', [m.input, b1]), graph.op('Mul', [g, c1])], [m.output]);
    graph.node('Add', [graph.op('Mul', [v.input, b2]), graph.op('Mul', [graph.op('Mul', [g, g]), c2])], [v.output]);
    const denom = graph.op('Add', [graph.op('Div', [graph.op('Sqrt', [v.output]), sqrtBc2]), eps]);
    const w = decoupled ? graph.op('Mul', [p.value, decoupled]) : p.value;
    graph.node('Sub', [w, graph.op('Mul', [graph.op('Div', [m.output, denom]), stepSize])], [p.out]);
  }
  return slots;
}
