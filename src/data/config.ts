/**
 * The dataset section of an experiment, as the loader takes it (`loadDataset`): which data, how many
 * examples of each split, and the kind's own settings. Each kind is defined once, below, as the JSON
 * Schema the config layer validates with (`src/config/schema.ts` composes them into the experiment
 * format) and, through `Filled`, the type `loadDataset` takes, defaults filled.
 */
import { constant, dflt, type Filled, int, LIMITS, num, oneOf, opt } from '../shape/index.ts';
import { Type } from '@sinclair/typebox';

export const SyntheticDataset = Type.Object({
  kind: constant('synthetic', {
    description: 'Generated images: one noisy pattern per class, reproducible from the seed.',
  }),
  train: int(1, LIMITS.examples, 'Number of training images.'),
  test: int(1, LIMITS.examples, 'Number of test images.'),
  imageSize: dflt(int(1, LIMITS.imageSize, 'Square image side in pixels.'), 32),
  channels: dflt(int(1, LIMITS.channels, 'Channels per pixel.'), 3),
  classes: dflt(int(2, LIMITS.classes, 'Number of classes.'), 10),
  seed: dflt(int(0, 2 ** 32 - 1, 'Seed of the generator.'), 0),
  noise: dflt(num(0, 255, 'Noise standard deviation on the 0–255 scale, relative to the class pattern.'), 32),
});

export const Cifar10Dataset = Type.Object({
  kind: constant('cifar10', { description: 'CIFAR-10 (binary version), 32×32×3, 10 classes.' }),
  path: opt(
    Type.String({
      minLength: 1,
      description:
        'Folder with data_batch_*.bin / test_batch.bin or cifar-10-binary.tar.gz, relative to the experiment file; found or downloaded when absent.',
    }),
  ),
  train: int(1, 50_000, 'Training images used, from the start of the training set (the study: 49,984).'),
  test: int(1, 10_000, 'Test images used, from the start of the test set (the study: 9,984).'),
});

export const ImageFolderDataset = Type.Object({
  kind: constant('image-folder', {
    description: 'A folder of PNG/JPEG images, one sub-folder per class (train/ and test/ inside).',
  }),
  path: opt(
    Type.String({ minLength: 1, description: 'The folder; relative paths are resolved from the experiment file.' }),
  ),
  train: int(1, LIMITS.examples, 'Number of training images used.'),
  test: int(1, LIMITS.examples, 'Number of test images used.'),
  classes: opt(
    Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
      description: 'Class folder names in label order (default: every sub-folder, sorted).',
      minItems: 2,
      maxItems: LIMITS.classes,
      uniqueItems: true,
    }),
  ),
  imageSize: opt(
    int(1, LIMITS.imageSize, 'Square side all images are brought to (default: the size of the first image).'),
  ),
  sizeMismatch: dflt(
    oneOf(['resize', 'reject'], { description: 'Images of another size are resized, or rejected with an error.' }),
    'reject',
  ),
});

/** The kinds, by the value of `kind`. */
export const DATASET_KINDS = {
  synthetic: SyntheticDataset,
  cifar10: Cifar10Dataset,
  'image-folder': ImageFolderDataset,
};

/** A dataset as configured, one variant per `kind`, defaults filled; relative paths already absolute. */
export type DatasetConfig = {
  [K in keyof typeof DATASET_KINDS]: Filled<(typeof DATASET_KINDS)[K]>;
}[keyof typeof DATASET_KINDS];
