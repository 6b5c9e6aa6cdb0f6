/**
 * The framework-neutral model IR. Every backend builds its network from a {@link ModelGraph} and loads
 * the same {@link Weights}; nothing backend-specific lives here.
 *
 * A model is a graph: named nodes, each reading the outputs of earlier nodes (or the image input,
 * {@link GRAPH_INPUT}) by name, in a topological order whose last node produces the logits. A node may
 * read two inputs (`add`, `concat`) and an output may feed several nodes (a residual shortcut). A
 * straight list of layers (VGG, `custom` layers) is the special case where each node reads the one
 * before it; its node and parameter names (`conv1`, `relu1`, `fc2.bias`, ...) are those the layer list
 * always had.
 *
 * Canonical layouts (converted for a backend only in `src/models/layout.ts`):
 * - activations NCHW; flatten is C-major (as ONNX `Flatten` on NCHW);
 * - conv weights OIHW `[out, in / groups, kh, kw]` (ONNX `Conv`), conv bias `[out]`; with `groups`
 *   the output channels `o` of group `g = floor(o / (out / groups))` read input channels
 *   `g·(in / groups) …`; depthwise is `groups = in` (then `out` is a multiple of `in`);
 * - dense weights `[in, out]` (ONNX `Gemm` with transB = 0), dense bias `[out]`;
 * - batch norm: `gamma`, `beta` (trainable), `mean`, `var` (running statistics, not trainable).
 *
 * Operator semantics (each as the ONNX operator of the same meaning, opset 17):
 * - `conv`: Conv with `kernel`, `stride`, `padding` (`same` = SAME_UPPER, `valid`, or symmetric
 *   pixels), `dilation`, `groups`, optional bias;
 * - `batchnorm`: BatchNormalization over channels (or features after flatten), `epsilon`, `momentum`
 *   in the ONNX sense (`running = running·momentum + batch·(1 − momentum)`);
 * - `relu`, `relu6` (Clip to [0, 6]);
 * - `maxpool`, `avgpool`: windows `size`, `stride` (default = size), symmetric `padding` pixels
 *   (avgpool divides by the window's in-image count, ONNX `count_include_pad = 0`); `globalavgpool`:
 *   the spatial mean, `[C, H, W]` → `[C, 1, 1]`;
 * - `add`: elementwise sum of two inputs of one shape; `concat`: inputs joined along channels;
 * - `padchannels`: `before` zero channels ahead of the input's and `after` behind them (ONNX `Pad` on
 *   the channel axis; with a stride-2 subsampling this is the option-A shortcut of He et al. 2016);
 * - `flatten`: `[C, H, W]` → `[C·H·W]`; `dense`: `x·W + b`; `dropout`: inverted dropout of `rate`
 *   in training, the identity at inference.
 */

/** One layer as written in YAML or produced by an architecture template. */
export type LayerSpec =
  | {
      kind: 'conv';
      filters: number;
      kernel?: number;
      stride?: number;
      padding?: 'same' | 'valid' | number;
      /** Spacing between kernel taps (1 = dense kernel). */
      dilation?: number;
      /** Channel groups: 1 = ordinary conv; the input channel count = depthwise. */
      groups?: number;
      bias?: boolean;
    }
  | { kind: 'relu' }
  | { kind: 'relu6' }
  | { kind: 'maxpool'; size?: number; stride?: number; padding?: number }
  | { kind: 'avgpool'; size?: number; stride?: number; padding?: number }
  | { kind: 'globalavgpool' }
  | { kind: 'batchnorm'; epsilon?: number; momentum?: number }
  | { kind: 'add' }
  | { kind: 'concat' }
  | { kind: 'padchannels'; before: number; after: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; bias?: boolean }
  | { kind: 'dropout'; rate: number };

export type LayerKind = LayerSpec['kind'];

/** Node kinds that read two or more inputs; every other kind reads exactly one. */
export const MULTI_INPUT_KINDS: ReadonlySet<LayerKind> = new Set<LayerKind>(['add', 'concat']);

/** The name by which nodes read the image input. No node may take this name. */
export const GRAPH_INPUT = 'input';

/**
 * A node as an architecture template or an importer writes it, before resolution: the layer, an
 * optional name (default: kind prefix and counter, `conv3`) and the names of the nodes it reads
 * (default: the node before it, or {@link GRAPH_INPUT} for the first).
 */
export interface NodeDef {
  spec: LayerSpec;
  name?: string;
  inputs?: string[];
}

/** Shape of one example, channels first: `[C, H, W]` or `[features]` after flatten. */
export type Shape = number[];

/** How a parameter is initialised. `he` for conv/dense followed by ReLU, `glorot` for the logits layer. */
export type InitKind = 'he' | 'glorot' | 'zeros' | 'ones';

export interface ParamSpec {
  /** Stable name, e.g. `conv1.weight`, `fc2.bias`, `bn3.mean`. Backends key weights by it. */
  name: string;
  shape: number[];
  init: InitKind;
  /** Fan-in / fan-out used by the initialiser. */
  fanIn: number;
  fanOut: number;
  /** False for batch-norm running statistics. */
  trainable: boolean;
}

/** A node with everything a backend needs resolved: defaults filled, shapes inferred, params named. */
export interface GraphNode {
  /** Stable, unique name: `conv1`, `relu1`, `pool1`, `bn1`, `fc1`, `layer2.0.conv1`, ... */
  name: string;
  /** The layer with every optional field filled (see `withDefaults` in `resolve.ts`). */
  spec: LayerSpec;
  /** Names of the nodes (or {@link GRAPH_INPUT}) whose outputs it reads, in operand order. */
  inputs: string[];
  /** Shape of each input, in the order of {@link inputs}. */
  inShapes: Shape[];
  outShape: Shape;
  /** Parameters, named `<node name>.<role>` (`weight`, `bias`, `gamma`, `beta`, `mean`, `var`). */
  params: ParamSpec[];
}

export interface ModelGraph {
  /** Architecture name as in YAML (`vgg-small`, `resnet20`, `custom`). */
  name: string;
  /** Input shape of one example `[C, H, W]`. */
  input: Shape;
  numClasses: number;
  /** Nodes in topological order; the last one produces the logits `[numClasses]`. */
  nodes: GraphNode[];
  /** All parameters in node order. */
  params: ParamSpec[];
  /** Trainable parameter count (what papers quote). */
  paramCount: number;
}

/** A plain float32 tensor in canonical layout. */
export interface Tensor32 {
  shape: number[];
  data: Float32Array;
}

/** Weights keyed by {@link ParamSpec.name}. */
export type Weights = Record<string, Tensor32>;
