/**
 * Batch norm in training mode with its gradient in closed form.
 *
 * Composed of `tf.moments` and `tf.batchNorm`, batch norm gets the gradient tfjs derives op by op:
 * `FusedBatchNorm`'s gradient (the input, mean, variance, scale and offset terms: about a dozen
 * full-size products and sums, and a Tile) and then the moments' (two Means, a Square and a Sub,
 * each with its own broadcasts), some 20 passes over the activation per layer. The closed form
 *
 *   x̂ = (x − μ)/√(σ² + ε),  ∂β = Σ dy,  ∂γ = Σ dy·x̂,  ∂x = γ/√(σ² + ε) · (dy − (∂β + x̂·∂γ)/M)
 *
 * (M the values per channel; the same expression PyTorch and cuDNN use) takes seven: x̂ as one native
 * batch norm, dy·x̂, the two sums, then `x̂·(−k∂γ/M) − k∂β/M` as a second batch norm with those
 * scale and offset (k = γ/√(σ² + ε)), and `dy·k` added to it. The forward pass is unchanged.
 */
import * as tf from '@tensorflow/tfjs';

/** A training-mode batch norm's output and the batch statistics it normalised with. */
export interface BatchNormTrainResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Normalises `x` over every axis but the last with its batch mean and biased variance, scales by
 * `gamma` and shifts by `beta`; differentiable in `x`, `gamma` and `beta` by the closed form above.
 * The returned statistics are constants (no gradient flows through them).
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): BatchNormTrainResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1]!;
  const moments = tf.moments(x, axes);
  const mean = moments.mean as tf.Tensor1D;
  const variance = moments.variance as tf.Tensor1D;
  // The statistics enter as constants: nothing differentiates through them (the closed form accounts
  // for them). The gradient runs after the forward pass's tidy has ended, so it reads what it needs
  // through `save`.
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    save([xIn, g, mean, variance]);
    return {
      value: tf.batchNorm(xIn, mean, variance, b, g, eps),
      gradFunc: (dy, saved) => {
        const [xs, gs, mu, v] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const d = dy as tf.Tensor;
        const xhat = tf.batchNorm(xs, mu, v, undefined, undefined, eps);
        const dBeta = tf.sum(d, axes) as tf.Tensor1D;
        const dGamma = tf.sum(tf.mul(d, xhat), axes) as tf.Tensor1D;
        const k = tf.mul(gs, tf.rsqrt(tf.add(v, eps))) as tf.Tensor1D;
        const kOverM = tf.div(k, count);
        const rest = tf.batchNorm(
          xs,
          mu,
          v,
          tf.neg(tf.mul(kOverM, dBeta)) as tf.Tensor1D,
          tf.neg(tf.mul(kOverM, dGamma)) as tf.Tensor1D,
          eps,
        );
        return [tf.add(tf.mul(d, k), rest), dGamma, dBeta];
      },
    };
  });
  return { y: f(x, gamma, beta), mean, variance };
}
