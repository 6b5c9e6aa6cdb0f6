/**
 * The optimizers on tfjs, as the framework's own (`tf.train.momentum`, `tf.train.adam`) with the
 * pieces tfjs lacks added around them, so each update is the one `src/backends/onnxruntime/optimizer.ts`
 * builds as ONNX (PyTorch's conventions):
 * - weight decay on the gradient (`g + wd·w`) for SGD and Adam, on every trainable parameter;
 * - AdamW's decoupled decay, `w ← w·(1 − lr·wd)` before the Adam step;
 * - Nesterov through `tf.train.momentum(lr, m, true)` (`w −= lr·(g + m·v')`, PyTorch's form);
 * - a learning rate that changes per step (the runner's schedule).
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../types.ts';

export interface TfjsOptimizer {
  /** One update of `vars` from `grads` (keyed by variable name) at learning rate `lr`; call inside a tidy. */
  apply(grads: tf.NamedTensorMap, vars: tf.Variable[], lr: number): void;
  dispose(): void;
}

/** The optimizer of `cfg`, built on tfjs's own. */
export function createTfjsOptimizer(cfg: OptimizerConfig): TfjsOptimizer {
  const inner =
    cfg.kind === 'sgd'
      ? tf.train.momentum(cfg.lr, cfg.momentum, cfg.nesterov ?? false)
      : tf.train.adam(cfg.lr, cfg.beta1, cfg.beta2, cfg.epsilon);
  let rate = cfg.lr;
  const setRate = (lr: number): void => {
    if (lr === rate) return;
    rate = lr;
    if (inner instanceof tf.MomentumOptimizer) inner.setLearningRate(lr);
    // AdamOptimizer reads its `learningRate` field at every applyGradients and has no setter.
    else (inner as unknown as { learningRate: number }).learningRate = lr;
  };
  const coupledDecay = cfg.weightDecay > 0 && cfg.kind !== 'adamw' ? cfg.weightDecay : 0;
  const decoupledDecay = cfg.weightDecay > 0 && cfg.kind === 'adamw' ? cfg.weightDecay : 0;
  return {
    apply(grads, vars, lr) {
      setRate(lr);
      let g = grads;
      if (coupledDecay > 0) {
        g = {};
        for (const v of vars) g[v.name] = tf.add(grads[v.name]!, tf.mul(v, coupledDecay));
      }
      if (decoupledDecay > 0) for (const v of vars) v.assign(tf.mul(v, 1 - lr * decoupledDecay));
      // The typings ask for Variables; tfjs reads only the gradient tensors keyed by variable name.
      (inner as tf.Optimizer).applyGradients(g as unknown as Parameters<tf.Optimizer['applyGradients']>[0]);
    },
    dispose() {
      // MomentumOptimizer.dispose() does not call SGDOptimizer's, which owns the `-lr` scalar `c`
      // (tfjs-core 4.22), so that scalar would outlive the session.
      const c = (inner as unknown as { c?: tf.Tensor }).c;
      inner.dispose();
      if (c && !c.isDisposed) c.dispose();
    },
  };
}
