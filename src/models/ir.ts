/**
 * The framework-neutral model IR. Every backend builds its network from a {@link ModelGraph} and loads
 * the same {@link Weights}; nothing backend-specific lives here.
 *
 * Canonical layouts (converted for a backend only in `src/models/layout.ts`):
 * - activations NCHW; flatten is C-major (as ONNX `Flatten` on NCHW);
 * - conv weights OIHW `[out, in, kh, kw]`, conv bias `[out]`;
 * - dense weights `[in, out]` (ONNX `Gemm` with transB = 0), dense bias `[out]`;
 * - batch norm: `gamma`, `beta` (trainable), `mean`, `var` (running statistics, not trainable).
 */

/** One layer as written in YAML or produced by an architecture template. */
export type LayerSpec =
  | {
      kind: 'conv';
      filters: number;
      kernel?: number;
      stride?: number;
      padding?: 'same' | 'valid' | number;
      bias?: boolean;
    }
  | { kind: 'relu' }
  | { kind: 'maxpool'; size?: number; stride?: number }
  | { kind: 'batchnorm'; epsilon?: number; momentum?: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; bias?: boolean }
  | { kind: 'dropout'; rate: number };

export type LayerKind = LayerSpec['kind'];

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

/** A layer with everything a backend needs resolved: defaults filled, shapes inferred, params named. */
export interface ResolvedLayer {
  /** Stable, unique name: `conv1`, `relu1`, `pool1`, `bn1`, `fc1`, ... */
  name: string;
  spec: LayerSpec;
  inShape: Shape;
  outShape: Shape;
  params: ParamSpec[];
}

export interface ModelGraph {
  /** Architecture name as in YAML (`vgg-small`, `vgg16`, `custom`). */
  name: string;
  /** Input shape of one example `[C, H, W]`. */
  input: Shape;
  numClasses: number;
  layers: ResolvedLayer[];
  /** All parameters in layer order. */
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
