/**
 * Every optimizer gives the same training on onnxruntime/cpu (the update as ONNX nodes), tfjs/cpu and
 * tfjs/wasm (tfjs's own optimizers with the decay around them): same loss at every step and the same
 * weights after 8 steps, from the same weights and batches.
 */
import { describe, it } from 'vitest';
import type { OptimizerConfig } from '../../src/backends/types.ts';
import { expectSameTraining, PARITY_BACKENDS, trainOn } from './parity-helpers.ts';

const OPTIMIZERS: Record<string, OptimizerConfig> = {
  'SGD momentum + weight decay': { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3 },
  'SGD Nesterov + weight decay': { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true },
  'plain SGD': { kind: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 },
  'Adam + L2 decay': { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2 },
  'AdamW decoupled decay': { kind: 'adamw', lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-7, weightDecay: 0.1 },
};

describe('optimizer parity across onnxruntime/cpu, tfjs/cpu and tfjs/wasm', () => {
  for (const [name, optimizer] of Object.entries(OPTIMIZERS)) {
    it(name, async () => {
      const [refId, ...others] = PARITY_BACKENDS;
      const ref = await trainOn(refId, { optimizer });
      for (const id of others) expectSameTraining(await trainOn(id, { optimizer }), ref, `${name}: ${id} vs ${refId}`);
    }, 60_000);
  }
});
