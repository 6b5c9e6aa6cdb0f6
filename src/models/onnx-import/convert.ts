/**
 * A decoded ONNX graph ({@link OnnxModelData}) → the model IR's node definitions and the weights, so an
 * exported network is built, inferred and trained by every backend like a shipped architecture.
 *
 * The graph is walked once, in file order, with each ONNX value bound to what it is for expbench:
 * - an activation: the output of an IR node (or the image input), with its rank without the batch;
 * - a float constant (an initializer, a `Constant`): weights, or clip bounds;
 * - an integer vector whose entries may be symbolic: the batch size `N`, or one dimension of an
 *   activation. This is how the shape arithmetic exporters write around a reshape is followed: the
 *   `Shape → Gather → Unsqueeze → Concat → Reshape` chain of `x.view(x.size(0), -1)` becomes
 *   `[N, -1]` and the reshape a flatten.
 *
 * Operators map one to one onto IR nodes (Conv, BatchNormalization, Relu, Clip(0, 6) as relu6,
 * MaxPool, AveragePool, GlobalAveragePool, a spatial ReduceMean, Add, Concat, Flatten, Gemm, MatMul
 * plus a bias Add, Dropout), or to nothing (Identity, Constant, the shape operators, Dropout in
 * inference, tf2onnx's layout Transposes (`nhwc.ts`), a per-channel Mul and Add after a Conv, which are
 * folded into its weights and bias). Whatever depends on shapes not known during the walk (a reshape's
 * target size, an asymmetric padding that must equal SAME_UPPER) is recorded as a check and verified
 * once the IR is resolved. Anything else is an {@link OnnxImportError} naming the ONNX node, its op type and what is
 * supported.
 */
import { ExpbenchError } from '../../errors.ts';
import { GRAPH_INPUT } from '../../models/ir.ts';
import type { LayerSpec, ModelGraph, NodeDef, Shape, Tensor32, Weights } from '../../models/ir.ts';
import { hwcRowsToChw } from '../../models/layout.ts';
import { convPads, resolveGraph } from '../../models/resolve.ts';
import type { OnnxAttr, OnnxConst, OnnxModelData, OnnxNodeData } from './decode.ts';
import { describeNode, OnnxImportError } from './errors.ts';
import type { OnnxNodeRef } from './errors.ts';
import { declaredImageShape, inputIsNhwc, isPerm, NCHW_TO_NHWC, NHWC_TO_NCHW } from './nhwc.ts';

/** ONNX operators the importer maps, for messages and docs. */
export const SUPPORTED_OPS = [
  'Conv',
  'BatchNormalization',
  'Relu',
  'Clip',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'ReduceMean',
  'Add',
  'Concat',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Pad',
  'Gemm',
  'MatMul',
  'Dropout',
  'Identity',
  'Constant',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Slice',
  'Cast',
  'Transpose',
  'Mul',
] as const;

/** Lowest default-domain opset accepted (what the issue promises; older files may work but are not checked). */
export const MIN_OPSET = 13;

/** A symbolic integer: the batch, or dimension `axis` (of the full tensor, batch = 0) of an activation. */
type SymInt = number | { batch: true } | { node: number; axis: number };

type Value =
  /**
   * Output of IR node `node` (an index into the node list), or the image input (`node` = -1). `nhwc`:
   * the same values transposed channels-last (tf2onnx's Transposes, `nhwc.ts`); `hwcFlatten`: flattened
   * from channels-last order by the flatten node of that index, so a dense layer reading it gets its
   * rows reordered. Only the operators that handle these orders accept such values.
   */
  | { t: 'act'; node: number; rank: number; nhwc?: true; hwcFlatten?: number }
  | { t: 'float'; c: Extract<OnnxConst, { kind: 'float' }> }
  | { t: 'ints'; dims: number[]; data: SymInt[] };

/** Attribute value type by attribute kind. */
interface AttrValues {
  int: number;
  float: number;
  ints: number[];
  floats: number[];
  string: string;
  tensor: OnnxConst;
  other: string;
}

/** A node under construction: its IR definition, its weights by role, and the ONNX node it came from. */
interface Pending {
  spec: LayerSpec;
  inputs: number[];
  weights: Record<string, Tensor32>;
  origin: OnnxNodeRef;
  /** A name read from the file (weights' common prefix, or an expbench export's value name). */
  name?: string;
  /** How many ONNX nodes read this node's output (to fold a bias Add into a MatMul). */
  readers: number;
}

/** What the import produced. */
export interface ImportedModel {
  model: ModelGraph;
  weights: Weights;
  /** For each IR node, the ONNX node it was made from. */
  origin: Record<string, OnnxNodeRef>;
  /**
   * What the file declared: input `[C, H, W]` (null where symbolic), class count, producer, opset, and
   * the input's layout (`NHWC` for a channels-last input that the file transposes to NCHW).
   */
  declared: {
    input: Array<number | null>;
    classes: number | null;
    producer: string;
    opset: number;
    inputName: string;
    layout: 'NCHW' | 'NHWC';
  };
}

export interface ImportOptions {
  /** Model name in the IR (default: the file's graph name, else `onnx`). */
  name?: string;
  /** `[C, H, W]` to build the model for, overriding what the file declares (the dataset's geometry). */
  input?: Shape;
}

const PARAM_SUFFIX = /^(.+)\.(weight|bias|gamma|beta|running_mean|running_var|mean|var|scale|weight_bias)$/;

/** Maps a decoded ONNX model onto the IR; see the file header. */
export function importOnnxModel(data: OnnxModelData, opts: ImportOptions = {}): ImportedModel {
  const file = data.file;
  const opset = data.opsets[''] ?? data.opsets['ai.onnx'] ?? 0;
  const fail = (
    reason: 'unsupported-op' | 'unsupported-attribute' | 'unsupported-model' | 'shape',
    detail: string,
    hint: string,
    node?: OnnxNodeRef,
  ): never => {
    throw new OnnxImportError(reason, file, node ? `${describeNode(node)}: ${detail}` : detail, {
      hint,
      ...(node ? { node } : {}),
    });
  };
  if (opset < MIN_OPSET) {
    fail(
      'unsupported-model',
      `the model uses operator set ${opset}; expbench reads opset ${MIN_OPSET} and later`,
      `export again with opset_version=${MIN_OPSET} or higher (torch.onnx.export, tf2onnx --opset)`,
    );
  }
  if (data.inputs.length !== 1) {
    fail(
      'unsupported-model',
      `the model has ${data.inputs.length} inputs (${data.inputs.map((i) => i.name).join(', ') || 'none'}); expbench feeds one image batch`,
      'export an image classifier with a single [N, C, H, W] float input',
    );
  }
  if (data.outputs.length !== 1) {
    fail(
      'unsupported-model',
      `the model has ${data.outputs.length} outputs (${data.outputs.map((o) => o.name).join(', ')}); expbench trains a classifier with one logits output`,
      'export the model with the logits as its only output',
    );
  }
  const inInfo = data.inputs[0]!;
  const outInfo = data.outputs[0]!;
  const inDims = inInfo.dims;
  if (inInfo.elemType !== 'float32' || !inDims || inDims.length !== 4) {
    fail(
      'unsupported-model',
      `input ${inInfo.name} is ${inInfo.elemType} ${inDims ? `[${inDims.map((d) => d ?? '?').join(', ')}]` : 'of unknown shape'}; expbench feeds float32 images [N, C, H, W]`,
      'export with a float32 NCHW image input (a dummy input of shape [1, C, H, W])',
    );
  }
  const nhwcInput = inputIsNhwc(data);
  const declaredInput = declaredImageShape(data);
  const outDims = outInfo.dims;
  const declaredClasses =
    outDims && outDims.length === 2 && typeof outDims[1] === 'number' && outDims[1] > 0 ? outDims[1] : null;

  const values = new Map<string, Value>();
  const pending: Pending[] = [];
  const checks: Array<(g: ModelGraph, names: Record<number, string>) => void> = [];
  values.set(inInfo.name, { t: 'act', node: -1, rank: 3, ...(nhwcInput ? { nhwc: true as const } : {}) });
  /** How many nodes read each value: a scale or bias is folded into a Conv only when nothing else reads it. */
  const consumers = new Map<string, number>();
  for (const n of data.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  for (const [name, c] of data.initializers) {
    values.set(name, c.kind === 'float' ? { t: 'float', c } : { t: 'ints', dims: c.dims, data: [...c.data] });
  }

  for (const n of data.nodes) {
    const ref: OnnxNodeRef = { name: n.name, opType: n.opType, index: n.index };
    const bad = (detail: string, hint: string): never => fail('unsupported-attribute', detail, hint, ref);
    const get = (i: number): Value | undefined => {
      const name = n.inputs[i];
      if (name === undefined || name === '') return undefined;
      const v = values.get(name);
      if (!v)
        fail(
          'unsupported-model',
          `reads ${JSON.stringify(name)}, which no earlier node produces and no initializer holds`,
          'the graph is damaged or not in topological order; export it again',
          ref,
        );
      return v;
    };
    /** Input `i` as activations; `order`: the caller handles channels-last ones (`nhwc`, `hwcFlatten`). */
    const act = (i: number, what = 'its input', order = false): Extract<Value, { t: 'act' }> => {
      const v = get(i);
      if (v?.t !== 'act')
        fail(
          'unsupported-model',
          `${what} (${n.inputs[i] ?? 'missing'}) is ${v ? 'a constant' : 'missing'} where expbench expects the activations`,
          'expbench maps graphs whose operators act on the image activations; constant subgraphs other than shape arithmetic are not supported',
          ref,
        );
      const a = v as Extract<Value, { t: 'act' }>;
      if (!order && (a.nhwc || a.hwcFlatten !== undefined))
        fail(
          'unsupported-model',
          `${what} (${n.inputs[i]}) is in channels-last order (${a.nhwc ? 'transposed to NHWC' : 'flattened from NHWC'}) where expbench expects NCHW`,
          'expbench maps channels-last values only in a Transpose back to NCHW, a Flatten or Reshape, then a dense layer (MatMul or Gemm)',
          ref,
        );
      return a;
    };
    const floatConst = (i: number, what: string): Extract<OnnxConst, { kind: 'float' }> => {
      const v = get(i);
      if (v?.t !== 'float')
        fail(
          'unsupported-model',
          `${what} (${n.inputs[i] ?? 'missing'}) is ${v?.t === 'act' ? 'computed from the input' : 'not a float constant'}; expbench needs it as a constant of the file`,
          'export with the weights as initializers (constant folding on)',
          ref,
        );
      return (v as Extract<Value, { t: 'float' }>).c;
    };
    const intsConst = (i: number, what: string): number[] => {
      const v = get(i);
      if (v?.t !== 'ints' || v.data.some((x) => typeof x !== 'number'))
        fail(
          'unsupported-model',
          `${what} (${n.inputs[i] ?? 'missing'}) is not a constant list of integers`,
          'export with constant folding on',
          ref,
        );
      return (v as Extract<Value, { t: 'ints' }>).data as number[];
    };
    const attr = (k: string): OnnxAttr | undefined => n.attrs[k];
    /** Attribute `k` if present, checked to be of `type`. */
    const typed = <T extends keyof AttrValues>(k: string, type: T): AttrValues[T] | undefined => {
      const a = attr(k);
      if (a === undefined) return undefined;
      if (a.type !== type) bad(`attribute ${k} is ${a.type}, not ${type}`, 'export the model again');
      return a.value as AttrValues[T];
    };
    const int = (k: string, dflt: number): number => typed(k, 'int') ?? dflt;
    const ints = (k: string): number[] | undefined => typed(k, 'ints');
    const float = (k: string, dflt: number): number => typed(k, 'float') ?? dflt;
    const str = (k: string, dflt: string): string => typed(k, 'string') ?? dflt;
    /** Binds output 0 (and refuses any other output that something might read). */
    const out = (v: Value): void => {
      values.set(n.outputs[0]!, v);
    };
    const emit = (
      spec: LayerSpec,
      inputs: Array<Extract<Value, { t: 'act' }>>,
      weights: Record<string, Tensor32> = {},
    ): void => {
      for (const i of inputs) if (i.node >= 0) pending[i.node]!.readers++;
      pending.push({ spec, inputs: inputs.map((i) => i.node), weights, origin: ref, readers: 0 });
      const rank = spec.kind === 'flatten' || spec.kind === 'dense' ? 1 : inputs[0]!.rank;
      const hwc = inputs[0]?.hwcFlatten;
      const elementwise = spec.kind === 'relu' || spec.kind === 'relu6' || spec.kind === 'dropout';
      out({
        t: 'act',
        node: pending.length - 1,
        rank,
        ...(hwc !== undefined && elementwise ? { hwcFlatten: hwc } : {}),
      });
      const tail = n.outputs[0]!;
      // An expbench export names each node's output `<node>.out`; use the name so a round trip keeps it.
      if (tail.endsWith('.out')) pending[pending.length - 1]!.name = tail.slice(0, -'.out'.length);
    };
    /** A flatten of `x`; from NHWC order, the features are marked for the dense layer that reads them. */
    const flatten = (x: Extract<Value, { t: 'act' }>): void => {
      emit({ kind: 'flatten' }, [{ t: 'act', node: x.node, rank: x.rank }]);
      if (x.nhwc)
        values.set(n.outputs[0]!, { t: 'act', node: pending.length - 1, rank: 1, hwcFlatten: pending.length - 1 });
    };
    /** Input 0 of an element-wise operator: features flattened from NHWC keep their order through it. */
    const elementwiseInput = (): Extract<Value, { t: 'act' }> => {
      const x = act(0, 'its input', true);
      if (x.nhwc) bad(`${n.opType} of NHWC activations`, 'transpose back to NCHW first');
      return x;
    };
    /**
     * The Conv whose output `x` (the value `name`) is, when `c` is a per-channel `[C, 1, 1]` (or
     * scalar) constant that can be folded into it: nothing else reads the Conv's output.
     */
    const foldTarget = (x: Extract<Value, { t: 'act' }>, name: string, c: OnnxConst): Pending | undefined => {
      const prev = x.node >= 0 ? pending[x.node] : undefined;
      if (prev?.spec.kind !== 'conv' || prev.readers !== 0 || consumers.get(name) !== 1) return undefined;
      const perChannel =
        c.data.length === prev.spec.filters &&
        c.dims.length >= 3 &&
        c.dims.at(-1) === 1 &&
        c.dims.at(-2) === 1 &&
        c.dims.slice(0, -3).every((d) => d === 1);
      return perChannel || c.data.length === 1 ? prev : undefined;
    };
    /** Square kernel / equal strides / equal dilations, or a located error. */
    const square = (k: string, vals: number[] | undefined, dflt: number): number => {
      if (vals === undefined) return dflt;
      if (vals.length !== 2 || vals[0] !== vals[1])
        bad(
          `${k} [${vals.join(', ')}] is not the same along height and width`,
          `expbench's IR has square ${k === 'kernel_shape' ? 'kernels' : k}; only 2-D operators with equal values on both axes are supported`,
        );
      return vals[0]!;
    };
    const noAutoPad = (): 'same' | 'valid' | null => {
      const ap = str('auto_pad', 'NOTSET');
      if (ap === 'NOTSET') return null;
      if (ap === 'VALID') return 'valid';
      if (ap === 'SAME_UPPER') return 'same';
      return bad(`auto_pad ${ap} is not supported`, 'use explicit pads or SAME_UPPER');
    };
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      fail(
        'unsupported-op',
        `operator domain ${JSON.stringify(n.domain)} is not supported`,
        `expbench maps these default-domain operators: ${SUPPORTED_OPS.join(', ')}`,
        ref,
      );
    }

    switch (n.opType) {
      case 'Identity': {
        out(get(0)!);
        break;
      }
      case 'Constant': {
        const a = Object.entries(n.attrs)[0];
        if (!a) return fail('unsupported-model', 'a Constant without a value', 'export it again', ref);
        const [k, v] = a;
        if (v.type === 'tensor')
          out(
            v.value.kind === 'float'
              ? { t: 'float', c: v.value }
              : { t: 'ints', dims: v.value.dims, data: [...v.value.data] },
          );
        else if (k === 'value_int' && v.type === 'int') out({ t: 'ints', dims: [], data: [v.value] });
        else if (k === 'value_ints' && v.type === 'ints')
          out({ t: 'ints', dims: [v.value.length], data: [...v.value] });
        else if (k === 'value_float' && v.type === 'float')
          out({ t: 'float', c: { name: '', kind: 'float', dims: [], data: Float32Array.of(v.value) } });
        else if (k === 'value_floats' && v.type === 'floats')
          out({ t: 'float', c: { name: '', kind: 'float', dims: [v.value.length], data: Float32Array.from(v.value) } });
        else bad(`Constant attribute ${k} is not supported`, 'use a tensor, int(s) or float(s) value');
        break;
      }
      case 'Cast': {
        const v = get(0)!;
        if (v.t === 'act') bad('a Cast of the activations is not supported', 'keep the network in float32');
        out(v);
        break;
      }
      case 'Shape': {
        const x = act(0);
        const full: SymInt[] = [
          { batch: true },
          ...Array.from({ length: x.rank }, (_, i) => ({ node: x.node, axis: i + 1 })),
        ];
        const r = full.length;
        const norm = (i: number) => Math.min(r, Math.max(0, i < 0 ? i + r : i));
        const data = full.slice(norm(int('start', 0)), norm(int('end', r)));
        out({ t: 'ints', dims: [data.length], data });
        break;
      }
      case 'Gather': {
        const v = get(0)!;
        if (v.t !== 'ints' || v.dims.length !== 1 || int('axis', 0) !== 0)
          bad('only a Gather of entries of a shape vector is supported', 'gather on activations is not part of the IR');
        const src = (v as Extract<Value, { t: 'ints' }>).data;
        const idx = get(1);
        if (idx?.t !== 'ints' || idx.data.some((x) => typeof x !== 'number'))
          return bad('the Gather indices are not constant', 'export with constant folding on');
        const pick = (i: number): SymInt => src[i < 0 ? i + src.length : i]!;
        out({ t: 'ints', dims: idx.dims, data: (idx.data as number[]).map(pick) });
        break;
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const v = get(0)!;
        const axes = n.inputs[1] ? intsConst(1, 'axes') : (ints('axes') ?? []);
        if (v.t === 'ints') {
          // Shape arithmetic: a scalar becomes a 1-vector and back; the entries are unchanged.
          out({
            t: 'ints',
            dims: n.opType === 'Unsqueeze' ? [v.data.length] : v.dims.length > 1 ? [v.data.length] : [],
            data: v.data,
          });
          break;
        }
        if (v.t === 'act' && n.opType === 'Squeeze' && v.rank === 3 && !v.nhwc) {
          const norm = axes.map((a) => (a < 0 ? a + 4 : a)).sort();
          if (norm.join() === '2,3') {
            // [N, C, 1, 1] → [N, C]: a flatten, once the spatial size is known to be 1×1.
            const at = pending.length;
            emit({ kind: 'flatten' }, [v]);
            checks.push((g, names) => {
              const s = g.nodes.find((x) => x.name === names[at])!.inShapes[0]!;
              if (s[1] !== 1 || s[2] !== 1)
                fail(
                  'shape',
                  `squeezes axes 2 and 3 of a ${s.join('×')} activation, which are not 1`,
                  'squeeze only a 1×1 spatial map',
                  ref,
                );
            });
            break;
          }
        }
        bad(
          `${n.opType} with axes [${axes.join(', ')}] of the activations is not supported`,
          'expbench maps Squeeze of the 1×1 spatial axes after a global pool, and Unsqueeze within shape arithmetic',
        );
        break;
      }
      case 'Slice': {
        const v = get(0)!;
        if (v.t !== 'ints' || v.dims.length !== 1)
          return bad('only a Slice of a shape vector is supported', 'slicing activations is not part of the IR');
        const [start = 0] = intsConst(1, 'starts');
        const [end = v.data.length] = intsConst(2, 'ends');
        if (n.inputs[3] && intsConst(3, 'axes').some((a) => a !== 0))
          bad('Slice axes other than 0', 'slice a 1-D shape');
        if (n.inputs[4] && intsConst(4, 'steps').some((s) => s !== 1))
          bad('Slice steps other than 1', 'slice a 1-D shape');
        const len = v.data.length;
        const clamp = (i: number) => Math.min(len, Math.max(0, i < 0 ? i + len : i));
        const data = v.data.slice(clamp(start), clamp(end));
        out({ t: 'ints', dims: [data.length], data });
        break;
      }
      case 'Concat': {
        const vs = n.inputs.map((_, i) => get(i)!);
        if (vs.every((v) => v.t === 'ints')) {
          const data = vs.flatMap((v) => (v as Extract<Value, { t: 'ints' }>).data);
          out({ t: 'ints', dims: [data.length], data });
          break;
        }
        const xs = vs.map((_, i) => act(i, `input ${i}`));
        const rank = xs[0]!.rank;
        const axis = int('axis', 1);
        if (xs.some((x) => x.rank !== rank) || (axis !== 1 && axis !== 1 - (rank + 1)))
          bad(`Concat along axis ${axis} is not supported`, 'expbench joins activations along channels (axis 1)');
        emit({ kind: 'concat' }, xs);
        break;
      }
      case 'Reshape': {
        const x = act(0, 'its input', true);
        if (x.hwcFlatten !== undefined) bad('a Reshape of channels-last features', 'reshape NCHW activations');
        const tv = get(1);
        if (tv?.t !== 'ints')
          return bad(
            'the target shape is not a constant or shape arithmetic of the input',
            'export with constant folding on',
          );
        const target = tv.data;
        const allowZero = int('allowzero', 0) === 1;
        const isBatch = (s: SymInt | undefined) => typeof s === 'object' && 'batch' in s;
        const copiesBatch = (s: SymInt | undefined) => isBatch(s) || (s === 0 && !allowZero);
        // [N, -1], [N, K], [0, -1], [-1, K]: a flatten (checked against the real size once it is known).
        let features: SymInt | null | undefined;
        if (target.length === 2 && copiesBatch(target[0])) features = target[1] === -1 ? null : target[1];
        else if (target.length === 2 && target[0] === -1 && target[1] !== -1) features = target[1];
        if (features === undefined || (features !== null && isBatch(features))) {
          return bad(
            `a Reshape to [${target.map(showSym).join(', ')}] is not supported`,
            'expbench maps reshapes that flatten [N, C, H, W] to [N, C·H·W] (x.view(x.size(0), -1), torch.flatten(x, 1))',
          );
        }
        if (x.rank === 1) {
          out(x);
        } else {
          flatten(x);
        }
        const at = x.rank === 1 ? x.node : pending.length - 1;
        if (features !== null) {
          const want = features;
          checks.push((g, names) => {
            const got =
              at < 0 ? g.input.reduce((a, b) => a * b, 1) : g.nodes.find((y) => y.name === names[at])!.outShape[0]!;
            const k = symValue(want, g, names);
            if (k !== got)
              fail(
                'shape',
                `reshapes to [N, ${k}] but the activations have ${got} features per example`,
                'check the input geometry; the model was exported for another image size',
                ref,
              );
          });
        }
        break;
      }
      case 'Pad': {
        // Zero channels before and after (the option-A shortcut of the CIFAR ResNets).
        const x = act(0);
        const pads = n.inputs[1] ? intsConst(1, 'pads') : (ints('pads') ?? []);
        const mode = str('mode', 'constant');
        const value = n.inputs[2] ? floatConst(2, 'constant_value').data[0] : 0;
        const r = x.rank + 1;
        const onlyChannels = pads.length === 2 * r && pads.every((p, i) => i % r === 1 || p === 0);
        if (mode !== 'constant' || value !== 0 || n.inputs[3] || !onlyChannels || pads.some((p) => p < 0))
          bad(
            `Pad with mode ${mode}, value ${value} and pads [${pads.join(', ')}] is not supported`,
            'expbench maps zero padding of the channel axis only (pads [0, before, 0, 0, 0, after, 0, 0])',
          );
        emit({ kind: 'padchannels', before: pads[1]!, after: pads[1 + r]! }, [x]);
        break;
      }
      case 'Flatten': {
        const x = act(0, 'its input', true);
        const axis = int('axis', 1);
        if (axis !== 1)
          bad(`Flatten axis ${axis} is not supported`, 'expbench flattens everything but the batch (axis 1)');
        if (x.hwcFlatten !== undefined) bad('a Flatten of channels-last features', 'flatten NCHW activations');
        if (x.rank === 1) out(x);
        else flatten(x);
        break;
      }
      case 'Transpose': {
        const x = act(0, 'its input', true);
        const perm = ints('perm');
        if (x.rank === 3 && x.nhwc && isPerm(perm, NHWC_TO_NCHW)) out({ t: 'act', node: x.node, rank: 3 });
        else if (x.rank === 3 && !x.nhwc && x.hwcFlatten === undefined && isPerm(perm, NCHW_TO_NHWC))
          out({ ...x, nhwc: true });
        else
          bad(
            `Transpose with perm [${perm?.join(', ') ?? 'reversed'}] of ${x.rank === 3 ? (x.nhwc ? 'NHWC' : 'NCHW') : 'flat'} activations is not supported`,
            'expbench maps the layout Transposes tf2onnx writes: an NHWC input to NCHW (perm [0, 3, 1, 2]) and NCHW to NHWC before a Flatten or Reshape (perm [0, 2, 3, 1])',
          );
        break;
      }
      case 'Mul': {
        // A per-channel scale after a Conv (a batch norm tf2onnx left as Mul + Add): folded into the weights.
        const xi = get(0)?.t === 'act' ? 0 : 1;
        const x = act(xi, 'the scaled input');
        const c = floatConst(1 - xi, 'the scale');
        const prev = foldTarget(x, n.inputs[xi]!, c);
        if (!prev)
          return bad(
            'a Mul is only supported as a per-channel (or scalar) scale of a Conv output that nothing else reads',
            'expbench folds Conv → Mul(scale) → Add(shift), a batch norm left unfolded, into the Conv',
          );
        const filters = prev.spec.kind === 'conv' ? prev.spec.filters : 0;
        const per = prev.weights.weight!.data.length / filters;
        const scale = (o: number) => c.data[c.data.length === 1 ? 0 : o]!;
        const w = Float32Array.from(prev.weights.weight!.data, (v, k) => v * scale(Math.floor(k / per)));
        prev.weights.weight = { shape: prev.weights.weight!.shape, data: w };
        if (prev.weights.bias)
          prev.weights.bias = {
            shape: [filters],
            data: Float32Array.from(prev.weights.bias.data, (v, o) => v * scale(o)),
          };
        out(x);
        break;
      }
      case 'Relu':
        emit({ kind: 'relu' }, [elementwiseInput()]);
        break;
      case 'Clip': {
        const x = act(0);
        const bound = (i: number, k: string): number | null => {
          if (opset < 11 && attr(k)) return float(k, 0);
          if (!n.inputs[i]) return null;
          const c = floatConst(i, k);
          if (c.data.length !== 1) return bad(`the ${k} bound is not a scalar`, 'clip with scalar bounds');
          return c.data[0]!;
        };
        const lo = bound(1, 'min');
        const hi = bound(2, 'max');
        if (lo === 0 && hi === 6) emit({ kind: 'relu6' }, [x]);
        else if (lo === 0 && hi === null) emit({ kind: 'relu' }, [x]);
        else
          bad(
            `Clip to [${lo ?? '-inf'}, ${hi ?? 'inf'}] is not supported`,
            'expbench maps Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU)',
          );
        break;
      }
      case 'Conv': {
        const x = act(0);
        if (x.rank !== 3) bad('a Conv of flat activations', 'convolve [N, C, H, W] activations');
        const w = floatConst(1, 'the weight');
        if (w.dims.length !== 4)
          bad(`a ${w.dims.length - 2}-D convolution is not supported`, 'expbench supports 2-D Conv');
        const [O, , KH, KW] = w.dims as [number, number, number, number];
        if (KH !== KW) bad(`the ${KH}×${KW} kernel is not square`, 'expbench supports square kernels');
        const kernel = square('kernel_shape', ints('kernel_shape'), KH);
        const stride = square('strides', ints('strides'), 1);
        const dilation = square('dilations', ints('dilations'), 1);
        const groups = int('group', 1);
        const auto = noAutoPad();
        const pads = ints('pads') ?? [0, 0, 0, 0];
        let padding: 'same' | 'valid' | number;
        if (auto) padding = auto;
        else if (pads.every((p) => p === pads[0])) padding = pads[0]!;
        else {
          // Asymmetric explicit pads (tf2onnx writes TensorFlow's SAME this way): SAME_UPPER, checked below.
          padding = 'same';
          const at = pending.length;
          checks.push((g, names) => {
            const got = convPads(g.nodes.find((y) => y.name === names[at])!);
            const want = [pads[0], pads[1], pads[2], pads[3]];
            if (got.join() !== want.join())
              fail(
                'unsupported-attribute',
                `pads [${pads.join(', ')}] are asymmetric and not the SAME_UPPER padding [${got.join(', ')}] of this input size`,
                'expbench supports symmetric pads or SAME_UPPER',
                ref,
              );
          });
        }
        const weights: Record<string, Tensor32> = { weight: { shape: [...w.dims], data: w.data } };
        if (n.inputs[2]) {
          const b = floatConst(2, 'the bias');
          weights.bias = { shape: [O], data: b.data };
        }
        emit(
          { kind: 'conv', filters: O, kernel, stride, padding, dilation, groups, bias: !!n.inputs[2] },
          [x],
          weights,
        );
        pending[pending.length - 1]!.name ??= paramPrefix(n, [1]);
        break;
      }
      case 'BatchNormalization': {
        const x = act(0);
        if (int('training_mode', 0) !== 0)
          bad(
            'training_mode = 1 (batch statistics at inference) is not supported',
            'export the model in eval mode (model.eval())',
          );
        if (n.outputs.slice(1).some((o) => o !== ''))
          bad('the running-statistics outputs are used', 'export the model in eval mode (model.eval())');
        const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) =>
          floatConst(i, ['scale', 'bias', 'mean', 'var'][i - 1]!),
        );
        const vec = (c: OnnxConst): Tensor32 => ({ shape: [c.data.length], data: c.data as Float32Array });
        emit({ kind: 'batchnorm', epsilon: float('epsilon', 1e-5), momentum: float('momentum', 0.9) }, [x], {
          gamma: vec(gamma!),
          beta: vec(beta!),
          mean: vec(mean!),
          var: vec(variance!),
        });
        pending[pending.length - 1]!.name ??= paramPrefix(n, [1, 2, 3, 4]);
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = act(0);
        if (x.rank !== 3) bad('pooling flat activations', 'pool [N, C, H, W] activations');
        if (n.outputs.slice(1).some((o) => o !== ''))
          bad('the Indices output is used', 'expbench maps the pooled values only');
        const size = square('kernel_shape', ints('kernel_shape'), 0);
        const stride = square('strides', ints('strides'), 1);
        if (square('dilations', ints('dilations'), 1) !== 1) bad('dilated pooling is not supported', 'use dilations 1');
        if (int('storage_order', 0) !== 0) bad('storage_order 1 is not supported', 'use the default storage order');
        const auto = noAutoPad();
        if (auto === 'same') bad('auto_pad SAME_UPPER is not supported for pooling', 'use explicit symmetric pads');
        const pads = ints('pads') ?? [0, 0, 0, 0];
        if (!pads.every((p) => p === pads[0]))
          bad(`asymmetric pads [${pads.join(', ')}] are not supported`, 'use symmetric pads');
        const padding = pads[0]!;
        if (n.opType === 'AveragePool' && padding > 0 && int('count_include_pad', 0) !== 0)
          bad(
            'count_include_pad = 1 with padding is not supported',
            'expbench averages over the in-image part of each window (count_include_pad = 0)',
          );
        const kind = n.opType === 'MaxPool' ? 'maxpool' : 'avgpool';
        emit({ kind, size, stride, padding }, [x]);
        if (int('ceil_mode', 0) === 1) {
          const at = pending.length - 1;
          checks.push((g, names) => {
            const node = g.nodes.find((y) => y.name === names[at])!;
            const [, H, W] = node.inShapes[0] as [number, number, number];
            const ceil = (d: number) => Math.ceil((d + 2 * padding - size) / stride) + 1;
            if (ceil(H) !== node.outShape[1] || ceil(W) !== node.outShape[2])
              bad(`ceil_mode = 1 gives a larger output than floor on a ${H}×${W} input`, 'export with ceil_mode=False');
          });
        }
        break;
      }
      case 'GlobalAveragePool': {
        const x = act(0);
        if (x.rank !== 3) bad('a global pool of flat activations', 'pool [N, C, H, W] activations');
        emit({ kind: 'globalavgpool' }, [x]);
        break;
      }
      case 'ReduceMean': {
        const x = act(0);
        const axes = opset >= 18 && n.inputs[1] ? intsConst(1, 'axes') : (ints('axes') ?? []);
        const norm = axes.map((a) => (a < 0 ? a + x.rank + 1 : a)).sort();
        if (x.rank !== 3 || norm.join() !== '2,3')
          bad(
            `ReduceMean over axes [${axes.join(', ')}] is not supported`,
            'expbench maps the spatial mean (axes 2 and 3 of [N, C, H, W])',
          );
        emit({ kind: 'globalavgpool' }, [x]);
        if (int('keepdims', 1) === 0) {
          const gap = values.get(n.outputs[0]!) as Extract<Value, { t: 'act' }>;
          emit({ kind: 'flatten' }, [gap]);
        }
        break;
      }
      case 'Add': {
        const a = get(0)!;
        const b = get(1)!;
        if (a.t === 'act' && b.t === 'act') {
          emit({ kind: 'add' }, [act(0), act(1)]);
          break;
        }
        if (a.t === 'act') act(0);
        if (b.t === 'act') act(1);
        // A bias after a MatMul (exporters that write Linear as MatMul + Add).
        const x = a.t === 'act' ? a : b.t === 'act' ? b : null;
        const c = a.t === 'float' ? a.c : b.t === 'float' ? b.c : null;
        const prev = x && x.node >= 0 ? pending[x.node]! : null;
        if (
          x &&
          c &&
          prev?.spec.kind === 'dense' &&
          !prev.spec.bias &&
          prev.readers === 0 &&
          c.data.length === prev.spec.units
        ) {
          prev.spec = { ...prev.spec, bias: true };
          prev.weights.bias = { shape: [c.data.length], data: c.data };
          out(x);
          break;
        }
        // A per-channel shift after a Conv (the Add of a batch norm tf2onnx left unfolded): the Conv's bias.
        const conv = x && c ? foldTarget(x, n.inputs[a.t === 'act' ? 0 : 1]!, c) : undefined;
        if (x && c && conv?.spec.kind === 'conv') {
          const filters = conv.spec.filters;
          const shift = (o: number) => c.data[c.data.length === 1 ? 0 : o]!;
          const old = conv.weights.bias?.data;
          conv.weights.bias = {
            shape: [filters],
            data: Float32Array.from({ length: filters }, (_, o) => (old?.[o] ?? 0) + shift(o)),
          };
          conv.spec = { ...conv.spec, bias: true };
          out(x);
          break;
        }
        bad(
          'adding a constant to the activations is only supported as the bias of a MatMul or a per-channel shift of a Conv output',
          'expbench maps Add of two activations (a residual), a MatMul + Add bias and Conv → Add(per-channel constant)',
        );
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const x = act(0, 'its input', true);
        if (x.nhwc) bad(`${n.opType} of NHWC activations`, 'flatten before the dense layer');
        if (x.rank !== 1) bad(`${n.opType} of [N, C, H, W] activations`, 'flatten before the dense layer');
        const w = floatConst(1, 'the weight');
        if (w.dims.length !== 2) bad(`the weight is ${w.dims.length}-D`, 'use a 2-D weight');
        let transB = 0;
        if (n.opType === 'Gemm') {
          if (int('transA', 0) !== 0) bad('transA = 1 is not supported', 'export with the batch as the first axis');
          if (float('alpha', 1) !== 1 || float('beta', 1) !== 1)
            bad('alpha or beta other than 1', 'export a plain Linear layer');
          transB = int('transB', 0);
        }
        const [r, c] = w.dims as [number, number];
        const [fin, units] = transB ? [c, r] : [r, c];
        // The IR's dense weight is [in, out] (Gemm with transB = 0); PyTorch's Linear writes [out, in].
        const data = transB ? transpose(w.data, r, c) : w.data;
        const weights: Record<string, Tensor32> = { weight: { shape: [fin, units], data } };
        const hasBias = n.opType === 'Gemm' && !!n.inputs[2];
        if (hasBias) {
          const b = floatConst(2, 'the bias');
          if (b.data.length !== units)
            bad(`the bias has ${b.data.length} values for ${units} units`, 'use a bias of one value per unit');
          weights.bias = { shape: [units], data: b.data };
        }
        emit({ kind: 'dense', units, bias: hasBias }, [x], weights);
        pending[pending.length - 1]!.name ??= paramPrefix(n, hasBias ? [1, 2] : [1]);
        if (x.hwcFlatten !== undefined) {
          // Features flattened from NHWC: reorder the rows into the IR's C-major flatten order.
          const at = pending.length - 1;
          const from = x.hwcFlatten;
          checks.push((g, names) => {
            const chw = g.nodes.find((y) => y.name === names[from])!.inShapes[0] as [number, number, number];
            const p = pending[at]!;
            p.weights.weight = { shape: [fin, units], data: hwcRowsToChw(p.weights.weight!.data, chw, units) };
          });
        }
        break;
      }
      case 'Dropout': {
        const x = elementwiseInput();
        if (n.outputs.slice(1).some((o) => o !== ''))
          bad('the mask output is used', 'export the model in eval mode (model.eval())');
        const ratio = n.inputs[1] ? floatConst(1, 'ratio').data[0]! : float('ratio', 0.5);
        emit({ kind: 'dropout', rate: ratio }, [x]);
        break;
      }
      default:
        fail(
          'unsupported-op',
          `operator ${n.opType} is not supported`,
          `expbench maps these operators: ${SUPPORTED_OPS.join(', ')}; replace ${n.opType} in the model or export it without`,
          ref,
        );
    }
  }

  const result = values.get(outInfo.name);
  if (result?.t !== 'act' || result.node < 0) {
    return fail(
      'unsupported-model',
      `output ${outInfo.name} is ${result ? 'not computed from the input' : 'produced by no node'}`,
      'export the network with its logits as the output',
    );
  }
  if (result.rank !== 1) {
    fail(
      'unsupported-model',
      `output ${outInfo.name} is a [N, C, H, W] map, not [N, classes] logits`,
      'end the network with a flatten and a dense (Linear) layer, or a global pool and a flatten',
    );
  }
  // Keep only what the output depends on (a graph may carry unused branches).
  const keep = new Set<number>();
  const stack = [result.node];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (i < 0 || keep.has(i)) continue;
    keep.add(i);
    stack.push(...pending[i]!.inputs);
  }
  if (keep.size === 0)
    fail('unsupported-model', 'the graph computes nothing from its input', 'export the network again');
  const order = pending.map((_, i) => i).filter((i) => keep.has(i));
  // The output node must come last; everything it reads already comes before it in file order.
  const names = assignNames(pending, order);
  const defs: NodeDef[] = order.map((i) => {
    const p = pending[i]!;
    return { spec: p.spec, name: names[i]!, inputs: p.inputs.map((j) => (j < 0 ? GRAPH_INPUT : names[j]!)) };
  });

  const last = pending[result.node]!;
  const classes = last.spec.kind === 'dense' ? last.spec.units : declaredClasses;
  if (classes === null) {
    return fail(
      'unsupported-model',
      `the number of classes cannot be told: output ${outInfo.name} has no fixed size and is not made by a dense layer`,
      'export with a fixed output size',
    );
  }
  const input = opts.input ?? declaredInput;
  if (input.some((d) => d === null)) {
    return fail(
      'unsupported-model',
      `input ${inInfo.name} has a symbolic size [${inDims!.slice(1).join(', ')}] and no image geometry was given`,
      'set the dataset (imageSize, channels) in the experiment, or export with fixed C, H and W',
    );
  }
  let model: ModelGraph;
  try {
    model = resolveGraph(opts.name ?? (data.graphName || 'onnx'), defs, input as number[], classes);
  } catch (e) {
    if (!(e instanceof ExpbenchError)) throw e;
    const shown = `[${(input as number[]).join(', ')}]`;
    const over = opts.input && opts.input.join() !== declaredInput.join();
    return fail(
      'shape',
      `the model cannot be built for input ${shown}${over ? ` (the file declares [${declaredInput.map((d) => d ?? '?').join(', ')}])` : ''}: ${e.message.replace(/\.?\s*Hint: [\s\S]*$/, '')}`,
      over
        ? `use the geometry the model was exported for, [${declaredInput.join(', ')}], in the dataset`
        : ((e as ExpbenchError).hint ?? 'check the model'),
    );
  }
  for (const check of checks) check(model, names);

  const weights: Weights = {};
  const origin: Record<string, OnnxNodeRef> = {};
  for (const i of order) {
    const p = pending[i]!;
    origin[names[i]!] = p.origin;
    for (const [role, t] of Object.entries(p.weights)) weights[`${names[i]}.${role}`] = t;
  }
  for (const p of model.params) {
    const t = weights[p.name];
    if (!t || t.shape.join() !== p.shape.join()) {
      const node = model.nodes.find((x) => p.name.startsWith(`${x.name}.`));
      fail(
        'shape',
        `${p.name} has shape [${t?.shape.join(', ') ?? 'missing'}] in the file but the IR needs [${p.shape.join(', ')}]`,
        'the weights do not fit the graph; export the model again',
        node ? origin[node.name] : undefined,
      );
    }
  }
  return {
    model,
    weights,
    origin,
    declared: {
      input: declaredInput,
      classes: declaredClasses ?? classes,
      producer: data.producer,
      opset,
      inputName: inInfo.name,
      layout: nhwcInput ? 'NHWC' : 'NCHW',
    },
  };
}

function showSym(s: SymInt): string {
  return typeof s === 'number' ? String(s) : 'batch' in s ? 'N' : `dim ${s.axis} of an activation`;
}

/** The value of a symbolic integer once shapes are known. */
function symValue(s: SymInt, g: ModelGraph, names: Record<number, string>): number {
  if (typeof s === 'number') return s;
  if ('batch' in s) return Number.NaN;
  const shape = s.node < 0 ? g.input : g.nodes.find((x) => x.name === names[s.node])!.outShape;
  return shape[s.axis - 1]!;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * A node name from its weights' initializer names when they share a module prefix (`layer1.0.conv1`
 * from `layer1.0.conv1.weight`), else from a scoped node name (`/layer1/layer1.0/conv1/Conv` →
 * `layer1.0.conv1`), else none (a kind prefix and counter is given later).
 */
function paramPrefix(n: OnnxNodeData, inputs: number[]): string | undefined {
  const prefixes = inputs.map((i) => PARAM_SUFFIX.exec(n.inputs[i] ?? '')?.[1]);
  const first = prefixes[0];
  if (first && prefixes.every((p) => p === first)) return first;
  const parts = n.name.split('/').filter(Boolean);
  if (parts.length >= 2) {
    const scope = parts.slice(0, -1).filter((p, i, all) => !all[i + 1]?.startsWith(`${p}.`));
    return scope.join('.');
  }
  return undefined;
}

const KIND_PREFIX: Partial<Record<LayerSpec['kind'], string>> = {
  maxpool: 'pool',
  batchnorm: 'bn',
  dense: 'fc',
  dropout: 'drop',
  relu6: 'relu6_',
  padchannels: 'pad',
  globalavgpool: 'gap',
};

/** Unique IR names: names read from the file first (made unique), then `<kind><n>` for the rest. */
function assignNames(pending: Pending[], order: number[]): Record<number, string> {
  const names: Record<number, string> = {};
  const taken = new Set<string>([GRAPH_INPUT]);
  const unique = (base: string): string => {
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  for (const i of order) {
    const given = pending[i]!.name;
    if (given) names[i] = unique(given);
  }
  const counters = new Map<string, number>();
  for (const i of order) {
    if (names[i] !== undefined) continue;
    const kind = pending[i]!.spec.kind;
    const prefix = KIND_PREFIX[kind] ?? kind;
    let name: string;
    do {
      const k = (counters.get(prefix) ?? 0) + 1;
      counters.set(prefix, k);
      name = `${prefix}${k}`;
    } while (taken.has(name));
    taken.add(name);
    names[i] = name;
  }
  return names;
}
