/**
 * The checks and completions of a loaded experiment's training recipe that the schema cannot make
 * (`recipe-schema.ts` defines the keys): a crop must keep the image side, `seeds` set the repeats
 * (one each), `stopAfter` within the epochs, a time-to-accuracy target implies evaluation every epoch, milestones in order. Problems
 * go to the loader's `report`, which locates them in the file.
 */
import type { ValuePath } from './locate.ts';
import type { Experiment } from './types.ts';

export type RecipeProblem = (path: ValuePath, d: { reason: string; message: string; hint: string }) => void;

/**
 * Completes `exp`'s recipe in place. `raw` is the experiment as written (to tell a given `repeats`
 * from its default); `side` is the image side when known before loading data.
 */
export function completeRecipe(
  exp: Experiment,
  raw: Record<string, unknown>,
  side: number | undefined,
  report: RecipeProblem,
): void {
  const t = exp.training;
  t.optimizer = { ...t.optimizer };
  t.schedule =
    t.schedule.kind === 'multistep'
      ? { ...t.schedule, milestones: [...t.schedule.milestones].sort((a, b) => a - b) }
      : { ...t.schedule };
  const size = t.augment?.crop?.size;
  if (size !== undefined && side !== undefined && size !== side)
    report(['training', 'augment', 'crop', 'size'], {
      reason: 'augment',
      message: `training.augment.crop.size ${size} differs from the ${side}×${side} images: the crop keeps the network's input size`,
      hint: `use size: ${side} (the padding sets how far the crop moves), or leave size out`,
    });
  if (t.stopAfter !== undefined && t.stopAfter > t.epochs)
    report(['training', 'stopAfter'], {
      reason: 'stopAfter',
      message: `training.stopAfter ${t.stopAfter} is more than the recipe's ${t.epochs} epochs`,
      hint: `use at most ${t.epochs}, or leave stopAfter out to run the whole recipe`,
    });
  if (exp.expect.timeToAccuracy && !exp.evaluate) exp.evaluate = { every: 1 };
  if (exp.seeds) {
    exp.seeds = [...exp.seeds];
    if (raw.repeats !== undefined && raw.repeats !== exp.seeds.length)
      report(['repeats'], {
        reason: 'seeds',
        message: `repeats ${String(raw.repeats)} disagrees with the ${exp.seeds.length} seeds: there is one repeat per seed`,
        hint: 'leave repeats out when seeds are given',
      });
    exp.repeats = exp.seeds.length;
  }
}
