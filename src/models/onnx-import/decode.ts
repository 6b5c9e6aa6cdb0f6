/**
 * ONNX file → plain data: the model's graph (nodes, attributes, inputs, outputs) and its initializers
 * as typed arrays, decoded with the ONNX schema from `onnx-proto` (the one `src/backends/onnxruntime/
 * graph.ts` writes with). Nothing here knows the IR; `convert.ts` maps the result.
 *
 * Never crashes on bad bytes: a file that is not ONNX, is cut short, or points at external weights that
 * are missing or short is an {@link OnnxImportError} that says which and what to do.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { OnnxImportError } from './errors.ts';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** A constant tensor of the file: floats as float32, every integer and bool type as JS numbers. */
export type OnnxConst =
  | { name: string; kind: 'float'; dims: number[]; data: Float32Array }
  | { name: string; kind: 'int'; dims: number[]; data: number[] };

/** A decoded attribute; `other` stands for kinds expbench never reads (graphs, sparse tensors). */
export type OnnxAttr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxConst }
  | { type: 'other'; value: string };

export interface OnnxNodeData {
  index: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

/** A graph input or output: a dimension is a number, a symbolic name, or null when unknown. */
export interface OnnxValueInfo {
  name: string;
  /** ONNX element type name (`float32`, `int64`, ...). */
  elemType: string;
  dims: Array<number | string | null> | null;
}

export interface OnnxModelData {
  file: string;
  irVersion: number;
  /** Operator set version per domain ('' is the default domain). */
  opsets: Record<string, number>;
  producer: string;
  graphName: string;
  /** Graph inputs that are not initializers (the model's real inputs). */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNodeData[];
  initializers: Map<string, OnnxConst>;
}

/** A protobuf int64 arrives as a `Long` (long.js) or a number. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

const ELEM_NAMES: Record<number, string> = {
  [DT.FLOAT]: 'float32',
  [DT.UINT8]: 'uint8',
  [DT.INT8]: 'int8',
  [DT.UINT16]: 'uint16',
  [DT.INT16]: 'int16',
  [DT.INT32]: 'int32',
  [DT.INT64]: 'int64',
  [DT.STRING]: 'string',
  [DT.BOOL]: 'bool',
  [DT.FLOAT16]: 'float16',
  [DT.DOUBLE]: 'float64',
  [DT.UINT32]: 'uint32',
  [DT.UINT64]: 'uint64',
  [DT.BFLOAT16]: 'bfloat16',
};

/** Element type name of an ONNX data type number. */
export function elemTypeName(t: number): string {
  return ELEM_NAMES[t] ?? `type ${t}`;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Context for decoding tensors: the file (for messages) and how to read external data. */
interface TensorContext {
  file: string;
  external: (location: string) => Uint8Array;
}

function tensorBytes(t: OnnxTypes.ITensorProto, ctx: TensorContext, what: string): Uint8Array | null {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = kv.location;
    if (!location)
      throw new OnnxImportError('not-onnx', ctx.file, `${what} is stored externally but names no file`, {
        hint: 'the file is damaged; export the model again',
      });
    const bytes = ctx.external(location);
    const offset = kv.offset ? Number(kv.offset) : 0;
    const length = kv.length ? Number(kv.length) : bytes.length - offset;
    if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
      throw new OnnxImportError(
        'truncated',
        ctx.file,
        `${what} is stored in ${location} at bytes ${offset}–${offset + length}, but that file has ${bytes.length} bytes`,
        { hint: `the external data file is cut short; copy ${location} again together with the .onnx file` },
      );
    }
    return bytes.subarray(offset, offset + length);
  }
  const raw = t.rawData;
  return raw && raw.length > 0 ? raw : null;
}

/** Decodes one TensorProto (an initializer or a Constant's value). */
function decodeTensor(t: OnnxTypes.ITensorProto, ctx: TensorContext, what: string): OnnxConst {
  const name = t.name ?? '';
  const dims = (t.dims ?? []).map(toNumber);
  const size = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const raw = tensorBytes(t, ctx, what);
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const width: Record<number, number> = {
    [DT.FLOAT]: 4,
    [DT.DOUBLE]: 8,
    [DT.FLOAT16]: 2,
    [DT.INT64]: 8,
    [DT.INT32]: 4,
    [DT.INT16]: 2,
    [DT.UINT16]: 2,
    [DT.INT8]: 1,
    [DT.UINT8]: 1,
    [DT.BOOL]: 1,
  };
  const w = width[type];
  if (w === undefined) {
    throw new OnnxImportError(
      'unsupported-model',
      ctx.file,
      `${what} has element type ${elemTypeName(type)}; expbench reads float32, float16, float64 and integer tensors`,
      { hint: 'export the model with float32 weights' },
    );
  }
  if (view && view.byteLength !== size * w) {
    throw new OnnxImportError(
      'truncated',
      ctx.file,
      `${what} has shape [${dims.join(', ')}] (${size * w} bytes) but holds ${view.byteLength} bytes`,
      { hint: 'the file is damaged or cut short; export or copy it again' },
    );
  }
  const isFloat = type === DT.FLOAT || type === DT.DOUBLE || type === DT.FLOAT16;
  if (isFloat) {
    const data = new Float32Array(size);
    if (view) {
      for (let i = 0; i < size; i++) {
        data[i] =
          type === DT.FLOAT
            ? view.getFloat32(i * 4, true)
            : type === DT.DOUBLE
              ? view.getFloat64(i * 8, true)
              : halfToFloat(view.getUint16(i * 2, true));
      }
    } else {
      // Typed fields: float_data (float32), double_data, int32_data (float16 bits).
      const src: ArrayLike<number> =
        type === DT.FLOAT
          ? (t.floatData ?? [])
          : type === DT.DOUBLE
            ? (t.doubleData ?? [])
            : (t.int32Data ?? []).map(halfToFloat);
      if (src.length !== size) return sizeMismatch(ctx, what, dims, src.length);
      data.set(src);
    }
    return { name, kind: 'float', dims, data };
  }
  const data: number[] = new Array(size);
  if (view) {
    for (let i = 0; i < size; i++) {
      data[i] =
        type === DT.INT64
          ? Number(view.getBigInt64(i * 8, true))
          : type === DT.INT32
            ? view.getInt32(i * 4, true)
            : type === DT.INT16
              ? view.getInt16(i * 2, true)
              : type === DT.UINT16
                ? view.getUint16(i * 2, true)
                : type === DT.INT8
                  ? view.getInt8(i)
                  : view.getUint8(i);
    }
  } else {
    const src = (type === DT.INT64 ? (t.int64Data ?? []) : (t.int32Data ?? [])).map(toNumber);
    if (src.length !== size) return sizeMismatch(ctx, what, dims, src.length);
    for (let i = 0; i < size; i++) data[i] = src[i]!;
  }
  return { name, kind: 'int', dims, data };
}

function sizeMismatch(ctx: TensorContext, what: string, dims: number[], got: number): never {
  throw new OnnxImportError('truncated', ctx.file, `${what} has shape [${dims.join(', ')}] but holds ${got} values`, {
    hint: 'the file is damaged or cut short; export or copy it again',
  });
}

/**
 * The shortest decimal that is the same float32 (attributes are stored as float32, so an epsilon of
 * 1e-5 arrives as 9.99999974e-6): the value the exporter was given, and the same number for every backend.
 */
function shortestFloat32(v: number): number {
  const f = Math.fround(v);
  for (let digits = 1; digits <= 9; digits++) {
    const d = Number(f.toPrecision(digits));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

function decodeAttr(a: OnnxTypes.IAttributeProto, ctx: TensorContext, what: string): OnnxAttr {
  switch (a.type) {
    case AT.INT:
      return { type: 'int', value: toNumber(a.i) };
    case AT.FLOAT:
      return { type: 'float', value: shortestFloat32(a.f ?? 0) };
    case AT.INTS:
      return { type: 'ints', value: (a.ints ?? []).map(toNumber) };
    case AT.FLOATS:
      return { type: 'floats', value: (a.floats ?? []).map(shortestFloat32) };
    case AT.STRING:
      return { type: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case AT.TENSOR:
      return { type: 'tensor', value: decodeTensor(a.t ?? {}, ctx, `${what} attribute ${a.name}`) };
    default:
      return { type: 'other', value: String(AT[a.type ?? 0] ?? a.type) };
  }
}

function valueInfo(v: OnnxTypes.IValueInfoProto): OnnxValueInfo {
  const tt = v.type?.tensorType;
  return {
    name: v.name ?? '',
    elemType: tt ? elemTypeName(tt.elemType ?? 0) : 'non-tensor',
    dims: tt?.shape
      ? (tt.shape.dim ?? []).map((d) =>
          d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : null,
        )
      : null,
  };
}

/** ModelProto's field numbers and their protobuf wire types (0 varint, 2 length-delimited). */
const MODEL_FIELDS: Record<number, number> = { 1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2 };

/**
 * Walks the top level of the bytes as a ModelProto without decoding the fields: `foreign` when a field
 * is not one of ModelProto's (the bytes are something else), `short` when a field runs past the end
 * (the file is cut short), `ok` otherwise. This tells the two failures apart before protobufjs, which
 * throws the same RangeError for both, sees the bytes.
 */
function scanModelFields(b: Uint8Array): 'ok' | 'foreign' | 'short' {
  let p = 0;
  const varint = (): number | null => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (p >= b.length) return null;
      const byte = b[p++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
    }
    return Number.NaN;
  };
  while (p < b.length) {
    const tag = varint();
    if (tag === null) return 'short';
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (MODEL_FIELDS[field] !== wire) return 'foreign';
    const v = varint();
    if (v === null) return 'short';
    if (Number.isNaN(v)) return 'foreign';
    if (wire === 2) {
      if (p + v > b.length) return 'short';
      p += v;
    }
  }
  return 'ok';
}

/**
 * Decodes ONNX model bytes. `file` names the model in messages and is where external data is looked
 * up from (relative locations are relative to its folder).
 * @throws OnnxImportError for bytes that are not an ONNX model or are cut short.
 */
export function decodeOnnx(bytes: Uint8Array, file: string): OnnxModelData {
  const notOnnx = (detail: string, cause?: unknown): never => {
    throw new OnnxImportError('not-onnx', file, detail, {
      hint: 'give the path of a model saved by torch.onnx.export, tf2onnx or onnx.save (a .onnx file)',
      cause,
    });
  };
  if (bytes.length === 0) notOnnx('the file is empty, not an ONNX model');
  const scan = scanModelFields(bytes);
  if (scan === 'foreign') notOnnx('the file is not an ONNX model (its bytes are not a protobuf ModelProto)');
  if (scan === 'short') {
    throw new OnnxImportError('truncated', file, `the file ends in the middle of the model (${bytes.length} bytes)`, {
      hint: 'the file is cut short (an interrupted download or copy); fetch or export it again',
    });
  }
  let m: OnnxTypes.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    return notOnnx(`the file is not a valid ONNX model (protobuf decoding failed inside it: ${msg})`, e);
  }
  const irVersion = toNumber(m.irVersion);
  const g = m.graph;
  if (!(irVersion > 0)) return notOnnx('the file is not an ONNX model (no IR version)');
  if (!g) {
    throw new OnnxImportError('truncated', file, `the file has an ONNX header but no graph (${bytes.length} bytes)`, {
      hint: 'the file is cut short (an interrupted download or copy); fetch or export it again',
    });
  }
  const opsets: Record<string, number> = {};
  for (const o of m.opsetImport ?? []) opsets[o.domain ?? ''] = toNumber(o.version);
  if (Object.keys(opsets).length === 0) {
    throw new OnnxImportError('truncated', file, 'the model declares no operator set; the file may be cut short', {
      hint: 'export or copy the file again',
    });
  }
  const externalCache = new Map<string, Uint8Array>();
  const ctx: TensorContext = {
    file,
    external: (location) => {
      const cached = externalCache.get(location);
      if (cached) return cached;
      const path = isAbsolute(location) ? location : resolve(dirname(file), location);
      let data: Uint8Array;
      try {
        data = readFileSync(path);
      } catch (e) {
        throw new OnnxImportError('read', file, `its weights are in ${location}, which cannot be read (${path})`, {
          hint: `keep ${location} beside the .onnx file, or export with external_data=False`,
          cause: e,
        });
      }
      externalCache.set(location, data);
      return data;
    },
  };
  const initializers = new Map<string, OnnxConst>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? '', decodeTensor(t, ctx, `initializer ${t.name}`));
  const nodes: OnnxNodeData[] = (g.node ?? []).map((n, index) => {
    const what = `node ${index} ${JSON.stringify(n.name ?? '')} (${n.opType})`;
    const attrs: Record<string, OnnxAttr> = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = decodeAttr(a, ctx, what);
    return {
      index,
      name: n.name ?? '',
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    };
  });
  return {
    file,
    irVersion,
    opsets,
    producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
    graphName: g.name ?? '',
    inputs: (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueInfo),
    outputs: (g.output ?? []).map(valueInfo),
    nodes,
    initializers,
  };
}

/** Reads and decodes an ONNX file (see {@link decodeOnnx}). */
export function readOnnxFile(file: string): OnnxModelData {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new OnnxImportError('read', file, `cannot read the ONNX model: ${why}`, {
      hint:
        code === 'ENOENT'
          ? 'check model.onnx; a relative path is relative to the experiment file'
          : 'check the path and its permissions',
      cause: e,
    });
  }
  return decodeOnnx(bytes, file);
}
