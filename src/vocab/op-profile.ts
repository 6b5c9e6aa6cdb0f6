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
  /** Which profiled step (0-based) it ran in. */
  step: number;
}

/** Time per profiled step and its share of the step's kernel time. */
export interface OpShare {
  /** Milliseconds per step: the sum, over the nodes concerned, of each node's median over the steps. */
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
  /** Wall time of a profiled step (median, milliseconds), profiler overhead included. */
  stepMs: number;
  /** Sum of every node's median kernel time per step (milliseconds): the denominator of every share. */
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

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Summarises the kernel timings of `meta.steps` profiled steps. Each node's time per step is its
 * median over the steps (a kernel preempted by another process in one step does not count), and the
 * operator types, sections and the step's kernel time are sums of those medians, so every share is of
 * the same total.
 */
export function aggregateOpProfile(kernels: readonly KernelTiming[], meta: OpProfileMeta): OpProfile {
  if (!Number.isInteger(meta.steps) || meta.steps < 1)
    throw new RangeError(`aggregateOpProfile: steps must be a positive integer, got ${meta.steps}`);
  const nodes = new Map<string, { node: string; op: string; section: StepSection; perStep: number[]; calls: number }>();
  for (const k of kernels) {
    if (!Number.isInteger(k.step) || k.step < 0 || k.step >= meta.steps)
      throw new RangeError(`aggregateOpProfile: kernel ${k.node} has step ${k.step}, outside 0..${meta.steps - 1}`);
    const key = `${k.node}\u0000${k.op}`;
    let n = nodes.get(key);
    if (!n) {
      n = { node: k.node, op: k.op, section: k.section, perStep: new Array<number>(meta.steps).fill(0), calls: 0 };
      nodes.set(key, n);
    }
    n.perStep[k.step]! += k.ms;
    n.calls++;
  }
  const rows = [...nodes.values()].map((n) => ({ ...n, ms: medianOf(n.perStep) }));
  const total = rows.reduce((s, n) => s + n.ms, 0);
  const share = (ms: number) => (total > 0 ? ms / total : 0);
  const sections = Object.fromEntries(STEP_SECTIONS.map((s) => [s, { ms: 0, share: 0 }])) as Record<
    StepSection,
    OpShare
  >;
  const ops = new Map<string, { ms: number; calls: number; sections: Partial<Record<StepSection, number>> }>();
  for (const n of rows) {
    sections[n.section].ms += n.ms;
    const o = ops.get(n.op) ?? { ms: 0, calls: 0, sections: {} };
    o.ms += n.ms;
    o.calls += n.calls;
    o.sections[n.section] = (o.sections[n.section] ?? 0) + n.ms;
    ops.set(n.op, o);
  }
  for (const s of STEP_SECTIONS) sections[s].share = share(sections[s].ms);
  const byOpType = [...ops]
    .map(([op, o]) => ({ op, ms: o.ms, share: share(o.ms), calls: o.calls / meta.steps, sections: o.sections }))
    .sort((a, b) => b.ms - a.ms || a.op.localeCompare(b.op));
  const byNode = rows
    .map((n) => ({ node: n.node, op: n.op, section: n.section, ms: n.ms, share: share(n.ms) }))
    .sort((a, b) => b.ms - a.ms || a.node.localeCompare(b.node))
    .slice(0, TOP_NODES);
  return {
    source: meta.source,
    batchSize: meta.batchSize,
    warmupSteps: meta.warmupSteps,
    steps: meta.steps,
    stepMs: meta.stepWallMs.length > 0 ? medianOf(meta.stepWallMs) : 0,
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

/** Time per step by operator type, as a baseline keeps it beside a phase's timings. */
export interface OpTimes {
  /** The profiler ({@link OpProfile.source}): figures of different profilers are not compared. */
  source: string;
  batchSize: number;
  /** Milliseconds per step by operator type. */
  ms: Record<string, number>;
}

/** An operator type's time per step before and after (baseline and this run). */
export interface OpGrowth {
  op: string;
  beforeMs: number;
  afterMs: number;
}

/** The part of a profile a baseline keeps. */
export function opTimesOf(p: OpProfile): OpTimes {
  return { source: p.source, batchSize: p.batchSize, ms: Object.fromEntries(p.byOpType.map((o) => [o.op, o.ms])) };
}

/**
 * The operator types whose time per step grew from `before` to `after`, most added milliseconds first
 * (at most `top`; a type absent before counts from 0). `undefined` when the two are not comparable
 * (another profiler or batch size).
 */
export function opGrowth(before: OpTimes, after: OpTimes, top = 3): OpGrowth[] | undefined {
  if (before.source !== after.source || before.batchSize !== after.batchSize) return undefined;
  return Object.entries(after.ms)
    .map(([op, afterMs]) => ({ op, beforeMs: before.ms[op] ?? 0, afterMs }))
    .filter((g) => g.afterMs > g.beforeMs)
    .sort((a, b) => b.afterMs - b.beforeMs - (a.afterMs - a.beforeMs) || a.op.localeCompare(b.op))
    .slice(0, top);
}

/** `Conv 4.25 → 6.10 ms (+1.85 ms, +44 %)`, joined by commas. */
export function describeOpGrowth(g: readonly OpGrowth[]): string {
  const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
  return g
    .map((o) => {
      const pct = o.beforeMs > 0 ? `, +${Math.round((o.afterMs / o.beforeMs - 1) * 100)} %` : ', new';
      return `${o.op} ${ms(o.beforeMs)} → ${ms(o.afterMs)} ms (+${ms(o.afterMs - o.beforeMs)} ms${pct})`;
    })
    .join(', ');
}
