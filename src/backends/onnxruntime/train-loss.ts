/**
 * Softmax cross-entropy over integer labels and the batch's correct count, as ONNX nodes appended to a
 * forward graph. The one-hot targets are built with `Equal` against a class-index row rather than
 * `OneHot`, which not every execution provider implements.
 */
import type { OnnxGraph } from './graph.ts';

/** Element type of the label input. */
export type LabelType = 'int32' | 'int64';

/** Names of the values {@link appendSoftmaxCrossEntropy} added. */
export interface LossValues {
  /** Scalar mean cross-entropy over the batch (float32, shape `[]`). */
  loss: string;
  /** Number of examples whose label's logit is the row's maximum (float32 scalar; a tie for the maximum counts as a hit). */
  correct: string;
}

/**
 * Appends `loss = −(1/N) Σ_n log softmax(logits)_{n, labels_n}` (with label smoothing, the cross-entropy
 * against the smoothed target) and the correct count. `logits` is
 * `[batch, numClasses]`; `labels` is a `[batch]` value of `labelType`. `names` gives the two results
 * fixed value names (graph outputs), so no Identity node is needed to expose them.
 */
export function appendSoftmaxCrossEntropy(
  graph: OnnxGraph,
  logits: string,
  labels: string,
  opts: {
    batch: number;
    numClasses: number;
    labelType?: LabelType;
    names?: { loss?: string; correct?: string };
    /** Label smoothing ε: the target is `(1 − ε)·onehot + ε/K` (PyTorch's and tfjs's definition). */
    labelSmoothing?: number;
  },
): LossValues {
  const labelType = opts.labelType ?? 'int32';
  const K = opts.numClasses;
  const classes =
    labelType === 'int32'
      ? graph.constant(graph.fresh('class_ids'), {
          type: 'int32',
          dims: [1, K],
          data: Int32Array.from({ length: K }, (_, i) => i),
        })
      : graph.constant(graph.fresh('class_ids'), {
          type: 'int64',
          dims: [1, K],
          data: BigInt64Array.from({ length: K }, (_, i) => BigInt(i)),
        });
  const column = graph.op('Unsqueeze', [labels, graph.ints([1])]);
  const onehot = graph.op('Cast', [graph.op('Equal', [column, classes])], { to: 1 });
  const logp = graph.op('LogSoftmax', [logits], { axis: 1 });
  const eps = opts.labelSmoothing ?? 0;
  const target =
    eps > 0
      ? graph.op('Add', [graph.op('Mul', [onehot, graph.floats([1 - eps], [])]), graph.floats([eps / K], [])])
      : onehot;
  const picked = graph.op('ReduceSum', [graph.op('Mul', [target, logp]), graph.ints([0, 1])], { keepdims: 0 });
  const loss = graph.op('Mul', [picked, graph.floats([-1 / opts.batch], [])], {}, opts.names?.loss);
  // A hit is a label whose logit is the row's maximum. Not ArgMax: its int64 result has no Cast on
  // ORT's WebGPU EP, so that Cast would run on the CPU EP and copy to the host and back every step.
  // The label's logit is Σ onehot·logits, exact (one term, the rest exact zeros), so Equal is exact.
  const best = graph.op('ReduceMax', [logits], { axes: [1], keepdims: 0 });
  const labelLogit = graph.op('ReduceSum', [graph.op('Mul', [onehot, logits]), graph.ints([1])], { keepdims: 0 });
  const hits = graph.op('Cast', [graph.op('Equal', [labelLogit, best])], { to: 1 });
  const correct = graph.op('ReduceSum', [hits, graph.ints([0])], { keepdims: 0 }, opts.names?.correct);
  return { loss, correct };
}
