/**
 * Per-operator profiles of a training step: where a step's time goes, by operator type and by graph
 * node, split into forward, backward and optimizer. The profile's shape is shared vocabulary (backends
 * produce it, the record stores it, reporters render it), and so is the one way kernel timings are
 * summarised into it: backends collect timings with their own profiler (ONNX Runtime's session
 * profiler, tfjs's `tf.profile`) and hand them to {@link aggregateOpProfile}. Pure functions, no imports.
 *
 * Profiling distorts what it measures (ONNX Runtime writes an event per kernel, tfjs times kernels one
 * by one), so it never runs inside a timed phase: the runner profiles in a session of its own, created
 * after the case's last timed phase (`src/runner/op-profile.ts`).
 */

/** Part of a training step a kernel belongs to. */
export type StepSection = 'forward' | 'backward' | 'optimizer' | 'other';

/** Every section, in step order. */
export const STEP_SECTIONS: readonly StepSection[] = ['forward', 'backward', 'optimizer', 'other'];

/** One kernel execution as a profiler saw it. */
export interface KernelTiming {
  /** Graph node (ONNX Runtime) or kernel label (tfjs) it ran for. */
  node: string;
  /** Operator type (`Conv`, `FusedConv`, `Conv2DBackpropFilter`, …). */
  op: string;
  section: StepSection;
  ms: number;
}

/** Time per profiled step and its share of the step's kernel time. */
export interface OpShare {
  /** Milliseconds per step (mean over the profiled steps). */
  ms: number;
  /** Share of the step's kernel time, 0–1. */
  share: number;
}

export interface OpTypeRow extends OpShare {
  op: string;
  /** Kernel executions per step. */
  calls: number;
  /** Milliseconds per step in each section (sections without time left out). */
  sections: Partial<Record<StepSection, number>>;
}

export interface NodeRow extends OpShare {
  node: string;
  op: string;
  section: StepSection;
}

/** A training step's per-operator profile on one backend (an optional part of the result record). */
export interface OpProfile {
  /** Which profiler measured it, e.g. `ONNX Runtime session profiler (kernel_time events)`. */
  source: string;
  batchSize: number;
  /** Steps run before the profiled ones (allocation, kernel selection), not counted. */
  warmupSteps: number;
  /** Steps the figures average over. */
  steps: number;
  /** Wall time of a profiled step (mean, milliseconds), profiler overhead included. */
  stepMs: number;
  /** Sum of the kernel times of a step (mean, milliseconds): the denominator of every share. */
  kernelMs: number;
  sections: Record<StepSection, OpShare>;
  /** Every operator type, most time first. */
  byOpType: OpTypeRow[];
  /** The nodes with the most time, most first (at most {@link TOP_NODES}). */
  byNode: NodeRow[];
  /** Where and how the profile was taken (kept out of the timed phases). */
  note: string;
}

/** Nodes kept in {@link OpProfile.byNode}. */
export const TOP_NODES = 25;

/** What {@link aggregateOpProfile} needs besides the kernel timings. */
export interface OpProfileMeta {
  source: string;
  batchSize: number;
  warmupSteps: number;
  steps: number;
  /** Wall time of each profiled step, milliseconds. */
  stepWallMs: number[];
  note: string;
}

/**
 * Summarises the kernel timings of `meta.steps` profiled steps: per-step means by operator type, by
 * node and by section, each with its share of the step's kernel time.
 */
export function aggregateOpProfile(kernels: readonly KernelTiming[], meta: OpProfileMeta): OpProfile {
  if (!Number.isInteger(meta.steps) || meta.steps < 1)
    throw new RangeError(`aggregateOpProfile: steps must be a positive integer, got ${meta.steps}`);
  const per = 1 / meta.steps;
  const total = kernels.reduce((s, k) => s + k.ms, 0) * per;
  const share = (ms: number) => (total > 0 ? ms / total : 0);
  const sections = Object.fromEntries(STEP_SECTIONS.map((s) => [s, { ms: 0, share: 0 }])) as Record<
    StepSection,
    OpShare
  >;
  const ops = new Map<string, { ms: number; calls: number; sections: Partial<Record<StepSection, number>> }>();
  const nodes = new Map<string, NodeRow>();
  for (const k of kernels) {
    const ms = k.ms * per;
    sections[k.section].ms += ms;
    const o = ops.get(k.op) ?? { ms: 0, calls: 0, sections: {} };
    o.ms += ms;
    o.calls += 1;
    o.sections[k.section] = (o.sections[k.section] ?? 0) + ms;
    ops.set(k.op, o);
    const key = `${k.node}\u0000${k.op}`;
    const n = nodes.get(key) ?? { node: k.node, op: k.op, section: k.section, ms: 0, share: 0 };
    n.ms += ms;
    nodes.set(key, n);
  }
  for (const s of STEP_SECTIONS) sections[s].share = share(sections[s].ms);
  const byOpType = [...ops]
    .map(([op, o]) => ({ op, ms: o.ms, share: share(o.ms), calls: o.calls / meta.steps, sections: o.sections }))
    .sort((a, b) => b.ms - a.ms || a.op.localeCompare(b.op));
  const byNode = [...nodes.values()]
    .map((n) => ({ ...n, share: share(n.ms) }))
    .sort((a, b) => b.ms - a.ms || a.node.localeCompare(b.node))
    .slice(0, TOP_NODES);
  const wall = meta.stepWallMs.length > 0 ? meta.stepWallMs.reduce((a, b) => a + b, 0) / meta.stepWallMs.length : 0;
  return {
    source: meta.source,
    batchSize: meta.batchSize,
    warmupSteps: meta.warmupSteps,
    steps: meta.steps,
    stepMs: wall,
    kernelMs: total,
    sections,
    byOpType,
    byNode,
    note: meta.note,
  };
}

/**
 * Assigns a section to kernels whose node the graph does not name (nodes the runtime inserted, such
 * as ONNX Runtime's layout reorders): the section of the nearest named kernel before it in execution
 * order, or after it for leading ones; `other` when no kernel is named.
 */
export function fillSections<T extends { section: StepSection | undefined }>(
  seq: readonly T[],
): Array<Omit<T, 'section'> & { section: StepSection }> {
  const out = seq.map((k) => ({ ...k })) as Array<Omit<T, 'section'> & { section: StepSection }>;
  let last: StepSection | undefined;
  const pending: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const s = seq[i]!.section;
    if (s === undefined) {
      if (last) out[i]!.section = last;
      else pending.push(i);
    } else {
      last = s;
      for (const j of pending.splice(0)) out[j]!.section = s;
    }
  }
  for (const j of pending) out[j]!.section = 'other';
  return out;
}
