/**
 * Per-channel normalisation figures (0–1 scale) computed from a split's uint8 HWC images.
 */
import { DataError } from '../errors.ts';
import type { Normalization, Split } from './types.ts';

/** Normalisation given by the user instead of computed (`mean`/`std` per channel, 0–1 scale). */
export interface NormalizationInput {
  mean: number[];
  std: number[];
}

/**
 * Mean and population standard deviation of each channel over every pixel of `split`, on the 0–1
 * scale. Sums are kept as exact integers in float64 (50,000 × 1,024 × 255² ≈ 3.3e12 < 2^53), so the
 * figures do not depend on summation order. A channel with zero spread (a constant colour) gets
 * std 1 so that normalising never divides by zero.
 */
export function computeNormalization(split: Split, channels: number): Normalization {
  const C = channels;
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const img = split.images;
  const pixels = img.length / C;
  if (pixels === 0) {
    throw new DataError('cannot compute the normalisation: the train split is empty', {
      hint: 'ask for at least one train example, or give the per-channel mean and std explicitly',
    });
  }
  // Plain doubles hold these integer sums exactly (below 2^53), so no compensated summation needed.
  for (let c = 0; c < C; c++) {
    let s = 0;
    let s2 = 0;
    for (let i = c; i < img.length; i += C) {
      const v = img[i]!;
      s += v;
      s2 += v * v;
    }
    sum[c] = s;
    sq[c] = s2;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < C; c++) {
    const m = sum[c]! / pixels;
    const variance = Math.max(0, sq[c]! / pixels - m * m);
    const sd = Math.sqrt(variance) / 255;
    mean.push(m / 255);
    std.push(sd > 1e-8 ? sd : 1);
  }
  return { mean, std, source: 'computed-from-train' };
}

/** Checks user-given figures against the channel count; `where` names the config for the message. */
export function givenNormalization(input: NormalizationInput, channels: number, where: string): Normalization {
  const ok =
    Array.isArray(input.mean) &&
    Array.isArray(input.std) &&
    input.mean.length === channels &&
    input.std.length === channels &&
    input.mean.every((x) => Number.isFinite(x)) &&
    input.std.every((x) => Number.isFinite(x) && x > 0);
  if (!ok) {
    throw new DataError(
      `${where}: normalization must give ${channels} finite means and ${channels} positive stds (0–1 scale), got mean ${JSON.stringify(input.mean)} std ${JSON.stringify(input.std)}`,
      {
        hint: `give one value per channel, e.g. mean: [${Array(channels).fill('0.5').join(', ')}], or leave normalization out to compute it from the train split`,
      },
    );
  }
  return { mean: [...input.mean], std: [...input.std], source: 'given' };
}
