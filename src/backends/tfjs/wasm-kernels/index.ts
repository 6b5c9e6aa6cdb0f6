/**
 * Kernels that let the tfjs wasm backend (tfjs-backend-wasm 4.22, XNNPACK) train the model IR's
 * layers, registered from expbench without changing the tfjs packages.
 *
 * What training needs, found by running every layer's forward pass and gradient (`tf.variableGrads`,
 * `optimizer.minimize` with SGD and momentum) under `tf.profile` and by catching "Kernel 'X' not
 * registered for backend 'wasm'" (test/tfjs/wasm-kernels.test.ts repeats both checks):
 *
 * - `Conv2DBackpropFilter` is missing: every conv layer's weight gradient fails without it. Added
 *   here ({@link ./conv2d-backprop-filter.ts}), on native Conv2D / BatchMatMul.
 * - `DepthwiseConv2dNativeBackpropInput` and `…BackpropFilter` are missing: no depthwise conv
 *   (MobileNetV2) trains without them. Added here ({@link ./depthwise-backprop.ts}) as one JS pass
 *   over the heap each.
 * - `MaxPoolGrad` exists but is wrong for windows whose values are all ≤ 0 and breaks ties the other
 *   way from tfjs cpu. Replaced here ({@link ./max-pool-grad.ts}) by a scan with cpu's semantics.
 * - `Conv2DBackpropInput` exists but is a scalar C++ loop nest, 9–10× the forward conv's time. Replaced
 *   here ({@link ./conv2d-backprop-input.ts}) by one native Conv2D; this replacement can be declined.
 * - `BatchMatMul` reaches XNNPACK only without transposes; a dense layer's gradients are transposed
 *   products and ran 25–80× slower. Wrapped here ({@link ./batch-mat-mul.ts}) to transpose explicitly
 *   and multiply on XNNPACK; can be declined with the same option.
 * - `Sum` over leading axes (every bias gradient) transposes the whole tensor first. Wrapped here
 *   ({@link ./sum.ts}) to run those as native average pooling; can be declined with the same option.
 * - `Tile` (every batch-norm gradient tiles `1/√(var+ε)` over the activation) is a scalar C++ loop,
 *   tens of milliseconds per ResNet stage-1 layer. Replaced here ({@link ./tile.ts}) by block copies
 *   on the heap; can be declined with the same option.
 * - Everything else the layers use is native: ReLU's gradient is Step × dy, batch norm in training
 *   mode is composed of Mean/Sub/Square/Rsqrt/Mul/Sum, dense is
 *   BatchMatMul/_FusedMatMul + Add, dropout is Floor/RealDiv/Mul on a JS-side random tensor, softmax
 *   cross-entropy is Max/Sub/Exp/Sum/Log, and SGD/momentum are Mul/Add/Sub on variables.
 *
 * Gradient *functions* are a separate registry: `@tensorflow/tfjs-core` alone registers none in Node
 * (its ESM build that would is not loadable there); importing `@tensorflow/tfjs` registers them.
 */
import { getKernel, getKernelsForBackend, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.ts';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import { makeBatchMatMulConfig } from './batch-mat-mul.ts';
import { makeSumConfig } from './sum.ts';
import { makeTileConfig } from './tile.ts';
import { BackendError } from '../../../errors.ts';

export {
  applicableFilterGradStrategies,
  chooseFilterGradStrategy,
  conv2dBackpropFilterNHWC,
  FILTER_GRAD_STRATEGIES,
} from './conv2d-backprop-filter.ts';
export type { FilterGradStrategy } from './conv2d-backprop-filter.ts';
export { conv2dBackpropInputNHWC } from './conv2d-backprop-input.ts';
export { depthwiseBackprop } from './depthwise-backprop.ts';
export { maxPoolGradNHWC } from './max-pool-grad.ts';
export { makeBatchMatMulConfig } from './batch-mat-mul.ts';
export { columnSumsByPooling, leadingAxesCount, makeSumConfig, SUM_BY_POOLING_MIN_SIZE } from './sum.ts';
export { KernelScope, withKernelScope } from './kernel-scope.ts';
export { makeTileConfig, tileInPlace } from './tile.ts';

/**
 * Every kernel that training and evaluating the IR's layers runs on a tfjs backend (conv with and
 * without fused bias+ReLU, ReLU, max pooling, batch norm in training and inference mode, flatten,
 * dense, dropout, softmax cross-entropy on one-hot labels, argmax, SGD and momentum), as recorded by
 * `tf.profile` (test/tfjs/wasm-kernels-model.test.ts checks the list against a fresh profile), and
 * those the graph operators add (depthwise conv and its gradients, ReLU6, average and global average
 * pooling, add, concat, channel padding; test/models/graph-parity.test.ts trains them on wasm).
 */
export const WASM_TRAINING_KERNELS: readonly string[] = [
  'Add',
  'AddN',
  'ArgMax',
  'AvgPool',
  'AvgPoolGrad',
  'BatchMatMul',
  'Cast',
  'Concat',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Exp',
  'Floor',
  'FusedBatchNorm',
  'FusedConv2D',
  'FusedDepthwiseConv2D',
  'Identity',
  'LessEqual',
  'Log',
  'Max',
  'MaxPool',
  'MaxPoolGrad',
  'Mean',
  'Multiply',
  'Neg',
  'OneHot',
  'PadV2',
  'RealDiv',
  'Relu',
  'Relu6',
  'Reshape',
  'Rsqrt',
  'Slice',
  'Softmax',
  'Square',
  'Step',
  'Sub',
  'Sum',
  'Tile',
  'Transpose',
  'ZerosLike',
  '_FusedMatMul',
];

/** Native wasm kernels that expbench's own kernels are built from. */
export const WASM_KERNEL_DEPENDENCIES: readonly string[] = [
  'AvgPool',
  'BatchMatMul',
  'Cast',
  'Concat',
  'Conv2D',
  'DepthwiseConv2dNative',
  'Fill',
  'OneHot',
  'PadV2',
  'Reshape',
  'Slice',
  'StridedSlice',
  'Tile',
  'Transpose',
];

/** Why expbench provides a wasm kernel. */
export type ProvidedReason = 'missing' | 'wrong' | 'slower';

interface Provided {
  kernelName: string;
  reason: ProvidedReason;
  /** The config to register, given the native kernel it replaces (if any); undefined: cannot. */
  make(native: KernelConfig | undefined): KernelConfig | undefined;
}

const PROVIDED: readonly Provided[] = [
  { kernelName: 'Conv2DBackpropFilter', reason: 'missing', make: () => conv2DBackpropFilterConfig },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    reason: 'missing',
    make: () => depthwiseBackpropFilterConfig,
  },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', reason: 'missing', make: () => depthwiseBackpropInputConfig },
  { kernelName: 'MaxPoolGrad', reason: 'wrong', make: () => maxPoolGradConfig },
  { kernelName: 'Conv2DBackpropInput', reason: 'slower', make: () => conv2DBackpropInputConfig },
  // Wraps the native kernel (plain products stay native), so it needs one.
  {
    kernelName: 'BatchMatMul',
    reason: 'slower',
    make: (native) => (native ? makeBatchMatMulConfig(native) : undefined),
  },
  // Leading-axes sums (bias gradients) by pooling; every other Sum goes to the native kernel it wraps.
  { kernelName: 'Sum', reason: 'slower', make: (native) => (native ? makeSumConfig(native) : undefined) },
  // Block copies for float32/int32/bool; other dtypes go to the native kernel it wraps.
  { kernelName: 'Tile', reason: 'slower', make: (native) => (native ? makeTileConfig(native) : undefined) },
];

/** The configs expbench registered, by kernel name. */
const installed = new Map<string, KernelConfig>();
/** Native kernels set aside by a replacement, so {@link unregisterWasmTrainingKernels} can restore them. */
const setAside = new Map<string, KernelConfig>();

function isOurs(kernelName: string): boolean {
  const ours = installed.get(kernelName);
  return ours != null && getKernel(kernelName, 'wasm')?.kernelFunc === ours.kernelFunc;
}

/** Options of {@link registerWasmTrainingKernels}. */
export interface RegisterWasmTrainingKernelsOptions {
  /**
   * Replace native wasm kernels that are correct but far slower than a formulation on XNNPACK
   * (`Conv2DBackpropInput`, transposed `BatchMatMul`). Missing kernels are always added and wrong
   * ones (`MaxPoolGrad`) always replaced.
   * @default true
   */
  replaceNative?: boolean;
}

/** What {@link registerWasmTrainingKernels} left in place. */
export interface WasmTrainingKernelsResult {
  /** Kernels whose wasm implementation is now expbench's (added and replaced), sorted. */
  registered: string[];
  /** The subset of `registered` that replaced a native tfjs-backend-wasm kernel (wrong or slower). */
  replaced: string[];
  /** For each kernel in `registered`, why expbench provides it. */
  reasons: Record<string, ProvidedReason>;
}

/**
 * Registers expbench's wasm training kernels in tfjs's global kernel registry. Idempotent: a second
 * call changes nothing and reports the same. Works before or after `tf.setBackend('wasm')` (the
 * engine looks kernels up on every call; these kernels need no per-backend setup). Import
 * `@tensorflow/tfjs-backend-wasm` first: which native kernels exist is read from the registry.
 */
export function registerWasmTrainingKernels(opts: RegisterWasmTrainingKernelsOptions = {}): WasmTrainingKernelsResult {
  const replaceNative = opts.replaceNative ?? true;
  if (getKernelsForBackend('wasm').length === 0) {
    // Registered first, these kernels would be overwritten by the package's own on its import.
    throw new BackendError('no tfjs wasm kernels are registered yet', {
      hint: "import '@tensorflow/tfjs-backend-wasm' before calling registerWasmTrainingKernels()",
    });
  }
  for (const p of PROVIDED) {
    if (isOurs(p.kernelName)) continue;
    const existing = getKernel(p.kernelName, 'wasm');
    // A kernel that only fills a gap stays native once tfjs ships one.
    if (existing != null && (p.reason === 'missing' || (p.reason === 'slower' && !replaceNative))) continue;
    const config = p.make(existing);
    if (config == null) continue;
    if (existing != null) {
      setAside.set(p.kernelName, existing);
      unregisterKernel(p.kernelName, 'wasm');
    }
    registerKernel(config);
    installed.set(p.kernelName, config);
  }
  const ours = PROVIDED.filter((p) => isOurs(p.kernelName)).sort((a, b) => a.kernelName.localeCompare(b.kernelName));
  return {
    registered: ours.map((p) => p.kernelName),
    replaced: ours.filter((p) => setAside.has(p.kernelName)).map((p) => p.kernelName),
    reasons: Object.fromEntries(ours.map((p) => [p.kernelName, p.reason])),
  };
}

/**
 * Removes expbench's wasm kernels and puts back the native ones they replaced (tests compare the
 * two; a process can also opt out after registering).
 */
export function unregisterWasmTrainingKernels(): void {
  for (const p of PROVIDED) {
    if (!isOurs(p.kernelName)) continue;
    unregisterKernel(p.kernelName, 'wasm');
    installed.delete(p.kernelName);
    const native = setAside.get(p.kernelName);
    if (native != null) {
      registerKernel(native);
      setAside.delete(p.kernelName);
    }
  }
}

/**
 * Kernels that training the IR's layers needs on wasm (and that expbench's kernels are built from)
 * which are not registered for backend 'wasm' right now, sorted. Empty after
 * {@link registerWasmTrainingKernels} with tfjs-backend-wasm 4.22; before it, `Conv2DBackpropFilter` and
 * the two depthwise gradients.
 */
export function missingWasmTrainingKernels(): string[] {
  const wanted = new Set([...WASM_TRAINING_KERNELS, ...WASM_KERNEL_DEPENDENCIES]);
  return [...wanted].filter((k) => getKernel(k, 'wasm') == null).sort();
}
