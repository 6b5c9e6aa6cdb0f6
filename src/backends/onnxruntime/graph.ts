/**
 * A small, typed builder for ONNX graphs, shared by the forward-graph builder (model IR → ONNX), the
 * gradient builder (reverse-mode differentiation over the node list) and the optimizer update.
 *
 * Nodes are kept as plain data so passes can read and extend the graph before it is serialised; the
 * protobuf encoding (the ONNX schema from the `onnx-proto` package, encoded by protobufjs) happens
 * only in {@link OnnxGraph.toModelBytes}.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX element types expbench emits. */
export type ElemType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8';

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A dimension: a number, or a symbolic name such as `"N"` for the batch. */
export type Dim = number | string;

/** An attribute value; arrays of numbers become INTS unless every element is a non-integer (FLOATS). */
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number } | OnnxTensorInit;

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  name: string;
  /** ONNX domain; '' is the default operator set. */
  domain: string;
}

export interface ValueInfo {
  name: string;
  type: ElemType;
  shape: Dim[];
}

/** A constant tensor stored in the graph (weights, shape constants). */
export interface OnnxTensorInit {
  name?: string;
  type: ElemType;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | boolean[];
}

/** Default opset and IR version: ONNX Runtime 1.30 accepts IR ≤ 13; opset 17 has every op we emit. */
export const DEFAULT_OPSET = 17;
export const DEFAULT_IR_VERSION = 8;

export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers = new Map<string, OnnxTensorInit>();
  private counter = 0;

  constructor(
    readonly name: string,
    readonly opset = DEFAULT_OPSET,
  ) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}__${this.counter++}`;
  }

  input(name: string, type: ElemType, shape: Dim[]): string {
    this.inputs.push({ name, type, shape });
    return name;
  }

  output(name: string, type: ElemType, shape: Dim[]): string {
    this.outputs.push({ name, type, shape });
    return name;
  }

  /** Adds a constant; returns its name. */
  constant(name: string, t: Omit<OnnxTensorInit, 'name'>): string {
    if (this.initializers.has(name)) throw new Error(`initializer ${name} defined twice`);
    this.initializers.set(name, { ...t, name });
    return name;
  }

  /** A float32 scalar or vector constant with a fresh name. */
  floats(values: number[] | Float32Array, dims: number[] = [values.length], prefix = 'const'): string {
    return this.constant(this.fresh(prefix), { type: 'float32', dims, data: Float32Array.from(values) });
  }

  /** An int64 vector constant with a fresh name (shapes, axes). */
  ints(values: number[], dims: number[] = [values.length], prefix = 'const'): string {
    return this.constant(this.fresh(prefix), { type: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
  }

  /**
   * Appends a node. `outputs` may be a number (that many fresh names) or explicit names.
   * Returns the output names.
   */
  node(
    op: string,
    inputs: string[],
    outputs: number | string[] = 1,
    attrs: Record<string, AttrValue> = {},
    domain = '',
  ): string[] {
    const outs =
      typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(op.toLowerCase())) : outputs;
    this.nodes.push({ op, inputs, outputs: outs, attrs, name: this.fresh(`n_${op}`), domain });
    return outs;
  }

  /** Single-output convenience. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    return this.node(op, inputs, outName ? [outName] : 1, attrs)[0]!;
  }

  /** Serialises to an ONNX ModelProto. */
  toModelBytes(opts: { irVersion?: number; producer?: string; docString?: string } = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: opts.irVersion ?? DEFAULT_IR_VERSION,
      producerName: opts.producer ?? 'expbench',
      producerVersion: '1',
      docString: opts.docString ?? '',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: this.opset })],
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes.map((n) =>
          onnx.NodeProto.create({
            opType: n.op,
            input: n.inputs,
            output: n.outputs,
            name: n.name,
            domain: n.domain,
            attribute: Object.entries(n.attrs).map(([k, v]) => encodeAttr(k, v)),
          }),
        ),
        initializer: [...this.initializers.values()].map(encodeTensor),
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function encodeValueInfo(v: ValueInfo) {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEM[v.type],
        shape: onnx.TensorShapeProto.create({
          dim: v.shape.map((d) =>
            typeof d === 'number'
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

/** Encodes a tensor as raw little-endian bytes (the compact form ONNX Runtime reads fastest). */
export function encodeTensor(t: OnnxTensorInit) {
  let raw: Uint8Array;
  if (t.type === 'bool') {
    raw = Uint8Array.from(t.data as boolean[], (b) => (b ? 1 : 0));
  } else {
    const d = t.data as Float32Array | BigInt64Array | Int32Array | Uint8Array;
    raw = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  return onnx.TensorProto.create({ name: t.name ?? '', dims: t.dims, dataType: ELEM[t.type], rawData: raw });
}

function encodeAttr(name: string, v: AttrValue) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string')
    return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (typeof v === 'number') {
    return Number.isInteger(v)
      ? onnx.AttributeProto.create({ name, type: A.INT, i: v })
      : onnx.AttributeProto.create({ name, type: A.FLOAT, f: v });
  }
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: A.INTS, ints: v });
  if ('floats' in v) return onnx.AttributeProto.create({ name, type: A.FLOATS, floats: v.floats });
  if ('float' in v) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: v.float });
  return onnx.AttributeProto.create({ name, type: A.TENSOR, t: encodeTensor(v) });
}
