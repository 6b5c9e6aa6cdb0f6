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
 * int32 counter, a cast the EP has).
 */
import type { ModelGraph, Weights } from '../../models/ir.ts';
import { buildForwardGraph, INPUT_NAME } from './forward.ts';

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
}

export interface DeviceInferGraph {
  bytes: Uint8Array;
  names: DeviceInferNames;
}

/** The device inference step of `model` with `weights` as constants; the batch size is symbolic. */
export function buildDeviceInferGraph(model: ModelGraph, weights: Weights): DeviceInferGraph {
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
  const bytes = g.toModelBytes({
    docString: `expbench ${model.name}: device inference step (batch gathered from the split on the device, class ids accumulated there)`,
  });
  return { bytes, names };
}

/** ONNX TensorProto element types used by the casts above. */
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
