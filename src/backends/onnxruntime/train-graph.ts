/**
 * The whole training step as one ONNX graph: forward (training mode), softmax cross-entropy, the
 * generated backward pass and the SGD-momentum update. ONNX Runtime then trains with one
 * `session.run` per step, the weights, velocities and batch-norm running statistics going in as
 * inputs and coming out updated, as a Caffe2 net holds its training step as one static graph.
 *
 * Value names: a parameter keeps its name as the input (`conv1.weight`); its velocity is
 * `conv1.weight.velocity`; the step's results are `<input>.next`. Running statistics come out under
 * the names the forward builder gave them (`bn1.mean.next`).
 */
import { ModelError } from '../../errors.ts';
import type { ModelGraph } from '../../models/ir.ts';
import type { OptimizerConfig } from '../types.ts';
import { appendAugment } from './augment-graph.ts';
import { appendGradients, type Formulation } from './autodiff.ts';
import { buildForwardGraph } from './forward.ts';
import type { ForwardGraph } from './forward.ts';
import type { OnnxGraph } from './graph.ts';
import { nodeSections } from './op-profile.ts';
import type { StepSection } from '../../vocab/op-profile.ts';
import { describeOptimizer } from '../../vocab/optimizer.ts';
import { appendOptimizer, velocityKey } from './optimizer.ts';
import type { OptimizerSlot } from './optimizer.ts';
import { appendSoftmaxCrossEntropy } from './train-loss.ts';
import type { LabelType } from './train-loss.ts';

export type { LabelType } from './train-loss.ts';

/** Options shared by {@link buildTrainStepGraph} and {@link buildGradientGraph}. */
export interface TrainGraphOptions {
  batch: number;
  /** @default 'int32' */
  labelType?: LabelType;
  /** Seed of the Dropout nodes' mask generator. */
  dropoutSeed?: number;
  /** Gradient formulations (benchmarks and tests compare them; default: the fastest measured). */
  formulation?: Formulation;
  /** Label smoothing ε of the cross-entropy (0: none). */
  labelSmoothing?: number;
}

/**
 * Where the training step takes its batch from:
 * - `inputs` (default): `x` and `labels` are graph inputs, fed from the host every step;
 * - `gather`: the step gathers its batch from the whole training split, held as graph inputs that stay
 *   on the device between steps (`data`, `labelsAll`, the epoch's `order` and a step counter `step`), and
 *   returns `step + 1` to be fed back. On a GPU execution provider every input of a step is then a
 *   device tensor: ONNX Runtime's WebGPU EP runs a step whose inputs are all on the device in ~0.1 ms of
 *   overhead, but ~1 ms plus the upload as soon as one input comes from the host.
 */
export type BatchSource = 'inputs' | 'gather';

/** Graph-value names of the `gather` step's extra inputs and output. */
export interface TrainStepGather {
  /** `[examples, C, H, W]` float32, NCHW, normalised: the whole split (`examples` symbolic). */
  data: string;
  /** `[examples]` int32: the class of every example. */
  labelsAll: string;
  /** `[steps, batch]` int32: the epoch's example order, one row per step (`steps` symbolic). */
  order: string;
  /** Scalar int32: the row of `order` this step trains on. */
  step: string;
  /** `[steps]` float32: the epoch's learning rate per step, read at `step` (replaces the `lr` input). */
  lrs: string;
  /** Output, scalar int32: `step + 1`, the next step's `step`. */
  stepNext: string;
  /** With `augment`: `[steps, batch]` int32 each, the epoch's crop offsets and flips by position (`augment-graph.ts`). */
  augment?: { dx: string; dy: string; flip: string };
}

/** Augmentation of a gathered batch on the device: the plan's padding, and the normalised black pixel per channel. */
export interface GatherAugment {
  padding: number;
  padValues: readonly number[];
}

/** Graph-value names of the training step's inputs, keyed by parameter name where per parameter. */
export interface TrainStepInputs {
  /** `[batch, C, H, W]` float32, NCHW, normalised (with `batchSource: 'gather'`, the gathered value, not an input). */
  x: string;
  /** `[batch]` of the label type (with `batchSource: 'gather'`, the gathered value, not an input). */
  labels: string;
  /** Scalar float32 learning rate (with `batchSource: 'gather'`, read from `gather.lrs`, not an input). */
  lr: string;
  /** Trainable parameters. */
  params: Record<string, string>;
  /** SGD: the velocity of every trainable parameter, same shape (empty for Adam). */
  velocities: Record<string, string>;
  /** Every optimizer state value (velocities, Adam moments and β powers), with its output and start value. */
  optimizer: OptimizerSlot[];
  /** Batch-norm running statistics (the IR's non-trainable parameters). */
  stats: Record<string, string>;
  /** With `batchSource: 'gather'`: the inputs the batch is gathered from, and the step counter's output. */
  gather?: TrainStepGather;
}

/** Graph-value names of the training step's outputs. */
export interface TrainStepOutputs {
  /** Scalar float32 mean cross-entropy of the batch (before the update). */
  loss: string;
  /** Scalar float32 number of correctly classified examples of the batch (before the update). */
  correct: string;
  params: Record<string, string>;
  velocities: Record<string, string>;
  stats: Record<string, string>;
}

export interface TrainStepGraph {
  bytes: Uint8Array;
  inputs: TrainStepInputs;
  outputs: TrainStepOutputs;
  /** The graph before serialisation (tests inspect it). */
  graph: OnnxGraph;
  labelType: LabelType;
  /** The step section of every node (per-operator profiles: `op-profile.ts`). */
  sections: Map<string, StepSection>;
}

/** Inputs and outputs of the gradient-only graph. */
export interface GradientGraph {
  bytes: Uint8Array;
  graph: OnnxGraph;
  inputs: { x: string; labels: string; params: Record<string, string> };
  /** `grads[param]`: gradient of the mean loss with respect to each trainable parameter. */
  outputs: {
    loss: string;
    correct: string;
    logits: string;
    grads: Record<string, string>;
    stats: Record<string, string>;
  };
  labelType: LabelType;
}

interface Core {
  fg: ForwardGraph;
  g: OnnxGraph;
  labels: string;
  loss: string;
  correct: string;
  grads: Record<string, string>;
  trainable: string[];
  statUpdates: Record<string, string>;
  labelType: LabelType;
  /** Names of the nodes of the forward pass and loss, before differentiation. */
  forwardNodes: Set<string>;
}

/** Forward + loss + gradients, shared by both graphs. */
function buildCore(model: ModelGraph, opts: TrainGraphOptions): Core {
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) {
    throw new ModelError(
      `training graph of ${model.name}: label smoothing ${eps} must be in [0, 1). Hint: 0.1 is the usual value.`,
    );
  }
  if (!Number.isInteger(opts.batch) || opts.batch < 1) {
    throw new ModelError(
      `training graph of ${model.name}: batch ${opts.batch} must be a positive integer. Hint: the training graph is built for one batch size.`,
    );
  }
  const labelType = opts.labelType ?? 'int32';
  const fg = buildForwardGraph(model, {
    weights: 'inputs',
    batch: opts.batch,
    mode: 'training',
    dropoutSeed: opts.dropoutSeed,
    name: `${model.name}-train`,
  });
  const g = fg.graph;
  // The step declares its own outputs; logits stay an internal value.
  g.outputs.splice(0);
  const labels = g.input('labels', labelType, [opts.batch]);
  const { loss, correct } = appendSoftmaxCrossEntropy(g, fg.logits, labels, {
    batch: opts.batch,
    numClasses: model.numClasses,
    labelType,
    names: { loss: 'loss', correct: 'correct' },
    labelSmoothing: eps,
  });
  const trainable = model.params.filter((p) => p.trainable).map((p) => p.name);
  const forwardNodes = new Set(g.nodes.map((n) => n.name));
  const { grads: byValue } = appendGradients(
    g,
    loss,
    trainable.map((p) => fg.paramInputs[p]!),
    { formulation: opts.formulation },
  );
  const grads: Record<string, string> = {};
  for (const p of trainable) grads[p] = byValue[fg.paramInputs[p]!]!;
  const statUpdates: Record<string, string> = {};
  for (const u of fg.batchNormUpdates) {
    statUpdates[u.meanParam] = u.newMean;
    statUpdates[u.varParam] = u.newVar;
  }
  for (const p of model.params) {
    if (!p.trainable && !statUpdates[p.name]) {
      throw new ModelError(
        `training graph of ${model.name}: non-trainable parameter ${p.name} has no update. Hint: only batch-norm running statistics may be non-trainable.`,
      );
    }
  }
  return { fg, g, labels, loss, correct, grads, trainable, statUpdates, labelType, forwardNodes };
}

/**
 * The training step of `model` for batch size `opts.batch`: inputs x, labels, lr, every weight,
 * velocity and running statistic; outputs their updated values, the loss and the correct count.
 * With `batchSource: 'gather'` x and labels are gathered inside the graph instead ({@link BatchSource}).
 */
export function buildTrainStepGraph(
  model: ModelGraph,
  opts: TrainGraphOptions & { optimizer: OptimizerConfig; batchSource?: BatchSource; augment?: GatherAugment },
): TrainStepGraph {
  const source = opts.batchSource ?? 'inputs';
  if (source === 'gather' && (opts.labelType ?? 'int32') !== 'int32') {
    throw new ModelError(
      `training graph of ${model.name}: batchSource 'gather' keeps the labels as int32. Hint: leave labelType at 'int32'.`,
    );
  }
  const { fg, g, labels, loss, correct, grads, trainable, statUpdates, labelType, forwardNodes } = buildCore(
    model,
    opts,
  );
  const optimizerFrom = g.nodes.length;
  const lr = g.input('lr', 'float32', []);
  const shapeOf = new Map(model.params.map((p) => [p.name, p.shape]));
  const slots = appendOptimizer(
    g,
    opts.optimizer,
    lr,
    trainable.map((p) => ({
      name: p,
      value: fg.paramInputs[p]!,
      grad: grads[p]!,
      shape: shapeOf.get(p)!,
      out: `${fg.paramInputs[p]!}.next`,
    })),
  );
  const inputs: TrainStepInputs = { x: fg.input, labels, lr, params: {}, velocities: {}, optimizer: slots, stats: {} };
  const outputs: TrainStepOutputs = { loss, correct, params: {}, velocities: {}, stats: {} };
  for (const p of trainable) {
    inputs.params[p] = fg.paramInputs[p]!;
    outputs.params[p] = g.output(`${fg.paramInputs[p]!}.next`, 'float32', shapeOf.get(p)!);
  }
  const byKey = new Map(slots.map((s) => [s.key, s]));
  for (const s of slots) g.output(s.output, 'float32', s.shape);
  for (const p of trainable) {
    const v = byKey.get(velocityKey(p));
    if (!v) continue;
    inputs.velocities[p] = v.input;
    outputs.velocities[p] = v.output;
  }
  for (const [p, next] of Object.entries(statUpdates)) {
    inputs.stats[p] = fg.paramInputs[p]!;
    outputs.stats[p] = g.output(next, 'float32', shapeOf.get(p)!);
  }
  g.output(outputs.loss, 'float32', []);
  g.output(outputs.correct, 'float32', []);
  const sections = nodeSections(g, forwardNodes, optimizerFrom);
  if (source === 'gather') inputs.gather = gatherBatch(g, model, opts.batch, fg.input, labels, lr, opts.augment);
  else if (opts.augment)
    throw new ModelError(
      `training graph of ${model.name}: augmentation in the graph needs batchSource 'gather'. Hint: a host-fed step gets augmented batches from fillBatch.`,
    );
  const bytes = g.toModelBytes({
    docString: `expbench training step of ${model.name}: batch ${opts.batch}${source === 'gather' ? ' gathered on the device' : ''}${opts.augment ? ' and augmented there' : ''}, ${describeOptimizer(opts.optimizer)}${opts.labelSmoothing ? `, label smoothing ${opts.labelSmoothing}` : ''}`,
  });
  return { bytes, inputs, outputs, graph: g, labelType, sections };
}

/**
 * Turns the `x`, `labels` and `lr` inputs of a finished training step into values gathered from the
 * whole split and the epoch's rate table: `rows = order[step]`, `x = data[rows]`,
 * `labels = labelsAll[rows]`, `lr = lrs[step]`, plus `step + 1` as an output. Done after differentiation, so the backward pass is the one the `inputs` step has; the nodes
 * go first, keeping the node list topologically sorted. Gather and int32 Add run on the WebGPU EP.
 */
function gatherBatch(
  g: OnnxGraph,
  model: ModelGraph,
  batch: number,
  x: string,
  labels: string,
  lr: string,
  augment?: GatherAugment,
): TrainStepGather {
  for (const name of [x, labels, lr]) {
    const i = g.inputs.findIndex((v) => v.name === name);
    if (i < 0)
      throw new ModelError(
        `training graph of ${model.name}: ${name} is not a graph input. Hint: the batch is gathered in place of the x and labels inputs.`,
      );
    g.inputs.splice(i, 1);
  }
  const data = g.input('data', 'float32', ['examples', ...model.input]);
  const labelsAll = g.input('labelsAll', 'int32', ['examples']);
  const order = g.input('order', 'int32', ['steps', batch]);
  const step = g.input('step', 'int32', []);
  const lrs = g.input('lrs', 'float32', ['steps']);
  const one = g.constant(g.fresh('one'), { type: 'int32', dims: [], data: Int32Array.of(1) });
  const rows = g.fresh('rows');
  const stepNext = 'step.next';
  const nodes = g.nodes.splice(0);
  g.node('Gather', [order, step], [rows], { axis: 0 });
  let tables: TrainStepGather['augment'];
  if (augment) {
    tables = {
      dx: g.input('augDx', 'int32', ['steps', batch]),
      dy: g.input('augDy', 'int32', ['steps', batch]),
      flip: g.input('augFlip', 'int32', ['steps', batch]),
    };
    const row = (t: string) => g.op('Gather', [t, step], { axis: 0 });
    appendAugment(g, {
      input: g.op('Gather', [data, rows], { axis: 0 }),
      output: x,
      batch,
      shape: model.input as [number, number, number],
      padding: augment.padding,
      padValues: augment.padValues,
      dx: row(tables.dx),
      dy: row(tables.dy),
      flip: row(tables.flip),
    });
  } else g.node('Gather', [data, rows], [x], { axis: 0 });
  g.node('Gather', [labelsAll, rows], [labels], { axis: 0 });
  g.node('Gather', [lrs, step], [lr], { axis: 0 });
  g.node('Add', [step, one], [stepNext]);
  g.nodes.push(...nodes);
  g.output(stepNext, 'int32', []);
  return { data, labelsAll, order, step, stepNext, lrs, ...(tables ? { augment: tables } : {}) };
}

/**
 * Forward + loss + gradients only (no update): outputs the loss, the correct count, the logits, the
 * gradient of every trainable parameter (`<param>.grad`) and the updated running statistics. For
 * gradient checks and cross-backend gradient parity.
 */
export function buildGradientGraph(model: ModelGraph, opts: TrainGraphOptions): GradientGraph {
  const { fg, g, labels, loss, correct, grads, trainable, statUpdates, labelType } = buildCore(model, opts);
  const shapeOf = new Map(model.params.map((p) => [p.name, p.shape]));
  const outGrads: Record<string, string> = {};
  for (const p of trainable) {
    const name = `${p}.grad`;
    g.node('Identity', [grads[p]!], [name]);
    outGrads[p] = g.output(name, 'float32', shapeOf.get(p)!);
  }
  const stats: Record<string, string> = {};
  for (const [p, next] of Object.entries(statUpdates)) stats[p] = g.output(next, 'float32', shapeOf.get(p)!);
  g.output(loss, 'float32', []);
  g.output(correct, 'float32', []);
  g.output(fg.logits, 'float32', [opts.batch, model.numClasses]);
  const params: Record<string, string> = {};
  for (const p of model.params) params[p.name] = fg.paramInputs[p.name]!;
  return {
    bytes: g.toModelBytes(),
    graph: g,
    inputs: { x: fg.input, labels, params },
    outputs: { loss, correct, logits: fg.logits, grads: outGrads, stats },
    labelType,
  };
}
