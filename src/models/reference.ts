/**
 * A plain float64 forward pass over the model IR: slow and obvious, the yardstick the backends'
 * logits are checked against. Canonical layouts throughout (NCHW activations, OIHW conv weights,
 * `[in, out]` dense weights, C-major flatten).
 */
import type { ModelGraph, Weights } from './ir.ts';
import { convPads } from './resolve.ts';

export interface ReferenceOptions {
  /**
   * Training-mode semantics: batch norm normalises with the batch's own mean and (biased) variance;
   * dropout multiplies by `dropoutMasks[layerName]` (already scaled by `1/(1-rate)`) when given and is
   * the identity otherwise. In inference mode batch norm uses the running statistics and dropout is
   * the identity.
   */
  training?: boolean;
  dropoutMasks?: Record<string, ArrayLike<number>>;
}

function w(weights: Weights, name: string): Float32Array {
  const t = weights[name];
  if (!t) throw new RangeError(`reference forward: weights lack ${name}`);
  return t.data;
}

/** Logits `[n, numClasses]` (row-major) for `n` examples `x` in NCHW. */
export function referenceForward(
  model: ModelGraph,
  weights: Weights,
  x: ArrayLike<number>,
  n: number,
  opts: ReferenceOptions = {},
): Float64Array {
  let act = Float64Array.from(x as ArrayLike<number>);
  const per0 = model.input.reduce((a, b) => a * b, 1);
  if (act.length !== n * per0)
    throw new RangeError(`reference forward: input has ${act.length} values, expected ${n}×${per0}`);
  for (const layer of model.layers) {
    const s = layer.spec;
    const inPer = layer.inShape.reduce((a, b) => a * b, 1);
    const outPer = layer.outShape.reduce((a, b) => a * b, 1);
    switch (s.kind) {
      case 'conv': {
        const [C, H, W] = layer.inShape as [number, number, number];
        const [O, OH, OW] = layer.outShape as [number, number, number];
        const k = s.kernel!;
        const st = s.stride!;
        const [pt, pl] = convPads(layer);
        const wt = w(weights, `${layer.name}.weight`);
        const bias = s.bias ? w(weights, `${layer.name}.bias`) : null;
        const out = new Float64Array(n * outPer);
        for (let b = 0; b < n; b++) {
          for (let o = 0; o < O; o++) {
            const ob = (b * O + o) * OH * OW;
            const bv = bias ? bias[o]! : 0;
            for (let i = 0; i < OH * OW; i++) out[ob + i] = bv;
            for (let c = 0; c < C; c++) {
              const ib = (b * C + c) * H * W;
              for (let kh = 0; kh < k; kh++) {
                for (let kw = 0; kw < k; kw++) {
                  const wv = wt[((o * C + c) * k + kh) * k + kw]!;
                  for (let oh = 0; oh < OH; oh++) {
                    const ih = oh * st - pt + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (let ow = 0; ow < OW; ow++) {
                      const iw = ow * st - pl + kw;
                      if (iw < 0 || iw >= W) continue;
                      out[ob + oh * OW + ow]! += wv * act[ib + ih * W + iw]!;
                    }
                  }
                }
              }
            }
          }
        }
        act = out;
        break;
      }
      case 'relu':
        for (let i = 0; i < act.length; i++) if (act[i]! < 0) act[i] = 0;
        break;
      case 'maxpool': {
        const [C, H, W] = layer.inShape as [number, number, number];
        const [, OH, OW] = layer.outShape as [number, number, number];
        const size = s.size!;
        const st = s.stride!;
        const out = new Float64Array(n * outPer);
        for (let bc = 0; bc < n * C; bc++) {
          for (let oh = 0; oh < OH; oh++) {
            for (let ow = 0; ow < OW; ow++) {
              let m = -Infinity;
              for (let i = 0; i < size; i++)
                for (let j = 0; j < size; j++) m = Math.max(m, act[bc * H * W + (oh * st + i) * W + ow * st + j]!);
              out[bc * OH * OW + oh * OW + ow] = m;
            }
          }
        }
        act = out;
        break;
      }
      case 'batchnorm': {
        const C = layer.inShape[0]!;
        const inner = inPer / C;
        const gamma = w(weights, `${layer.name}.gamma`);
        const beta = w(weights, `${layer.name}.beta`);
        let mean: ArrayLike<number> = w(weights, `${layer.name}.mean`);
        let vari: ArrayLike<number> = w(weights, `${layer.name}.var`);
        if (opts.training) {
          const m = new Float64Array(C);
          const v = new Float64Array(C);
          const cnt = n * inner;
          for (let b = 0; b < n; b++)
            for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) m[c]! += act[(b * C + c) * inner + i]!;
          for (let c = 0; c < C; c++) m[c]! /= cnt;
          for (let b = 0; b < n; b++)
            for (let c = 0; c < C; c++)
              for (let i = 0; i < inner; i++) {
                const d = act[(b * C + c) * inner + i]! - m[c]!;
                v[c]! += d * d;
              }
          for (let c = 0; c < C; c++) v[c]! /= cnt;
          mean = m;
          vari = v;
        }
        const eps = s.epsilon!;
        for (let b = 0; b < n; b++)
          for (let c = 0; c < C; c++) {
            const scale = gamma[c]! / Math.sqrt(vari[c]! + eps);
            for (let i = 0; i < inner; i++) {
              const j = (b * C + c) * inner + i;
              act[j] = (act[j]! - mean[c]!) * scale + beta[c]!;
            }
          }
        break;
      }
      case 'flatten':
        break;
      case 'dense': {
        const fin = layer.inShape[0]!;
        const units = s.units;
        const wt = w(weights, `${layer.name}.weight`);
        const bias = s.bias ? w(weights, `${layer.name}.bias`) : null;
        const out = new Float64Array(n * units);
        for (let b = 0; b < n; b++) {
          const ob = b * units;
          if (bias) for (let u = 0; u < units; u++) out[ob + u] = bias[u]!;
          for (let i = 0; i < fin; i++) {
            const a = act[b * fin + i]!;
            if (a === 0) continue;
            const row = i * units;
            for (let u = 0; u < units; u++) out[ob + u]! += a * wt[row + u]!;
          }
        }
        act = out;
        break;
      }
      case 'dropout': {
        const mask = opts.training ? opts.dropoutMasks?.[layer.name] : undefined;
        if (mask) for (let i = 0; i < act.length; i++) act[i]! *= mask[i]!;
        break;
      }
    }
  }
  return act;
}
