import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatasetConfig } from '../../src/config/types.ts';
import { DataError } from '../../src/errors.ts';
import { loadDataset } from '../../src/data/index.ts';
import type { Dataset } from '../../src/data/types.ts';
import {
  cifarFiles,
  cifarLabel,
  cifarPixel,
  cifarRecords,
  makeTar,
  META_NAMES,
  tempDir,
  writeFiles,
} from './fixtures.ts';

type Cifar = Extract<DatasetConfig, { kind: 'cifar10' }>;

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

/** An environment with no EXPBENCH_DATA and a cache folder inside the test's temp dir. */
const isolatedEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  XDG_CACHE_HOME: join(dir, 'cache'),
  ...extra,
});

const load = (cfg: Partial<Cifar>, env: NodeJS.ProcessEnv = isolatedEnv()) =>
  loadDataset({ kind: 'cifar10', train: 13, test: 5, ...cfg }, { baseDir: dir, env });

/** Checks that example `i` of a split holds fixture example `g`, transposed to HWC. */
function expectExample(ds: Dataset, split: 'train' | 'test', i: number, g: number): void {
  const s = ds[split];
  expect(s.labels[i]).toBe(cifarLabel(g));
  const per = 32 * 32 * 3;
  for (const p of [0, 1, 31, 32, 500, 1023]) {
    for (let c = 0; c < 3; c++) expect(s.images[i * per + p * 3 + c]).toBe(cifarPixel(g, c, p));
  }
}

async function expectDataError(
  p: Promise<unknown>,
  code: 'DATA' | 'DATA_MISSING',
  ...patterns: RegExp[]
): Promise<DataError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  const de = err as DataError;
  expect(de.code).toBe(code);
  for (const re of patterns) expect(`${de.message}\n${de.hint}`).toMatch(re);
  expect(de.hint).toBeTruthy();
  return de;
}

describe('cifar10 from the extracted folder', () => {
  it('takes the first N train examples across batch files, transposed to HWC, and the first M test ones', async () => {
    await writeFiles(join(dir, 'cifar-10-batches-bin'), cifarFiles([4, 4, 4, 4, 4], 7));
    const ds = await load({ path: '.', train: 13, test: 5 });
    expect([ds.kind, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual(['cifar10', 32, 32, 3, 10]);
    expect(ds.train.n).toBe(13);
    expect(ds.test.n).toBe(5);
    for (const i of [0, 3, 4, 12]) expectExample(ds, 'train', i, i);
    for (const i of [0, 4]) expectExample(ds, 'test', i, 100_000 + i);
    expect(ds.classNames).toEqual(META_NAMES);
    expect(ds.bytes).toBe(18 * (3072 + 1));
    expect(ds.source).toContain('cifar-10-batches-bin');
  });

  it('accepts the batches folder itself as path, relative to the experiment folder', async () => {
    await writeFiles(join(dir, 'data', 'cifar-10-batches-bin'), cifarFiles([3, 3, 3, 3, 3], 2, false));
    const ds = await load({ path: 'data/cifar-10-batches-bin', train: 15, test: 2 });
    expectExample(ds, 'train', 14, 14);
    // No batches.meta.txt: CIFAR-10's standard names.
    expect(ds.classNames[0]).toBe('airplane');
  });

  it('accepts a batch file as path, standing for its folder', async () => {
    await writeFiles(join(dir, 'b'), cifarFiles([2, 2, 2, 2, 2], 2));
    expectExample(await load({ path: 'b/data_batch_1.bin', train: 10, test: 2 }), 'train', 9, 9);
  });

  it('reads only the files it needs', async () => {
    const files = cifarFiles([10, 10, 10, 10, 10], 3).filter(
      (f) => f.name === 'data_batch_1.bin' || f.name === 'test_batch.bin',
    );
    await writeFiles(join(dir, 'cifar-10-batches-bin'), files);
    const ds = await load({ path: '.', train: 10, test: 3 });
    expect(ds.train.n).toBe(10);
  });

  it('computes the normalisation from the loaded train split', async () => {
    await writeFiles(join(dir, 'cifar-10-batches-bin'), cifarFiles([2, 2, 2, 2, 2], 2));
    const ds = await load({ path: '.', train: 10, test: 2 });
    let s = 0;
    for (let g = 0; g < 10; g++) for (let p = 0; p < 1024; p++) s += cifarPixel(g, 0, p);
    expect(ds.normalization.mean[0]).toBeCloseTo(s / (10 * 1024) / 255, 10);
  });
});

describe('cifar10 from the tar.gz, streamed', () => {
  it('gives the same data as the folder', async () => {
    const files = cifarFiles([4, 4, 4, 4, 4], 7);
    await writeFile(
      join(dir, 'cifar-10-binary.tar.gz'),
      await makeTar(files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data }))),
    );
    await writeFiles(join(dir, 'folder', 'cifar-10-batches-bin'), files);
    const fromTar = await load({ path: 'cifar-10-binary.tar.gz', train: 17, test: 6 });
    const fromDir = await load({ path: 'folder', train: 17, test: 6 });
    expect(Buffer.from(fromTar.train.images).equals(Buffer.from(fromDir.train.images))).toBe(true);
    expect(Buffer.from(fromTar.test.labels).equals(Buffer.from(fromDir.test.labels))).toBe(true);
    expectExample(fromTar, 'train', 16, 16);
    expect(fromTar.classNames).toEqual(META_NAMES);
    expect(fromTar.source).toContain('archive');
    // A folder holding the archive works too.
    const viaFolder = await load({ path: '.', train: 3, test: 1 });
    expectExample(viaFolder, 'train', 2, 2);
  });

  it('reads an uncompressed .tar as well', async () => {
    const files = cifarFiles([2, 2, 2, 2, 2], 2);
    await writeFile(
      join(dir, 'c.tar'),
      await makeTar(
        files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })),
        false,
      ),
    );
    expectExample(await load({ path: 'c.tar', train: 10, test: 2 }), 'train', 9, 9);
  });

  it('a truncated archive is a DataError naming it', async () => {
    const files = cifarFiles([4, 4, 4, 4, 4], 4);
    const tgz = await makeTar(files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })));
    await writeFile(join(dir, 'cut.tar.gz'), tgz.subarray(0, Math.floor(tgz.length / 2)));
    await expectDataError(
      load({ path: 'cut.tar.gz', train: 20, test: 4 }),
      'DATA',
      /cut\.tar\.gz/,
      /truncated or corrupt/,
    );
  });

  it('a truncated batch inside the archive is named archive:path', async () => {
    const files = cifarFiles([4, 4, 4, 4, 4], 4);
    files[1]!.data = files[1]!.data.subarray(0, 3073 * 2 + 100);
    await writeFile(
      join(dir, 'c.tar.gz'),
      await makeTar(files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data }))),
    );
    await expectDataError(
      load({ path: 'c.tar.gz', train: 6, test: 1 }),
      'DATA',
      /c\.tar\.gz:cifar-10-batches-bin\/data_batch_2\.bin/,
      /not a whole number of 3073-byte records/,
    );
  });
});

describe('cifar10 bad data → DataError naming the file', () => {
  beforeEach(async () => {
    await writeFiles(join(dir, 'cifar-10-batches-bin'), cifarFiles([4, 4, 4, 4, 4], 4));
  });
  const file = (name: string) => join(dir, 'cifar-10-batches-bin', name);

  it('truncated record file (size not a multiple of 3,073)', async () => {
    await truncate(file('data_batch_1.bin'), 3073 * 3 + 10);
    const e = await expectDataError(
      load({ path: '.', train: 2, test: 1 }),
      'DATA',
      /data_batch_1\.bin/,
      /truncated/,
      /npx expbench data cifar10/,
    );
    expect(e.message).toContain(file('data_batch_1.bin'));
  });

  it('label out of range', async () => {
    const bad = cifarRecords(0, 4);
    bad[2 * 3073] = 12;
    await writeFile(file('data_batch_1.bin'), bad);
    await expectDataError(
      load({ path: '.', train: 4, test: 1 }),
      'DATA',
      /data_batch_1\.bin: record 2 .* label 12, outside 0–9/,
    );
  });

  it('missing batch file that is needed', async () => {
    const { unlink } = await import('node:fs/promises');
    await unlink(file('data_batch_3.bin'));
    await expect(load({ path: '.', train: 8, test: 1 })).resolves.toBeTruthy();
    await expectDataError(load({ path: '.', train: 9, test: 1 }), 'DATA', /data_batch_3\.bin is missing/);
  });

  it('asking for more examples than there are', async () => {
    await expectDataError(
      load({ path: '.', train: 21, test: 1 }),
      'DATA',
      /asks for 21 examples .* only 20/,
      /at most 20/,
    );
    await expectDataError(load({ path: '.', train: 1, test: 5 }), 'DATA', /test asks for 5/);
  });

  it('damaged batches.meta.txt', async () => {
    await writeFile(file('batches.meta.txt'), 'a\nb\n');
    await expectDataError(
      load({ path: '.', train: 1, test: 1 }),
      'DATA',
      /batches\.meta\.txt: expected 10 class names/,
    );
  });
});

describe('cifar10 location', () => {
  it('path that does not exist → DATA_MISSING naming it', async () => {
    await expectDataError(load({ path: 'nowhere' }), 'DATA_MISSING', /nowhere: does not exist/);
  });

  it('folder without CIFAR-10 files → DATA_MISSING saying what to run', async () => {
    await expectDataError(
      load({ path: '.' }),
      'DATA_MISSING',
      /no CIFAR-10 binary data/,
      /npx expbench data cifar10 --dir/,
    );
  });

  it('nothing anywhere → DATA_MISSING with the command and the variable', async () => {
    const e = await expectDataError(
      load({}),
      'DATA_MISSING',
      /CIFAR-10 not found/,
      /npx expbench data cifar10/,
      /EXPBENCH_DATA/,
    );
    expect(e.message).toContain(join(dir, 'cache', 'expbench'));
  });

  it('finds it through EXPBENCH_DATA (folder or archive) and in the cache folder', async () => {
    const files = cifarFiles([2, 2, 2, 2, 2], 2);
    await writeFiles(join(dir, 'envdata', 'cifar-10-batches-bin'), files);
    const viaEnv = await load({ train: 3, test: 1 }, isolatedEnv({ EXPBENCH_DATA: join(dir, 'envdata') }));
    expect(viaEnv.source).toContain('envdata');
    await writeFiles(join(dir, 'cache', 'expbench'), [
      {
        name: 'cifar-10-binary.tar.gz',
        data: await makeTar(files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data }))),
      },
    ]);
    const viaCache = await load({ train: 3, test: 1 });
    expect(viaCache.source).toContain(join('cache', 'expbench', 'cifar-10-binary.tar.gz'));
    expectExample(viaCache, 'train', 2, 2);
  });
});
