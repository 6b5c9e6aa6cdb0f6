/**
 * Per-operator profiles on tfjs: each training step runs inside `tf.profile`, which times every
 * kernel the engine dispatches (`backend.time` around it: wall time on the synchronous CPU and WASM
 * backends, GPU timer queries where the backend has them). The step marks where its forward pass,
 * backward pass and optimizer update begin by the length of the profile's kernel list at that moment,
 * so each kernel gets its section. A kernel's node is its position in the step and its output shape
 * (tfjs has no graph nodes), e.g. `#12 Conv2D → 64×32×32×64`.
 *
 * `tf.profile` also lists each custom-gradient op (`fusedConv2d__op`, `softmaxCrossEntropy__op`, the
 * batch-norm op) under its scope name, timed around the kernels it runs, which it lists as well; only
 * registered kernels are kept, so no time is counted twice.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelTiming, StepSection } from '../../vocab/op-profile.ts';

/** The profiler tfjs profiles are taken with, as the record names it. */
export const TFJS_PROFILE_SOURCE = 'tf.profile kernel timings (kernelTimeMs)';

/** Called by a profiled step where a section begins. */
export type SectionMark = (section: StepSection) => void;

/** Kernels the active `tf.profile` has recorded so far (tfjs keeps them on the engine's state). */
function recordedKernels(): number {
  const state = (tf.engine() as unknown as { state: { activeProfile: { kernels: unknown[] } } }).state;
  return state.activeProfile.kernels.length;
}

/**
 * Runs `step` once under `tf.profile`; `step` calls its mark at the start of each section. Returns the
 * step's kernels with their sections, numbered as profiled step `index`, and the step's wall time
 * (profiling overhead included).
 */
export async function profileStep(
  index: number,
  step: (mark: SectionMark) => void,
): Promise<{ kernels: KernelTiming[]; ms: number }> {
  const bounds: Array<{ at: number; section: StepSection }> = [];
  const t0 = performance.now();
  const info = await tf.profile(() => {
    step((section) => bounds.push({ at: recordedKernels(), section }));
  });
  const ms = performance.now() - t0;
  const sectionAt = (i: number): StepSection => {
    let s: StepSection = bounds[0]?.section ?? 'other';
    for (const b of bounds) if (b.at <= i) s = b.section;
    return s;
  };
  const backend = tf.getBackend();
  const kernels = info.kernels.flatMap((k, i) => {
    if (!tf.getKernel(k.name, backend)) return [];
    const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const shape = k.outputShapes[0]?.join('×') ?? '';
    return [
      {
        node: `#${i} ${k.name}${shape ? ` → ${shape}` : ''}`,
        op: k.name,
        section: sectionAt(i),
        ms: t,
        step: index,
      },
    ];
  });
  return { kernels, ms };
}
