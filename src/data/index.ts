/**
 * Datasets as users have them: `loadDataset` turns a {@link DatasetConfig} into an in-memory
 * {@link Dataset} (uint8 HWC images, labels, per-channel normalisation), and `epochOrder` gives the
 * seeded per-epoch shuffle every backend shares.
 *
 * Data location, when the config gives no `path`: `$EXPBENCH_DATA`, then the per-user cache folder
 * (`$XDG_CACHE_HOME/expbench` or `~/.cache/expbench`, where `npx expbench data cifar10` downloads to).
 */
import { DataError } from '../errors.ts';
import { CIFAR10_SIDE, loadCifar10, locateCifar10 } from './cifar10.ts';
import { loadCifar10Folder } from './cifar10-folder.ts';
import type { DatasetConfig } from './config.ts';
import { loadImageFolder, locateImageFolder } from './image-folder.ts';
import { computeNormalization, givenNormalization, type NormalizationInput } from './normalize.ts';
import { generateSynthetic } from './synthetic.ts';
import type { Dataset, Normalization, Split } from './types.ts';

export { epochOrder, mixSeed, mulberry32 } from './prng.ts';
export { computeNormalization, type NormalizationInput } from './normalize.ts';
export { cacheDir, DATA_ENV } from './locate.ts';
export type { Dataset, Normalization, Split } from './types.ts';

/**
 * A dataset config, optionally with normalisation figures given by the user (0–1 scale, one per
 * channel). When absent, mean and std are computed from the loaded train split.
 */
export type LoadableDatasetConfig = DatasetConfig & { normalization?: NormalizationInput };

export interface LoadDatasetOptions {
  /** Folder of the experiment file: relative `path`s are resolved against it. */
  baseDir: string;
  /** Cancels a long load (an archive being streamed, thousands of images being decoded). */
  signal?: AbortSignal;
  /** Environment to read `EXPBENCH_DATA` / `XDG_CACHE_HOME` from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

function splitBytes(s: Split): number {
  return s.images.byteLength + s.labels.byteLength;
}

/** The loaded dataset: the loader's parts, with the normalisation and the byte count added. */
function finish(cfg: LoadableDatasetConfig, parts: Omit<Dataset, 'normalization' | 'bytes'>): Dataset {
  const normalization: Normalization = cfg.normalization
    ? givenNormalization(cfg.normalization, parts.channels, 'dataset')
    : computeNormalization(parts.train, parts.channels);
  return { ...parts, normalization, bytes: splitBytes(parts.train) + splitBytes(parts.test) };
}

/** The binary release where it is found, else an image-folder copy of CIFAR-10 in the same places. */
async function loadCifar10Anywhere(
  cfg: { path?: string; train: number; test: number },
  baseDir: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<{ source: string; classNames: string[]; train: Split; test: Split }> {
  let loc: ReturnType<typeof locateCifar10>;
  try {
    loc = locateCifar10(cfg.path, baseDir, env);
  } catch (e) {
    if (!(e instanceof DataError) || e.code !== 'DATA_MISSING') throw e;
    const copy = await loadCifar10Folder(cfg, baseDir, env, signal);
    if (copy) return copy;
    throw e;
  }
  return loadCifar10(loc, cfg.train, cfg.test, signal);
}

/**
 * Loads the dataset an experiment asks for. Every problem with the data (missing, truncated,
 * corrupt, wrong size, bad labels) is thrown as a {@link DataError} naming the file, with a hint;
 * `DATA_MISSING` when nothing was found, saying what to run or which variable to set.
 */
export async function loadDataset(cfg: LoadableDatasetConfig, opts: LoadDatasetOptions): Promise<Dataset> {
  opts.signal?.throwIfAborted();
  const env = opts.env ?? process.env;
  switch (cfg.kind) {
    case 'synthetic': {
      const { train, test } = generateSynthetic(cfg);
      return finish(cfg, {
        kind: 'synthetic',
        source: `synthetic seed ${cfg.seed}, noise ${cfg.noise}`,
        channels: cfg.channels,
        height: cfg.imageSize,
        width: cfg.imageSize,
        numClasses: cfg.classes,
        classNames: Array.from({ length: cfg.classes }, (_, k) => `class-${k}`),
        train,
        test,
      });
    }
    case 'cifar10': {
      const loaded = await loadCifar10Anywhere(cfg, opts.baseDir, env, opts.signal);
      return finish(cfg, {
        kind: 'cifar10',
        source: loaded.source,
        channels: 3,
        height: CIFAR10_SIDE,
        width: CIFAR10_SIDE,
        numClasses: loaded.classNames.length,
        classNames: loaded.classNames,
        train: loaded.train,
        test: loaded.test,
      });
    }
    case 'image-folder': {
      const loc = locateImageFolder(cfg.path, opts.baseDir, env);
      const loaded = await loadImageFolder(loc, {
        train: cfg.train,
        test: cfg.test,
        ...(cfg.classes ? { classes: cfg.classes } : {}),
        ...(cfg.imageSize !== undefined ? { imageSize: cfg.imageSize } : {}),
        sizeMismatch: cfg.sizeMismatch ?? 'reject',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return finish(cfg, {
        kind: 'image-folder',
        source: loaded.source,
        channels: 3,
        height: loaded.height,
        width: loaded.width,
        numClasses: loaded.classNames.length,
        classNames: loaded.classNames,
        train: loaded.train,
        test: loaded.test,
      });
    }
    default: {
      const kind = (cfg as { kind: unknown }).kind;
      throw new DataError(`unknown dataset kind ${JSON.stringify(kind)}`, {
        hint: 'use one of: synthetic, cifar10, image-folder',
      });
    }
  }
}
