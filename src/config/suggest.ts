/** Did-you-mean suggestions for names typed in experiment files (keys, metrics, backends, profiles). */
import { closest, distance } from 'fastest-levenshtein';

/** The closest candidate when it is plausibly a typo of `input` (case and small edits). */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = input.toLowerCase();
  const exactCase = candidates.find((c) => c.toLowerCase() === lower);
  if (exactCase) return exactCase;
  const guess = closest(
    lower,
    candidates.map((c) => c.toLowerCase()),
  );
  const d = distance(lower, guess);
  if (d > Math.max(2, Math.floor(guess.length / 3))) return undefined;
  return candidates.find((c) => c.toLowerCase() === guess);
}
