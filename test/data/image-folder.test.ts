import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatasetConfig } from '../../src/config/types.ts';
import { DataError } from '../../src/errors.ts';
import { loadDataset } from '../../src/data/index.ts';
import { resizeBilinear } from '../../src/data/decode.ts';
import type { Dataset } from '../../src/data/types.ts';
import { encodeJpeg, encodePng, fixtureRgb, imageTree, makeTar, tempDir, writeFiles } from './fixtures.ts';

type Folder = Extract<DatasetConfig, { kind: 'image-folder' }>;

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

const env = (): NodeJS.ProcessEnv => ({ XDG_CACHE_HOME: join(dir, 'cache') });
const load = (cfg: Partial<Folder>, e: NodeJS.ProcessEnv = env()) =>
  loadDataset(
    { kind: 'image-folder', path: 'tree', train: 6, test: 3, sizeMismatch: 'reject', ...cfg },
    { baseDir: dir, env: e },
  );

const CLASSES = ['cat', 'dog', 'frog'];

/** Pixel (0,0) of example `i`. */
function px(ds: Dataset, split: 'train' | 'test', i: number): number[] {
  const per = ds.height * ds.width * 3;
  return Array.from(ds[split].images.subarray(i * per, i * per + 3));
}

async function dataError(p: Promise<unknown>, ...patterns: RegExp[]): Promise<DataError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  const de = err as DataError;
  for (const re of patterns) expect(`${de.message}\n${de.hint}`).toMatch(re);
  expect(de.hint).toBeTruthy();
  return de;
}

describe('image folder (PNG)', () => {
  beforeEach(async () => {
    await writeFiles(join(dir, 'tree'), imageTree({ format: 'png', classes: CLASSES, train: 3, test: 2, size: 8 }));
  });

  it('reads classes in sorted order, interleaves them, decodes exactly', async () => {
    const ds = await load({ train: 9, test: 6 });
    expect(ds.classNames).toEqual(CLASSES);
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([8, 8, 3, 3]);
    // Interleaved: cat0 dog0 frog0 cat1 dog1 frog1 ...
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    for (let i = 0; i < 9; i++) {
      const k = i % 3;
      const idx = Math.floor(i / 3);
      expect(px(ds, 'train', i)).toEqual(Array.from(fixtureRgb(k, idx, 1, 1)));
    }
    expect(Array.from(ds.test.labels)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(ds.bytes).toBe(15 * (8 * 8 * 3 + 1));
  });

  it('takes a class-balanced prefix', async () => {
    const ds = await load({ train: 4, test: 2 });
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 0]);
    expect(Array.from(ds.test.labels)).toEqual([0, 1]);
  });

  it('follows dataset.classes order (and may leave classes out)', async () => {
    const ds = await load({ classes: ['frog', 'cat'], train: 4, test: 2 });
    expect(ds.classNames).toEqual(['frog', 'cat']);
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 0, 1]);
    expect(px(ds, 'train', 0)).toEqual(Array.from(fixtureRgb(2, 0, 1, 1)));
    await dataError(load({ classes: ['cat', 'bird'] }), /train[/\\]bird: missing class folder/);
  });

  it('is read from a .tar.gz of the tree with the same result', async () => {
    const files = imageTree({ format: 'png', classes: CLASSES, train: 3, test: 2, size: 8, prefix: 'top/' });
    await writeFile(join(dir, 'tree.tar.gz'), await makeTar(files));
    const a = await load({ path: 'tree.tar.gz', train: 9, test: 6 });
    const b = await load({ train: 9, test: 6 });
    expect(Buffer.from(a.train.images).equals(Buffer.from(b.train.images))).toBe(true);
    expect(Buffer.from(a.test.labels).equals(Buffer.from(b.test.labels))).toBe(true);
    expect(a.source).toContain('(top/)');
  });

  it('converts grayscale and RGBA PNGs to RGB (alpha dropped)', async () => {
    const rgb = fixtureRgb(0, 0, 8, 8);
    await writeFile(join(dir, 'tree/train/cat/0000.png'), encodePng(rgb, 8, 8, 'rgba'));
    await writeFile(join(dir, 'tree/train/dog/0000.png'), encodePng(rgb, 8, 8, 'gray'));
    const ds = await load({ train: 2, test: 1 });
    expect(px(ds, 'train', 0)).toEqual(Array.from(rgb.subarray(0, 3)));
    const g = px(ds, 'train', 1);
    expect(g[0]).toBe(g[1]);
    expect(g[1]).toBe(g[2]);
  });

  it('rejects or resizes images of another size, as configured', async () => {
    const big = fixtureRgb(1, 0, 16, 16);
    await writeFile(join(dir, 'tree/train/dog/0001.png'), encodePng(big, 16, 16));
    await dataError(
      load({ train: 6 }),
      /train[/\\]dog[/\\]0001\.png: image is 16×16, but the dataset's images are 8×8/,
      /sizeMismatch: resize/,
    );
    const ds = await load({ train: 6, sizeMismatch: 'resize' });
    // A flat image stays flat when resized.
    expect(px(ds, 'train', 4)).toEqual(Array.from(big.subarray(0, 3)));
    const up = await load({ train: 3, test: 3, imageSize: 12, sizeMismatch: 'resize' });
    expect([up.height, up.width]).toEqual([12, 12]);
    expect(up.train.images.length).toBe(3 * 12 * 12 * 3);
  });

  it('ignores hidden and non-image files, walks sub-folders in sorted order', async () => {
    await writeFile(join(dir, 'tree/train/cat/.DS_Store'), 'junk');
    await writeFile(join(dir, 'tree/train/cat/._0000.png'), 'junk');
    await writeFile(join(dir, 'tree/train/cat/notes.txt'), 'junk');
    await mkdir(join(dir, 'tree/train/cat/sub'));
    await writeFile(join(dir, 'tree/train/cat/sub/0000.png'), encodePng(fixtureRgb(0, 9, 8, 8), 8, 8));
    const ds = await load({ train: 10, test: 1 });
    // cat has 4 images now: its files first, then sub/0000.png (os.walk order), so it is the 10th.
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    expect(px(ds, 'train', 9)).toEqual(Array.from(fixtureRgb(0, 9, 1, 1)));
    await dataError(load({ train: 11 }), /asks for 11 examples but the folder holds 10/);
  });
});

describe('cancellation', () => {
  it('an aborted signal stops the load with the abort reason, not a DataError', async () => {
    await writeFiles(join(dir, 'tree'), imageTree({ format: 'png', classes: CLASSES, train: 1, test: 1, size: 8 }));
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(
      loadDataset(
        { kind: 'image-folder', path: 'tree', train: 3, test: 3, sizeMismatch: 'reject' },
        { baseDir: dir, signal: ac.signal },
      ),
    ).rejects.toThrow('stop');
  });
});

describe('image folder (JPEG), folder and .tar.gz', () => {
  it('decodes JPEGs within JPEG error of the source colours', async () => {
    const files = imageTree({ format: 'jpg', classes: CLASSES, train: 2, test: 1, size: 16, prefix: 'cifar10-jpg/' });
    await writeFiles(dir, files);
    await writeFile(join(dir, 'cifar10-jpg.tar.gz'), await makeTar(files));
    for (const path of ['cifar10-jpg', 'cifar10-jpg.tar.gz']) {
      const ds = await load({ path, train: 6, test: 3 });
      expect([ds.height, ds.width]).toEqual([16, 16]);
      for (let i = 0; i < 6; i++) {
        const want = Array.from(fixtureRgb(i % 3, Math.floor(i / 3), 1, 1));
        px(ds, 'train', i).forEach((v, c) => {
          expect(Math.abs(v - want[c]!)).toBeLessThanOrEqual(3);
        });
      }
    }
  });

  it('is found through EXPBENCH_DATA (a folder holding cifar10-jpg.tar.gz) and the cache folder', async () => {
    const files = imageTree({ format: 'jpg', classes: CLASSES, train: 1, test: 1, size: 8, prefix: 'cifar10-jpg/' });
    await writeFiles(join(dir, 'data'), [{ name: 'cifar10-jpg.tar.gz', data: await makeTar(files) }]);
    const viaEnv = await load({ path: undefined, train: 3, test: 3 }, { ...env(), EXPBENCH_DATA: join(dir, 'data') });
    expect(viaEnv.source).toContain(join('data', 'cifar10-jpg.tar.gz'));
    await writeFiles(join(dir, 'cache', 'expbench'), files);
    const viaCache = await load({ path: undefined, train: 3, test: 3 });
    expect(viaCache.source).toContain(join('cache', 'expbench', 'cifar10-jpg'));
    const missing = await dataError(
      load({ path: undefined }, { XDG_CACHE_HOME: join(dir, 'nothing') }),
      /image folder not found/,
      /EXPBENCH_DATA/,
    );
    expect(missing.code).toBe('DATA_MISSING');
  });
});

describe('image folder bad data → DataError naming the file', () => {
  beforeEach(async () => {
    await writeFiles(join(dir, 'tree'), imageTree({ format: 'jpg', classes: CLASSES, train: 2, test: 1, size: 8 }));
  });

  it('corrupt JPEG (truncated)', async () => {
    const good = encodeJpeg(fixtureRgb(1, 1, 8, 8), 8, 8);
    await writeFile(join(dir, 'tree/train/dog/0001.jpg'), good.subarray(0, Math.floor(good.length / 2)));
    await dataError(load({ train: 6 }), /tree[/\\]train[/\\]dog[/\\]0001\.jpg: cannot decode the image/, /corrupt/);
  });

  it('not an image at all, and an empty file', async () => {
    await writeFile(join(dir, 'tree/train/frog/0000.jpg'), 'hello, not a jpeg');
    await dataError(load({ train: 6 }), /frog[/\\]0000\.jpg: cannot decode the image: not a PNG or JPEG/);
    await writeFile(join(dir, 'tree/train/frog/0000.jpg'), '');
    await dataError(load({ train: 6 }), /frog[/\\]0000\.jpg: .*empty/);
  });

  it('corrupt PNG (bad CRC / truncated)', async () => {
    const png = encodePng(fixtureRgb(0, 0, 8, 8), 8, 8);
    await writeFile(join(dir, 'tree/train/cat/0000.jpg'), png.subarray(0, 40));
    await dataError(load({ train: 6 }), /cat[/\\]0000\.jpg: cannot decode/);
  });

  it('corrupt image inside an archive is named archive:path', async () => {
    const files = imageTree({ format: 'jpg', classes: CLASSES, train: 2, test: 1, size: 8, prefix: 'x/' });
    files[1]!.data = Buffer.from('garbage');
    await writeFile(join(dir, 'x.tar.gz'), await makeTar(files));
    await dataError(
      load({ path: 'x.tar.gz', train: 6 }),
      new RegExp(`x.tar.gz:${files[1]!.name.replace(/\./g, '.')}: cannot decode`),
    );
  });

  it('empty class folder', async () => {
    await mkdir(join(dir, 'tree/train/horse'));
    await dataError(load({}), /train[/\\]horse: empty class folder/);
  });

  it('missing split folders', async () => {
    await rm(join(dir, 'tree/test'), { recursive: true });
    await dataError(load({ test: 1 }), /missing split folder test/);
    // Not needed when no test examples are asked for.
    await expect(load({ test: 0 })).resolves.toBeTruthy();
    await rm(join(dir, 'tree/train'), { recursive: true });
    await dataError(load({}), /missing split folder train/);
  });

  it('a test class unknown to train, and a train class missing from test', async () => {
    await writeFiles(join(dir, 'tree/test/zebra'), [
      { name: '0000.jpg', data: encodeJpeg(fixtureRgb(0, 0, 8, 8), 8, 8) },
    ]);
    await dataError(load({}), /test[/\\]zebra: class folder not present in/);
    await rm(join(dir, 'tree/test/zebra'), { recursive: true });
    await rm(join(dir, 'tree/test/dog'), { recursive: true });
    await dataError(load({}), /test[/\\]dog: missing class folder/);
  });

  it('archive without a train/ tree, and an archive that is not one', async () => {
    await writeFile(
      join(dir, 'flat.tar.gz'),
      await makeTar([{ name: 'a/b.jpg', data: encodeJpeg(fixtureRgb(0, 0, 8, 8), 8, 8) }]),
    );
    await dataError(load({ path: 'flat.tar.gz' }), /flat\.tar\.gz: missing split folder train/);
    await writeFile(join(dir, 'junk.tar.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
    await dataError(load({ path: 'junk.tar.gz' }), /junk\.tar\.gz: cannot read the archive/);
  });

  it('path that is neither a folder nor an archive', async () => {
    const e = await dataError(load({ path: 'nope' }), /nope: does not exist/);
    expect(e.code).toBe('DATA_MISSING');
  });
});

describe('bilinear resize', () => {
  it('uses half-pixel centres: a 2×1 ramp upsampled to 4×1', () => {
    const img = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100]) };
    const out = new Uint8Array(4 * 3);
    resizeBilinear(img, 4, 1, out);
    // Sample positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect([out[0], out[3], out[6], out[9]]).toEqual([0, 25, 75, 100]);
  });
});

describe('JPEG decoder (libjpeg-turbo/WASM)', () => {
  it('keeps decoding correctly after many corrupt inputs (the instance is renewed after a failure)', async () => {
    const { decodeJpegTurbo } = await import('../../src/data/jpeg-turbo.ts');
    const good = encodeJpeg(
      fixtureRgb(3, 2, 16, 16).map((v, i) => (v + i * 13) & 255),
      16,
      16,
      90,
    );
    const first = decodeJpegTurbo(good, 1e6)!;
    let failures = 0;
    for (let k = 0; k < 500; k++) {
      try {
        decodeJpegTurbo(good.subarray(0, 20 + (k % (good.length - 21))), 1e6);
      } catch {
        failures++;
      }
    }
    // Every truncation is reported (libjpeg's "premature end of data" counts as a failure).
    expect(failures).toBe(500);
    expect(Buffer.from(decodeJpegTurbo(good, 1e6)!.data).equals(Buffer.from(first.data))).toBe(true);
    expect(() => decodeJpegTurbo(good, 100)).toThrow(/larger than/);
  });
});
