/**
 * Per-operator profiles on ONNX Runtime: a training step run in a session created with ONNX Runtime's
 * own profiler (`enableProfiling`), whose JSON trace (Chrome trace events, written at
 * `endProfiling()`) has one `<node>_kernel_time` event per kernel execution and one `model_run` event
 * per `session.run`. Kernels are assigned to the run whose interval holds them, the warm-up runs are
 * dropped, and each kernel's node is looked up in the training graph's sections (forward, backward,
 * optimizer), by the name before any `/` ONNX Runtime appended when it rewrote the node; nodes it
 * inserted itself (layout reorders) take the section of the kernel run before them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { BackendError } from '../../errors.ts';
import { fillSections, type KernelTiming, type StepSection } from '../../vocab/op-profile.ts';
import type { OnnxGraph } from './graph.ts';

/** The profiler ONNX Runtime profiles are taken with, as the record names it. */
export const ORT_PROFILE_SOURCE = 'ONNX Runtime session profiler (enableProfiling: kernel_time events)';

/**
 * Sections of a training-step graph's nodes: the nodes named in `forward` (forward pass and loss, as
 * built before differentiation) and any node before the last of them (batch norm and LogSoftmax are
 * lowered in place) are forward; nodes from index `optimizerFrom` on are the optimizer; the rest, the
 * gradient pass, backward.
 */
export function nodeSections(
  g: OnnxGraph,
  forward: ReadonlySet<string>,
  optimizerFrom: number,
): Map<string, StepSection> {
  let lastForward = -1;
  g.nodes.forEach((n, i) => {
    if (forward.has(n.name)) lastForward = i;
  });
  const out = new Map<string, StepSection>();
  g.nodes.forEach((n, i) => {
    out.set(n.name, i <= lastForward ? 'forward' : i >= optimizerFrom ? 'optimizer' : 'backward');
  });
  return out;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string };
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * Kernel timings of the runs after the first `skipRuns` in an ONNX Runtime profile trace, in execution
 * order, and the wall time of each kept run (milliseconds).
 */
export function parseOrtProfile(
  trace: unknown,
  sections: ReadonlyMap<string, StepSection>,
  skipRuns: number,
): { kernels: KernelTiming[]; runMs: number[] } {
  if (!Array.isArray(trace))
    throw new BackendError(
      'onnxruntime profile: the trace is not a JSON array of events. Hint: a newer ONNX Runtime changed its profile format.',
    );
  const events = trace as TraceEvent[];
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number')
    .sort((a, b) => a.ts! - b.ts!)
    .slice(skipRuns);
  const runOf = (ts: number) => runs.findIndex((r) => ts >= r.ts! && ts <= r.ts! + (r.dur ?? 0));
  const seq = events
    .filter((e) => e.cat === 'Node' && e.name?.endsWith(KERNEL_SUFFIX) && typeof e.ts === 'number' && runOf(e.ts) >= 0)
    .sort((a, b) => a.ts! - b.ts!)
    .map((e) => {
      const node = e.name!.slice(0, -KERNEL_SUFFIX.length);
      // A node ONNX Runtime rewrote keeps its name before a `/` (`n_MatMul__7/MatmulTransposeFusion/`).
      const section = sections.get(node) ?? sections.get(node.split('/')[0]!);
      return { node, op: e.args?.op_name ?? 'unknown', ms: (e.dur ?? 0) / 1000, section, step: runOf(e.ts!) };
    });
  return { kernels: fillSections(seq), runMs: runs.map((r) => (r.dur ?? 0) / 1000) };
}

/**
 * Creates a profiling session for `model` (its trace goes to a temporary folder), lets `use` run it,
 * ends profiling and returns the parsed trace; the session and the folder are gone afterwards.
 */
export async function withProfiledSession(
  ort: { InferenceSession: typeof InferenceSession },
  model: Uint8Array,
  options: InferenceSession.SessionOptions,
  use: (session: InferenceSession) => Promise<void>,
): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'expbench-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(model, {
      ...options,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'step'),
    });
    try {
      await use(session);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file)
      throw new BackendError(
        `onnxruntime profile: endProfiling() wrote no trace into ${dir}. Hint: this onnxruntime-node build may lack the profiler.`,
      );
    return JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
