/**
 * A plain float64 forward pass over the model IR: slow and obvious, the yardstick the backends'
 * logits are checked against. Canonical layouts throughout (NCHW activations, OIHW conv weights,
 * `[in, out]` dense weights, C-major flatten).
 */
import { GRAPH_INPUT } from './ir.ts';
import type { GraphNode, ModelGraph, Weights } from './ir.ts';
import { convPads } from './resolve.ts';

export interface ReferenceOptions {
  /**
   * Training-mode semantics: batch norm normalises with the batch's own mean and (biased) variance;
   * dropout multiplies by `dropoutMasks[nodeName]` (already scaled by `1/(1-rate)`) when given and is
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

/**
 * Logits `[n, numClasses]` (row-major) for `n` examples `x` in NCHW: the output of the graph's last
 * node. (A graph cut after any node in its topological order is a graph too, so tests read
 * intermediate activations by evaluating `{ ...model, nodes: model.nodes.slice(0, k) }`.)
 */
export function referenceForward(
  model: ModelGraph,
  weights: Weights,
  x: ArrayLike<number>,
  n: number,
  opts: ReferenceOptions = {},
): Float64Array {
  const input = Float64Array.from(x as ArrayLike<number>);
  const per0 = model.input.reduce((a, b) => a * b, 1);
  if (input.length !== n * per0)
    throw new RangeError(`reference forward: input has ${input.length} values, expected ${n}×${per0}`);
  const values = new Map<string, Float64Array>([[GRAPH_INPUT, input]]);
  let act: Float64Array = input;
  for (const node of model.nodes) {
    const ins = node.inputs.map((v) => {
      const a = values.get(v);
      if (!a) throw new RangeError(`reference forward: node ${node.name} reads ${v}, which is not computed yet`);
      return a;
    });
    act = evalNode(node, ins, weights, n, opts);
    values.set(node.name, act);
  }
  return act;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One node's output for the batch; never writes into its inputs (they may feed other nodes). */
function evalNode(
  node: GraphNode,
  ins: Float64Array[],
  weights: Weights,
  n: number,
  opts: ReferenceOptions,
): Float64Array {
  const s = node.spec;
  const x = ins[0]!;
  const inPer = size(node.inShapes[0]!);
  const outPer = size(node.outShape);
  switch (s.kind) {
    case 'conv': {
      const [C, H, W] = node.inShapes[0] as [number, number, number];
      const [O, OH, OW] = node.outShape as [number, number, number];
      const k = s.kernel!;
      const st = s.stride!;
      const dil = s.dilation!;
      const G = s.groups!;
      const Cg = C / G;
      const Og = O / G;
      const [pt, pl] = convPads(node);
      const wt = w(weights, `${node.name}.weight`);
      const bias = s.bias ? w(weights, `${node.name}.bias`) : null;
      const out = new Float64Array(n * outPer);
      for (let b = 0; b < n; b++) {
        for (let o = 0; o < O; o++) {
          const ob = (b * O + o) * OH * OW;
          const bv = bias ? bias[o]! : 0;
          for (let i = 0; i < OH * OW; i++) out[ob + i] = bv;
          const g = Math.floor(o / Og);
          for (let cg = 0; cg < Cg; cg++) {
            const ib = (b * C + g * Cg + cg) * H * W;
            for (let kh = 0; kh < k; kh++) {
              for (let kw = 0; kw < k; kw++) {
                const wv = wt[((o * Cg + cg) * k + kh) * k + kw]!;
                for (let oh = 0; oh < OH; oh++) {
                  const ih = oh * st - pt + kh * dil;
                  if (ih < 0 || ih >= H) continue;
                  for (let ow = 0; ow < OW; ow++) {
                    const iw = ow * st - pl + kw * dil;
                    if (iw < 0 || iw >= W) continue;
                    out[ob + oh * OW + ow]! += wv * x[ib + ih * W + iw]!;
                  }
                }
              }
            }
          }
        }
      }
      return out;
    }
    case 'relu':
      return x.map((v) => Math.max(v, 0));
    case 'relu6':
      return x.map((v) => Math.min(Math.max(v, 0), 6));
    case 'maxpool':
    case 'avgpool': {
      const [C, H, W] = node.inShapes[0] as [number, number, number];
      const [, OH, OW] = node.outShape as [number, number, number];
      const size = s.size!;
      const st = s.stride!;
      const p = s.padding!;
      const max = s.kind === 'maxpool';
      const out = new Float64Array(n * outPer);
      for (let bc = 0; bc < n * C; bc++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            let m = max ? -Infinity : 0;
            let count = 0;
            for (let i = 0; i < size; i++) {
              const ih = oh * st - p + i;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < size; j++) {
                const iw = ow * st - p + j;
                if (iw < 0 || iw >= W) continue;
                const v = x[bc * H * W + ih * W + iw]!;
                m = max ? Math.max(m, v) : m + v;
                count++;
              }
            }
            out[bc * OH * OW + oh * OW + ow] = max ? m : m / count;
          }
        }
      }
      return out;
    }
    case 'globalavgpool': {
      const [C, H, W] = node.inShapes[0] as [number, number, number];
      const out = new Float64Array(n * C);
      for (let bc = 0; bc < n * C; bc++) {
        let sum = 0;
        for (let i = 0; i < H * W; i++) sum += x[bc * H * W + i]!;
        out[bc] = sum / (H * W);
      }
      return out;
    }
    case 'batchnorm': {
      const C = node.inShapes[0]![0]!;
      const inner = inPer / C;
      const gamma = w(weights, `${node.name}.gamma`);
      const beta = w(weights, `${node.name}.beta`);
      let mean: ArrayLike<number> = w(weights, `${node.name}.mean`);
      let vari: ArrayLike<number> = w(weights, `${node.name}.var`);
      if (opts.training) {
        const m = new Float64Array(C);
        const v = new Float64Array(C);
        const cnt = n * inner;
        for (let b = 0; b < n; b++)
          for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) m[c]! += x[(b * C + c) * inner + i]!;
        for (let c = 0; c < C; c++) m[c]! /= cnt;
        for (let b = 0; b < n; b++)
          for (let c = 0; c < C; c++)
            for (let i = 0; i < inner; i++) {
              const d = x[(b * C + c) * inner + i]! - m[c]!;
              v[c]! += d * d;
            }
        for (let c = 0; c < C; c++) v[c]! /= cnt;
        mean = m;
        vari = v;
      }
      const eps = s.epsilon!;
      const out = new Float64Array(x.length);
      for (let b = 0; b < n; b++)
        for (let c = 0; c < C; c++) {
          const scale = gamma[c]! / Math.sqrt(vari[c]! + eps);
          for (let i = 0; i < inner; i++) {
            const j = (b * C + c) * inner + i;
            out[j] = (x[j]! - mean[c]!) * scale + beta[c]!;
          }
        }
      return out;
    }
    case 'add': {
      const out = Float64Array.from(x);
      for (const y of ins.slice(1)) for (let i = 0; i < out.length; i++) out[i]! += y[i]!;
      return out;
    }
    case 'concat': {
      // Channel-major per example: each input's block of an example follows the previous one's.
      const out = new Float64Array(n * outPer);
      let off = 0;
      ins.forEach((y, j) => {
        const per = size(node.inShapes[j]!);
        for (let b = 0; b < n; b++) out.set(y.subarray(b * per, (b + 1) * per), b * outPer + off);
        off += per;
      });
      return out;
    }
    case 'padchannels': {
      const per = inPer;
      const out = new Float64Array(n * outPer);
      const off = s.before * (per / node.inShapes[0]![0]!);
      for (let b = 0; b < n; b++) out.set(x.subarray(b * per, (b + 1) * per), b * outPer + off);
      return out;
    }
    case 'flatten':
      return x;
    case 'dense': {
      const fin = node.inShapes[0]![0]!;
      const units = s.units;
      const wt = w(weights, `${node.name}.weight`);
      const bias = s.bias ? w(weights, `${node.name}.bias`) : null;
      const out = new Float64Array(n * units);
      for (let b = 0; b < n; b++) {
        const ob = b * units;
        if (bias) for (let u = 0; u < units; u++) out[ob + u] = bias[u]!;
        for (let i = 0; i < fin; i++) {
          const a = x[b * fin + i]!;
          if (a === 0) continue;
          const row = i * units;
          for (let u = 0; u < units; u++) out[ob + u]! += a * wt[row + u]!;
        }
      }
      return out;
    }
    case 'dropout': {
      const mask = opts.training ? opts.dropoutMasks?.[node.name] : undefined;
      return mask ? x.map((v, i) => v * mask[i]!) : x;
    }
  }
}
