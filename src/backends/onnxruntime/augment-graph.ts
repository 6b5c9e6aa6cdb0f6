/**
 * The runner's augmentation (`src/data/augment.ts`: a random crop after zero padding, then a random
 * horizontal flip) as graph nodes over a gathered, normalised NCHW batch, so a training step that
 * gathers its batch on the device augments it there too. Only copies: the image is padded with the
 * normalised value of a black pixel (what `fillBatch` writes for padding), then every output pixel is
 * gathered from its source, rows first, then columns. So the batch is byte-identical to the one
 * `fillBatch` makes on the host from the same plan.
 *
 * With the plan's offsets `dx`, `dy` in `[0, 2·padding]` and `flip` in {0, 1} per example, output pixel
 * (y, x) comes from the padded image's row `y + dy` and column `dx + (flip ? W − 1 − x : x)`, which is
 * `sourceRow` / `sourceColumns` shifted by the padding. Every operator here runs on ONNX Runtime's
 * WebGPU EP (int32 indices throughout).
 */
import type { OnnxGraph } from './graph.ts';

export interface AugmentNodes {
  /** `[batch, C, H, W]` float32, normalised: the gathered batch. */
  input: string;
  /** Name to give the augmented batch. */
  output: string;
  batch: number;
  /** `[C, H, W]`. */
  shape: readonly [number, number, number];
  padding: number;
  /** The normalised value of a black pixel, per channel (the padding). */
  padValues: readonly number[];
  /** `[batch]` int32 each: the plan's column offset, row offset and flip of each example. */
  dx: string;
  dy: string;
  flip: string;
}

/** Appends the augmentation of `a.input` as `a.output`; see the file header. */
export function appendAugment(g: OnnxGraph, a: AugmentNodes): void {
  const [C, H, W] = a.shape;
  const B = a.batch;
  const p = a.padding;
  const ints = (values: number[], dims: number[]) =>
    g.constant(g.fresh('aug_idx'), { type: 'int32', dims, data: Int32Array.from(values) });
  const perExample = (v: string) => g.op('Reshape', [v, g.ints([B, 1, 1, 1])]);
  let padded = a.input;
  if (p > 0) {
    const zeros = g.op('Pad', [a.input, g.ints([0, 0, p, p, 0, 0, p, p])]);
    const PH = H + 2 * p;
    const PW = W + 2 * p;
    const inside = Array.from({ length: PH * PW }, (_, i) => {
      const y = Math.floor(i / PW);
      const x = i % PW;
      return y >= p && y < p + H && x >= p && x < p + W;
    });
    const mask = g.constant(g.fresh('aug_inside'), { type: 'bool', dims: [1, 1, PH, PW], data: inside });
    padded = g.op('Where', [mask, zeros, g.floats([...a.padValues], [1, C, 1, 1], 'aug_pad')]);
  }
  // Rows: y + dy, the same for every channel and column of the padded width.
  const rows = g.op('Add', [
    perExample(a.dy),
    ints(
      Array.from({ length: H }, (_, y) => y),
      [1, 1, H, 1],
    ),
  ]);
  const byRow = g.op('GatherElements', [padded, g.op('Expand', [rows, g.ints([B, C, H, W + 2 * p])])], { axis: 2 });
  // Columns: dx + x + flip·(W − 1 − 2x).
  const cols = g.op('Add', [
    g.op('Add', [
      perExample(a.dx),
      ints(
        Array.from({ length: W }, (_, x) => x),
        [1, 1, 1, W],
      ),
    ]),
    g.op('Mul', [
      perExample(a.flip),
      ints(
        Array.from({ length: W }, (_, x) => W - 1 - 2 * x),
        [1, 1, 1, W],
      ),
    ]),
  ]);
  g.node('GatherElements', [byRow, g.op('Expand', [cols, g.ints([B, C, H, W])])], [a.output], { axis: 3 });
}
