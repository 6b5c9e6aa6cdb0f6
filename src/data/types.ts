/**
 * Datasets as loaded into memory. Images are kept as 8-bit, interleaved HWC per image (what decoders
 * and the CIFAR-10 records give after one transpose), so the full CIFAR-10 train set is 150 MB, not the
 * 600 MB it would be as float32. Batches are normalised into a reused float32 buffer in the layout a
 * backend wants (`src/data/batch.ts`), so an epoch never copies the dataset.
 */

export interface Split {
  /** Number of examples. */
  n: number;
  /** `n * H * W * C` bytes, example-major, HWC within an example. */
  images: Uint8Array;
  /** `n` class ids in `[0, numClasses)`. */
  labels: Uint8Array;
}

export interface Normalization {
  /** Per-channel mean on the 0–1 scale. */
  mean: number[];
  /** Per-channel standard deviation on the 0–1 scale. */
  std: number[];
  /** Where the figures came from. */
  source: 'computed-from-train' | 'given';
}

export interface Dataset {
  /** `synthetic`, `cifar10`, `image-folder`. */
  kind: string;
  /** Human-readable description of where the data came from (path, seed). */
  source: string;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  classNames: string[];
  train: Split;
  test: Split;
  normalization: Normalization;
  /** Bytes held by the loaded images and labels. */
  bytes: number;
}

export type Layout = 'NCHW' | 'NHWC';
