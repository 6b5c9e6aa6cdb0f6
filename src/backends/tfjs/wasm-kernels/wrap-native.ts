/**
 * The config of a wasm kernel that replaces a native one but still calls it for some inputs.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';

/**
 * A `wasm` kernel config named as `native`, running `kernelFunc`, and keeping `native`'s setup: the
 * stock kernel's setup binds its C++ entry point, which must still run whenever the backend
 * initialises, since the replacement delegates to it.
 */
export function wrapNative(native: KernelConfig, kernelFunc: (args: never) => unknown): KernelConfig {
  const config: KernelConfig = {
    kernelName: native.kernelName,
    backendName: 'wasm',
    kernelFunc: kernelFunc as unknown as KernelFunc,
  };
  if (native.setupFunc) config.setupFunc = native.setupFunc;
  return config;
}
