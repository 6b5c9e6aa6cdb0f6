/**
 * What a training recipe adds to the result record (all optional, so records without a recipe are
 * unchanged): the seed of each repeat, the accuracy and loss curve of each repeat's evaluations, the
 * time spent evaluating, and the time-to-accuracy outcome of each repeat; how the records of a case's
 * processes combine; and the time-to-accuracy gate.
 */

/** Test accuracy and loss after one evaluated epoch. */
export interface CurvePoint {
  /** 1-based epoch after which the evaluation ran. */
  epoch: number;
  accuracy: number;
  /** Mean cross-entropy over the test split (without label smoothing). */
  loss: number;
  /** Training time (seconds, evaluation excluded) up to this point. */
  trainSeconds: number;
}

/** One repeat's curve. */
export interface Curve {
  seed: number;
  points: CurvePoint[];
}

/** One repeat's time to accuracy. */
export interface TimeToAccuracySample {
  seed: number;
  reached: boolean;
  /** Training time to the target (evaluation excluded), when reached. */
  seconds?: number;
  /** Epochs trained when the target was reached. */
  epochs?: number;
  /** Best evaluated accuracy and its 1-based epoch. */
  best: { accuracy: number; epoch: number };
  /** Why training ended without the target: the epochs ran out, the `within` budget did, or `training.stopAfter` cut the run short. */
  ended?: 'epochs' | 'within' | 'stopAfter';
}

/** Optional record fields of a recipe run, one entry per timed repeat. */
export interface RecipeRecordFields {
  /** The seed of each repeat (initial weights, data order, augmentation). */
  seeds?: number[];
  /** Evaluation during training: one curve per repeat. */
  curves?: Curve[];
  /** Seconds spent evaluating during training, per repeat (outside the training clock). */
  evaluation?: { samples: number[] };
  timeToAccuracy?: { target: number; within?: number; samples: TimeToAccuracySample[] };
  /** The recipe in words: optimizer, schedule, label smoothing, augmentation. */
  recipe?: string;
}

/** Appends the recipe fields of a later process's record `r` to `out` (see `mergeRecords`). */
export function mergeRecipeFields(out: RecipeRecordFields, r: RecipeRecordFields): void {
  if (r.seeds) out.seeds = [...(out.seeds ?? []), ...r.seeds];
  if (r.curves) out.curves = [...(out.curves ?? []), ...r.curves];
  if (r.evaluation) out.evaluation = { samples: [...(out.evaluation?.samples ?? []), ...r.evaluation.samples] };
  if (r.recipe) out.recipe = r.recipe;
  if (r.timeToAccuracy)
    out.timeToAccuracy = {
      ...r.timeToAccuracy,
      samples: [...(out.timeToAccuracy?.samples ?? []), ...r.timeToAccuracy.samples],
    };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/**
 * The time-to-accuracy gate: one message per repeat that did not reach the target, naming its best
 * accuracy and that epoch; none when every repeat reached it. A repeat that `training.stopAfter` cut
 * short is no evidence either way: it is listed by {@link timeToAccuracyNotJudged}, not here.
 */
export function timeToAccuracyFailures(r: RecipeRecordFields): string[] {
  const t = r.timeToAccuracy;
  if (!t) return [];
  return t.samples
    .filter((s) => !s.reached && s.ended !== 'stopAfter')
    .map((s) => {
      const why =
        s.ended === 'within' && t.within !== undefined
          ? `within the ${t.within} s training budget`
          : 'within the configured epochs';
      return `time to accuracy: seed ${s.seed} never reached the target ${pct(t.target)} ${why}; best accuracy ${pct(s.best.accuracy)} at epoch ${s.best.epoch}`;
    });
}

/** Repeats a truncated run (`training.stopAfter`) ended before the target: not judged, with their best. */
export function timeToAccuracyNotJudged(r: RecipeRecordFields): string[] {
  const t = r.timeToAccuracy;
  if (!t) return [];
  return t.samples
    .filter((s) => !s.reached && s.ended === 'stopAfter')
    .map(
      (s) =>
        `time to accuracy not judged: seed ${s.seed} stopped by training.stopAfter (a truncated run) before the target ${pct(t.target)}; best accuracy ${pct(s.best.accuracy)} at epoch ${s.best.epoch}`,
    );
}

/** Records one timed repeat's recipe outcome (seed, curve, evaluation time, time to accuracy). */
export function addRecipeRepeat(
  record: RecipeRecordFields,
  exp: { seeds?: number[]; expect: { timeToAccuracy?: { target: number; within?: number } } },
  run: { curve?: Curve; evalSeconds: number; timeToAccuracy?: TimeToAccuracySample },
  seed: number,
  recipe: string,
): void {
  const target = exp.expect.timeToAccuracy;
  mergeRecipeFields(record, {
    recipe,
    ...(exp.seeds ? { seeds: [seed] } : {}),
    ...(run.curve ? { curves: [run.curve], evaluation: { samples: [run.evalSeconds] } } : {}),
    ...(target && run.timeToAccuracy ? { timeToAccuracy: { ...target, samples: [run.timeToAccuracy] } } : {}),
  });
}
