/**
 * Channels-last files. tf2onnx keeps a Keras model's NHWC input and inserts a Transpose to NCHW before
 * the first convolution (unless exported with `inputs_as_nchw`), and a Transpose back to NHWC before a
 * Keras `Flatten`. expbench's IR is NCHW throughout: such an input is fed NCHW (the Transpose vanishes)
 * and a channels-last flatten becomes the IR's flatten with the next dense layer's rows reordered.
 */
import type { OnnxModelData } from './decode.ts';

/** Transpose permutations of `[N, C, H, W]` ↔ `[N, H, W, C]`. */
export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;

export const isPerm = (perm: readonly number[] | undefined, want: readonly number[]): boolean =>
  perm !== undefined && perm.join() === want.join();

/** Whether the image input is NHWC: every node reading it is a Transpose to NCHW. */
export function inputIsNhwc(data: OnnxModelData): boolean {
  const name = data.inputs[0]?.name;
  if (name === undefined) return false;
  const readers = data.nodes.filter((n) => n.inputs.includes(name));
  return (
    readers.length > 0 &&
    readers.every((n) => {
      const perm = n.attrs.perm;
      return n.opType === 'Transpose' && perm?.type === 'ints' && isPerm(perm.value, NHWC_TO_NCHW);
    })
  );
}

/** The declared image shape `[C, H, W]` (null where symbolic) whichever the input layout; `[]` if not 4-D. */
export function declaredImageShape(data: OnnxModelData): Array<number | null> {
  const dims = data.inputs[0]?.dims;
  if (dims?.length !== 4) return [];
  const known = dims.map((d) => (typeof d === 'number' && d > 0 ? d : null));
  return inputIsNhwc(data) ? [3, 1, 2].map((i) => known[i] ?? null) : known.slice(1);
}
