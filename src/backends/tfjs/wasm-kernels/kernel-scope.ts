/**
 * Running a backend's own kernels from inside another kernel function.
 *
 * A kernel function receives TensorInfos and the backend instance, and must return TensorInfos the
 * engine will wrap. Calling `tf.*` ops from inside it would go through the engine a second time
 * (tensors tracked by the engine, counted in `tf.memory()`, owned by whatever tidy scope is open),
 * which is how leaks and double frees happen. The wasm backend's own composite kernels do it at
 * backend level instead: call the other kernel's `kernelFunc` with the same backend and free the
 * intermediate outputs with `backend.disposeData`. {@link KernelScope} does exactly that, looking the
 * kernels up in tfjs's registry (`getKernel`), so the arithmetic stays in the backend's native
 * kernels (XNNPACK for Conv2D and BatchMatMul on wasm) and nothing the engine sees is created.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { BackendError } from '../../../errors.ts';

/** Intermediate results of one kernel invocation, freed together when the invocation ends. */
export class KernelScope {
  private readonly temps = new Set<TensorInfo>();

  /**
   * @param backend the backend instance the outer kernel function was given
   * @param backendName the name its kernels are registered under (`'wasm'`)
   */
  constructor(
    readonly backend: KernelBackend,
    readonly backendName: string,
  ) {}

  /**
   * Runs kernel `kernelName` of this backend on `inputs` and returns its output, which this scope
   * owns until {@link keep} hands it out or {@link dispose} frees it. `inputs` is an array for
   * kernels that take a list (Concat); `attrs` are the kernel's attributes as tfjs names them.
   */
  run(
    kernelName: string,
    inputs: Record<string, TensorInfo> | TensorInfo[],
    attrs: Record<string, unknown> = {},
  ): TensorInfo {
    const config = getKernel(kernelName, this.backendName);
    if (config == null) {
      throw new BackendError(`kernel '${kernelName}' is not registered for backend '${this.backendName}'`, {
        hint: `expbench's ${this.backendName} training kernels are built from it; check the installed @tensorflow/tfjs-backend-${this.backendName} version`,
      });
    }
    return this.runConfig(config, inputs, attrs);
  }

  /**
   * Like {@link run}, but with a given kernel config instead of the registry's current one (a
   * replacement kernel calling the native kernel it wraps).
   */
  runConfig(
    config: KernelConfig,
    inputs: Record<string, TensorInfo> | TensorInfo[],
    attrs: Record<string, unknown> = {},
  ): TensorInfo {
    const kernelName = config.kernelName;
    const out = config.kernelFunc({
      inputs: inputs as NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as NamedAttrMap,
    });
    if (Array.isArray(out)) {
      for (const o of out) this.temps.add(o);
      throw new BackendError(`kernel '${kernelName}' returned ${out.length} outputs where one was expected`, {
        hint: 'use a single-output kernel inside KernelScope.run',
      });
    }
    this.temps.add(out);
    return out;
  }

  /** Takes ownership of `t`, a tensor allocated on this backend outside {@link run} (heap helpers). */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.add(t);
    return t;
  }

  /** Frees one intermediate now (large intermediates should not wait for the end of the kernel). */
  free(t: TensorInfo): void {
    if (this.temps.delete(t)) this.backend.disposeData(t.dataId);
  }

  /** Takes `t` out of the scope: it becomes the kernel's output, owned by the engine. */
  keep(t: TensorInfo): TensorInfo {
    if (!this.temps.delete(t)) {
      throw new BackendError('KernelScope.keep() was given a tensor this scope does not own', {
        hint: 'return an output created by KernelScope.run (a kernel must not return its own input)',
      });
    }
    return t;
  }

  /** Frees every intermediate still owned. Safe to call more than once. */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.clear();
  }

  /** How many intermediates the scope owns (tests check that kernels free as they go). */
  get size(): number {
    return this.temps.size;
  }
}

/**
 * Runs `body` with a fresh {@link KernelScope}; the TensorInfo it returns is kept, every other
 * intermediate is freed, also when `body` throws.
 */
export function withKernelScope(
  backend: KernelBackend,
  backendName: string,
  body: (s: KernelScope) => TensorInfo,
): TensorInfo {
  const scope = new KernelScope(backend, backendName);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
