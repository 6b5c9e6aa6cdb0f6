/**
 * The per-operator profile of a case (`profile: true` in the experiment, or `expbench run
 * --profile-ops`, which sets {@link PROFILE_OPS_ENV}).
 *
 * How it stays out of the timings: the worker calls {@link profileCase} only after the last timed
 * phase of the case's first process has finished and its session is disposed; the profile loads a
 * session of its own (untimed), runs its warm-up and profiled steps there and disposes it. Later
 * processes of the case (the other repeats) start fresh. A profile that cannot be taken leaves a
 * reason in the record and never fails the case.
 */
import type { Backend, LoadOptions } from '../backends/types.ts';
import type { Experiment } from '../config/types.ts';
import type { Dataset } from '../data/types.ts';
import { epochOrder } from '../data/prng.ts';
import type { ModelGraph, Weights } from '../models/ir.ts';
import type { OpProfile } from '../vocab/op-profile.ts';

/** `1`: profile every case, whatever the experiment says. */
export const PROFILE_OPS_ENV = 'EXPBENCH_PROFILE_OPS';

/** Steps run before the profiled ones (ONNX Runtime's first runs allocate and select kernels). */
export const PROFILE_WARMUP_STEPS = 3;
/** Steps the profile averages over. */
export const PROFILE_STEPS = 5;

/** Whether this experiment's cases record a profile. */
export function profileRequested(exp: Experiment, env: NodeJS.ProcessEnv = process.env): boolean {
  return exp.profileOps === true || env[PROFILE_OPS_ENV] === '1';
}

/** The case's per-operator profile, or why there is none. */
export async function profileCase(
  exp: Experiment,
  backend: Backend,
  model: ModelGraph,
  weights: Weights,
  data: Dataset,
  loadOpts: LoadOptions,
): Promise<{ profile: OpProfile } | { skipped: string }> {
  let session: Awaited<ReturnType<Backend['load']>>;
  try {
    session = await backend.load(model, weights, loadOpts);
  } catch (e) {
    return { skipped: `cannot load a session to profile: ${(e as Error).message.split('\n')[0]}` };
  }
  try {
    if (!session.profileOps) return { skipped: `${session.info.backend} has no per-operator profiler` };
    if (!exp.trains) return { skipped: 'the experiment has no training step to profile' };
    const split = data.train;
    const profile = await session.profileOps({
      split,
      batchSize: exp.training.batchSize,
      order: epochOrder(exp.training.seed, 0, split.n),
      warmupSteps: PROFILE_WARMUP_STEPS,
      steps: PROFILE_STEPS,
    });
    return { profile };
  } catch (e) {
    return { skipped: `profiling failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await session.dispose();
  }
}
