/**
 * CIFAR-10 kept as an image folder: found through EXPBENCH_DATA under any `cifar10-jpg*` name, and
 * used by `kind: cifar10` experiments (the shipped paper profiles) when the binary release is absent,
 * with its classes, image size and counts checked.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.ts';
import { loadDataset } from '../../src/data/index.ts';
import { CIFAR10_CLASSES } from '../../src/data/cifar10.ts';
import { imageTree, makeTar, tempDir, writeFiles } from './fixtures.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

const tree = (size = 32, classes: readonly string[] = CIFAR10_CLASSES) =>
  imageTree({ format: 'png', classes: [...classes], train: 1, test: 1, size });
const env = () => ({ EXPBENCH_DATA: join(dir, 'data'), XDG_CACHE_HOME: join(dir, 'cache') });

async function error(p: Promise<unknown>): Promise<DataError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DataError);
  return e as DataError;
}

describe('image-folder copies under EXPBENCH_DATA', () => {
  it('finds cifar10-jpg-small.tar.gz (a suffixed name), as dataset.path already could', async () => {
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data/cifar10-jpg-small.tar.gz'), await makeTar(tree(8, ['a', 'b'])));
    const ds = await loadDataset(
      { kind: 'image-folder', train: 2, test: 2, sizeMismatch: 'reject' },
      { baseDir: dir, env: env() },
    );
    expect(ds.source).toContain('cifar10-jpg-small.tar.gz');
    expect(ds.classNames).toEqual(['a', 'b']);
  });

  it('refuses to guess between two suffixed copies, naming both', async () => {
    await mkdir(join(dir, 'data'));
    const tar = await makeTar(tree(8, ['a', 'b']));
    await writeFile(join(dir, 'data/cifar10-jpg-small.tar.gz'), tar);
    await writeFile(join(dir, 'data/cifar10-jpg-full.tar.gz'), tar);
    const e = await error(
      loadDataset({ kind: 'image-folder', train: 2, test: 2, sizeMismatch: 'reject' }, { baseDir: dir, env: env() }),
    );
    expect(e.message).toMatch(/several image folders \(cifar10-jpg-full\.tar\.gz, cifar10-jpg-small\.tar\.gz\)/);
    expect(e.hint).toMatch(/dataset\.path/);
  });
});

describe('kind: cifar10 from an image-folder copy', () => {
  it('loads it when the binary release is absent, labels in CIFAR-10 order', async () => {
    await writeFiles(join(dir, 'data/cifar10-jpg'), tree());
    const ds = await loadDataset({ kind: 'cifar10', train: 10, test: 10 }, { baseDir: dir, env: env() });
    expect(ds.kind).toBe('cifar10');
    expect(ds.classNames).toEqual([...CIFAR10_CLASSES]);
    expect([ds.height, ds.width, ds.numClasses]).toEqual([32, 32, 10]);
    expect([...ds.train.labels]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ds.source).toMatch(/CIFAR-10 as an image folder/);
  });

  it('checks the sizes asked for against what the folder holds', async () => {
    await writeFiles(join(dir, 'data'), tree());
    const e = await error(loadDataset({ kind: 'cifar10', train: 49984, test: 10 }, { baseDir: dir, env: env() }));
    expect(e.message).toMatch(
      /used as CIFAR-10.*dataset\.train asks for 49984 examples but the folder holds 10 images/,
    );
    expect(e.hint).toMatch(/at most 10/);
  });

  it('rejects a folder that is not CIFAR-10 (other image size)', async () => {
    await writeFiles(join(dir, 'data'), tree(16));
    const e = await error(loadDataset({ kind: 'cifar10', train: 10, test: 10 }, { baseDir: dir, env: env() }));
    expect(e.message).toMatch(/used as CIFAR-10/);
    expect(e.message).toMatch(/16×16|16x16|16 × 16/);
  });

  it('still says DATA_MISSING, mentioning an image-folder copy, when there is neither', async () => {
    const e = await error(loadDataset({ kind: 'cifar10', train: 10, test: 10 }, { baseDir: dir, env: env() }));
    expect(e.code).toBe('DATA_MISSING');
    expect(e.hint).toMatch(/image-folder copy/);
  });
});
