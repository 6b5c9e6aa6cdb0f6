/**
 * CIFAR-10 kept as an image folder (`train/<class>/*.png|jpg`, `test/<class>/…`, the form most copies
 * on disk take) serves a `kind: cifar10` experiment when the binary release is not there: the shipped
 * `paper` profiles then run on it through `EXPBENCH_DATA` (or `dataset.path`) without editing every
 * file. The copy must be CIFAR-10: its ten classes, 32×32 images, and as many images as asked for.
 */
import { DataError } from '../errors.ts';
import { CIFAR10_CLASSES, CIFAR10_SIDE } from './cifar10.ts';
import { type ImageFolderLoaded, loadImageFolder, probeImageFolder } from './image-folder.ts';
import { defaultDataDirs, resolveDataPath } from './locate.ts';

/**
 * Loads an image-folder copy of CIFAR-10 from `dataset.path`, else `EXPBENCH_DATA`, else the cache
 * folder; null when there is none (the caller then reports the binary release as missing).
 */
export async function loadCifar10Folder(
  cfg: { path?: string; train: number; test: number },
  baseDir: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<ImageFolderLoaded | null> {
  const places = cfg.path !== undefined ? [resolveDataPath(cfg.path, baseDir)] : defaultDataDirs(env).map((d) => d.dir);
  for (const place of places) {
    const loc = probeImageFolder(place);
    if (!loc) continue;
    const where = loc.kind === 'folder' ? loc.root : loc.file;
    // Sorted folder names are CIFAR-10's label order (airplane … truck), so labels match the binary release.
    const loaded = await loadImageFolder(loc, {
      train: cfg.train,
      test: cfg.test,
      classes: [...CIFAR10_CLASSES],
      imageSize: CIFAR10_SIDE,
      sizeMismatch: 'reject',
      ...(signal ? { signal } : {}),
    }).catch((e: unknown) => {
      if (e instanceof DataError)
        throw new DataError(`${where} (used as CIFAR-10, an image-folder copy): ${e.message}`, {
          code: e.code as 'DATA' | 'DATA_MISSING',
          cause: e,
          hint: e.hint ?? 'a CIFAR-10 image folder holds train/<class>/ and test/<class>/ for its ten classes',
        });
      throw e;
    });
    return { ...loaded, source: `${loaded.source} (CIFAR-10 as an image folder)` };
  }
  return null;
}
