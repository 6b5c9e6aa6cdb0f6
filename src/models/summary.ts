/**
 * A model as a table: per node its operator, inputs, output shape, parameters and multiply-adds, with
 * totals (what `expbench model` prints). Multiply-adds count the convolutions and dense layers of one
 * example's forward pass, the figure papers quote; element-wise nodes (batch norm, activations, adds,
 * pools) are left out.
 */
import { nodeMultiplyAdds } from './cost.ts';
import { GRAPH_INPUT } from './ir.ts';
import type { GraphNode, ModelGraph } from './ir.ts';

export interface SummaryRow {
  node: string;
  op: string;
  inputs: string[];
  outShape: number[];
  /** Trainable parameters. */
  params: number;
  multiplyAdds: number;
}

export interface ModelSummary {
  name: string;
  input: number[];
  numClasses: number;
  rows: SummaryRow[];
  params: number;
  multiplyAdds: number;
}

function opOf(node: GraphNode): string {
  const s = node.spec;
  switch (s.kind) {
    case 'conv': {
      const extra = [
        s.stride !== 1 ? `/${s.stride}` : '',
        s.groups !== 1 ? ` g${s.groups}` : '',
        s.dilation !== 1 ? ` d${s.dilation}` : '',
      ].join('');
      return `conv ${s.kernel}×${s.kernel}${extra}`;
    }
    case 'maxpool':
    case 'avgpool':
      return `${s.kind} ${s.size}×${s.size}/${s.stride}`;
    case 'dense':
      return `dense ${s.units}`;
    case 'dropout':
      return `dropout ${s.rate}`;
    default:
      return s.kind;
  }
}

export function summarizeModel(model: ModelGraph): ModelSummary {
  const rows = model.nodes.map((n, i) => ({
    node: n.name,
    op: opOf(n),
    // A node reading the one before it (or the image, first) needs no input column entry.
    inputs: n.inputs.length === 1 && n.inputs[0] === (i === 0 ? GRAPH_INPUT : model.nodes[i - 1]!.name) ? [] : n.inputs,
    outShape: n.outShape,
    params: n.params.filter((p) => p.trainable).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
    multiplyAdds: nodeMultiplyAdds(n),
  }));
  return {
    name: model.name,
    input: model.input,
    numClasses: model.numClasses,
    rows,
    params: model.paramCount,
    multiplyAdds: rows.reduce((a, r) => a + r.multiplyAdds, 0),
  };
}

/** The summary as an aligned text table with a totals line. */
export function formatSummary(s: ModelSummary): string {
  const num = (n: number) => n.toLocaleString('en-US');
  const head = ['node', 'op', 'reads', 'output', 'params', 'mult-adds'];
  const body = s.rows.map((r) => [
    r.node,
    r.op,
    r.inputs.join(', '),
    r.outShape.join('×'),
    r.params ? num(r.params) : '',
    r.multiplyAdds ? num(r.multiplyAdds) : '',
  ]);
  const total = ['total', '', '', '', num(s.params), num(s.multiplyAdds)];
  const all = [head, ...body, total];
  const width = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const right = new Set([4, 5]);
  const line = (r: string[]) =>
    r
      .map((v, c) => (right.has(c) ? v.padStart(width[c]!) : v.padEnd(width[c]!)))
      .join('  ')
      .trimEnd();
  const rule = width.map((w) => '-'.repeat(w)).join('  ');
  return [
    `${s.name}: input ${s.input.join('×')}, ${s.numClasses} classes`,
    line(head),
    rule,
    ...body.map(line),
    rule,
    line(total),
    `${num(s.params)} trainable parameters, ${num(s.multiplyAdds)} multiply-adds per example (conv and dense)`,
  ].join('\n');
}
