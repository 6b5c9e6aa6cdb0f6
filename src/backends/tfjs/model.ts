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
 * Batch norm: training mode normalises with the batch's mean and (biased) variance over N, H, W and
 * yields those statistics so the caller updates the running ones after the step, outside the gradient
 * tape, as `running = running·m + batch·(1−m)` (ONNX / Keras convention, `LAYER_DEFAULTS.bnMomentum`);
 * inference mode uses the running statistics.
 */
// The union package, not tfjs-core: tfjs-core registers no gradient functions itself and its ESM build
// that would (`dist/register_all_gradients`) is not loadable by Node, while the union package's Node
// bundle registers them all. Backend packages beside it are tfjs's documented setup.
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../errors.ts';
import type { ModelGraph, ParamSpec, ResolvedLayer, Weights } from '../../models/ir.ts';
import { LAYER_DEFAULTS } from '../../models/resolve.ts';
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

type LayerFn = (x: tf.Tensor, opts: ForwardOptions) => tf.Tensor;

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

function findParam(layer: ResolvedLayer, r: string): ParamSpec | undefined {
  return layer.params.find((p) => role(p) === r);
}

function requireParam(layer: ResolvedLayer, r: string): ParamSpec {
  const p = findParam(layer, r);
  if (!p)
    throw new ModelError(
      `tfjs: layer ${layer.name} (${layer.spec.kind}) has no '${r}' parameter. Hint: build the graph with resolveLayers().`,
    );
  return p;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
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
  private readonly layers: { layer: ResolvedLayer; fn: LayerFn }[] = [];
  private readonly bnMomentum = new Map<string, number>();
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
    const { layers } = this.graph;
    let dropoutIndex = 0;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const s = layer.spec;
      const next = layers[i + 1];
      switch (s.kind) {
        case 'conv': {
          const w = this.addParam(requireParam(layer, 'weight'), weights);
          const bp = findParam(layer, 'bias');
          const b = bp ? this.addParam(bp, weights) : undefined;
          const stride = s.stride ?? LAYER_DEFAULTS.convStride;
          const padding = s.padding ?? LAYER_DEFAULTS.convPadding;
          // tfjs 'same' puts odd padding at the end, as the resolver's SAME_UPPER does.
          const pad: 'same' | 'valid' | number = padding;
          // Fuse a directly following ReLU: one kernel on wasm/webgpu in inference; tfjs unfuses it
          // itself under a gradient tape, so training computes the same thing.
          const fuseRelu = next?.spec.kind === 'relu';
          this.layers.push({
            layer,
            fn: (x) =>
              tf.fused.conv2d({
                x: x as tf.Tensor4D,
                filter: w as tf.Tensor4D,
                strides: stride,
                pad,
                bias: b,
                activation: fuseRelu ? 'relu' : 'linear',
              }),
          });
          if (fuseRelu) i++;
          break;
        }
        case 'relu':
          this.layers.push({ layer, fn: (x) => tf.relu(x) });
          break;
        case 'maxpool': {
          const k = s.size ?? LAYER_DEFAULTS.poolSize;
          const st = s.stride ?? k;
          this.layers.push({ layer, fn: (x) => tf.maxPool(x as tf.Tensor4D, k, st, 'valid') });
          break;
        }
        case 'batchnorm': {
          const gamma = this.addParam(requireParam(layer, 'gamma'), weights);
          const beta = this.addParam(requireParam(layer, 'beta'), weights);
          const mean = this.addParam(requireParam(layer, 'mean'), weights);
          const variance = this.addParam(requireParam(layer, 'var'), weights);
          const eps = s.epsilon ?? LAYER_DEFAULTS.bnEpsilon;
          this.bnMomentum.set(layer.name, s.momentum ?? LAYER_DEFAULTS.bnMomentum);
          const axes = layer.inShape.length === 3 ? [0, 1, 2] : [0];
          this.layers.push({
            layer,
            fn: (x, opts) => {
              if (!opts.training) return tf.batchNorm(x, mean, variance, beta, gamma, eps);
              const m = tf.moments(x, axes);
              if (opts.batchStats)
                opts.batchStats.push({
                  layer: layer.name,
                  mean: tf.keep(m.mean as tf.Tensor1D),
                  variance: tf.keep(m.variance as tf.Tensor1D),
                });
              return tf.batchNorm(x, m.mean, m.variance, beta, gamma, eps);
            },
          });
          break;
        }
        case 'flatten':
          this.layers.push({ layer, fn: (x) => tf.reshape(x, [x.shape[0]!, -1]) });
          break;
        case 'dense': {
          const w = this.addParam(requireParam(layer, 'weight'), weights);
          const bp = findParam(layer, 'bias');
          const b = bp ? this.addParam(bp, weights) : undefined;
          const fuseRelu = next?.spec.kind === 'relu';
          this.layers.push({
            layer,
            fn: (x) =>
              tf.fused.matMul({
                a: x as tf.Tensor2D,
                b: w as tf.Tensor2D,
                bias: b,
                activation: fuseRelu ? 'relu' : 'linear',
              }),
          });
          if (fuseRelu) i++;
          break;
        }
        case 'dropout': {
          const rate = s.rate;
          const index = dropoutIndex++;
          this.layers.push({
            layer,
            fn: (x, opts) =>
              opts.training && rate > 0 ? tf.dropout(x, rate, undefined, mixSeed(opts.dropoutSeed ?? 0, index, 0)) : x,
          });
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
        `tfjs: parameters ${missing.map((p) => p.name).join(', ')} belong to no layer the tfjs builder knows. Hint: build the graph with resolveLayers().`,
      );
  }

  /** Logits `[n, numClasses]` for NHWC input `[n, H, W, C]`. Call inside `tf.tidy`. */
  forward(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    let h: tf.Tensor = x;
    for (const { fn } of this.layers) h = fn(h, opts);
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
  }
}

export { mixSeed };
