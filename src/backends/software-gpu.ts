/**
 * Whether a WebGPU adapter is a real GPU. Dawn happily runs on a CPU implementation of Vulkan (Mesa's
 * lavapipe/llvmpipe, SwiftShader); timings from one are not GPU timings, so GPU backends treat such an
 * adapter as no GPU unless `EXPBENCH_SOFTWARE_GPU=1` asks for it — which is how the GPU code paths are
 * exercised on a machine without a GPU (correctness, not speed).
 */

/** The adapter fields the check reads (WebGPU `GPUAdapterInfo`, plus the older `isFallbackAdapter`). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

const SOFTWARE = /\b(software|llvmpipe|lavapipe|swiftshader|warp)\b/i;

/** True when the adapter is a software (CPU) implementation. */
export function isSoftwareAdapter(info: AdapterInfoLike | undefined, isFallbackAdapter = false): boolean {
  if (isFallbackAdapter || info?.isFallbackAdapter) return true;
  if (!info) return false;
  return [info.architecture, info.device, info.description].some((s) => typeof s === 'string' && SOFTWARE.test(s));
}

/** Whether software adapters may run GPU cases (`EXPBENCH_SOFTWARE_GPU=1`). */
export function softwareGpuAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.EXPBENCH_SOFTWARE_GPU === '1';
}

/** The reason a GPU backend gives for refusing a software adapter. */
export function softwareAdapterReason(described: string): string {
  return `no GPU: the only WebGPU adapter is a software one (${described}); set EXPBENCH_SOFTWARE_GPU=1 to run the GPU cases on it anyway (to test the GPU code paths, not to time them)`;
}

interface DawnAdapter {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
}

/**
 * The adapter Dawn (the `webgpu` package) picks, described, and whether it is software; undefined
 * when there is none or the package cannot load. Used by backends that bring their own Dawn (ONNX
 * Runtime's WebGPU EP), which would pick from the same Vulkan drivers.
 */
export async function dawnAdapter(): Promise<{ described: string; software: boolean } | undefined> {
  try {
    const webgpu = (await import('webgpu')) as unknown as {
      create: (opts: string[]) => { requestAdapter(o?: object): Promise<DawnAdapter | null> };
    };
    const adapter = await webgpu.create([]).requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return undefined;
    const i = adapter.info;
    const described =
      [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s && s.length > 0).join(' ') ||
      'unknown adapter';
    return { described, software: isSoftwareAdapter(i, adapter.isFallbackAdapter === true) };
  } catch {
    return undefined;
  }
}
