/**
 * The device-resident inference step: one ONNX graph that gathers its batch from the test split held
 * on the device, runs the forward pass (weights as constants, as the host-fed inference session holds
 * them) and writes the batch's class ids into an accumulator of every batch's ids, returning the next
 * batch's counter. Every input of a run is then a device tensor (the previous run's outputs, or the
 * split, the row table and the zeros uploaded once), and only the accumulated ids are read back, once
 * per inference pass.
 *
 * Operators are chosen for ONNX Runtime 1.30's WebGPU EP, which has no int64 kernels besides a few
 * producers: ArgMax (int64 only) and a Cast from int64 would run on the CPU EP, a host round trip per
 * batch. So the class id is computed in float32 as the first index of the row maximum,
 * `K − max_c([l_c = max l]·(K − c))`, which is ArgMax's rule (first index on ties, as `argmaxRows`), and
 * cast to int32; ScatterND puts it into row `step` of the accumulator (its int64 indices cast from the
 * int32 counter, a cast the EP has), writing a new accumulator each run: a device copy of
 * `batches × batch` int32 per batch, 40 KB for CIFAR-10's test split at batch 64.
 */
import type { ModelGraph, Weights } from '../../models/ir.ts';
import { buildForwardGraph, INPUT_NAME } from './forward.ts';
import type { OnnxGraph } from './graph.ts';

/** Graph-value names of the device inference step. */
export interface DeviceInferNames {
  /** `[examples, C, H, W]` float32, normalised: the whole split. */
  data: string;
  /** `[batches, batch]` int32: the examples of each batch, the last padded with valid indices. */
  rows: string;
  /** Scalar int32: the batch (row of `rows`) this run infers. */
  step: string;
  /** `[batches, batch]` int32: the class ids of the batches run so far (zeros before). */
  ids: string;
  /** Output, `[batches, batch]` int32: `ids` with row `step` written. */
  idsNext: string;
  /** Output, scalar int32: `step + 1`. */
  stepNext: string;
  /** With figures: the inputs and output of the running sums. */
  figures?: DeviceFigureNames;
}

/** Test-set figures a pass sums on the device besides the class ids (the metrics' top-k hits and test loss). */
export interface DeviceFigures {
  /** k of each top-k hit count, in the order of the sums. */
  topk: readonly number[];
  /** Whether the summed softmax cross-entropy follows the hit counts. */
  loss: boolean;
}

export interface DeviceFigureNames {
  /** `[examples]` int32: the class of every example. */
  labelsAll: string;
  /** `[batches, batch]` float32: 1 for a real example, 0 for the last batch's padding. */
  valid: string;
  /** `[topk.length + (loss ? 1 : 0)]` float32: the sums so far (zeros before). */
  sums: string;
  /** Output: `sums` plus this batch's. */
  sumsNext: string;
}

export interface DeviceInferGraph {
  bytes: Uint8Array;
  names: DeviceInferNames;
}

/**
 * The device inference step of `model` with `weights` as constants; the batch size is symbolic. With
 * `figures`, it also sums them over the real examples of each batch (see {@link appendFigures}).
 */
export function buildDeviceInferGraph(model: ModelGraph, weights: Weights, figures?: DeviceFigures): DeviceInferGraph {
  const fg = buildForwardGraph(model, {
    weights: 'initializers',
    weightsData: weights,
    batch: 'batch',
    mode: 'inference',
    name: `${model.name}-device-infer`,
  });
  const g = fg.graph;
  // The image input becomes a gathered value; the logits an internal one.
  g.inputs.splice(
    g.inputs.findIndex((v) => v.name === INPUT_NAME),
    1,
  );
  g.outputs.splice(0);
  const names: DeviceInferNames = {
    data: g.input('data', 'float32', ['examples', ...model.input]),
    rows: g.input('rows', 'int32', ['batches', 'batch']),
    step: g.input('step', 'int32', []),
    ids: g.input('ids', 'int32', ['batches', 'batch']),
    idsNext: 'ids.next',
    stepNext: 'step.next',
  };
  const forward = g.nodes.splice(0);
  const rows = g.op('Gather', [names.rows, names.step], { axis: 0 });
  g.node('Gather', [names.data, rows], [fg.input], { axis: 0 });
  g.nodes.push(...forward);

  const K = model.numClasses;
  const max = g.op('ReduceMax', [fg.logits], { axes: [1], keepdims: 1 });
  const atMax = g.op('Cast', [g.op('Equal', [fg.logits, max])], { to: FLOAT });
  const fromEnd = g.floats(
    Array.from({ length: K }, (_, c) => K - c),
    [K],
    'classes_from_end',
  );
  const first = g.op('ReduceMax', [g.op('Mul', [atMax, fromEnd])], { axes: [1], keepdims: 0 });
  // A row without its maximum (NaN logits) would give K: clamped to the last class.
  const id = g.op('Min', [g.op('Sub', [g.floats([K], []), first]), g.floats([K - 1], [])]);
  const ids = g.op('Unsqueeze', [g.op('Cast', [id], { to: INT32 }), g.ints([0])]);
  const at = g.op('Cast', [g.op('Reshape', [names.step, g.ints([1, 1])])], { to: INT64 });
  g.node('ScatterND', [names.ids, at, ids], [names.idsNext]);
  g.node(
    'Add',
    [names.step, g.constant(g.fresh('one'), { type: 'int32', dims: [], data: Int32Array.of(1) })],
    [names.stepNext],
  );
  g.output(names.idsNext, 'int32', ['batches', 'batch']);
  g.output(names.stepNext, 'int32', []);
  if (figures) names.figures = appendFigures(g, fg.logits, max, rows, names.step, figures);
  const bytes = g.toModelBytes({
    docString: `expbench ${model.name}: device inference step (batch gathered from the split on the device, class ids accumulated there)`,
  });
  return { bytes, names };
}

/**
 * Running sums of the figures over the batch's real examples, as `src/stats/classification.ts` defines
 * them on the host: a top-k hit when fewer than k other classes score at least the true class's logit
 * (`topKHits`), and `log Σ exp(l − max) + max − l_label` (`crossEntropySum`), in float32 here.
 */
function appendFigures(
  g: OnnxGraph,
  logits: string,
  max: string,
  rows: string,
  step: string,
  figures: DeviceFigures,
): DeviceFigureNames {
  const names: DeviceFigureNames = {
    labelsAll: g.input('labelsAll', 'int32', ['examples']),
    valid: g.input('valid', 'float32', ['batches', 'batch']),
    sums: g.input('sums', 'float32', [figures.topk.length + (figures.loss ? 1 : 0)]),
    sumsNext: 'sums.next',
  };
  const labels = g.op('Unsqueeze', [g.op('Gather', [names.labelsAll, rows], { axis: 0 }), g.ints([1])]);
  const own = g.op('GatherElements', [logits, labels], { axis: 1 });
  const valid = g.op('Gather', [names.valid, step], { axis: 0 });
  /** Σ over the real examples of a `[batch]` value. */
  const total = (v: string) =>
    g.op('Unsqueeze', [g.op('ReduceSum', [g.op('Mul', [v, valid])], { keepdims: 0 }), g.ints([0])]);
  const parts: string[] = [];
  if (figures.topk.length > 0) {
    // Classes scoring at least the true one's logit, the true class included.
    const atLeast = g.op(
      'ReduceSum',
      [g.op('Cast', [g.op('GreaterOrEqual', [logits, own])], { to: FLOAT }), g.ints([1])],
      {
        keepdims: 0,
      },
    );
    for (const k of figures.topk)
      parts.push(total(g.op('Cast', [g.op('Less', [atLeast, g.floats([k + 1], [])])], { to: FLOAT })));
  }
  if (figures.loss) {
    const z = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [logits, max])]), g.ints([1])], { keepdims: 1 });
    const row = g.op('Sub', [g.op('Add', [g.op('Log', [z]), max]), own]);
    parts.push(total(g.op('Reshape', [row, g.ints([-1])])));
  }
  const batchSums = parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 0 });
  g.node('Add', [names.sums, batchSums], [names.sumsNext]);
  g.output(names.sumsNext, 'float32', [parts.length]);
  return names;
}

/** ONNX TensorProto element types used by the casts above. */
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
