/** A small helper the architecture templates write their graphs with. */
import { GRAPH_INPUT } from './ir.ts';
import type { LayerSpec, NodeDef } from './ir.ts';

type ConvSpec = Extract<LayerSpec, { kind: 'conv' }>;

/** Appends nodes to a list, each reading the previous one unless told otherwise, and names the result. */
export class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  /** The node the next one reads by default. */
  last = GRAPH_INPUT;

  add(name: string, spec: LayerSpec, inputs: string[] = [this.last]): string {
    this.nodes.push({ name, spec, inputs });
    this.last = name;
    return name;
  }

  /** conv (no bias) → batch norm [→ ReLU], reading `from`; returns the last node. */
  convBn(prefix: string, suffix: string, from: string, conv: Omit<ConvSpec, 'kind' | 'bias'>, relu?: string): string {
    this.add(`${prefix}conv${suffix}`, { kind: 'conv', bias: false, ...conv }, [from]);
    const bn = this.add(`${prefix}bn${suffix}`, { kind: 'batchnorm' });
    return relu ? this.add(`${prefix}${relu}`, { kind: 'relu' }) : bn;
  }
}
