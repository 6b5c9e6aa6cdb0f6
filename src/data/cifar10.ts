/**
 * CIFAR-10 from the official binary release, as its extracted folder (`cifar-10-batches-bin/`) or as
 * the `cifar-10-binary.tar.gz` itself (streamed, never extracted to disk).
 *
 * Each batch file is a sequence of 3,073-byte records: one label byte, then the 32×32 red plane, the
 * green plane and the blue plane (row-major). Records are transposed to interleaved HWC on load.
 * Train examples are taken in file order from `data_batch_1.bin` … `data_batch_5.bin` (the first
 * `train`), test examples from `test_batch.bin` (the first `test`).
 */
import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../errors.ts';
import { CIFAR10_ARCHIVE, CIFAR10_FOLDER, defaultDataDirs, isDir, isFile, resolveDataPath } from './locate.ts';
import { readTar } from './tar.ts';
import type { Split } from './types.ts';

export const CIFAR10_RECORD = 3073;
export const CIFAR10_SIDE = 32;
const PLANE = CIFAR10_SIDE * CIFAR10_SIDE;
export const CIFAR10_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_META_FILE = 'batches.meta.txt';
/** CIFAR-10's label order, used when `batches.meta.txt` is absent. */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** Where CIFAR-10 was found. */
export type Cifar10Location = { kind: 'folder'; dir: string } | { kind: 'archive'; file: string };

const DOWNLOAD_HINT = 'run `npx expbench data cifar10` to download it again';

/** Looks for CIFAR-10 binary data at `p` (a batches folder, a folder holding one, or the archive). */
export function probeCifar10(p: string): Cifar10Location | null {
  // A batch file itself stands for the folder holding it.
  if (isFile(p) && /^(data_batch_\d|test_batch)\.bin$/.test(basename(p))) return { kind: 'folder', dir: dirname(p) };
  if (isFile(p)) return { kind: 'archive', file: p };
  if (!isDir(p)) return null;
  if (isFile(join(p, CIFAR10_TRAIN_FILES[0]!)) || isFile(join(p, CIFAR10_TEST_FILE))) return { kind: 'folder', dir: p };
  const folder = join(p, CIFAR10_FOLDER);
  if (isDir(folder)) return { kind: 'folder', dir: folder };
  const archive = join(p, CIFAR10_ARCHIVE);
  if (isFile(archive)) return { kind: 'archive', file: archive };
  return null;
}

/**
 * Finds CIFAR-10: the config's `path` (relative to `baseDir`) if given, else `$EXPBENCH_DATA`,
 * else the cache folder. Throws `DATA_MISSING` saying what was looked for and how to get it.
 */
export function locateCifar10(
  path: string | undefined,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Cifar10Location {
  const looked = `${CIFAR10_FOLDER}/, ${CIFAR10_ARCHIVE} or ${CIFAR10_TRAIN_FILES[0]}`;
  if (path !== undefined) {
    const p = resolveDataPath(path, baseDir);
    const found = probeCifar10(p);
    if (found) return found;
    throw new DataError(
      isDir(p)
        ? `${p}: no CIFAR-10 binary data in this folder (looked for ${looked})`
        : `${p}: does not exist (dataset.path, resolved against ${baseDir})`,
      {
        code: 'DATA_MISSING',
        hint: `run \`npx expbench data cifar10 --dir ${p}\` to download it there, or fix dataset.path`,
      },
    );
  }
  const dirs = defaultDataDirs(env);
  for (const { dir } of dirs) {
    const found = probeCifar10(dir);
    if (found) return found;
  }
  throw new DataError(
    `CIFAR-10 not found: looked for ${looked} in ${dirs.map((d) => `${d.dir} (${d.from})`).join(' and ')}`,
    {
      code: 'DATA_MISSING',
      hint: `run \`npx expbench data cifar10\` to download it (163 MB) into ${dirs[dirs.length - 1]!.dir}, or set EXPBENCH_DATA to a folder containing ${CIFAR10_FOLDER}/, ${CIFAR10_ARCHIVE} or an image-folder copy (train/<class>/, test/<class>/), or give dataset.path in the experiment file`,
    },
  );
}

/** One batch file as found: its display name, full size, and a reader for its first records. */
interface BatchFile {
  name: string;
  size: number;
  read(records: number): Promise<Uint8Array>;
}

type BatchLookup = (fileName: string) => BatchFile | null;

/** Copies `count` records into `split` at `offset`, transposing CHW planes to HWC, checking labels. */
function decodeRecords(buf: Uint8Array, count: number, split: Split, offset: number, name: string): void {
  const per = PLANE * 3;
  for (let r = 0; r < count; r++) {
    const rec = r * CIFAR10_RECORD;
    const label = buf[rec]!;
    if (label > 9) {
      throw new DataError(`${name}: record ${r} (byte ${rec}) has label ${label}, outside 0–9`, {
        hint: `the file is corrupt or not a CIFAR-10 batch (CIFAR-100's records have two label bytes); ${DOWNLOAD_HINT}`,
      });
    }
    const i = offset + r;
    split.labels[i] = label;
    const dst = i * per;
    const src = rec + 1;
    for (let p = 0; p < PLANE; p++) {
      const o = dst + p * 3;
      split.images[o] = buf[src + p]!;
      split.images[o + 1] = buf[src + PLANE + p]!;
      split.images[o + 2] = buf[src + 2 * PLANE + p]!;
    }
  }
}

async function readSplit(
  lookup: BatchLookup,
  files: string[],
  need: number,
  what: 'train' | 'test',
  where: string,
  signal?: AbortSignal,
): Promise<Split> {
  const split: Split = { n: need, images: new Uint8Array(need * PLANE * 3), labels: new Uint8Array(need) };
  let got = 0;
  for (const f of files) {
    if (got >= need) break;
    signal?.throwIfAborted();
    const file = lookup(f);
    if (!file) {
      throw new DataError(`${where}: ${f} is missing (needed for the first ${need} ${what} examples)`, {
        hint: `the download is incomplete; ${DOWNLOAD_HINT}`,
      });
    }
    if (file.size % CIFAR10_RECORD !== 0) {
      throw new DataError(
        `${file.name}: ${file.size} bytes is not a whole number of ${CIFAR10_RECORD}-byte records (${Math.floor(file.size / CIFAR10_RECORD)} records and ${file.size % CIFAR10_RECORD} bytes over): the file is truncated or not a CIFAR-10 binary batch`,
        { hint: DOWNLOAD_HINT },
      );
    }
    const take = Math.min(file.size / CIFAR10_RECORD, need - got);
    const buf = await file.read(take);
    decodeRecords(buf, take, split, got, file.name);
    got += take;
  }
  if (got < need) {
    throw new DataError(
      `${where}: dataset.${what} asks for ${need} examples but ${files.join(', ')} hold only ${got}`,
      {
        hint: `set dataset.${what} to at most ${got}`,
      },
    );
  }
  return split;
}

function parseMeta(text: string, name: string): string[] {
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== 10) {
    throw new DataError(`${name}: expected 10 class names, one per line, found ${names.length}`, {
      hint: `the file is damaged; ${DOWNLOAD_HINT}, or delete ${CIFAR10_META_FILE} to use the standard names`,
    });
  }
  return names;
}

export interface Cifar10Loaded {
  train: Split;
  test: Split;
  classNames: string[];
  source: string;
}

function checkCount(n: number, what: string, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new DataError(`dataset.${what} must be an integer in [0, ${max}] for CIFAR-10, got ${n}`, {
      hint: `CIFAR-10 has 50,000 train and 10,000 test examples`,
    });
  }
}

/** Loads the first `train` and `test` examples from a located CIFAR-10 release. */
export async function loadCifar10(
  loc: Cifar10Location,
  train: number,
  test: number,
  signal?: AbortSignal,
): Promise<Cifar10Loaded> {
  checkCount(train, 'train', 50_000);
  checkCount(test, 'test', 10_000);
  if (loc.kind === 'folder') {
    const dir = loc.dir;
    const sizes = new Map<string, number>();
    for (const f of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) {
      try {
        const s = await stat(join(dir, f));
        if (s.isFile()) sizes.set(f, s.size);
      } catch {
        // Absent: reported only if the file's records are needed.
      }
    }
    const lookup: BatchLookup = (f) => {
      const size = sizes.get(f);
      if (size === undefined) return null;
      const full = join(dir, f);
      return {
        name: full,
        size,
        async read(records) {
          const fh = await open(full, 'r');
          try {
            const buf = Buffer.allocUnsafe(records * CIFAR10_RECORD);
            const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
            if (bytesRead !== buf.length)
              throw new DataError(`${full}: file shrank while being read`, { hint: 'is another process writing it?' });
            return buf;
          } catch (e) {
            if (e instanceof DataError) throw e;
            throw new DataError(`${full}: cannot read: ${(e as Error).message}`, {
              cause: e,
              hint: 'check the file permissions',
            });
          } finally {
            await fh.close();
          }
        },
      };
    };
    let classNames = CIFAR10_CLASSES;
    const meta = join(dir, CIFAR10_META_FILE);
    if (isFile(meta)) classNames = parseMeta(await readFile(meta, 'utf8'), meta);
    return {
      train: await readSplit(lookup, CIFAR10_TRAIN_FILES, train, 'train', dir, signal),
      test: await readSplit(lookup, [CIFAR10_TEST_FILE], test, 'test', dir, signal),
      classNames,
      source: `cifar10 binary folder ${dir}`,
    };
  }

  const file = loc.file;
  const wanted = new Map<string, number>();
  // Keep only the records that can be needed: at most `train` from each train file.
  for (const f of CIFAR10_TRAIN_FILES) wanted.set(f, train * CIFAR10_RECORD);
  wanted.set(CIFAR10_TEST_FILE, test * CIFAR10_RECORD);
  const seen = new Set<string>();
  const entries = await readTar(
    file,
    (path, size) => {
      const base = basename(path);
      if (seen.has(base)) return false;
      if (base === CIFAR10_META_FILE) {
        seen.add(base);
        return true;
      }
      const limit = wanted.get(base);
      if (limit === undefined) return false;
      seen.add(base);
      // Keep at least one byte so the entry is recorded (its size is checked even when unused).
      return Math.max(1, Math.min(size, limit));
    },
    signal ? { signal } : {},
  );
  const byName = new Map(entries.map((e) => [basename(e.path), e]));
  const lookup: BatchLookup = (f) => {
    const e = byName.get(f);
    if (!e) return null;
    return { name: `${file}:${e.path}`, size: e.size, read: async () => e.data };
  };
  const metaEntry = byName.get(CIFAR10_META_FILE);
  const classNames = metaEntry
    ? parseMeta(metaEntry.data.toString('utf8'), `${file}:${metaEntry.path}`)
    : CIFAR10_CLASSES;
  return {
    train: await readSplit(lookup, CIFAR10_TRAIN_FILES, train, 'train', file, signal),
    test: await readSplit(lookup, [CIFAR10_TEST_FILE], test, 'test', file, signal),
    classNames,
    source: `cifar10 binary archive ${file}`,
  };
}
