/**
 * Data augmentation as training recipes declare it (`augment: { crop: { size: 32, padding: 4 }, flip: true }`):
 * a random crop of the image padded with black on every side (torchvision's `RandomCrop(size, padding)`)
 * followed by a random horizontal flip (`RandomHorizontalFlip()`), both on the uint8 image before
 * normalisation, as torchvision applies them before `Normalize`.
 *
 * The random choices of an epoch are a pure function of (seed, epoch, position in the epoch's order),
 * drawn by the runner into an {@link AugmentPlan} and applied by `fillBatch` on the host (or, on
 * onnxruntime/webgpu, by the same copies in the device-side gather), so every backend sees
 * byte-identical augmented batches.
 */
import { mixSeed, mulberry32 } from './prng.ts';

export interface AugmentConfig {
  /** Random crop of the image side (`size`, when given, must equal it: the network's input does not change) after zero padding. */
  crop?: { size?: number; padding: number };
  /** Random horizontal flip with probability ½. */
  flip: boolean;
}

/** One epoch's augmentation: for the example at position `p` of the epoch's order, its crop offset and flip. */
export interface AugmentPlan {
  padding: number;
  /** Crop offsets in `[0, 2·padding]`, per position (`dx` across, `dy` down, in the padded image). */
  dx: Uint8Array;
  dy: Uint8Array;
  /** 1: mirror left–right. */
  flip: Uint8Array;
}

/** Tag mixed into the seed, so the augmentation stream differs from the shuffle of the same epoch. */
const AUGMENT_STREAM = 0x617567;

/** The plan of epoch `epoch` for `n` positions: crop offsets then flips, from one seeded stream. */
export function augmentPlan(cfg: AugmentConfig, seed: number, epoch: number, n: number): AugmentPlan {
  const padding = cfg.crop?.padding ?? 0;
  const rng = mulberry32(mixSeed(seed, epoch, AUGMENT_STREAM));
  const plan: AugmentPlan = { padding, dx: new Uint8Array(n), dy: new Uint8Array(n), flip: new Uint8Array(n) };
  const span = 2 * padding + 1;
  for (let i = 0; i < n; i++) {
    if (padding > 0) {
      plan.dx[i] = Math.floor(rng() * span);
      plan.dy[i] = Math.floor(rng() * span);
    } else {
      plan.dx[i] = 0;
      plan.dy[i] = 0;
    }
    plan.flip[i] = cfg.flip && rng() < 0.5 ? 1 : 0;
  }
  return plan;
}

/**
 * For output column `x` of an augmented image, the source column (or −1: padding). Written into `cols`
 * (length W) once per example, so the pixel loops only look columns up.
 */
export function sourceColumns(plan: AugmentPlan, position: number, width: number, cols: Int32Array): void {
  const shift = plan.dx[position]! - plan.padding;
  const flip = plan.flip[position] === 1;
  for (let x = 0; x < width; x++) {
    const sx = (flip ? width - 1 - x : x) + shift;
    cols[x] = sx >= 0 && sx < width ? sx : -1;
  }
}

/** The source row of output row `y` (or −1: padding). */
export function sourceRow(plan: AugmentPlan, position: number, height: number, y: number): number {
  const sy = y + plan.dy[position]! - plan.padding;
  return sy >= 0 && sy < height ? sy : -1;
}
