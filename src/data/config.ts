/**
 * The dataset section of an experiment, as the loader takes it (`loadDataset`): which data, how many
 * examples of each split, and the kind's own settings. The config layer validates it and fills the
 * defaults; the YAML format is defined in `schema/experiment.schema.json`.
 */

export type DatasetConfig =
  | {
      kind: 'synthetic';
      train: number;
      test: number;
      /** Square image side. */
      imageSize: number;
      channels: number;
      classes: number;
      seed: number;
      /** Noise standard deviation on the 0–255 scale relative to the class pattern. */
      noise: number;
    }
  | {
      kind: 'cifar10';
      /** Folder with `data_batch_*.bin` or the `cifar-10-binary.tar.gz`; resolved later if absent. */
      path?: string;
      train: number;
      test: number;
    }
  | {
      kind: 'image-folder';
      path?: string;
      train: number;
      test: number;
      classes?: string[];
      imageSize?: number;
      /** What to do with images of another size. */
      sizeMismatch: 'resize' | 'reject';
    };
