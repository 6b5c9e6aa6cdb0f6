/**
 * Checks on the real CIFAR-10 JPEG image folder, when the shared datasets folder is beside the
 * checkout (CI) — skipped, with the reason in the test name, elsewhere.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { decode as decodeWithPackage } from '@cwasm/jpeg-turbo';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/index.ts';
import { CIFAR10_CLASSES } from '../../src/data/cifar10.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const datasets = [join(repo, '..', 'shared', 'datasets')].find((d) => existsSync(join(d, 'cifar10-jpg-small.tar.gz')));
const small = datasets ? join(datasets, 'cifar10-jpg-small.tar.gz') : '';
const full = datasets ? join(datasets, 'cifar10-jpg.tar.gz') : '';
const why = datasets ? '' : ' (skipped: no ../shared/datasets/cifar10-jpg-small.tar.gz beside the checkout)';

/** Published train-set statistics of the full 50,000 images (datasets README). */
const README = { mean: [0.4913, 0.4821, 0.4465], std: [0.2452, 0.2428, 0.2606] };

/** Reads named entries straight from the archive, independently of the loader. */
async function entries(file: string, names: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  createReadStream(file).pipe(createGunzip()).pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    if (names.includes(e.header.name)) out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

describe.skipIf(!datasets)(`real CIFAR-10 JPEG folder${why}`, () => {
  it('cifar10-jpg-small.tar.gz: counts, labels, class order, decoded pixels, statistics', async () => {
    const ds = await loadDataset(
      { kind: 'image-folder', path: small, train: 10_000, test: 2_000, sizeMismatch: 'reject' },
      { baseDir: repo },
    );
    expect(ds.classNames).toEqual(CIFAR10_CLASSES);
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([32, 32, 3, 10]);
    expect([ds.train.n, ds.test.n]).toEqual([10_000, 2_000]);
    const perClass = (labels: Uint8Array) => {
      const c = new Array(10).fill(0);
      for (const l of labels) c[l]++;
      return c;
    };
    expect(perClass(ds.train.labels)).toEqual(new Array(10).fill(1000));
    expect(perClass(ds.test.labels)).toEqual(new Array(10).fill(200));
    expect(Array.from(ds.train.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);

    // Example 3 is cat/0000.jpg and example 13 is cat/0001.jpg (interleaved order); decode those
    // files through the package's own API and compare byte for byte.
    const names = [
      'cifar10-jpg-small/train/cat/0000.jpg',
      'cifar10-jpg-small/train/cat/0001.jpg',
      'cifar10-jpg-small/test/truck/0199.jpg',
    ];
    const raw = await entries(small, names);
    const check = (split: 'train' | 'test', index: number, name: string) => {
      const ref = decodeWithPackage(raw.get(name)!);
      const got = ds[split].images.subarray(index * 3072, (index + 1) * 3072);
      let diff = 0;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) if (got[p * 3 + c] !== ref.data[p * 4 + c]) diff++;
      expect(diff, name).toBe(0);
    };
    check('train', 3, names[0]!);
    check('train', 13, names[1]!);
    check('test', 1999, names[2]!);

    // A fifth of the train set: statistics close to (not equal to) the full set's.
    ds.normalization.mean.forEach((m, c) => {
      expect(Math.abs(m - README.mean[c]!)).toBeLessThan(0.003);
    });
    ds.normalization.std.forEach((s, c) => {
      expect(Math.abs(s - README.std[c]!)).toBeLessThan(0.003);
    });
  });

  it('a load can be cancelled while the archive is being streamed', async () => {
    const ac = new AbortController();
    // Abort as soon as the load has started reading: a fixed delay raced the load itself, which on an
    // idle machine streams the 4 MB archive in less time than the delay.
    setImmediate(() => ac.abort());
    const err = await loadDataset(
      { kind: 'image-folder', path: small, train: 10_000, test: 2_000, sizeMismatch: 'reject' },
      { baseDir: repo, signal: ac.signal },
    ).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
  });

  it.skipIf(!existsSync(full))(
    'cifar10-jpg.tar.gz: the full 50,000 train images give the published statistics to 3 decimals',
    async () => {
      const ds = await loadDataset(
        { kind: 'image-folder', path: full, train: 50_000, test: 0, sizeMismatch: 'reject' },
        { baseDir: repo },
      );
      expect(ds.train.n).toBe(50_000);
      ds.normalization.mean.forEach((m, c) => {
        expect(Math.abs(m - README.mean[c]!)).toBeLessThanOrEqual(0.0005);
      });
      ds.normalization.std.forEach((s, c) => {
        expect(Math.abs(s - README.std[c]!)).toBeLessThanOrEqual(0.0005);
      });
      // 49,984 (the study's train size) is a class-balanced prefix.
      const c = new Array(10).fill(0);
      for (const l of ds.train.labels.subarray(0, 49_984)) c[l]++;
      expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
    },
  );
});
