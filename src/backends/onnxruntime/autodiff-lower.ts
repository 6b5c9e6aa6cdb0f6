/**
 * Lowerings the gradient pass applies before differentiating: operators that ORT's WebGPU EP lacks in
 * the form training needs are replaced by primitives, and each becomes one {@link Composite} with a
 * closed-form gradient.
 */
import { attrInt, inferNode } from './autodiff-shapes.ts';
import type { ValueType } from './autodiff-shapes.ts';
import { GradContext, normAxis, numel } from './grad-context.ts';
import type { Composite } from './grad-context.ts';
import type { OnnxGraph } from './graph.ts';

/**
 * Replaces every `BatchNormalization` with `training_mode=1` by primitives computing batch statistics,
 * the normalised output and the updated running statistics (keeping the node's output names), and
 * returns the composites so {@link appendGradients} can differentiate each as one unit.
 *
 * Why lower at all: ORT's WebGPU EP has no training-mode batch norm, and the lowered form exposes the
 * centred input and inverse deviation the closed-form gradient reuses.
 */
export function lowerTrainingBatchNorm(graph: OnnxGraph, shapes: Map<string, ValueType>): Composite[] {
  const composites: Composite[] = [];
  for (let idx = 0; idx < graph.nodes.length; idx++) {
    const bn = graph.nodes[idx]!;
    if (bn.op !== 'BatchNormalization' || attrInt(bn, 'training_mode', 0) !== 1) continue;
    const ctx = new GradContext(graph, shapes);
    const start = graph.nodes.length;
    const [x, gamma, beta, runMean, runVar] = bn.inputs as [string, string, string, string, string];
    const eps = attrInt(bn, 'epsilon', 1e-5);
    const momentum = attrInt(bn, 'momentum', 0.9);
    const xs = ctx.shape(x);
    const C = xs[1]!;
    const axes = [0, ...xs.slice(2).map((_, i) => i + 2)];
    const count = numel(axes.map((a) => xs[a]!));
    const bcast = [1, C, ...xs.slice(2).map(() => 1)];
    const mean = ctx.op('ReduceMean', [x], { axes, keepdims: 1 });
    const xc = ctx.op('Sub', [x, mean]);
    const variance = ctx.op('ReduceMean', [ctx.mul(xc, xc)], { axes, keepdims: 1 });
    const inv = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.scalar(eps)])])]);
    const scale = ctx.mul(inv, ctx.reshape(gamma, bcast));
    const y = bn.outputs[0]!;
    graph.node('Add', [ctx.mul(xc, scale), ctx.reshape(beta, bcast)], [y]);
    inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    const stat = (running: string, batch: string, outName: string | undefined) => {
      if (!outName) return;
      const upd = ctx.op('Mul', [ctx.reshape(batch, [C]), ctx.scalar(1 - momentum)]);
      graph.node('Add', [ctx.mul(running, ctx.scalar(momentum)), upd], [outName]);
      inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    };
    stat(runMean, mean, bn.outputs[1]);
    stat(runVar, variance, bn.outputs[2]);
    const added = graph.nodes.splice(start);
    graph.nodes.splice(idx, 1, ...added);
    idx += added.length - 1;
    const outputs = bn.outputs.filter((o) => o !== '');
    composites.push({
      members: new Set(added),
      unit: {
        op: 'BatchNormalization',
        where: `BatchNormalization node ${bn.name}`,
        inputs: [x, gamma, beta],
        outputs,
        nonDiffOutputs: new Set(outputs.map((_, i) => i).filter((i) => i > 0)),
        rule: (c, dOut, want) => {
          const dy = dOut[0]!;
          const s1 = c.op('ReduceMean', [dy], { axes, keepdims: 1 });
          const s2 = c.op('ReduceMean', [c.mul(dy, xc)], { axes, keepdims: 1 });
          let dx: string | undefined;
          if (want[0]) {
            const k = c.mul(c.mul(inv, inv), s2);
            const centred = c.op('Sub', [c.op('Sub', [dy, c.mul(xc, k)]), s1]);
            dx = c.mul(centred, scale);
          }
          const dgamma = want[1] ? c.reshape(c.mul(c.mul(s2, inv), c.scalar(count)), [C]) : undefined;
          const dbeta = want[2] ? c.reshape(c.mul(s1, c.scalar(count)), [C]) : undefined;
          return [dx, dgamma, dbeta];
        },
      },
    });
  }
  return composites;
}

/**
 * Replaces every `LogSoftmax` by ReduceMax, Sub, Exp, ReduceSum, Log (keeping its output name) and
 * returns the composites, differentiated with the closed form `dX = dY − softmax · Σ dY`.
 *
 * Why: ORT's WebGPU EP has no LogSoftmax kernel, and a CPU fallback in the middle of the training
 * step would cost a device round trip every step. The max shift keeps the result finite for any
 * logits, as LogSoftmax itself does.
 */
export function lowerLogSoftmax(graph: OnnxGraph, shapes: Map<string, ValueType>): Composite[] {
  const composites: Composite[] = [];
  for (let idx = 0; idx < graph.nodes.length; idx++) {
    const node = graph.nodes[idx]!;
    if (node.op !== 'LogSoftmax') continue;
    const ctx = new GradContext(graph, shapes);
    const start = graph.nodes.length;
    const x = node.inputs[0]!;
    const y = node.outputs[0]!;
    const axis = normAxis(attrInt(node, 'axis', -1), ctx.shape(x).length);
    const shifted = ctx.op('Sub', [x, ctx.op('ReduceMax', [x], { axes: [axis], keepdims: 1 })]);
    const lse = ctx.op('Log', [ctx.op('ReduceSum', [ctx.op('Exp', [shifted]), ctx.ints([axis])], { keepdims: 1 })]);
    graph.node('Sub', [shifted, lse], [y]);
    inferNode(graph, graph.nodes[graph.nodes.length - 1]!, shapes);
    const added = graph.nodes.splice(start);
    graph.nodes.splice(idx, 1, ...added);
    idx += added.length - 1;
    composites.push({
      members: new Set(added),
      unit: {
        op: 'LogSoftmax',
        where: `LogSoftmax node ${node.name}`,
        inputs: [x],
        outputs: [y],
        nonDiffOutputs: new Set(),
        rule: (c, dOut) => {
          const dy = dOut[0]!;
          const total = c.op('ReduceSum', [dy, c.ints([axis])], { keepdims: 1 });
          return [c.op('Sub', [dy, c.mul(c.op('Exp', [y]), total)])];
        },
      },
    });
  }
  return composites;
}

/** Gives every training-mode Dropout node a mask output, which its gradient needs. */
export function ensureDropoutMasks(graph: OnnxGraph, shapes: Map<string, ValueType>): void {
  for (const n of graph.nodes) {
    if (n.op !== 'Dropout' || (n.outputs[1] ?? '') !== '') continue;
    n.outputs[1] = graph.fresh('dropout_mask');
    shapes.set(n.outputs[1], { type: 'bool', shape: shapes.get(n.outputs[0]!)!.shape });
  }
}
