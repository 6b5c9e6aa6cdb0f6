/**
 * Turns examples of a {@link Split} into a normalised float32 batch in the layout a backend wants,
 * writing into a caller-owned buffer so training never allocates per step or copies the dataset.
 */
import { type AugmentPlan, sourceColumns, sourceRow } from './augment.ts';
import type { Layout, Normalization, Split } from './types.ts';

export interface BatchGeometry {
  channels: number;
  height: number;
  width: number;
}

/**
 * Fills `out` with `count` examples `order[start..start+count)`, normalised `(x/255 - mean) / std`,
 * and `labels` with their class ids. `out` must hold `count * C * H * W` floats. With `augment`, the
 * example at position `p` of the order is cropped and flipped as the plan says for `p` (padding is
 * black, i.e. 0 before normalisation).
 */
export function fillBatch(
  split: Split,
  geo: BatchGeometry,
  norm: Normalization,
  order: ArrayLike<number>,
  start: number,
  count: number,
  layout: Layout,
  out: Float32Array,
  labels?: Int32Array | Float32Array,
  augment?: AugmentPlan,
): void {
  const { channels: C, height: H, width: W } = geo;
  const per = C * H * W;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = 1 / (255 * norm.std[c]!);
    shift[c] = -norm.mean[c]! / norm.std[c]!;
  }
  const img = split.images;
  if (augment) {
    fillAugmented(img, split.labels, geo, scale, shift, order, start, count, layout, out, augment, labels);
    return;
  }
  for (let b = 0; b < count; b++) {
    const idx = order[start + b]!;
    const src = idx * per;
    const dst = b * per;
    if (layout === 'NHWC') {
      for (let p = 0; p < H * W; p++) {
        for (let c = 0; c < C; c++) out[dst + p * C + c] = img[src + p * C + c]! * scale[c]! + shift[c]!;
      }
    } else {
      for (let c = 0; c < C; c++) {
        const plane = dst + c * H * W;
        for (let p = 0; p < H * W; p++) out[plane + p] = img[src + p * C + c]! * scale[c]! + shift[c]!;
      }
    }
    if (labels) labels[b] = split.labels[idx]!;
  }
}

/** The identity order `0..n-1` (inference, evaluation). */
export function identityOrder(n: number): Uint32Array {
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/** {@link fillBatch} with an augmentation plan: every output pixel looks its source pixel up. */
function fillAugmented(
  img: Uint8Array,
  splitLabels: ArrayLike<number>,
  geo: BatchGeometry,
  scale: Float32Array,
  shift: Float32Array,
  order: ArrayLike<number>,
  start: number,
  count: number,
  layout: Layout,
  out: Float32Array,
  plan: AugmentPlan,
  labels?: Int32Array | Float32Array,
): void {
  const { channels: C, height: H, width: W } = geo;
  const per = C * H * W;
  const plane = H * W;
  const cols = new Int32Array(W);
  const nhwc = layout === 'NHWC';
  for (let b = 0; b < count; b++) {
    const position = start + b;
    const idx = order[position]!;
    const src = idx * per;
    const dst = b * per;
    sourceColumns(plan, position, W, cols);
    for (let y = 0; y < H; y++) {
      const sy = sourceRow(plan, position, H, y);
      for (let x = 0; x < W; x++) {
        const sx = cols[x]!;
        const from = sy < 0 || sx < 0 ? -1 : src + (sy * W + sx) * C;
        const p = y * W + x;
        for (let c = 0; c < C; c++) {
          const v = from < 0 ? shift[c]! : img[from + c]! * scale[c]! + shift[c]!;
          out[nhwc ? dst + p * C + c : dst + c * plane + p] = v;
        }
      }
    }
    if (labels) labels[b] = splitLabels[idx]!;
  }
}
