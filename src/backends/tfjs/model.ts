/**
 * The tfjs network built from the model IR with tfjs-core ops on `tf.variable` weights.
 *
 * Why not tfjs-layers: a layers model adds symbolic tensors, a Container and per-call input checks and
 * casts between every op, and its own fit loop; the study times the framework's kernels and autodiff, so
 * expbench calls the ops directly. The same op sequence (`conv2d`, `batchNorm`, `maxPool`, `matMul`)
 * is what a layers model would dispatch to.
 *
 * Activations are NHWC, the layout tfjs kernels are written for (the cpu and wasm backends support
 * nothing else for conv2d/maxPool; others transpose internally). Weights arrive in the canonical
 * layout and are converted once here with `src/models/layout.ts`'s channels-last plan: conv OIHW →
 * HWIO, and the parameters indexed by a spatial flatten's features (rows of the first dense layer,
 * batch-norm vectors in between) permuted from NCHW to NHWC flatten order, so the NHWC network
 * computes the same function as the canonical NCHW one. {@link TfjsModel.readWeights} converts back.
 *
 * Batch norm: training mode normalises with the batch's mean and (biased) variance over N, H, W
 * (`batch-norm.ts`, with the gradient in closed form) and yields those statistics so the caller
 * updates the running ones after the step, outside the gradient tape, as
 * `running = running·m + batch·(1−m)` (ONNX / Keras convention, `LAYER_DEFAULTS.bnMomentum`);
 * inference mode uses the running statistics.
 */
// The union package, not tfjs-core: tfjs-core registers no gradient functions itself and its ESM build
// that would (`dist/register_all_gradients`) is not loadable by Node, while the union package's Node
// bundle registers them all. Backend packages beside it are tfjs's documented setup.
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../errors.ts';
import { batchNormTrain } from './batch-norm.ts';
import { GRAPH_INPUT } from '../../models/ir.ts';
import type { GraphNode, ModelGraph, ParamSpec, Weights } from '../../models/ir.ts';
import { LAYER_DEFAULTS, windowCounts } from '../../models/resolve.ts';
import { channelsLastPlan, chwRowsToHwc, hwcRowsToChw, hwioToOihw, oihwToHwio } from '../../models/layout.ts';
import type { ParamLayoutChange } from '../../models/layout.ts';

/** Batch statistics of one batch-norm layer produced by a training-mode forward pass. */
export interface BatchStats {
  layer: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

export interface ForwardOptions {
  training: boolean;
  /** Training only: receives each batch-norm layer's batch statistics (kept tensors, caller disposes). */
  batchStats?: BatchStats[];
  /** Training only: seed of this step's dropout masks (each dropout layer derives its own). */
  dropoutSeed?: number;
}

/** One step of the forward pass: the tensors of its inputs in, its output out. */
type NodeFn = (xs: tf.Tensor[], opts: ForwardOptions) => tf.Tensor;

interface ParamState {
  spec: ParamSpec;
  variable: tf.Variable;
  /** How the tfjs value maps back to the canonical layout. */
  layout: ParamLayoutChange;
}

let modelCounter = 0;

/** Suffix of a parameter name (`conv1.weight` → `weight`). */
function role(p: ParamSpec): string {
  return p.name.slice(p.name.lastIndexOf('.') + 1);
}

function findParam(layer: GraphNode, r: string): ParamSpec | undefined {
  return layer.params.find((p) => role(p) === r);
}

function requireParam(layer: GraphNode, r: string): ParamSpec {
  const p = findParam(layer, r);
  if (!p)
    throw new ModelError(
      `tfjs: node ${layer.name} (${layer.spec.kind}) has no '${r}' parameter. Hint: build the graph with resolveGraph().`,
    );
  return p;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The HWIO filter of a conv with dilation `d` as the equivalent undilated filter: `(kh−1)·d+1` by
 * `(kw−1)·d+1` with `d − 1` zero rows and columns between the taps. Built from Reshape/Pad/Slice, so
 * tfjs differentiates it back to the compact filter; 'same' padding depends only on the effective
 * extent, which is the same either way.
 */
function dilateFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, i, o] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, i, o]), [
    [0, 0],
    [0, d - 1],
    [0, 0],
    [0, d - 1],
    [0, 0],
    [0, 0],
  ]);
  const full = tf.reshape(spread, [kh * d, kw * d, i, o]) as tf.Tensor4D;
  return tf.slice(full, [0, 0, 0, 0], [(kh - 1) * d + 1, (kw - 1) * d + 1, i, o]);
}

/** A 32-bit mix of a seed and two counters, so each dropout layer and step gets its own mask stream. */
function mixSeed(seed: number, a: number, b: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [a, b]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/**
 * A network's variables and forward function on the active tfjs backend. Variables are named
 * `<prefix>/<param name>` with a per-model prefix, since tfjs requires variable names to be unique in
 * the process and several models may coexist (parity checks, tests).
 */
export class TfjsModel {
  readonly graph: ModelGraph;
  /** Trainable variables in parameter order. */
  readonly trainable: tf.Variable[];
  /** Every parameter by canonical name. */
  private readonly params = new Map<string, ParamState>();
  /** The forward pass in topological order; `outputs` are the IR nodes it computes (two when fused). */
  private readonly steps: { inputs: string[]; outputs: string[]; fn: NodeFn }[] = [];
  private readonly bnMomentum = new Map<string, number>();
  /** Constant tensors the forward pass reads (disposed with the model). */
  private readonly constants: tf.Tensor[] = [];
  private readonly plan: Map<string, ParamLayoutChange>;
  readonly prefix: string;

  constructor(graph: ModelGraph, weights: Weights) {
    this.graph = graph;
    this.prefix = `expbench${++modelCounter}`;
    this.plan = channelsLastPlan(graph);
    try {
      this.build(weights);
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.trainable = graph.params.filter((p) => p.trainable).map((p) => this.params.get(p.name)!.variable);
  }

  private addParam(spec: ParamSpec, weights: Weights): tf.Variable {
    const layout = this.plan.get(spec.name) ?? { kind: 'none' };
    const w = weights[spec.name];
    if (!w)
      throw new ModelError(
        `tfjs: no weights for parameter ${spec.name}. Hint: initialise weights for every param of the graph.`,
      );
    if (
      w.shape.length !== spec.shape.length ||
      w.shape.some((d, i) => d !== spec.shape[i]) ||
      w.data.length !== size(spec.shape)
    ) {
      throw new ModelError(
        `tfjs: weights for ${spec.name} have shape [${w.shape.join(', ')}] (${w.data.length} values), expected [${spec.shape.join(', ')}]. Hint: weights must be in canonical layout.`,
      );
    }
    let data: Float32Array;
    let shape = [...w.shape];
    if (layout.kind === 'conv') {
      const [O, I, KH, KW] = layout.oihw;
      data = oihwToHwio(w.data, layout.oihw);
      shape = [KH, KW, I, O];
    } else if (layout.kind === 'flatten-rows') data = chwRowsToHwc(w.data, layout.chw, layout.cols);
    // A copy: the cpu backend keeps the array it is given, and the caller's weights must stay theirs.
    else data = w.data.slice();
    const v = tf.tidy(() =>
      tf.variable(tf.tensor(data, shape, 'float32'), spec.trainable, `${this.prefix}/${spec.name}`),
    );
    this.params.set(spec.name, { spec, variable: v, layout });
    return v;
  }

  private build(weights: Weights): void {
    const { nodes } = this.graph;
    const consumers = new Map<string, GraphNode[]>();
    for (const node of nodes) for (const v of node.inputs) consumers.set(v, [...(consumers.get(v) ?? []), node]);
    /** The one activation node that alone reads `node`'s output, which can then be fused into it. */
    const fusable = (node: GraphNode): GraphNode | undefined => {
      const next = consumers.get(node.name);
      const k = next?.length === 1 ? next[0]!.spec.kind : undefined;
      return k === 'relu' || k === 'relu6' ? next![0] : undefined;
    };
    const fused = new Set<string>();
    let dropoutIndex = 0;
    const step = (node: GraphNode, fn: NodeFn, also?: GraphNode) => {
      this.steps.push({ inputs: node.inputs, outputs: also ? [node.name, also.name] : [node.name], fn });
      if (also) fused.add(also.name);
    };
    for (const node of nodes) {
      if (fused.has(node.name)) continue;
      const s = node.spec;
      switch (s.kind) {
        case 'conv': {
          const w = this.addParam(requireParam(node, 'weight'), weights);
          const bp = findParam(node, 'bias');
          const b = bp ? this.addParam(bp, weights) : undefined;
          const stride = s.stride ?? LAYER_DEFAULTS.convStride;
          const dilation = s.dilation ?? 1;
          const groups = s.groups ?? 1;
          // tfjs 'same' puts odd padding at the end, as the resolver's SAME_UPPER does.
          const pad: 'same' | 'valid' | number = s.padding ?? LAYER_DEFAULTS.convPadding;
          // Fuse an activation that alone reads the conv: one kernel on wasm/webgpu in inference; tfjs
          // unfuses it itself under a gradient tape, so training computes the same thing.
          const act = fusable(node);
          const activation = act ? (act.spec.kind as 'relu' | 'relu6') : 'linear';
          const C = node.inShapes[0]![0]!;
          // tfjs has no gradient for dilated convolutions: a dilated conv is computed as the ordinary
          // conv with the taps spread out by zeros (differentiable Pad/Reshape/Slice of the filter).
          const filter = dilation === 1 ? () => w as tf.Tensor4D : () => dilateFilter(w as tf.Tensor4D, dilation);
          let fn: NodeFn;
          if (groups === 1) {
            fn = ([x]) =>
              tf.fused.conv2d({
                x: x as tf.Tensor4D,
                filter: filter(),
                strides: stride,
                pad,
                bias: b,
                activation,
              });
          } else if (groups === C) {
            // Depthwise: HWIO [kh, kw, 1, C·m] is, element for element, tfjs's [kh, kw, C, m]
            // (output channel c·m + q reads input channel c).
            const [KH, KW, , O] = w.shape as [number, number, number, number];
            const shape: [number, number, number, number] = [
              (KH - 1) * dilation + 1,
              (KW - 1) * dilation + 1,
              C,
              O / C,
            ];
            fn = ([x]) =>
              tf.fused.depthwiseConv2d({
                x: x as tf.Tensor4D,
                filter: tf.reshape(filter(), shape) as tf.Tensor4D,
                strides: stride,
                pad,
                bias: b,
                activation,
              });
          } else {
            // Grouped: tfjs has no group argument, so each group is its own conv on its channel slice.
            fn = ([x]) => {
              const xs = tf.split(x!, groups, 3);
              const ws = tf.split(filter(), groups, 3);
              const ys = xs.map((xg, g) => tf.conv2d(xg as tf.Tensor4D, ws[g] as tf.Tensor4D, stride, pad));
              let y: tf.Tensor = tf.concat(ys, 3);
              if (b) y = tf.add(y, b);
              return activation === 'relu' ? tf.relu(y) : activation === 'relu6' ? tf.relu6(y) : y;
            };
          }
          step(node, fn, act);
          break;
        }
        case 'relu':
          step(node, ([x]) => tf.relu(x!));
          break;
        case 'relu6':
          step(node, ([x]) => tf.relu6(x!));
          break;
        case 'maxpool':
        case 'avgpool': {
          const k = s.size ?? LAYER_DEFAULTS.poolSize;
          const st = s.stride ?? k;
          const p = s.padding ?? 0;
          if (s.kind === 'maxpool' || p === 0) {
            const pool = s.kind === 'maxpool' ? tf.maxPool : tf.avgPool;
            step(node, ([x]) => pool(x as tf.Tensor4D, k, st, p || 'valid'));
            break;
          }
          // Padded average pooling divides by each window's in-image count; tfjs's forward does, but its
          // gradient (AvgPoolGrad) divides by the whole window. So: zero-pad, pool over whole windows,
          // and rescale each output by window size / in-image count, which differentiates correctly.
          const [, H, W] = node.inShapes[0] as [number, number, number];
          const [, Ho, Wo] = node.outShape as [number, number, number];
          const counts = windowCounts([H, W], [k, k], [st, st], [p, p], [Ho, Wo]);
          const scale = tf.tensor4d(
            counts.map((n) => (k * k) / n),
            [1, Ho, Wo, 1],
          );
          this.constants.push(scale);
          const paddings: Array<[number, number]> = [
            [0, 0],
            [p, p],
            [p, p],
            [0, 0],
          ];
          step(node, ([x]) => tf.mul(tf.avgPool(tf.pad(x as tf.Tensor4D, paddings), k, st, 'valid'), scale));
          break;
        }
        case 'globalavgpool':
          step(node, ([x]) => tf.mean(x!, [1, 2], true));
          break;
        case 'batchnorm': {
          const gamma = this.addParam(requireParam(node, 'gamma'), weights);
          const beta = this.addParam(requireParam(node, 'beta'), weights);
          const mean = this.addParam(requireParam(node, 'mean'), weights);
          const variance = this.addParam(requireParam(node, 'var'), weights);
          const eps = s.epsilon ?? LAYER_DEFAULTS.bnEpsilon;
          this.bnMomentum.set(node.name, s.momentum ?? LAYER_DEFAULTS.bnMomentum);
          step(node, ([x], opts) => {
            if (!opts.training) return tf.batchNorm(x!, mean, variance, beta, gamma, eps);
            const m = batchNormTrain(x!, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps);
            if (opts.batchStats)
              opts.batchStats.push({ layer: node.name, mean: tf.keep(m.mean), variance: tf.keep(m.variance) });
            return m.y;
          });
          break;
        }
        case 'add':
          step(node, (xs) => (xs.length === 2 ? tf.add(xs[0]!, xs[1]!) : tf.addN(xs)));
          break;
        case 'concat': {
          // Channels are the last axis of NHWC activations, and the only axis of flat features.
          const axis = node.outShape.length === 3 ? 3 : 1;
          step(node, (xs) => tf.concat(xs, axis));
          break;
        }
        case 'padchannels': {
          const paddings: Array<[number, number]> = [
            [0, 0],
            [0, 0],
            [0, 0],
            [s.before, s.after],
          ];
          step(node, ([x]) => tf.pad(x!, paddings));
          break;
        }
        case 'flatten':
          step(node, ([x]) => tf.reshape(x!, [x!.shape[0]!, -1]));
          break;
        case 'dense': {
          const w = this.addParam(requireParam(node, 'weight'), weights);
          const bp = findParam(node, 'bias');
          const b = bp ? this.addParam(bp, weights) : undefined;
          const act = fusable(node);
          step(
            node,
            ([x]) =>
              tf.fused.matMul({
                a: x as tf.Tensor2D,
                b: w as tf.Tensor2D,
                bias: b,
                activation: act ? (act.spec.kind as 'relu' | 'relu6') : 'linear',
              }),
            act,
          );
          break;
        }
        case 'dropout': {
          const rate = s.rate;
          const index = dropoutIndex++;
          step(node, ([x], opts) =>
            opts.training && rate > 0 ? tf.dropout(x!, rate, undefined, mixSeed(opts.dropoutSeed ?? 0, index, 0)) : x!,
          );
          break;
        }
        default: {
          const never: never = s;
          throw new ModelError(`tfjs: unsupported layer kind ${(never as { kind: string }).kind}`);
        }
      }
    }
    const missing = this.graph.params.filter((p) => !this.params.has(p.name));
    if (missing.length > 0)
      throw new ModelError(
        `tfjs: parameters ${missing.map((p) => p.name).join(', ')} belong to no node the tfjs builder knows. Hint: build the graph with resolveGraph().`,
      );
  }

  /** Logits `[n, numClasses]` for NHWC input `[n, H, W, C]`. Call inside `tf.tidy`. */
  forward(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const values = new Map<string, tf.Tensor>([[GRAPH_INPUT, x]]);
    let h: tf.Tensor = x;
    for (const { inputs, outputs, fn } of this.steps) {
      h = fn(
        inputs.map((v) => values.get(v)!),
        opts,
      );
      for (const o of outputs) values.set(o, h);
    }
    return h as tf.Tensor2D;
  }

  /** Folds a training step's batch statistics into the running ones and disposes them. */
  updateRunningStats(stats: BatchStats[]): void {
    tf.tidy(() => {
      for (const s of stats) {
        const m = this.bnMomentum.get(s.layer)!;
        const mean = this.params.get(`${s.layer}.mean`)!.variable;
        const variance = this.params.get(`${s.layer}.var`)!.variable;
        mean.assign(tf.add(tf.mul(mean, m), tf.mul(s.mean, 1 - m)));
        variance.assign(tf.add(tf.mul(variance, m), tf.mul(s.variance, 1 - m)));
      }
    });
    for (const s of stats) {
      s.mean.dispose();
      s.variance.dispose();
    }
  }

  /** The variable holding a parameter (tfjs layout), by canonical name. */
  variable(name: string): tf.Variable | undefined {
    return this.params.get(name)?.variable;
  }

  /** Current weights in canonical layout, read back from the backend. */
  async readWeights(): Promise<Weights> {
    const out: Weights = {};
    for (const p of this.graph.params) {
      const st = this.params.get(p.name)!;
      const raw = (await st.variable.data()) as Float32Array;
      let data: Float32Array;
      if (st.layout.kind === 'conv') data = hwioToOihw(raw, st.variable.shape as [number, number, number, number]);
      else if (st.layout.kind === 'flatten-rows') data = hwcRowsToChw(raw, st.layout.chw, st.layout.cols);
      else data = Float32Array.from(raw);
      out[p.name] = { shape: [...p.shape], data };
    }
    return out;
  }

  /** Disposes every variable. */
  dispose(): void {
    for (const st of this.params.values()) st.variable.dispose();
    this.params.clear();
    tf.dispose(this.constants.splice(0));
  }
}

export { mixSeed };
