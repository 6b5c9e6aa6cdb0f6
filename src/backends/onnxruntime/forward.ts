/**
 * Model IR → ONNX forward graph, and the standalone `.onnx` export.
 *
 * Contract with the trainer (`trainer.ts`, `autodiff.ts`): the trainer builds loss, gradients and the
 * SGD update on top of a {@link ForwardGraph} built with `mode: 'training'` and `weights: 'inputs'`.
 * Everything it needs is named explicitly, so it never parses value names:
 * - `input` (`[batch, C, H, W]` float32, NCHW, normalised) and `logits` (`[batch, numClasses]`, the
 *   only declared output; the trainer adds its own outputs);
 * - `paramInputs[paramName]`: the graph value holding each parameter (trainable ones and batch-norm
 *   running statistics), so it can differentiate with respect to them and feed replacements;
 * - `nodeValues`: for each IR node, the values it reads and the value it produces;
 * - `batchNormUpdates`: in training mode each batch norm is one `BatchNormalization` node with
 *   `training_mode = 1` whose second and third outputs are the updated running mean and variance
 *   (ONNX convention `running·momentum + batch·(1 − momentum)`); `autodiff.ts` lowers it to
 *   primitives, since ORT's WebGPU EP has no training-mode batch norm;
 * - `dropouts`: in training mode each dropout is a `Dropout` node with constant `ratio`, constant
 *   `training_mode = true` and a declared `mask` output (bool), which its gradient needs. At inference
 *   dropout is the identity and emits no node.
 *
 * Operators used: Conv (with dilations and groups), Relu, Clip (relu6), MaxPool (single output: the
 * WebGPU EP rejects the Indices output), AveragePool, GlobalAveragePool, BatchNormalization, Add,
 * Concat, Pad (constant zeros on channels), Flatten, Gemm (`[in, out]` weights, transB = 0), Dropout (training only): all implemented by
 * ONNX Runtime's CPU and WebGPU execution providers at opset 17.
 */
import writeFileAtomic from 'write-file-atomic';
import { BackendError } from '../../errors.ts';
import { convPads } from '../../models/resolve.ts';
import { GRAPH_INPUT } from '../../models/ir.ts';
import type { GraphNode, ModelGraph, Weights } from '../../models/ir.ts';
import { OnnxGraph } from './graph.ts';
import type { AttrValue, Dim } from './graph.ts';

export interface ForwardOptions {
  /**
   * `inputs`: every parameter is a graph input fed at run time (what the trainer and a session whose
   * weights change need); `initializers`: parameters are stored in the graph (a standalone model).
   */
  weights: 'initializers' | 'inputs';
  /** Required for `initializers`. */
  weightsData?: Weights;
  /** Batch dimension: a number, or a symbolic name such as `"N"`. */
  batch: number | string;
  /** `training`: batch norm uses batch statistics, dropout is active. */
  mode: 'inference' | 'training';
  /** Seed attribute of training-mode Dropout nodes (ONNX Runtime draws masks from it). */
  dropoutSeed?: number;
  /** Graph name (shows in Netron). @default the model's name */
  name?: string;
}

/** The values one IR node reads (in operand order) and writes. */
export interface NodeValues {
  node: GraphNode;
  inputs: string[];
  output: string;
}

/** A training-mode batch norm: which running statistics it reads and where the updates come out. */
export interface BatchNormUpdate {
  node: GraphNode;
  /** Parameter names of the running statistics (`bn1.mean`, `bn1.var`). */
  meanParam: string;
  varParam: string;
  /** Graph values of the updated running statistics (outputs 1 and 2 of the node). */
  newMean: string;
  newVar: string;
  momentum: number;
  epsilon: number;
}

/** A training-mode dropout. */
export interface DropoutValues {
  node: GraphNode;
  rate: number;
  output: string;
  /** Bool mask output of the `Dropout` node (true = kept). */
  mask: string;
}

export interface ForwardGraph {
  graph: OnnxGraph;
  model: ModelGraph;
  mode: 'inference' | 'training';
  batch: Dim;
  /** Name of the image input, `[batch, C, H, W]`. */
  input: string;
  /** Name of the logits output, `[batch, numClasses]`. */
  logits: string;
  /** Parameter name → graph value (an input or an initializer) holding it. */
  paramInputs: Record<string, string>;
  nodeValues: NodeValues[];
  /** Training mode only (empty otherwise). */
  batchNormUpdates: BatchNormUpdate[];
  /** Training mode only (empty otherwise). */
  dropouts: DropoutValues[];
}

/** Canonical names: the image input, and the logits output. */
export const INPUT_NAME = 'input';
export const LOGITS_NAME = 'logits';

/** Builds the forward graph of `model`; see the file header for what each field promises. */
export function buildForwardGraph(model: ModelGraph, opts: ForwardOptions): ForwardGraph {
  const g = new OnnxGraph(opts.name ?? model.name);
  const batch: Dim = opts.batch;
  const training = opts.mode === 'training';
  const input = g.input(INPUT_NAME, 'float32', [batch, ...model.input]);

  const paramInputs: Record<string, string> = {};
  for (const p of model.params) {
    if (opts.weights === 'inputs') {
      paramInputs[p.name] = g.input(p.name, 'float32', p.shape);
    } else {
      const t = opts.weightsData?.[p.name];
      if (!t)
        throw new BackendError(
          `ONNX forward graph of ${model.name}: no weights for ${p.name}. Hint: pass weightsData with every parameter (initWeights makes them).`,
        );
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== n || t.shape.join('x') !== p.shape.join('x')) {
        throw new BackendError(
          `ONNX forward graph of ${model.name}: weights for ${p.name} have shape ${t.shape.join('×')} (${t.data.length} values), the model needs ${p.shape.join('×')}. Hint: weights must be in canonical layout (OIHW conv, [in, out] dense).`,
        );
      }
      paramInputs[p.name] = g.constant(p.name, { type: 'float32', dims: p.shape, data: t.data });
    }
  }

  const nodeValues: NodeValues[] = [];
  const batchNormUpdates: BatchNormUpdate[] = [];
  const dropouts: DropoutValues[] = [];
  /** IR node name (or the image input) → the graph value holding its output. */
  const valueOfNode = new Map<string, string>([[GRAPH_INPUT, input]]);
  const last = model.nodes.length - 1;
  model.nodes.forEach((node, i) => {
    const s = node.spec;
    const out = i === last ? LOGITS_NAME : `${node.name}.out`;
    const pv = (suffix: string) => paramInputs[`${node.name}.${suffix}`]!;
    const xs = node.inputs.map((v) => valueOfNode.get(v)!);
    const x = xs[0]!;
    let y: string;
    switch (s.kind) {
      case 'conv': {
        const ins = [x, pv('weight')];
        if (s.bias) ins.push(pv('bias'));
        y = g.op(
          'Conv',
          ins,
          {
            kernel_shape: [s.kernel!, s.kernel!],
            strides: [s.stride!, s.stride!],
            pads: convPads(node),
            dilations: [s.dilation!, s.dilation!],
            group: s.groups!,
          },
          out,
        );
        break;
      }
      case 'relu':
        y = g.op('Relu', [x], {}, out);
        break;
      case 'relu6':
        y = g.op('Clip', [x, g.floats([0], [], `${node.name}.min`), g.floats([6], [], `${node.name}.max`)], {}, out);
        break;
      case 'maxpool':
      case 'avgpool': {
        const attrs: Record<string, AttrValue> = {
          kernel_shape: [s.size!, s.size!],
          strides: [s.stride!, s.stride!],
          ...(s.padding ? { pads: convPads(node) } : {}),
        };
        y = g.op(s.kind === 'maxpool' ? 'MaxPool' : 'AveragePool', [x], attrs, out);
        break;
      }
      case 'globalavgpool':
        y = g.op('GlobalAveragePool', [x], {}, out);
        break;
      case 'batchnorm': {
        const ins = [x, pv('gamma'), pv('beta'), pv('mean'), pv('var')];
        const attrs = { epsilon: { float: s.epsilon! }, momentum: { float: s.momentum! } };
        if (training) {
          const newMean = `${node.name}.mean.next`;
          const newVar = `${node.name}.var.next`;
          g.node('BatchNormalization', ins, [out, newMean, newVar], { ...attrs, training_mode: 1 });
          y = out;
          batchNormUpdates.push({
            node,
            meanParam: `${node.name}.mean`,
            varParam: `${node.name}.var`,
            newMean,
            newVar,
            momentum: s.momentum!,
            epsilon: s.epsilon!,
          });
        } else {
          y = g.op('BatchNormalization', ins, attrs, out);
        }
        break;
      }
      case 'add':
        y = xs.slice(1).reduce((acc, v, j) => g.op('Add', [acc, v], {}, j === xs.length - 2 ? out : undefined), x);
        break;
      case 'concat':
        y = g.op('Concat', xs, { axis: 1 }, out);
        break;
      case 'padchannels':
        y = g.op('Pad', [x, g.ints([0, s.before, 0, 0, 0, s.after, 0, 0], [8], `${node.name}.pads`)], {}, out);
        break;
      case 'flatten':
        y = g.op('Flatten', [x], { axis: 1 }, out);
        break;
      case 'dense': {
        const ins = [x, pv('weight')];
        if (s.bias) ins.push(pv('bias'));
        y = g.op('Gemm', ins, { alpha: { float: 1 }, beta: { float: 1 }, transA: 0, transB: 0 }, out);
        break;
      }
      case 'dropout': {
        if (!training || s.rate === 0) {
          // Identity at inference: no node, the next layer reads this layer's input.
          y = i === last ? g.op('Identity', [x], {}, out) : x;
          break;
        }
        const ratio = g.floats([s.rate], [], `${node.name}.ratio`);
        const mode = g.constant(g.fresh(`${node.name}.training`), { type: 'bool', dims: [], data: [true] });
        const mask = `${node.name}.mask`;
        const attrs: Record<string, AttrValue> = opts.dropoutSeed === undefined ? {} : { seed: opts.dropoutSeed + i };
        g.node('Dropout', [x, ratio, mode], [out, mask], attrs);
        y = out;
        dropouts.push({ node, rate: s.rate, output: out, mask });
        break;
      }
    }
    nodeValues.push({ node, inputs: xs, output: y });
    valueOfNode.set(node.name, y);
  });
  g.output(LOGITS_NAME, 'float32', [batch, model.numClasses]);
  return {
    graph: g,
    model,
    mode: opts.mode,
    batch,
    input,
    logits: LOGITS_NAME,
    paramInputs,
    nodeValues,
    batchNormUpdates,
    dropouts,
  };
}

/** Serialised standalone inference model: weights as initializers, symbolic batch `N`. */
export function forwardModelBytes(model: ModelGraph, weights: Weights): Uint8Array {
  const fg = buildForwardGraph(model, { weights: 'initializers', weightsData: weights, batch: 'N', mode: 'inference' });
  return fg.graph.toModelBytes({
    docString: `expbench ${model.name}: input [N, ${model.input.join(', ')}] float32 NCHW (normalised), output logits [N, ${model.numClasses}]; ${model.paramCount} trainable parameters`,
  });
}

/**
 * Writes `model` with `weights` as a standalone `.onnx` file (opset 17, weights as initializers,
 * batch dimension `N`), atomically: readers never see a half-written file.
 */
export async function exportOnnx(model: ModelGraph, weights: Weights, path: string): Promise<void> {
  const bytes = forwardModelBytes(model, weights);
  try {
    await writeFileAtomic(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new BackendError(
      `${path}: cannot write the ONNX model: ${(e as Error).message}. Hint: check that the folder exists and is writable.`,
      { cause: e },
    );
  }
}
