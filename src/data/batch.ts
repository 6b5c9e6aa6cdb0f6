/**
 * Turns examples of a {@link Split} into a normalised float32 batch in the layout a backend wants,
 * writing into a caller-owned buffer so training never allocates per step or copies the dataset.
 */
import type { Layout, Normalization, Split } from './types.ts';

export interface BatchGeometry {
  channels: number;
  height: number;
  width: number;
}

/**
 * Fills `out` with `count` examples `order[start..start+count)`, normalised `(x/255 - mean) / std`,
 * and `labels` with their class ids. `out` must hold `count * C * H * W` floats.
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
